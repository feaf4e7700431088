#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs the project with its test extras into
# .venv and the Pulumi CLI (see scripts/env.sh), then lints, type-checks, builds the docs site
# and runs every test.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/server -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test source scripts/env.sh
# Tests make their own stacks, state and passphrases; the demo's settings must not leak in.
unset PULUMI_BACKEND_URL PULUMI_HOME

echo "lint: ruff check + ruff format --check" >&2
ruff check .
ruff format --check .
echo "type check: mypy --strict on provider/ and server/ (pyproject.toml [tool.mypy])" >&2
mypy
echo "docs: mkdocs build --strict (mkdocs.yml: missing pages, links and anchors are errors)" >&2
DOCS_SITE=$(mktemp -d)
NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet --site-dir "$DOCS_SITE"
rm -rf "$DOCS_SITE"
python -m pytest "$@"
