#!/usr/bin/env bash
# Everything CI checks: install (with the dev extra, system packages when root, the UI built),
# then lint and types (Python and UI), UI unit tests, Storybook build, and the whole pytest suite
# (engine, bridge, HTTP, the window under Xvfb, end to end in chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev
export PIXUP_HOME="${PIXUP_HOME:-$PWD/.pixup-home}"
.venv/bin/ruff check app tests benchmarks scripts build setup.py
.venv/bin/mypy
(cd ui && npm run --silent check && npm run --silent lint && npm test --silent && npm run --silent build-storybook)
.venv/bin/pytest -q "$@"
