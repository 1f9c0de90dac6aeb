"""Start-up: time to the first tile in a fresh process, with and without OpenVINO's model cache;
and what `pixup upscale` pays before its first tile against a bare script.

    cd /work/main && PYTHONPATH=app .venv/bin/python benchmarks/bench_startup.py [--rounds 3] [--side 512]
        [--parts engine,cli] [--cli-rounds 10] [--pixup-app DIR]... [--source-only]

**engine**:
Each measurement is a new Python process (what `pixup upscale` is) that imports the engine, opens
realesr-animevideov3 ×4 on OpenVINO CPU (`ModelSession.open` with the plan pixup uses, a spec known in
advance as the CLI has it from the catalogue) and runs one side×side tile, then a second tile of the
same shape and one of another shape. Variants, interleaved per round: `cache_dir` in a folder warmed
by an earlier process ("cache"), and no cache_dir ("no cache"). A cold cache (first process ever) is
measured once at the start. Reported: median seconds for import, session open, first tile, second
tile, a tile of a new shape, and import→first tile output.

**cli**: seconds from spawning the process to the start of the first inference on the image, which is
what a whole-process run pays before (and besides) the work itself. "pixup": `python -m pixup upscale
IN -o DIR --model realesr-animevideov3-x4 --overwrite --png-compression 1` on a 512² PNG, stopped
where the runner calls `upscale_array` (Python start, imports, argument parsing, the job service,
decode, model lookup, session open with OpenVINO's warm cache). "bare ORT": the bare script of
bench_e2e.py (Pillow decode, `InferenceSession` on the default CPU provider) stopped at its
`session.run`. `--pixup-app DIR` adds "pixup @ DIR" (`PYTHONPATH=DIR`, e.g. an earlier commit's
`app/` from `git archive`), interleaved, so before and after are measured in the same run. `app/` is
byte-compiled first, as scripts/install.sh leaves it (`--source-only` skips that). Set PIXUP_HOME
(e.g. /tmp/pixup-speed-home) so the converted model is cached.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from _common import ROOT, byte_compile, default_model_onnx, load_average, median, sample_image, table

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


PIXUP_TO_TILE = r"""
import json, os, sys, time
spawned = float(sys.argv[1])
import pixup.engine.upscale as upscale

def first_tile(*args, **kwargs):
    print(json.dumps({"to_tile": time.time() - spawned}), flush=True)
    os._exit(0)

upscale.upscale_array = first_tile  # before pixup.jobs.runner imports the name
from pixup.cli import main
main(sys.argv[2:])
raise SystemExit("pixup did not reach upscale_array")
"""

BARE_TO_RUN = r"""
import json, sys, time
spawned = float(sys.argv[1])
import numpy as np
import onnxruntime as ort
from PIL import Image
model, src = sys.argv[2], sys.argv[3]
with Image.open(src) as im:
    pixels = np.asarray(im.convert("RGB"))
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
x = (pixels.transpose(2, 0, 1)[None].astype(np.float32)) / np.float32(255)
print(json.dumps({"to_tile": time.time() - spawned}), flush=True)
"""


def to_first_tile(command: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning `python -c CODE ARGS...` to its first inference (the spawn time is
    passed to CODE as its first argument)."""
    command = [*command[:3], repr(time.time()), *command[3:]]
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stdout}\n{proc.stderr}")
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["to_tile"])


def cli_part(model: Path, rounds: int, apps: list[Path]) -> None:
    work = Path(tempfile.mkdtemp(prefix="pixup-startup-"))
    src = work / "in.png"
    pixels, source = sample_image("astronaut-512.png", 512, 512)
    Image.fromarray(pixels).save(src)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "app")}
    env.setdefault("PIXUP_HOME", "/tmp/pixup-speed-home")
    args = [str(src), "-o", str(work / "out"), "--model", "realesr-animevideov3-x4", "--overwrite"]
    pixup = [sys.executable, "-c", PIXUP_TO_TILE, "upscale", *args, "--png-compression", "1"]
    variants: dict[str, tuple[list[str], dict[str, str]]] = {"pixup": (pixup, env)}
    for app in apps:
        variants[f"pixup @ {app}"] = (pixup, {**env, "PYTHONPATH": str(app.resolve())})
    variants["bare ORT (CPU EP)"] = ([sys.executable, "-c", BARE_TO_RUN, str(model), str(src)], env)
    print(f"cli: {source}; warm-up of every variant", file=sys.stderr)
    for command, variant_env in variants.values():
        to_first_tile(command, variant_env)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for index in range(rounds):
        order = list(variants) if index % 2 == 0 else list(reversed(variants))
        for name in order:
            times[name].append(to_first_tile(*variants[name]))
        print(f"cli round {index + 1}/{rounds}", file=sys.stderr)
    bare = times["bare ORT (CPU EP)"]
    rows = []
    for name, values in times.items():
        extra = [p - b for p, b in zip(values, bare, strict=True)]
        rows.append(
            [
                name,
                f"{median(values):.3f}",
                f"{min(values):.3f}",
                f"{median(extra):+.3f}" if name != "bare ORT (CPU EP)" else "",
                f"{median([v - t for v, t in zip(values, times['pixup'], strict=True)]):+.3f}"
                if name != "pixup"
                else "",
            ]
        )
    print(f"\nspawn → first inference on a 512² PNG, {rounds} interleaved rounds, load {load_average():.2f}")
    print(
        table(
            ["process", "median s", "min s", "− bare ORT (paired median) s", "− pixup (paired median) s"],
            rows,
        )
    )


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
    parser.add_argument("--parts", default="engine,cli", help="engine, cli or both (comma-separated)")
    parser.add_argument("--cli-rounds", type=int, default=10)
    parser.add_argument("--pixup-app", type=Path, action="append", default=[], metavar="DIR")
    parser.add_argument("--source-only", action="store_true", help="do not byte-compile app/ first")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if not args.source_only:
        byte_compile()
    model, _ = default_model_onnx()
    if "cli" in parts:
        cli_part(model, args.cli_rounds, args.pixup_app)
    if "engine" not in parts:
        return 0
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
