"""Time from "select model" to "first tile done", with and without preload.

A user picks a model, then presses Upscale a moment later (`--think`, default 1.5 s). Without preload
the load starts at the click; with preload it starts (debounced 300 ms) at the selection, so the
click finds the session ready or half loaded. Each model is measured in a fresh ModelSlot, models
alternate, and rounds repeat; medians are printed with the ratio.

    PIXUP_HOME=/tmp/pixup-bench .venv/bin/python benchmarks/bench_preload.py [--think 1.5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

import numpy as np

from pixup.engine.progress import Progress
from pixup.engine.upscale import upscale_array
from pixup.models.catalogue import resolve_model
from pixup.models.slot import ModelSlot

MODELS = ("realesr-animevideov3-x4", "waifu2x-cunet-x2", "realesrgan-x4plus")


def select_to_first_tile(model_id: str, preload: bool, think: float, image: np.ndarray) -> float:
    slot = ModelSlot()
    first_tile = threading.Event()
    done_at: list[float] = []

    def progress(p: Progress) -> None:
        if p.tiles_done >= 1 and not first_tile.is_set():
            done_at.append(time.perf_counter())
            first_tile.set()

    selected = time.perf_counter()
    if preload:
        slot.preload(model_id, "fast")
    time.sleep(think)  # the user looks at the screen, then clicks Upscale
    _, session = slot.get(model_id, "fast")
    upscale_array(image, session, tile=64, progress=progress)
    slot.clear()
    return done_at[0] - selected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--think", type=float, default=1.5, help="seconds from selection to click")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # one tile: the first tile is the job
    for model_id in MODELS:
        resolve_model(model_id)  # convert once up front: conversion is not what we measure
    results: dict[str, dict[str, float]] = {}
    for model_id in MODELS:
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.rounds):
            for preload in (False, True):
                times[preload].append(select_to_first_tile(model_id, preload, args.think, image))
        without, with_ = statistics.median(times[False]), statistics.median(times[True])
        results[model_id] = {
            "without_preload_s": without,
            "with_preload_s": with_,
            "saved_s": without - with_,
            "ratio": without / with_,
        }
    if args.json:
        print(json.dumps({"think_s": args.think, "results": results}))
        return
    print(
        f"select → first tile done (user clicks {args.think:.1f} s after selecting; median of {args.rounds})"
    )
    print(f"{'model':28} {'no preload':>11} {'preload':>9} {'saved':>8} {'ratio':>6}")
    for model_id, r in results.items():
        print(
            f"{model_id:28} {r['without_preload_s']:10.2f}s {r['with_preload_s']:8.2f}s "
            f"{r['saved_s']:7.2f}s {r['ratio']:5.2f}×"
        )
    print(json.dumps({"think_s": args.think, "results": results}))


if __name__ == "__main__":
    main()
