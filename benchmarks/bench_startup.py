"""Start-up: time to the first tile in a fresh process, with and without OpenVINO's model cache.

    cd /work/main && PYTHONPATH=app .venv/bin/python benchmarks/bench_startup.py [--rounds 3] [--side 512]

Each measurement is a new Python process (what `pixup upscale` is) that imports the engine, opens
realesr-animevideov3 ×4 on OpenVINO CPU (`ModelSession.open` with the plan pixup uses, a spec known in
advance as the CLI has it from the catalogue) and runs one side×side tile, then a second tile of the
same shape and one of another shape. Variants, interleaved per round: `cache_dir` in a folder warmed
by an earlier process ("cache"), and no cache_dir ("no cache"). A cold cache (first process ever) is
measured once at the start. Reported: median seconds for import, session open, first tile, second
tile, a tile of a new shape, and import→first tile output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, default_model_onnx, load_average, median, table

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from pathlib import Path
from pixup.engine.providers import provider_plan
from pixup.engine.session import ModelSession
t_import = time.perf_counter() - t0
model, cache, side = sys.argv[1], sys.argv[2], int(sys.argv[3])
plan = [c for c in provider_plan("fast", cache_dir=Path(cache) if cache else None) if c.device == "CPU"][:1]
t1 = time.perf_counter()
session = ModelSession.open(Path(model), plan=plan)
t_open = time.perf_counter() - t1
x = np.random.default_rng(0).random((1, 3, side, side), dtype=np.float32)
times = []
for shape in (x, x, x[:, :, : side - 8, : side - 8]):
    t = time.perf_counter(); session.run(np.ascontiguousarray(shape)); times.append(time.perf_counter() - t)
print(json.dumps({"import": t_import, "open": t_open, "first": times[0], "second": times[1],
                  "new_shape": times[2], "to_first_tile": time.perf_counter() - t0 - times[1] - times[2],
                  "options": plan[0].options}))
"""


def child(model: Path, cache: str, side: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "app")}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(model), cache, str(side)], env=env, capture_output=True, text=True
    )
    if proc.returncode:
        raise SystemExit(proc.stderr)
    figures: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--side", type=int, default=512)
    args = parser.parse_args(argv)
    model, _ = default_model_onnx()
    cache = tempfile.mkdtemp(prefix="pixup-ov-cache-")
    cold = child(model, cache, args.side)
    print(
        f"cold cache run: {json.dumps({k: round(v, 3) for k, v in cold.items() if k != 'options'})}",
        file=sys.stderr,
    )
    blobs = sorted(p.name for p in Path(cache).rglob("*") if p.is_file())
    print(f"cache after one run: {len(blobs)} files {blobs[:4]}", file=sys.stderr)
    runs: dict[str, list[dict[str, float]]] = {"cache": [], "no cache": []}
    for index in range(args.rounds):
        order = list(runs) if index % 2 == 0 else list(reversed(runs))
        for name in order:
            runs[name].append(child(model, cache if name == "cache" else "", args.side))
        print(f"round {index + 1}/{args.rounds}", file=sys.stderr)
    keys = ["import", "open", "first", "second", "new_shape", "to_first_tile"]
    rows = [["cold cache (1 run)", *(f"{cold[k]:.3f}" for k in keys)]]
    for name, results in runs.items():
        rows.append([name, *(f"{median([r[k] for r in results]):.3f}" for k in keys)])
    paired = median(
        [
            c["to_first_tile"] / n["to_first_tile"]
            for c, n in zip(runs["cache"], runs["no cache"], strict=True)
        ]
    )
    print(
        f"\nOpenVINO CPU, realesr-animevideov3 ×4, tile {args.side}², {args.rounds} rounds, "
        f"load {load_average():.2f}"
    )
    print(
        table(
            ["process", "import s", "open s", "1st tile s", "2nd tile s", "new shape s", "→ 1st tile s"], rows
        )
    )
    print(f"cache ÷ no cache, time to first tile (paired median): {paired:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
