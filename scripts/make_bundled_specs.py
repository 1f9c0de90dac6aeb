"""Writes app/pixup/models/bundled_specs.json: the ModelSpec of every bundled model's conversion,
keyed by the content digest `models.probe` caches specs under.

    PYTHONPATH=app .venv/bin/python scripts/make_bundled_specs.py

A bundled model's first load then skips the probe runs (realesrgan-x4plus's context measurement
alone takes ~30 s on 2 cores). pixup's conversions are deterministic, so the digests match on every
machine with the same converter; a conversion that differs (another onnx version) finds no seed
and is probed as before. Inspection runs on ONNX Runtime's CPU provider, as `probe` does for
user models. Run it again whenever the converter, the inspection or SPEC_CACHE_VERSION changes
(tests/models/test_bundled_spec.py fails for the default model when the seed is stale).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))
os.environ["PIXUP_HOME"] = tempfile.mkdtemp(prefix="pixup-specs-")

from pixup.engine.session import ModelSession  # noqa: E402
from pixup.models.bundled import available_bundled  # noqa: E402
from pixup.models.catalogue import resolve_model  # noqa: E402
from pixup.models.probe import SEED_FILE, SPEC_CACHE_VERSION, content_digest  # noqa: E402


def main() -> None:
    specs: dict[str, dict[str, object]] = {}
    for model in available_bundled():
        started = time.perf_counter()
        path = resolve_model(model.id).onnx_path
        digest = content_digest(path)
        if digest not in specs:
            with ModelSession.open(path, precision="exact", providers=["CPUExecutionProvider"]) as session:
                specs[digest] = {"model": model.id, **dataclasses.asdict(session.spec)}
        print(f"{model.id}: {digest} ({time.perf_counter() - started:.1f} s)", flush=True)
    document = {"version": SPEC_CACHE_VERSION, "specs": specs}
    SEED_FILE.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{SEED_FILE}: {len(specs)} specs")


if __name__ == "__main__":
    main()
