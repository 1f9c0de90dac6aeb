"""A folder of small images through the job service against the same inferences back to back.

    cd /work/main && PIXUP_HOME=/tmp/pixup-speed-home PYTHONPATH=app .venv/bin/python \\
        benchmarks/bench_folder.py [--rounds 3] [--count 24] [--size 256]

The folder: `--count` PNGs of `--size`² (crops of samples/*.png at spread offsets, each sample first
resized so it covers the crop), written by this script into a temporary folder. The model: the
bundled default `realesr-animevideov3-x4` (×4), precision "fast", on the engine's default provider
plan, in one `ModelSlot` shared by everything below (the same session object for all variants).

Per round, interleaved (the order rotates from round to round, since the machine is shared):

- **inference**: `upscale_array` on the pre-decoded arrays, one after another, with the slot's
  session and the batch the runner would pick: no decode, no names, no write. The baseline.
- **service**: `JobService.submit(folder)` → `wait`, default options (PNG at the schema's default
  level) into a fresh output folder: decode, checks, inference, encode and atomic write, events.
  File N is written on the writer thread while file N+1 decodes and infers.
- **service, no overlap**: the same with `JobService(overlap_writes=False)`: each file is written
  before the next one starts (the code path the service had before the overlap).
- **service, cold model**: as "service", but the slot is emptied first, so the job also opens the
  model (ONNX Runtime session, OpenVINO compile from its cache): the start-up a first job pays.
- **service, PNG writer before**: as "service", with the PNG writer's old choices
  (`pngwrite._FILTER_CHOICE = "five"`: Paeth among the row-filter candidates, in int16;
  `_RLE_TRIAL = False`: zlib's default strategy only), for the before/after in one run.

`--variants` picks the variants besides inference (default all: service, no-overlap, cold,
before).

Reported: median wall seconds per variant, images per second, and the paired ratio (per round:
inference seconds ÷ variant seconds, then the median: 1.0 = as fast as back-to-back inference).
Also, once, what the overlap has to hide per file: decode and write seconds measured alone (the
write with the PNG writer as it is and as before).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from _common import DEFAULT_MODEL_ID, SAMPLES, load_average, median, table
from pixup.engine.cancel import CancelToken
from pixup.engine.upscale import upscale_array
from pixup.imaging import pngwrite
from pixup.imaging.decode import read_image
from pixup.imaging.encode import EncodeOptions, write_image
from pixup.jobs.options import UpscaleOptions
from pixup.jobs.runner import _auto_batch
from pixup.jobs.service import JobService
from pixup.models.config import ConfigStore
from pixup.models.slot import ModelSlot
from pixup.paths import user_paths


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_folder(folder: Path, count: int, size: int) -> list[Path]:
    """`count` size² crops of the samples, spread over each image (deterministic)."""
    folder.mkdir(parents=True, exist_ok=True)
    samples = sorted(SAMPLES.glob("*.png"))
    rng = np.random.default_rng(8)
    paths = []
    for i in range(count):
        with Image.open(samples[i % len(samples)]) as opened:
            image = opened.convert("RGB")
        cover = size / min(image.size)
        if cover > 1:  # too small for the crop: Lanczos up so it covers it
            image = image.resize((round(image.width * cover), round(image.height * cover)),
                                 Image.Resampling.LANCZOS)
        left = int(rng.integers(0, image.width - size + 1))
        top = int(rng.integers(0, image.height - size + 1))
        path = folder / f"img{i:02d}.png"
        image.crop((left, top, left + size, top + size)).save(path)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--variants", default="service,no-overlap,cold,before",
                        help="besides inference, of: service,no-overlap,cold,before")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pixup-bench-folder-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    inputs = make_folder(work / "in", args.count, args.size)
    options = UpscaleOptions()  # the defaults: the default model, PNG at the default level
    log(f"{len(inputs)} images {args.size}×{args.size} in {work / 'in'}; model {DEFAULT_MODEL_ID}")

    slot = ModelSlot()
    config = ConfigStore(user_paths().models)
    config.load()
    overlap = JobService(slot, config)
    sequential = JobService(slot, config, overlap_writes=False)
    arrays = [read_image(p).pixels for p in inputs]

    with slot.lease(DEFAULT_MODEL_ID, options.precision) as lease:
        session = lease.session
        provider = session.provider
        batch = _auto_batch(provider)
        log(f"provider {provider}, batch {batch}")
        first = upscale_array(arrays[0], session, batch=batch)  # warm-up (compile, buffers)

        # What the overlap has to hide, per file, measured alone.
        decode_s = median([timed(lambda p=p: read_image(p)) for p in inputs[:6]])
        encode = EncodeOptions(png_compress_level=options.png_compression)
        target = work / "probe.png"
        def write() -> None:
            write_image(first, target, fmt="png", options=encode, metadata=None, overwrite=True)

        write_s = median([timed(write) for _ in range(5)])
        write_before_s = median([timed(lambda: png_before(write)) for _ in range(5)])

    def inference() -> None:
        with slot.lease(DEFAULT_MODEL_ID, options.precision) as held:
            for pixels in arrays:
                upscale_array(pixels, held.session, batch=batch, token=CancelToken(), notices=[])

    counter = iter(range(1_000_000))

    def job(service: JobService, cold: bool = False) -> None:
        n = next(counter)
        out = work / f"out{n}"
        if cold:
            slot.clear()
        job_id = f"bench-{n}"
        service.submit(job_id, [work / "in"], options.model_copy(update={"output_dir": str(out)}))
        if not service.wait(job_id, 3600):
            raise RuntimeError("job did not finish")
        final = service.status(job_id)
        if final.status != "done" or any(f.status != "done" for f in final.files):
            raise RuntimeError(f"job failed: {final.error or [f.error for f in final.files]}")
        shutil.rmtree(out)

    every = {
        "service": ("service", lambda: job(overlap)),
        "no-overlap": ("service, no overlap", lambda: job(sequential)),
        "cold": ("service, cold model", lambda: job(overlap, cold=True)),
        "before": ("service, PNG writer before", lambda: png_before(lambda: job(overlap))),
    }
    variants = {"inference": inference}
    for key in args.variants.split(","):
        name, fn = every[key]
        variants[name] = fn
    job(overlap)  # warm-up of the service path (first job's imports and folders)
    job(sequential)

    times: dict[str, list[float]] = {name: [] for name in variants}
    loads: list[float] = []
    names = list(variants)
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            seconds = timed(variants[name])
            times[name].append(seconds)
            log(f"round {r + 1}/{args.rounds} {name}: {seconds:.2f} s (load {load_average():.1f})")
        loads.append(load_average())
    overlap.shutdown()
    sequential.shutdown()

    base = times["inference"]
    rows = []
    figures: dict[str, object] = {}
    for name in names:
        ratios = [b / t for b, t in zip(base, times[name], strict=True)]
        med = median(times[name])
        rows.append([name, f"{med:.2f}", f"{args.count / med:.2f}", f"{median(ratios):.3f}",
                     " ".join(f"{t:.1f}" for t in times[name])])
        figures[name] = {"median_s": med, "ratio": median(ratios), "rounds_s": times[name]}
    print(f"{args.count} images {args.size}×{args.size} → ×4, {DEFAULT_MODEL_ID} on {provider}, "
          f"PNG level {options.png_compression}, {args.rounds} rounds, load average {median(loads):.1f}")
    print(table(["variant", "median s", "img/s", "inference ÷ this (paired)", "s per round"], rows))
    print(f"per file, alone: decode {decode_s * 1000:.1f} ms, write {write_s * 1000:.0f} ms "
          f"(PNG writer before: {write_before_s * 1000:.0f} ms), "
          f"inference {median(base) / args.count * 1000:.0f} ms (median round ÷ count)")
    print(json.dumps({"count": args.count, "size": args.size, "provider": provider, "rounds": args.rounds,
                      "load": median(loads), "decode_s": decode_s, "write_s": write_s,
                      "write_before_s": write_before_s, **figures}))


def png_before(fn: object) -> None:
    """Run `fn` with the PNG writer's old choices: five row filters (Paeth in int16), no Z_RLE."""
    saved = pngwrite._FILTER_CHOICE, pngwrite._RLE_TRIAL
    pngwrite._FILTER_CHOICE, pngwrite._RLE_TRIAL = "five", False
    try:
        fn()  # type: ignore[operator]
    finally:
        pngwrite._FILTER_CHOICE, pngwrite._RLE_TRIAL = saved


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
