#!/usr/bin/env bash
# Everything CI checks: install (with the dev extra), lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev
export PIXUP_HOME="${PIXUP_HOME:-$PWD/.pixup-home}"
.venv/bin/ruff check app tests benchmarks
.venv/bin/mypy
.venv/bin/pytest -q "$@"
