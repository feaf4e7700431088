#!/usr/bin/env bash
# Regenerates the SDKs of the native provider from its schema: sdk/schema.json (the package
# schema, generated from the models by pulumi_metronome.native.schema) and the Python,
# TypeScript and Go SDKs in sdk/python, sdk/nodejs and sdk/go, all at the package version
# in pyproject.toml (so the SDKs and the plugin are released together, one version).
#
# The code is written by Pulumi's own generators (pkg/v3/codegen/{python,nodejs,go} at the
# CLI's version), the ones `pulumi package gen-sdk` runs inside each language host; the
# official Node.js and Go hosts cannot be built here, so a small command in scripts/gen-sdk
# calls the generators directly (built once, cached like the CLI).
#
# Usage: scripts/gen-sdk.sh [OUT]   (default OUT: sdk/ of this repository)
# Files that are not generated are kept: sdk/go/go.mod and go.sum, node_modules.
#        scripts/gen-sdk.sh --node-modules
# prints a cached node_modules directory holding what compiling the TypeScript SDK needs
# (@pulumi/pulumi, typescript, @types/node at the versions below; npm install on first use).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/sdk}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
CACHE_ROOT=${PULUMI_METRONOME_CACHE:-$HOME/.cache/pulumi-metronome}
SRC=$ROOT/scripts/gen-sdk
LANGUAGES=(python nodejs go)
KEEP=(go.mod go.sum node_modules)

log() { printf 'gen-sdk: %s\n' "$*" >&2; }
die() {
    log "$*"
    exit 1
}

# What `tsc` needs for sdk/nodejs (within the ranges its generated package.json asks for).
NPM_PACKAGES=(@pulumi/pulumi@3.269.0 typescript@4.9.5 @types/node@20.19.43)
if [[ ${1:-} == --node-modules ]]; then
    NPM_DIR=$CACHE_ROOT/npm-sdk-$(printf '%s\n' "${NPM_PACKAGES[@]}" | sha256sum | cut -c1-16)
    if [[ ! -e $NPM_DIR/node_modules/.bin/tsc ]]; then
        command -v npm >/dev/null || die "npm is needed to compile the TypeScript SDK"
        mkdir -p "$CACHE_ROOT"
        TMP_NPM=$(mktemp -d "$CACHE_ROOT/.npm-sdk.tmp.XXXXXX")
        log "npm install ${NPM_PACKAGES[*]} into $NPM_DIR"
        (cd "$TMP_NPM" && npm install --no-audit --no-fund --silent "${NPM_PACKAGES[@]}" >&2) || {
            rm -rf "$TMP_NPM"
            die "npm install failed (see above)"
        }
        mv -T "$TMP_NPM" "$NPM_DIR" 2>/dev/null || rm -rf "$TMP_NPM"
    fi
    printf '%s\n' "$NPM_DIR/node_modules"
    exit 0
fi

[[ -x $PYTHON ]] || die "no Python at $PYTHON: run 'source scripts/env.sh' first (or set PYTHON)"
GO=$(command -v go || true)
if [[ -z $GO && -x /usr/local/go/bin/go ]]; then
    GO=/usr/local/go/bin/go
fi

# The generator, built once per version of its sources (go.sum pins pkg/v3).
STAMP=$(cat "$SRC/main.go" "$SRC/go.mod" "$SRC/go.sum" | sha256sum | cut -c1-16)
BIN_DIR=$CACHE_ROOT/gen-sdk-$STAMP
if [[ ! -x $BIN_DIR/gen-sdk ]]; then
    [[ -n $GO ]] || die "Go is needed to build the generator once (no 'go' on PATH)"
    mkdir -p "$CACHE_ROOT"
    TMP_BIN=$(mktemp -d "$CACHE_ROOT/.gen-sdk.tmp.XXXXXX")
    log "building the generator (github.com/pulumi/pulumi/pkg/v3 codegen) into $BIN_DIR"
    (cd "$SRC" && GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 \
        "$GO" build -trimpath -o "$TMP_BIN/gen-sdk" .) || {
        rm -rf "$TMP_BIN"
        die "go build of scripts/gen-sdk failed (see above)"
    }
    chmod 0755 "$TMP_BIN"
    # One rename into place: an interrupted build never leaves a half-written cache entry.
    mv -T "$TMP_BIN" "$BIN_DIR" 2>/dev/null || rm -rf "$TMP_BIN"
    [[ -x $BIN_DIR/gen-sdk ]] || die "could not install the generator in $BIN_DIR"
fi

VERSION=$("$PYTHON" -c '
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print(tomllib.load(f)["project"]["version"])
' "$ROOT/pyproject.toml")

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PYTHON" -c '
import json, sys
from pulumi_metronome.native.schema import package_schema
json.dump(package_schema(sys.argv[1]), sys.stdout, indent=2)
print()
' "$VERSION" >"$WORK/schema.json"

mkdir -p "$OUT"
cp "$WORK/schema.json" "$OUT/schema.json"
for language in "${LANGUAGES[@]}"; do
    "$BIN_DIR/gen-sdk" "$WORK/schema.json" "$language" "$WORK/$language"
    mkdir -p "$OUT/$language"
    # Clear what a previous run generated (a removed resource leaves no file behind).
    args=()
    for keep in "${KEEP[@]}"; do args+=(! -name "$keep"); done
    find "$OUT/$language" -mindepth 1 -maxdepth 1 "${args[@]}" -exec rm -rf {} +
    cp -R "$WORK/$language/." "$OUT/$language/"
done
log "wrote $OUT/schema.json and the ${LANGUAGES[*]} SDKs at version $VERSION"
