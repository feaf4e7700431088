#!/usr/bin/env bash
# Makes the Pulumi CLI available on a machine that cannot reach Pulumi's download site, only
# the Go module proxy. Prints ONE line on stdout: the absolute directory holding `pulumi`,
# `pulumi-language-python`, `pulumi-language-python-exec`, `pulumi-resource-pulumi-python`
# and `pulumi-language-yaml`. Everything else goes to stderr. Usage:
#
#   BIN=$(scripts/install-pulumi-cli.sh) && export PATH="$BIN:$PATH"
#
# Order: (1) a full official install already on PATH is used as is; (2) a cached build in
# ${PULUMI_METRONOME_CACHE:-$HOME/.cache/pulumi-metronome}/pulumi-cli-v<version>/bin is reused;
# (3) otherwise the CLI is built with Go from the module in scripts/pulumi-cli: 5-6 minutes on
# 2 cores from empty Go caches (downloads ~1.4 GB of modules, fills ~1.6 GB of build cache),
# ~15 s when Go's module and build caches are warm. A cache hit takes well under a second.
# The YAML language host is built and cached on its own (scripts/build-pulumi-yaml.sh, see
# there) and linked into the same bin directory, so a CLI rebuild never rebuilds it.
#
# Versions: the CLI is the version of github.com/pulumi/pulumi/pkg/v3 and sdk/v3 required by
# scripts/pulumi-cli/go.mod (the two must match); the Python SDK is the `pulumi==X.Y.Z` pin in
# pyproject.toml, which may be older than the CLI (Pulumi supports a CLI newer than the SDK,
# never the reverse). How the pin was chosen (2026-12-06): the newest pair the registries
# serve here. The Go module proxy serves pkg/v3 up to v3.277.0 (`go list -m -versions
# github.com/pulumi/pulumi/pkg/v3` lists no v3.270-v3.273; those are refused) and PyPI serves
# `pulumi` up to 3.272.0 (`pip index versions pulumi`), so the CLI is built at v3.277.0 and
# the SDK pinned at 3.272.0. Checked on that pair, with this script's build (Python host
# with code generation, YAML host v1.25.0): the whole suite, `bash scripts/test.sh` (905
# tests, among them the dynamic provider's CLI, pricing and impact end-to-end tests and the
# native plugin's YAML, import and Python-SDK ones), passed. To move the CLI:
# `cd scripts/pulumi-cli && GOTOOLCHAIN=local GOFLAGS=-mod=mod go get \
#  github.com/pulumi/pulumi/pkg/v3@vX.Y.Z github.com/pulumi/pulumi/sdk/v3@vX.Y.Z && go mod tidy`.

# What is built: `pulumi` from github.com/pulumi/pulumi/pkg/v3/cmd/pulumi, stamped like the
# official release (.goreleaser.yml: -trimpath, tags osusergo,grpcnotrace, -ldflags "-w -s -X
# .../sdk/v3/go/common/version.Version=vX.Y.Z"), so `pulumi version` prints vX.Y.Z. The
# official Python language host module (sdk/python/cmd/pulumi-language-python/v3) is NOT on
# the proxy at any version, so `pulumi-language-python` is built from our own small host in
# scripts/pulumi-cli/langhost.go (runs programs via the SDK's pulumi-language-python-exec and
# the SDK's Python toolchain code; see that file for its limits). The two scripts come from
# the sdk/v3 module in the Go module cache, as in the official archive.
#
# Running `pulumi` offline with a local file backend (verified with `pulumi stack init`,
# `up`, `preview`, `destroy` on a `runtime: python` project with a dynamic provider):
#   PATH="$BIN:$PATH"                               CLI, language host and the provider launcher
#   PULUMI_BACKEND_URL=file://<abs dir>              local state, no login (dir must exist)
#   PULUMI_CONFIG_PASSPHRASE=<anything>             secrets provider of the file backend
#                                                   (or PULUMI_CONFIG_PASSPHRASE_FILE)
#   PULUMI_SKIP_UPDATE_CHECK=true                   no version check against pulumi.com
#   PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true  never try to download plugins
# Recommended: PULUMI_HOME=<project-local dir> so nothing is read from or written to
# ~/.pulumi (credentials, plugin cache); not required for it to work.
# Not needed: PULUMI_PYTHON_CMD (python3 on PATH is used; set it to pick another
# interpreter), `toolchain: pip` (the default); with `virtualenv: <dir>` in Pulumi.yaml's
# runtime options, the venv's python runs the program and the dynamic provider.
set -euo pipefail

log() { printf 'install-pulumi-cli: %s\n' "$*" >&2; }
die() {
    printf 'install-pulumi-cli: ERROR: %s\n' "$1" >&2
    shift
    (($# == 0)) || printf '  %s\n' "$@" >&2
    exit 1
}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
MOD_DIR=$SCRIPT_DIR/pulumi-cli
PYPROJECT=$REPO_ROOT/pyproject.toml
[[ -f $MOD_DIR/go.mod ]] || die "$MOD_DIR/go.mod is missing"

# --- 1. Version: pyproject.toml pin, which must match go.mod ------------------------------
gomod_version() { # version of a github.com/pulumi/pulumi module required by go.mod
    sed -nE "s#^[[:space:]]*github\.com/pulumi/pulumi/$1 v([0-9]+\.[0-9]+\.[0-9]+)([[:space:]].*)?\$#\1#p" \
        "$MOD_DIR/go.mod" | head -n1
}
PKG_VERSION=$(gomod_version pkg/v3)
SDK_VERSION=$(gomod_version sdk/v3)
[[ -n $PKG_VERSION && -n $SDK_VERSION ]] ||
    die "could not find github.com/pulumi/pulumi/pkg/v3 and sdk/v3 requirements in $MOD_DIR/go.mod"
[[ $PKG_VERSION == "$SDK_VERSION" ]] ||
    die "$MOD_DIR/go.mod requires pkg/v3 v$PKG_VERSION but sdk/v3 v$SDK_VERSION; they must be the same release"

VERSION=$PKG_VERSION
if [[ -f $PYPROJECT ]]; then
    SDK_PIN=$(grep -Eo '"pulumi==[0-9]+\.[0-9]+\.[0-9]+"' "$PYPROJECT" | head -n1 | sed -E 's/^"pulumi==(.*)"$/\1/' || true)
    [[ -n $SDK_PIN ]] || die "no exact \"pulumi==X.Y.Z\" dependency found in $PYPROJECT"
    if [[ $(printf '%s\n%s\n' "$SDK_PIN" "$VERSION" | sort -V | head -n1) != "$SDK_PIN" ]]; then
        die "pyproject.toml pins the Python SDK pulumi==$SDK_PIN, newer than the CLI v$VERSION that scripts/pulumi-cli/go.mod builds." \
            "Pulumi supports a CLI newer than the SDK, not the reverse: move go.mod's pkg/v3 and sdk/v3 to v$SDK_PIN or later" \
            "(see the header of this script), or pin an older SDK."
    fi
fi

# The YAML language host: built and cached by its own script, linked into a bin directory.
YAML_SCRIPT=$SCRIPT_DIR/build-pulumi-yaml.sh
link_yaml_host() { # $1: a bin directory; (re)links pulumi-language-yaml there in one rename
    local exe tmp
    exe=$("$YAML_SCRIPT") ||
        die "the YAML language host pulumi-language-yaml could not be built (see above)." \
            "Fix that and rerun; to build it alone: bash $YAML_SCRIPT"
    [[ $(readlink "$1/pulumi-language-yaml" 2>/dev/null || true) == "$exe" ]] && return 0
    tmp=$1/.pulumi-language-yaml.link.$$
    ln -sfn "$exe" "$tmp" && mv -T "$tmp" "$1/pulumi-language-yaml" ||
        die "could not link $exe into $1"
}

# --- 2. An official install already on PATH ----------------------------------------------
if command -v pulumi >/dev/null && command -v pulumi-language-python >/dev/null &&
    command -v pulumi-resource-pulumi-python >/dev/null; then
    dir=$(cd "$(dirname "$(command -v pulumi)")" && pwd)
    found=$(PULUMI_SKIP_UPDATE_CHECK=true pulumi version 2>/dev/null || true)
    if [[ $found != "v$VERSION" ]]; then
        log "warning: using pulumi ${found:-(unknown version)} from $dir, the project pins v$VERSION"
    else
        log "using pulumi $found from PATH ($dir)"
    fi
    command -v pulumi-language-yaml >/dev/null ||
        log "warning: no pulumi-language-yaml on PATH: YAML programs will not run (build it with: bash $YAML_SCRIPT)"
    printf '%s\n' "$dir"
    exit 0
fi

# --- 3. A cached build -------------------------------------------------------------------
CACHE_ROOT=${PULUMI_METRONOME_CACHE:-$HOME/.cache/pulumi-metronome}
DEST=$CACHE_ROOT/pulumi-cli-v$VERSION
BIN=$DEST/bin
EXECUTABLES=(pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python)
GO_TAGS=osusergo,grpcnotrace
GO_LDFLAGS="-w -s -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$VERSION"
# Identifies the inputs of a build; a cache built from other inputs is rebuilt.
STAMP=$(cat "$MOD_DIR"/go.mod "$MOD_DIR"/go.sum "$MOD_DIR"/*.go <(printf '%s\n' "$GO_TAGS" "$GO_LDFLAGS") |
    sha256sum | cut -d' ' -f1)

cache_ok() { # $1: a pulumi-cli-v<version> dir
    local exe
    for exe in "${EXECUTABLES[@]}"; do
        [[ -f $1/bin/$exe && -x $1/bin/$exe ]] || return 1
    done
    [[ -f $1/build-stamp && $(<"$1/build-stamp") == "$STAMP" ]] || return 1
    [[ $(PULUMI_SKIP_UPDATE_CHECK=true "$1/bin/pulumi" version 2>/dev/null) == "v$VERSION" ]]
}

if cache_ok "$DEST"; then
    log "using cached pulumi v$VERSION"
    link_yaml_host "$BIN"
    printf '%s\n' "$BIN"
    exit 0
fi

# --- 4. Build ------------------------------------------------------------------------------
GO_MIN=$(sed -nE 's/^go ([0-9.]+)$/\1/p' "$MOD_DIR/go.mod")
cant_build() {
    printf 'install-pulumi-cli: ERROR: %s\n' "$1" >&2
    cat >&2 <<EOF
install-pulumi-cli: tried: no pulumi, pulumi-language-python and pulumi-resource-pulumi-python on
  PATH, no usable build in $DEST, then building Pulumi v$VERSION
  with Go from $MOD_DIR (Go module proxy: ${GOPROXY:-default}).
install-pulumi-cli: to fix, either
  - install Go >= $GO_MIN (go.mod), make sure the Go module proxy is reachable, and rerun; or
  - install the Pulumi CLI v$VERSION (with its Python language host) and put it on PATH.
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
TMP=$(mktemp -d "$CACHE_ROOT/.pulumi-cli-v$VERSION.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
chmod 0755 "$TMP"
mkdir "$TMP/bin"
log "building Pulumi CLI v$VERSION with $GO (Go $GO_HAVE) in $TMP; this takes several minutes"
build() { # $1: output name, $2: package
    log "go build $2 -> $1"
    (cd "$MOD_DIR" && "$GO" build -trimpath -tags "$GO_TAGS" -ldflags "$GO_LDFLAGS" -o "$TMP/bin/$1" "$2") >&2
}
build pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ||
    cant_build "go build of github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$VERSION failed (see above)."
build pulumi-language-python . ||
    cant_build "go build of the Python language host ($MOD_DIR/langhost.go) failed (see above)."

SDK_JSON=$(cd "$MOD_DIR" && "$GO" mod download -json "github.com/pulumi/pulumi/sdk/v3@v$VERSION") ||
    cant_build "go mod download github.com/pulumi/pulumi/sdk/v3@v$VERSION failed: $SDK_JSON"
SDK_DIR=$(printf '%s\n' "$SDK_JSON" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')
[[ -n $SDK_DIR && -d $SDK_DIR ]] || cant_build "no module directory for sdk/v3@v$VERSION in: $SDK_JSON"
for f in python/cmd/pulumi-language-python-exec python/dist/pulumi-resource-pulumi-python; do
    [[ -f $SDK_DIR/$f ]] || cant_build "$SDK_DIR/$f is missing"
    cp "$SDK_DIR/$f" "$TMP/bin/"
done
chmod 0755 "$TMP"/bin/*

got=$(PULUMI_SKIP_UPDATE_CHECK=true "$TMP/bin/pulumi" version 2>/dev/null || true)
[[ $got == "v$VERSION" ]] || cant_build "the built pulumi reports version '${got}', expected v$VERSION."
link_yaml_host "$TMP/bin"
printf '%s\n' "$STAMP" >"$TMP/build-stamp"

# Move into place in one rename, so an interrupted run never leaves a half-filled cache.
if [[ -e $DEST ]]; then
    old=$(mktemp -d "$CACHE_ROOT/.pulumi-cli-v$VERSION.old.XXXXXX")
    mv -T "$DEST" "$old/stale" 2>/dev/null || true
    rm -rf "$old"
fi
if ! mv -T "$TMP" "$DEST" 2>/dev/null; then
    # Another run finished first; use its result if it is good.
    cache_ok "$DEST" || die "could not move the build from $TMP to $DEST"
fi
log "installed pulumi v$VERSION in $BIN"
printf '%s\n' "$BIN"
