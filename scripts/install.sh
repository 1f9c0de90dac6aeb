#!/usr/bin/env bash
# Set up pixup in ./.venv on a fresh Debian machine. `--dev` adds what the tests need.
# Idempotent: rerunning only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    echo "pixup needs Python >= 3.11 (found: $("$PYTHON" --version 2>&1))" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    # Debian's python3 ships venv separately.
    if command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq python3-venv
    fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip

extras=""
if [ "${1:-}" = "--dev" ]; then extras="[dev]"; fi
.venv/bin/python -m pip install -q -e ".${extras}"

# The PyTorch import extra (also needed by the tests). torch first, pinned to the CPU wheel where
# it exists, so nothing later pulls a multi-GB CUDA build; then spandrel without its declared deps.
if [ "${1:-}" = "--dev" ] || [ "${1:-}" = "--torch" ]; then
    if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
        .venv/bin/python -m pip install -q "torch==2.13.0"
    fi
    .venv/bin/python -m pip install -q -e ".[torch]"
    .venv/bin/python -m pip install -q --no-deps "spandrel>=0.4"
fi
