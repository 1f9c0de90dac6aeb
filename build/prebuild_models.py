"""Convert the models an installed app runs by default, so it never converts or quantises on first run.

    python build/prebuild_models.py OUT_DIR

Run with the interpreter the app is built from (pixup and its dependencies importable). Converts,
into a scratch PIXUP_HOME, every scenario model and every Fix compression model (with the input
residual their runtime adds), and the int8 variant of those measured for it; then copies the cache
entries (`<key>.onnx` + sidecar) into OUT_DIR, which the build ships as pixup/prebuilt/onnx
(pixup.models.cache.PREBUILT_DIR). Every other bundled model converts from its ncnn files on first
use, as in a source checkout. Prints one line per model.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def prebuilt_ids() -> list[str]:
    """The scenario models and the Fix compression models, in a stable order."""
    from pixup.models.bundled import REPAIR_MODELS, SCENARIO_MODELS

    return list(dict.fromkeys([*SCENARIO_MODELS.values(), *(model for _, _, model in REPAIR_MODELS)]))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: prebuild_models.py OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[0]).resolve()
    with tempfile.TemporaryDirectory(prefix="pixup-prebuild-") as home:
        os.environ["PIXUP_HOME"] = home
        from pixup.models.catalogue import resolve_model
        from pixup.models.int8 import int8_model
        from pixup.paths import user_paths

        for model_id in prebuilt_ids():
            started = time.perf_counter()
            model = resolve_model(model_id)
            made = [model.onnx_path.name]
            if model.int8:
                made.append(int8_model(model.onnx_path).name)
            print(f"{model_id}: {', '.join(made)} ({time.perf_counter() - started:.1f} s)")
        cache = user_paths().cache / "onnx"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        for entry in sorted(cache.iterdir()):
            if entry.suffix in (".onnx", ".json"):
                shutil.copy2(entry, out / entry.name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
