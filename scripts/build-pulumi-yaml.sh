#!/usr/bin/env bash
# Makes Pulumi's YAML language host, `pulumi-language-yaml`, available without Pulumi's
# download site: builds it with Go from the module github.com/pulumi/pulumi-yaml (Go module
# proxy) and caches it. Prints ONE line on stdout: the absolute path of the executable.
# Everything else goes to stderr. Called by scripts/install-pulumi-cli.sh, which links it next
# to `pulumi`; usable on its own:
#
#   YAML_HOST=$(scripts/build-pulumi-yaml.sh)
#
# Why a module of its own (scripts/pulumi-yaml/go.mod, not the CLI's scripts/pulumi-cli): a
# YAML host is compiled against the pkg/v3 and sdk/v3 its own go.mod asks for (pulumi-yaml
# v1.25.0 asks for v3.206.0) and does not compile against newer ones (the pkg/v3 schema and
# PCL APIs it calls have changed since). The host talks to the CLI over gRPC only, so the
# two need not share a Pulumi version: Pulumi's own release archive pairs a CLI with a YAML
# host built against an older pkg/v3 the same way.
#
# Order: (1) a cached build in ${PULUMI_METRONOME_CACHE:-$HOME/.cache/pulumi-metronome}/
# pulumi-language-yaml-v<version>/bin is reused when its build-stamp matches; (2) otherwise it
# is built: about 3 minutes on 2 cores from empty Go caches, seconds with warm ones.
#
# Version: the github.com/pulumi/pulumi-yaml requirement of scripts/pulumi-yaml/go.mod
# (v1.25.0, the newest the Go module proxy serves on 2026-12-06). To move it:
# `cd scripts/pulumi-yaml && GOTOOLCHAIN=local GOFLAGS=-mod=mod go get \
#  github.com/pulumi/pulumi-yaml@vX.Y.Z && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod tidy`.
# Built like the official release (pulumi-yaml's .goreleaser.yml: CGO_ENABLED=0, -ldflags
# "-s -w -X .../pkg/version.Version=vX.Y.Z"), plus -trimpath.
set -euo pipefail

log() { printf 'build-pulumi-yaml: %s\n' "$*" >&2; }
die() {
    printf 'build-pulumi-yaml: ERROR: %s\n' "$1" >&2
    shift
    (($# == 0)) || printf '  %s\n' "$@" >&2
    exit 1
}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MOD_DIR=$SCRIPT_DIR/pulumi-yaml
MODULE=github.com/pulumi/pulumi-yaml
PACKAGE=$MODULE/cmd/pulumi-language-yaml
[[ -f $MOD_DIR/go.mod && -f $MOD_DIR/go.sum ]] || die "$MOD_DIR/go.mod or go.sum is missing"

VERSION=$(sed -nE "s#^[[:space:]]*(require[[:space:]]+)?${MODULE//./\\.} v([0-9]+\.[0-9]+\.[0-9]+)([[:space:]].*)?\$#\2#p" \
    "$MOD_DIR/go.mod" | head -n1)
[[ -n $VERSION ]] || die "could not find the $MODULE requirement in $MOD_DIR/go.mod"

CACHE_ROOT=${PULUMI_METRONOME_CACHE:-$HOME/.cache/pulumi-metronome}
DEST=$CACHE_ROOT/pulumi-language-yaml-v$VERSION
EXE=$DEST/bin/pulumi-language-yaml
GO_LDFLAGS="-s -w -X $MODULE/pkg/version.Version=v$VERSION"
# Identifies the inputs of a build; a cache built from other inputs is rebuilt.
STAMP=$(cat "$MOD_DIR/go.mod" "$MOD_DIR/go.sum" <(printf '%s\n' "$PACKAGE" "$GO_LDFLAGS") |
    sha256sum | cut -d' ' -f1)

cache_ok() { # $1: a pulumi-language-yaml-v<version> dir
    [[ -f $1/bin/pulumi-language-yaml && -x $1/bin/pulumi-language-yaml && -s $1/bin/pulumi-language-yaml ]] &&
        [[ -f $1/build-stamp && $(<"$1/build-stamp") == "$STAMP" ]]
}

if cache_ok "$DEST"; then
    log "using cached pulumi-language-yaml v$VERSION"
    printf '%s\n' "$EXE"
    exit 0
fi

GO_MIN=$(sed -nE 's/^go ([0-9.]+)$/\1/p' "$MOD_DIR/go.mod")
cant_build() {
    printf 'build-pulumi-yaml: ERROR: %s\n' "$1" >&2
    cat >&2 <<EOF
build-pulumi-yaml: tried: no usable build in $DEST, then building
  $PACKAGE@v$VERSION with Go from $MOD_DIR (Go module proxy: ${GOPROXY:-default}).
build-pulumi-yaml: to fix, either
  - install Go >= $GO_MIN (go.mod), make sure the Go module proxy is reachable, and rerun; or
  - install Pulumi's pulumi-language-yaml v$VERSION and put it on PATH next to pulumi.
EOF
    exit 1
}

GO=$(command -v go || true)
if [[ -z $GO && -x /usr/local/go/bin/go ]]; then
    GO=/usr/local/go/bin/go
fi
[[ -n $GO ]] || cant_build "Go is not installed (no 'go' on PATH nor /usr/local/go/bin/go)."

# Never let Go download a toolchain (only the module proxy is reachable); use go.sum as checked in.
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0
GO_HAVE=$("$GO" env GOVERSION 2>/dev/null || true)
GO_HAVE=${GO_HAVE#go}
if [[ -z $GO_HAVE || $(printf '%s\n%s\n' "$GO_MIN" "$GO_HAVE" | sort -V | head -n1) != "$GO_MIN" ]]; then
    cant_build "$GO is Go ${GO_HAVE:-(unknown version)}; building needs Go >= $GO_MIN."
fi

mkdir -p "$CACHE_ROOT"
TMP=$(mktemp -d "$CACHE_ROOT/.pulumi-language-yaml-v$VERSION.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
chmod 0755 "$TMP"
mkdir "$TMP/bin"
log "building pulumi-language-yaml v$VERSION with $GO (Go $GO_HAVE) in $TMP; about 3 minutes from empty Go caches"
(cd "$MOD_DIR" && "$GO" build -trimpath -ldflags "$GO_LDFLAGS" -o "$TMP/bin/pulumi-language-yaml" "$PACKAGE") >&2 ||
    cant_build "go build of $PACKAGE@v$VERSION failed (see above)."
[[ -s $TMP/bin/pulumi-language-yaml ]] || cant_build "go build wrote no $TMP/bin/pulumi-language-yaml."
chmod 0755 "$TMP/bin/pulumi-language-yaml"
printf '%s\n' "$STAMP" >"$TMP/build-stamp"

# Move into place in one rename, so an interrupted run never leaves a half-filled cache.
if [[ -e $DEST ]]; then
    old=$(mktemp -d "$CACHE_ROOT/.pulumi-language-yaml-v$VERSION.old.XXXXXX")
    mv -T "$DEST" "$old/stale" 2>/dev/null || true
    rm -rf "$old"
fi
if ! mv -T "$TMP" "$DEST" 2>/dev/null; then
    # Another run finished first; use its result if it is good.
    cache_ok "$DEST" || die "could not move the build from $TMP to $DEST"
fi
log "installed pulumi-language-yaml v$VERSION in $DEST/bin"
printf '%s\n' "$EXE"
