"""Issue 8: int8 (pixup's own quantiser, ONNX Runtime static quantisation, optionally NNCF) against fp32.

    PIXUP_HOME=/tmp/pixup-speed-home PYTHONPATH=app:. .venv/bin/python benchmarks/bench_int8.py --rounds 3
    ... --models realesr-animevideov3-x4 --sizes 256 --rounds 1 --methods minmax    # smoke check
    ... --nncf /tmp/nncf-venv/bin/python --timed nncf-minmax    # NNCF too (see benchmarks/README.md)

For each model (default: the bundled default `realesr-animevideov3-x4` and `waifu2x-photo-x2`):

- **Quantise** with pixup's own quantiser (`pixup.models.quantize`, method "pixup": quantisers in
  front of convolutions only, min/max ranges, calibrated on the tiles pixup ships, which are these
  same photo tiles), and with `onnxruntime.quantization.quantize_static`: QDQ format, per-channel
  int8 weights, uint8 activations, after `quant_pre_process` (shape inference + graph clean-up).
  Calibration: 96×96 tiles of samples/astronaut-512.png and samples/chelsea.png that do not overlap
  the model table's evaluation crops of those two images (`sr_images.repository_photos`), so no
  evaluated pixel was seen in calibration (the samples hold no drawing, so calibration saw photos
  only). One int8 model per calibration variant (MinMax, MinMax with reduce_range, Percentile,
  Entropy; `--methods`). With `--nncf PYTHON` also with NNCF (`nncf.quantize`, ONNX backend, same
  tiles) run by a scratch venv's interpreter: NNCF's default activation ranges ("nncf") and plain
  min/max ranges ("nncf-minmax").
- **Speed**: one fixed tile (1×3×S×S of a sample image, `--sizes`) through a bare
  `InferenceSession.run` for fp32 and one int8 model (`--timed`, default the first of `--methods`:
  a calibration method changes scales, not the graph) on OpenVINO CPU (pixup's options: 2 threads,
  INFERENCE_PRECISION_HINT f32) and on ONNX Runtime's default CPU provider (2 intra-op threads;
  `--speed-providers`). Rounds are interleaved (round 1 of
  every session, then round 2, ...); reported: median seconds, the per-round paired ratio
  fp32 s ÷ int8 s on the same provider (its median; > 1 = int8 faster), the paired ratio against
  OpenVINO fp32 (what pixup runs today on a CPU without bf16) and the 1-minute load average.
- **Quality**, as the model table measures it (`model_table.py`: `sr_images` photos and drawings,
  `sr_metrics.downscale` bicubic ÷scale input, pixup's `upscale_array` with one tile, `psnr_y` on
  8-bit outputs with `scale` px shaved): PSNR against the ground truth for fp32 and each int8 model
  (mean per kind), the loss int8 − fp32 (mean, and the worst single image), and PSNR of the int8
  output against the fp32 output.
- **Stress**: `stress_tiles` (saturated outlines, small text, screentone, 1-px patterns) through fp32
  and each int8 model: PSNR of int8 against fp32, where min/max calibration on photos clips.

Decision rule (issue 8): adopt int8 as `--precision fast` only where the PSNR loss is ≤ 0.1 dB (on
photos and on drawings) and the speed-up over today's path (OpenVINO CPU fp32) is ≥ 1.5× at every
timed size. The script prints the verdict per model and provider (best variant's loss, the timed
variant's speed); it changes nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "app", ROOT):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from benchmarks._common import (  # noqa: E402
    DEFAULT_MODEL_ID,
    default_model_onnx,
    load_average,
    median,
    sample_image,
    table,
)

log = logging.getLogger("bench_int8")

DEFAULT_MODELS = (DEFAULT_MODEL_ID, "waifu2x-photo-x2")
CALIB_SIDE = 96
CALIB_STEP = 48
CALIB_PER_IMAGE = 4
CALIB_SOURCES = ("astronaut-512.png", "chelsea.png")
"""Calibration tiles come from these samples, outside the evaluation crops of the same images."""
MAX_LOSS_DB = 0.1
MIN_SPEEDUP = 1.5
THREADS = 2
METHODS = {"minmax": "MinMax", "minmax-rr": "MinMax", "percentile": "Percentile", "entropy": "Entropy"}
"""Calibration variants; "-rr" = `reduce_range` (7-bit weights: ONNX Runtime's advice against the
u8×s8 overflow of AVX2's vpmaddubsw on CPUs without VNNI)."""

Json = dict[str, Any]


# ------------------------------------------------------------------------------------- calibration


def calibration_tiles() -> list[np.ndarray]:
    """NCHW float32 tiles of the samples whose windows miss the evaluation crops: the
    `CALIB_PER_IMAGE` most detailed ones per image (gradient energy), no two overlapping."""
    from benchmarks.sr_images import repository_photos
    from PIL import Image

    crops = {image.source.split(" ")[0].removeprefix("samples/"): image.crop for image in repository_photos()}
    tiles = []
    for name in CALIB_SOURCES:
        with Image.open(ROOT / "samples" / name) as opened:
            rgb = np.asarray(opened.convert("RGB"), dtype=np.uint8)
        cx, cy, cs = crops[name]
        grey = rgb.astype(np.float64).mean(axis=2)
        energy = np.abs(np.diff(grey, axis=1))[:-1] + np.abs(np.diff(grey, axis=0))[:, :-1]
        candidates = []
        for y in range(0, rgb.shape[0] - CALIB_SIDE + 1, CALIB_STEP):
            for x in range(0, rgb.shape[1] - CALIB_SIDE + 1, CALIB_STEP):
                overlaps = x < cx + cs and cx < x + CALIB_SIDE and y < cy + cs and cy < y + CALIB_SIDE
                if not overlaps:
                    score = float(energy[y : y + CALIB_SIDE - 1, x : x + CALIB_SIDE - 1].sum())
                    candidates.append((score, x, y))
        chosen: list[tuple[int, int]] = []
        for _, x, y in sorted(candidates, reverse=True):
            if all(abs(x - u) >= CALIB_SIDE or abs(y - v) >= CALIB_SIDE for u, v in chosen):
                chosen.append((x, y))
            if len(chosen) == CALIB_PER_IMAGE:
                break
        for x, y in chosen:
            tile = rgb[y : y + CALIB_SIDE, x : x + CALIB_SIDE].astype(np.float32) / 255
            tiles.append(np.ascontiguousarray(tile.transpose(2, 0, 1)[None]))
        log.info("calibration: %s tiles at %s (evaluation crop at %s)", name, chosen, (cx, cy, cs))
    return tiles


def quantise(fp32: Path, out_dir: Path, methods: Sequence[str], tiles: list[np.ndarray]) -> dict[str, Path]:
    """One QDQ int8 model per calibration method."""
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    input_name = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter([{input_name: tile} for tile in tiles])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    pre = out_dir / f"{fp32.stem}-pre.onnx"
    try:
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    except Exception as err:  # pre-processing is advice, not required
        log.warning("quant_pre_process failed (%s); quantising the model as is", err)
        pre = fp32
    models = {}
    for method in methods:
        path = out_dir / f"{fp32.stem}-int8-{method}.onnx"
        if method == "pixup":
            models[method] = pixup_quantise(fp32, path)
            continue
        started = time.perf_counter()
        quantize_static(
            str(pre),
            str(path),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=getattr(CalibrationMethod, METHODS[method]),
            reduce_range=method.endswith("-rr"),
            extra_options={"CalibMovingAverage": False},
        )
        log.info("quantised %s with %s in %.1f s", fp32.name, method, time.perf_counter() - started)
        models[method] = path
    return models


def pixup_quantise(fp32: Path, path: Path) -> Path:
    """pixup's own quantiser (`models.quantize`) on the calibration tiles it ships
    (`models.int8.calibration_samples`): what `--precision int8` runs."""
    import onnx

    from pixup.models.int8 import calibration_samples
    from pixup.models.quantize import quantise_int8

    started = time.perf_counter()
    onnx.save(quantise_int8(onnx.load(str(fp32)), calibration_samples()), str(path))
    log.info("quantised %s with pixup's quantiser in %.1f s", fp32.name, time.perf_counter() - started)
    return path


def stress_tiles() -> dict[str, np.ndarray]:
    """96² drawn tiles at the edge of what an upscaler meets, none in any calibration: outlines
    with saturated flat fills, small text, screentone with hatching, a cel-shaded gradient, 1-px
    random black/white noise, a 1-px dot tone. Scored against the fp32 output (no ground truth)."""
    import random

    from PIL import Image, ImageDraw, ImageFont

    side = 96
    rng = random.Random(8)
    tiles = {}
    outlines = Image.new("RGB", (side, side), "white")
    d = ImageDraw.Draw(outlines)
    for colour in ("#ff0000", "#00c000", "#0040ff", "#ffe000", "#ff00ff", "#00ffff"):
        x, y, size = rng.randrange(-20, side - 20), rng.randrange(-20, side - 20), rng.randrange(24, 56)
        d.ellipse((x, y, x + size, y + size), fill=colour, outline="black", width=3)
    d.line((4, 90, 92, 6), fill="black", width=2)
    tiles["outlines"] = outlines
    text = Image.new("RGB", (side, side), "white")
    d = ImageDraw.Draw(text)
    for row, size in enumerate((9, 12, 16, 22)):
        d.text((3, 4 + row * 23), "Aa Bg 47 ?!", fill="black", font=ImageFont.load_default(size=size))
    tiles["text"] = text
    tone = Image.new("RGB", (side, side), "white")
    d = ImageDraw.Draw(tone)
    for y in range(0, side // 2, 4):
        for x in range(0, side, 4):
            d.ellipse((x, y, x + 2, y + 2), fill="black")
    for k in range(-side, side, 5):
        d.line((k, side, k + side // 2, side // 2), fill="black", width=1)
    d.rectangle((20, 30, 76, 70), fill="white", outline="black", width=2)
    tiles["screentone"] = tone
    sky = np.zeros((side, side, 3), dtype=np.uint8)
    sky[..., 0] = np.linspace(40, 200, side, dtype=np.uint8)[:, None]
    sky[..., 1] = np.linspace(90, 230, side, dtype=np.uint8)[:, None]
    sky[..., 2] = 255
    cel = Image.fromarray(sky)
    d = ImageDraw.Draw(cel)
    d.ellipse((18, 18, 78, 78), fill="#f0a030", outline="#202020", width=2)
    d.pieslice((18, 18, 78, 78), 20, 160, fill="#b06010")
    d.rectangle((0, 80, side, side), fill="#103010")
    tiles["cel"] = cel
    out = {name: np.asarray(t, dtype=np.uint8) for name, t in tiles.items()}
    out["noise"] = (np.random.default_rng(1).random((side, side, 3)) > 0.5).astype(np.uint8) * 255
    dots = np.full((side, side, 3), 255, dtype=np.uint8)
    for y in range(0, side, 3):
        dots[y, (y // 3) % 2 :: 3] = 0
    out["1px-tone"] = dots
    return out


NNCF_SCRIPT = """
import sys
import numpy as np, onnx, nncf
from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
from nncf.quantization.range_estimator import RangeEstimatorParametersSet
src, dst, tiles_npy, ranges = sys.argv[1:5]
model = onnx.load(src)
name = model.graph.input[0].name
tiles = np.load(tiles_npy)
data = nncf.Dataset([tiles[i : i + 1] for i in range(len(tiles))], lambda t: {name: t})
extra = {"activations_range_estimator_params": getattr(RangeEstimatorParametersSet, ranges)} if ranges else {}
advanced = AdvancedQuantizationParameters(**extra)
onnx.save(nncf.quantize(model, data, subset_size=len(tiles), advanced_parameters=advanced), dst)
"""
NNCF_VARIANTS = {"nncf": "", "nncf-minmax": "MINMAX"}
"""NNCF's default activation ranges (mean over samples of each min and max) and plain min/max."""


def nncf_quantise(python: str, fp32: Path, out_dir: Path, tiles: list[np.ndarray]) -> dict[str, Path]:
    """NNCF post-training quantisation (ONNX backend, its defaults: QDQ, symmetric int8, overflow fix
    on the first layer) run by `python`, a scratch venv with nncf, onnx and onnxruntime installed:
    NNCF is not a dependency of pixup."""
    import subprocess

    tiles_npy = out_dir / "calibration.npy"
    np.save(tiles_npy, np.concatenate(tiles))
    models = {}
    for variant, ranges in NNCF_VARIANTS.items():
        path = out_dir / f"{fp32.stem}-int8-{variant}.onnx"
        started = time.perf_counter()
        subprocess.run(
            [python, "-c", NNCF_SCRIPT, str(fp32), str(path), str(tiles_npy), ranges],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        log.info("quantised %s with %s in %.1f s", fp32.name, variant, time.perf_counter() - started)
        models[variant] = path
    return models


# ------------------------------------------------------------------------------------- sessions


def providers() -> dict[str, tuple[str, dict[str, str]]]:
    """label → (provider, options), as pixup opens OpenVINO CPU on a CPU without bf16."""
    return {
        "OpenVINO CPU": (
            "OpenVINOExecutionProvider",
            {
                "device_type": "CPU",
                "num_of_threads": str(THREADS),
                "load_config": json.dumps({"CPU": {"INFERENCE_PRECISION_HINT": "f32"}}),
            },
        ),
        "ORT CPU": ("CPUExecutionProvider", {}),
    }


def open_session(path: Path, provider: str, options: dict[str, str]) -> Any:
    import onnxruntime as ort

    from pixup.engine.providers import ProviderChoice, session_options

    return ort.InferenceSession(
        str(path),
        sess_options=session_options(ProviderChoice(provider, options), threads=THREADS),
        providers=[(provider, options)],
    )


# ------------------------------------------------------------------------------------- quality


def quality(fp32: Path, int8: dict[str, Path], label: str, images: list[Any]) -> Json:
    """PSNR (Y, 8-bit) against the ground truth of fp32 and each int8 model, and int8 against fp32,
    the way model_table.py measures a model (bicubic ÷scale input, `upscale_array`, one tile)."""
    from benchmarks.model_table import SpecCheckedRunner, checked_runner, outputs_residual_only
    from benchmarks.sr_metrics import downscale, psnr_y

    from pixup.engine.session import ModelSession
    from pixup.engine.upscale import upscale_array

    provider, options = providers()[label]
    from pixup.engine.providers import ProviderChoice

    choice = ProviderChoice(provider, options)

    def runner_for(path: Path, spec: Any = None) -> SpecCheckedRunner:
        session = open_session(path, provider, options)
        if spec is None:
            from pixup.engine.inspect import inspect_session

            probe = ModelSession(path, session, inspect_session(session), [choice], 0, "exact", THREADS, [])
            checked, _ = checked_runner(probe)
            checked.nearest_residual = outputs_residual_only(probe, checked.spec)
            session = open_session(path, provider, options)  # fresh: probes can spoil OpenVINO sessions
            return SpecCheckedRunner(
                ModelSession(path, session, checked.spec, [choice], 0, "exact", THREADS, []),
                checked.spec,
                checked.nearest_residual,
            )
        return SpecCheckedRunner(ModelSession(path, session, spec, [choice], 0, "exact", THREADS, []), spec)

    base = runner_for(fp32)
    scale = round(base.spec.scale)
    truth_psnr: dict[str, list[tuple[str, float]]] = {"fp32": []}
    reference = {}
    for image in images:
        out = np.asarray(upscale_array(downscale(image.pixels, scale), base, tile=1024), dtype=np.uint8)
        reference[image.name] = out
        truth_psnr["fp32"].append((image.kind, psnr_y(out, image.pixels, scale)))
    vs_fp32: dict[str, list[tuple[str, float]]] = {}
    for method, path in int8.items():
        runner = SpecCheckedRunner(
            ModelSession(path, open_session(path, provider, options), base.spec, [choice], 0, "exact", 2, []),
            base.spec,
            base.nearest_residual,
        )
        truth_psnr[method], vs_fp32[method] = [], []
        for image in images:
            small = downscale(image.pixels, scale)
            out = np.asarray(upscale_array(small, runner, tile=1024), dtype=np.uint8)
            truth_psnr[method].append((image.kind, psnr_y(out, image.pixels, scale)))
            vs_fp32[method].append((image.kind, psnr_y(out, reference[image.name], scale)))

    def means(rows: list[tuple[str, float]]) -> dict[str, float]:
        return {kind: float(np.mean([v for k, v in rows if k == kind])) for kind in ("photo", "drawing")}

    def worst(rows: list[tuple[str, float]]) -> dict[str, float]:
        """The largest loss against fp32 on any one image of each kind."""
        losses = [(k, v - f) for (k, v), (_, f) in zip(rows, truth_psnr["fp32"], strict=True)]
        return {kind: float(min(d for k, d in losses if k == kind)) for kind in ("photo", "drawing")}

    stress = {}
    for method, path in int8.items():
        runner = SpecCheckedRunner(
            ModelSession(path, open_session(path, provider, options), base.spec, [choice], 0, "exact", 2, []),
            base.spec,
            base.nearest_residual,
        )
        stress[method] = {}
        for name, tile in stress_tiles().items():
            ref = np.asarray(upscale_array(tile, base, tile=1024), dtype=np.uint8)
            out = np.asarray(upscale_array(tile, runner, tile=1024), dtype=np.uint8)
            stress[method][name] = psnr_y(out, ref, scale)
    return {
        "scale": scale,
        "truth": {name: means(rows) for name, rows in truth_psnr.items()},
        "worst": {name: worst(rows) for name, rows in truth_psnr.items() if name != "fp32"},
        "vs_fp32": {name: means(rows) for name, rows in vs_fp32.items()},
        "stress_vs_fp32": stress,
    }


# ------------------------------------------------------------------------------------- speed


def speed(
    fp32: Path,
    int8: Path,
    sizes: Sequence[int],
    rounds: int,
    labels: Sequence[str] = ("OpenVINO CPU", "ORT CPU"),
) -> list[Json]:
    """Interleaved rounds of one run per (provider, size, precision); paired ratios per round.
    OpenVINO CPU fp32 (the reference of every ratio) is always timed."""
    sessions = {}
    labels = ["OpenVINO CPU", *(label for label in labels if label != "OpenVINO CPU")]
    for label, (provider, options) in providers().items():
        if label not in labels:
            continue
        for precision, path in (("fp32", fp32), ("int8", int8)):
            sessions[(label, precision)] = open_session(path, provider, options)
    tiles = {}
    for side in sizes:
        pixels, _ = sample_image("astronaut-512.png", side, side)
        tiles[side] = np.ascontiguousarray((pixels.astype(np.float32) / 255).transpose(2, 0, 1)[None])
    times: dict[tuple[str, int, str], list[float]] = {}
    loads: list[float] = []
    for session in sessions.values():  # warm-up: OpenVINO compiles per shape
        for side in sizes:
            session.run(None, {session.get_inputs()[0].name: tiles[side]})
    for round_no in range(rounds):
        loads.append(load_average())
        order = list(sessions.items())
        if round_no % 2:
            order.reverse()  # a load spike should not always hit the same precision
        for side in sizes:
            for (label, precision), session in order:
                started = time.perf_counter()
                session.run(None, {session.get_inputs()[0].name: tiles[side]})
                elapsed = time.perf_counter() - started
                times.setdefault((label, side, precision), []).append(elapsed)
                log.info("round %d %s %d² %s: %.2f s", round_no + 1, label, side, precision, elapsed)
    loads.append(load_average())
    rows = []
    for label in labels:
        for side in sizes:
            a, b = times[(label, side, "fp32")], times[(label, side, "int8")]
            pixup = times[("OpenVINO CPU", side, "fp32")]  # what pixup runs today on such a CPU
            rows.append(
                {
                    "provider": label,
                    "side": side,
                    "fp32_s": median(a),
                    "int8_s": median(b),
                    "speedup": median([x / y for x, y in zip(a, b, strict=True)]),
                    "speedup_rounds": [round(x / y, 3) for x, y in zip(a, b, strict=True)],
                    "vs_pixup": median([x / y for x, y in zip(pixup, b, strict=True)]),
                    "load": [round(v, 2) for v in loads],
                }
            )
    return rows


# ------------------------------------------------------------------------------------- main


def model_path(model_id: str, workdir: Path) -> Path:
    if model_id == DEFAULT_MODEL_ID:
        return default_model_onnx(workdir)[0]
    from pixup.models.catalogue import resolve_model

    return Path(resolve_model(model_id).onnx_path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated model ids")
    parser.add_argument("--sizes", default="256,512", help="tile sides timed (comma-separated)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--methods",
        default="pixup,minmax,minmax-rr,percentile,entropy",
        help=f"of pixup (pixup's own quantiser), {', '.join(METHODS)}",
    )
    parser.add_argument(
        "--quality-providers", default="OpenVINO CPU,ORT CPU", help="providers the quality runs on"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(tempfile.gettempdir()) / "pixup-bench-data",
        help="the scikit-image photos (as model_table.py --data)",
    )
    parser.add_argument(
        "--nncf",
        metavar="PYTHON",
        help=f"also quantise with NNCF ({', '.join(NNCF_VARIANTS)}), run by this Python (a scratch venv)",
    )
    parser.add_argument("--speed-providers", default="OpenVINO CPU,ORT CPU", help="providers timed")
    parser.add_argument(
        "--external",
        action="append",
        default=[],
        metavar="ID=PATH",
        help="also measure the quality of an int8 ONNX made elsewhere (e.g. by NNCF) for model ID",
    )
    parser.add_argument(
        "--timed",
        help="the int8 variant timed (default: the first of --methods; an external one: external:STEM)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    logging.getLogger("pixup").setLevel(logging.WARNING)
    os.environ.setdefault("PIXUP_HOME", str(Path(tempfile.gettempdir()) / "pixup-speed-home"))

    from benchmarks.sr_images import drawings, photos

    models = [m for m in args.models.split(",") if m]
    methods = [m for m in args.methods.split(",") if m]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    images = [*photos(args.data), *drawings()]
    workdir = Path(tempfile.mkdtemp(prefix="pixup-int8-"))
    tiles = calibration_tiles()
    report: Json = {"load_start": load_average(), "models": {}}
    for model_id in models:
        fp32 = model_path(model_id, workdir)
        log.info("%s: %s", model_id, fp32)
        int8 = quantise(fp32, workdir, methods, tiles)
        if args.nncf:
            int8 |= nncf_quantise(args.nncf, fp32, workdir, tiles)
        for spec in args.external:
            ident, _, path = spec.partition("=")
            if ident == model_id:
                int8[f"external:{Path(path).stem}"] = Path(path)
        entry: Json = {"quality": {}, "speed": []}
        for label in [p for p in args.quality_providers.split(",") if p]:
            entry["quality"][label] = quality(fp32, int8, label, images)
            log.info("%s quality on %s: %s", model_id, label, entry["quality"][label])
        timed = args.timed or methods[0]
        entry["timed"] = timed
        entry["speed"] = speed(fp32, int8[timed], sizes, args.rounds, args.speed_providers.split(","))
        report["models"][model_id] = entry
    report["load_end"] = load_average()

    for model_id, entry in report["models"].items():
        print(
            f"\n{model_id}: speed of int8 {entry['timed']} (fixed tile, bare session.run, "
            f"{args.rounds} interleaved rounds)"
        )
        rows = [
            [
                r["provider"],
                f"{r['side']}²",
                f"{r['fp32_s']:.2f}",
                f"{r['int8_s']:.2f}",
                f"{r['speedup']:.2f}",
                f"{r['vs_pixup']:.2f}",
                " ".join(f"{v:.2f}" for v in r["speedup_rounds"]),
                "–".join(f"{v:.1f}" for v in (min(r["load"]), max(r["load"]))),
            ]
            for r in entry["speed"]
        ]
        print(
            table(
                ["provider", "tile", "fp32 s", "int8 s", "fp32÷int8", "OV fp32÷int8", "per round", "load"],
                rows,
            )
        )
        print(f"\n{model_id}: quality (PSNR Y dB, mean of {len(images)} model-table images per kind)")
        rows = []
        for label, q in entry["quality"].items():
            for name, truth in q["truth"].items():
                fp = q["truth"]["fp32"]
                vs = q["vs_fp32"].get(name)
                bad = q["worst"].get(name)
                rows.append(
                    [
                        label,
                        name,
                        f"{truth['photo']:.2f}",
                        f"{truth['drawing']:.2f}",
                        "–" if name == "fp32" else f"{truth['photo'] - fp['photo']:+.2f}",
                        "–" if name == "fp32" else f"{truth['drawing'] - fp['drawing']:+.2f}",
                        "–" if bad is None else f"{bad['photo']:+.2f} / {bad['drawing']:+.2f}",
                        "–" if vs is None else f"{vs['photo']:.1f} / {vs['drawing']:.1f}",
                    ]
                )
        print(
            table(
                [
                    "provider",
                    "model",
                    "photo",
                    "drawing",
                    "Δ photo",
                    "Δ drawing",
                    "worst image Δ photo/drawing",
                    "int8 vs fp32 photo/drawing",
                ],
                rows,
            )
        )
        print(f"\n{model_id}: stress tiles (bench_int8.stress_tiles), PSNR Y of int8 against the fp32 output")
        names = list(stress_tiles())
        rows = [
            [label, method, *(f"{scores[n]:.1f}" for n in names)]
            for label, q in entry["quality"].items()
            for method, scores in q["stress_vs_fp32"].items()
        ]
        print(table(["provider", "int8", *names], rows))
        for label, q in entry["quality"].items():
            fp = q["truth"]["fp32"]
            best_loss = min(max(fp[k] - q["truth"][m][k] for k in ("photo", "drawing")) for m in q["vs_fp32"])
            # Against what pixup runs today (OpenVINO CPU fp32): the speed-up a user would see.
            speedups = [r["vs_pixup"] for r in entry["speed"] if r["provider"] == label]
            ok = best_loss <= MAX_LOSS_DB and speedups and min(speedups) >= MIN_SPEEDUP
            print(
                f"verdict {model_id} on {label}: best int8 loss {best_loss:.2f} dB (rule ≤ {MAX_LOSS_DB}), "
                f"speed-up over OpenVINO fp32 {', '.join(f'{s:.2f}×' for s in speedups)} "
                f"(rule ≥ {MIN_SPEEDUP}×): "
                f"{'ADOPT' if ok else 'keep fp32'}"
            )
    print(f"\nload average: start {report['load_start']:.2f}, end {report['load_end']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
