"""Tile grid against one whole-image run: what cutting costs, today's grid against the previous one.

    cd /work/main && PYTHONPATH=app .venv/bin/python benchmarks/bench_tiling.py [--rounds 3]
        [--sizes 512x512,1000x750] [--legacy REV]

Model: realesr-animevideov3 ×4 (the bundled default, `resolve_model`), on the engine's default CPU
plan (OpenVINO CPU when present), automatic tile. Per image size and round, interleaved:
(a) one whole-image `InferenceSession.run` on a session with the same provider and options
(uint8→float32→uint8 conversions included, as bench_engine.WholeImage does), (b) `upscale_array`
with the grid of the working tree, (c) `upscale_array` with the grid of git revision `--legacy`
(default HEAD: `tiling.py` read with `git show`, patched into the pipeline for that run only).
Each variant runs once on the image before the timed rounds (OpenVINO compiles per input shape).
Reported: wall seconds per round, the paired ratio whole ÷ variant (throughput relative to the
whole-image run; 1.0 = tiling costs nothing) and the pixels each grid computes ÷ image pixels.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import numpy as np

from _common import ROOT, default_model_onnx, load_average, median, sample_image, table
from bench_engine import WholeImage
from pixup.engine import pipeline, tiling, upscale
from pixup.engine.providers import provider_plan
from pixup.engine.session import ModelSession
from pixup.engine.upscale import auto_tile_size, upscale_array


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def legacy_tiling(rev: str) -> ModuleType:
    """tiling.py as it was at `rev`, imported under another name."""
    source = subprocess.run(
        ["git", "show", f"{rev}:app/pixup/engine/tiling.py"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="pixup-legacy-")) / "legacy_tiling.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("legacy_tiling", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["legacy_tiling"] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def grid_from(module: ModuleType) -> Iterator[None]:
    """Run the pipeline with `module`'s plan_grid, cut_tile and Stitcher."""
    saved = (upscale.plan_grid, pipeline.cut_tile, pipeline.Stitcher)
    upscale.plan_grid = module.plan_grid
    pipeline.cut_tile = module.cut_tile
    pipeline.Stitcher = module.Stitcher
    try:
        yield
    finally:
        upscale.plan_grid, pipeline.cut_tile, pipeline.Stitcher = saved


def computed(
    module: ModuleType, session: ModelSession, height: int, width: int, tile: int
) -> tuple[int, float]:
    grid = module.plan_grid(height, width, session.spec, tile=tile, pad=32)
    th, tw = grid.tile_shape
    return grid.count, grid.count * th * tw / (height * width)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="512x512,1000x750")
    parser.add_argument("--legacy", default="HEAD", help="git revision of the previous grid ('' = skip)")
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]

    model, how = default_model_onnx()
    log(f"model: {model} ({how})")
    plan = [c for c in provider_plan("fast") if c.device in ("CPU", "")][:1]
    session = ModelSession.open(model, plan=plan)
    whole = WholeImage(model, session.choice, session.spec)
    log(f"provider: {session.description}")
    variants: dict[str, Callable[[np.ndarray], np.ndarray]] = {"whole image": whole.upscale}
    modules: dict[str, ModuleType] = {"grid (working tree)": tiling}
    variants["grid (working tree)"] = lambda p: upscale_array(p, session)
    if args.legacy:
        old = legacy_tiling(args.legacy)
        modules[f"grid ({args.legacy})"] = old

        def run_old(p: np.ndarray) -> np.ndarray:
            with grid_from(old):
                return upscale_array(p, session)

        variants[f"grid ({args.legacy})"] = run_old
    tile = auto_tile_size(session)
    log(f"auto tile: {tile}; load {load_average():.2f}")

    rows: list[list[str]] = []
    for width, height in sizes:
        pixels, source = sample_image("astronaut-512.png", width, height)
        log(f"{source}: warm-up")
        reference = whole.upscale(pixels)
        checks: dict[str, int] = {}
        for name, fn in variants.items():
            out = fn(pixels)
            checks[name] = int(np.abs(out.astype(np.int16) - reference.astype(np.int16)).max())
        walls: dict[str, list[float]] = {name: [] for name in variants}
        for index in range(args.rounds):
            order = list(variants) if index % 2 == 0 else list(reversed(variants))
            for name in order:
                started = time.perf_counter()
                variants[name](pixels)
                walls[name].append(time.perf_counter() - started)
            log(f"  round {index + 1}: " + ", ".join(f"{n} {w[-1]:.2f} s" for n, w in walls.items()))
        base = walls["whole image"]
        for name, wall in walls.items():
            ratio = median([b / w for b, w in zip(base, wall, strict=True)])
            tiles, overlap = (
                ("1", "1.000")
                if name == "whole image"
                else (lambda c: (str(c[0]), f"{c[1]:.3f}"))(
                    computed(modules[name], session, height, width, tile)
                )
            )
            rows.append(
                [
                    f"{width}×{height}",
                    name,
                    tiles,
                    overlap,
                    "/".join(f"{w:.2f}" for w in wall),
                    f"{median(wall):.2f}",
                    f"{ratio:.3f}",
                    str(checks[name]),
                ]
            )
    header = ["image", "run", "tiles", "computed ÷ image", "wall s per round", "median s", "÷ whole (paired)"]
    print(
        f"\n{session.description}, auto tile {tile}, {args.rounds} interleaved rounds, "
        f"load {load_average():.2f}"
    )
    print(table([*header, "max |Δ| vs whole"], rows))
    session.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
