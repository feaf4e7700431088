# Sourced by scripts/demo.sh and scripts/test.sh: sets up a fresh machine for this project.
#  - with EXTRAS=test, Java and Node.js/npm from Debian's packages when missing (Spark, tsc);
#  - a virtualenv in .venv with the project installed (editable) with the extras in $EXTRAS;
#  - the Pulumi CLI (scripts/install-pulumi-cli.sh: one on PATH, a cached build, or a build
#    from Pulumi's Go modules) on PATH;
#  - Pulumi run offline and locally: a file backend under .pulumi-local/, a passphrase for
#    secrets, no update checks and no plugin downloads.
# shellcheck shell=bash
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EXTRAS=${EXTRAS:-server}
PYTHON=${PYTHON:-python3}

# System packages the test suite needs beyond Python and Go: a Java runtime for Spark (the
# [spark] extra runs in local mode) and Node.js with npm (the generated TypeScript SDK is
# compiled with tsc). Installed from Debian's packages only when missing (root, apt-get).
if [[ $EXTRAS == *test* ]]; then
    missing=()
    command -v java >/dev/null || missing+=(default-jre-headless)
    command -v npm >/dev/null || missing+=(nodejs npm)
    if ((${#missing[@]})); then
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            echo "setup: apt-get install ${missing[*]}" >&2
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends "${missing[@]}"; } >&2
        else
            echo "setup: warning: install ${missing[*]} (Spark and TypeScript SDK tests need them)" >&2
        fi
    fi
fi

if [[ ! -x $ROOT/.venv/bin/python ]]; then
    echo "setup: creating $ROOT/.venv" >&2
    "$PYTHON" -m venv "$ROOT/.venv"
fi
echo "setup: installing pulumi-metronome[$EXTRAS] into .venv" >&2
"$ROOT/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[$EXTRAS]" >&2

PULUMI_BIN=$("$ROOT/scripts/install-pulumi-cli.sh")
# The venv first: the Pulumi language host runs programs and dynamic providers with the
# `python3` it finds on PATH.
export PATH="$ROOT/.venv/bin:$PULUMI_BIN:$PATH"
export VIRTUAL_ENV="$ROOT/.venv"

LOCAL_DIR="$ROOT/.pulumi-local"
mkdir -p "$LOCAL_DIR/state" "$LOCAL_DIR/home"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$LOCAL_DIR/state}"
export PULUMI_HOME="${PULUMI_HOME:-$LOCAL_DIR/home}"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-local-demo-passphrase}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
