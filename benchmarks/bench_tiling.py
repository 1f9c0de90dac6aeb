"""Tile grid against one whole-image run: what cutting costs, and the model's context against 32 px.

    cd /work/main && PIXUP_HOME=/tmp/pixup-speed-home PYTHONPATH=app .venv/bin/python \
        benchmarks/bench_tiling.py [--rounds 3] [--sizes 1000x750,2000x1500] [--whole-max 1000000]
        [--legacy REV]

Model: realesr-animevideov3 ×4 (the bundled default, `resolve_model`), on the engine's default CPU
plan (OpenVINO CPU when present), automatic tile. Per image size and round, interleaved:
(a) one whole-image `InferenceSession.run` on a session with the same provider and options
(uint8→float32→uint8 conversions included, as bench_engine.WholeImage does; only for images of at
most `--whole-max` pixels: 2000×1500 needs ~3 GB and a minute), (b) `upscale_array` with the grid of
the working tree and the context the model's measured radius asks for (`tiling.context_for`),
(c) the same with 32 px of context at every cut (the spec's radius set to None: what every model got
before), (d) optionally `upscale_array` with the grid of git revision `--legacy` (`tiling.py` read with
`git show`, patched into the pipeline for that run only).
Each variant runs once on the image before the timed rounds (OpenVINO compiles per input shape).
Reported: wall seconds per round, the paired ratios whole ÷ variant and variant ÷ 32 px context
(time relative to 32 px; < 1 = faster), the pixels each grid computes ÷ image pixels, and the largest
difference from the whole-image run (or, without it, from the 32 px run).
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
from pixup.engine.spec import ModelSpec
from pixup.engine.tiling import DEFAULT_PAD
from pixup.engine.upscale import auto_tile_size, upscale_array

MODEL_CONTEXT = "grid, model's context"
FIXED_CONTEXT = "grid, 32 px context"


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
    module: ModuleType, spec: ModelSpec, height: int, width: int, tile: int, pad: int = 0
) -> tuple[int, int, float]:
    """(tiles, context px, pixels computed ÷ image pixels) of `module`'s grid."""
    grid = module.plan_grid(height, width, spec, tile=tile, pad=pad)
    th, tw = grid.tile_shape
    return grid.count, grid.pad if grid.count > 1 else 0, grid.count * th * tw / (height * width)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="1000x750,2000x1500")
    parser.add_argument("--whole-max", type=int, default=1_000_000, help="largest image (pixels) run whole")
    parser.add_argument("--legacy", default="", help="git revision of a previous grid ('' = skip)")
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]

    model, how = default_model_onnx()
    log(f"model: {model} ({how})")
    plan = [c for c in provider_plan("fast") if c.device in ("CPU", "")][:1]
    session = ModelSession.open(model, plan=plan)
    whole = WholeImage(model, session.choice, session.spec)
    log(f"provider: {session.description}; context radius {session.spec.context_radius} px")
    variants: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "whole image": whole.upscale,
        MODEL_CONTEXT: lambda p: upscale_array(p, session),
        # `pad` is "at least": 32 px on every cut, what every model got before its radius was measured
        FIXED_CONTEXT: lambda p: upscale_array(p, session, pad=DEFAULT_PAD),
    }
    grids: dict[str, tuple[ModuleType, ModelSpec, int]] = {  # module, spec, pad ("at least")
        MODEL_CONTEXT: (tiling, session.spec, 0),
        FIXED_CONTEXT: (tiling, session.spec, DEFAULT_PAD),
    }
    if args.legacy:
        old = legacy_tiling(args.legacy)
        grids[f"grid ({args.legacy})"] = (old, session.spec, 0)

        def run_old(p: np.ndarray) -> np.ndarray:
            with grid_from(old):
                return upscale_array(p, session)

        variants[f"grid ({args.legacy})"] = run_old
    tile = auto_tile_size(session)
    log(f"auto tile: {tile}; load {load_average():.2f}")

    rows: list[list[str]] = []
    loads: list[float] = [load_average()]
    for width, height in sizes:
        pixels, source = sample_image("astronaut-512.png", width, height)
        names = [n for n in variants if n != "whole image" or width * height <= args.whole_max]
        log(f"{source}: warm-up ({', '.join(names)})")
        outputs = {name: variants[name](pixels) for name in names}
        reference = outputs.get("whole image", outputs[FIXED_CONTEXT])
        checks = {
            name: int(np.abs(out.astype(np.int16) - reference.astype(np.int16)).max())
            for name, out in outputs.items()
        }
        del outputs, reference
        walls: dict[str, list[float]] = {name: [] for name in names}
        for index in range(args.rounds):
            order = names if index % 2 == 0 else list(reversed(names))
            for name in order:
                started = time.perf_counter()
                variants[name](pixels)
                walls[name].append(time.perf_counter() - started)
            loads.append(load_average())
            log(f"  round {index + 1}: " + ", ".join(f"{n} {w[-1]:.2f} s" for n, w in walls.items()))
        against = "whole image" if "whole image" in walls else FIXED_CONTEXT
        for name, wall in walls.items():
            by_whole = (
                f"{median([b / w for b, w in zip(walls['whole image'], wall, strict=True)]):.3f}"
                if "whole image" in walls
                else "—"
            )
            by_fixed = median([w / b for b, w in zip(walls[FIXED_CONTEXT], wall, strict=True)])
            if name == "whole image":
                tiles, context, overlap = "1", "—", "1.000"
            else:
                module, spec, at_least = grids[name]
                count, pad, ratio = computed(module, spec, height, width, tile, at_least)
                tiles, context, overlap = str(count), str(pad), f"{ratio:.3f}"
            rows.append(
                [
                    f"{width}×{height}",
                    name,
                    tiles,
                    context,
                    overlap,
                    "/".join(f"{w:.2f}" for w in wall),
                    f"{median(wall):.2f}",
                    by_whole,
                    f"{by_fixed:.3f}",
                    f"{checks[name]} (vs {'whole' if against == 'whole image' else '32 px'})",
                ]
            )
    header = [
        "image",
        "run",
        "tiles",
        "context px",
        "computed ÷ image",
        "wall s per round",
        "median s",
        "whole ÷ run (paired)",
        "run ÷ 32 px (paired)",
        "max |Δ|",
    ]
    print(
        f"\n{session.description}, auto tile {tile}, context radius {session.spec.context_radius} px, "
        f"{args.rounds} interleaved rounds, load {min(loads):.2f}-{max(loads):.2f} "
        f"(median {median(loads):.2f})"
    )
    print(table(header, rows))
    session.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
