"""Measure every bundled model and derive the scenario mapping (SPEC §4, §6) from the numbers.

    PYTHONPATH=app:. .venv/bin/python benchmarks/model_table.py            # full run, writes models/
    PYTHONPATH=app:. .venv/bin/python benchmarks/model_table.py --quick    # 3 models, 1 image, to /tmp

For each model, through pixup itself (resolve_model → ModelSession on the best provider, precision
"fast" → upscale_array):
- quality at the model's own scale: PSNR / SSIM on Y (benchmarks/sr_metrics.py) of the model's output
  for a bicubic ÷scale input against the original crop, on photos and drawings (sr_images.py);
- quality at ×4, the scale people ask for most, for the plain (non-denoise) models: what pixup gives
  for a 4× target (a 2× model runs twice, a 3× model twice then Lanczos down);
- compression repair for the denoise models: the same, with the input JPEG-compressed (quality 30,
  50, 75), against the clean original (1× models: the crop itself is compressed);
- speed: input megapixels per second of upscale_array on a 256×256 input (128×128 when 256 would take
  over SLOW_SECONDS), the faster of two runs (one when a run takes over REPEAT_BELOW seconds).

The scenario picks are a pure function of the stored table (`pick_scenarios`), with the rule in its
docstring; tests/models/test_scenarios.py re-applies it to models/scenarios.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "app", ROOT):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from benchmarks.sr_images import CROP, TestImage, drawings, photos, repository_photos  # noqa: E402
from benchmarks.sr_metrics import U8, bicubic_resize, detail_ratio, downscale, jpeg, psnr_y, ssim_y  # noqa: E402

from pixup.engine.cancel import CancelToken  # noqa: E402
from pixup.engine.providers import session_options  # noqa: E402
from pixup.engine.session import ModelSession  # noqa: E402
from pixup.engine.spec import ModelSpec  # noqa: E402
from pixup.engine.tiling import plan_grid  # noqa: E402
from pixup.engine.upscale import auto_tile_size, upscale_array  # noqa: E402
from pixup.models.bundled import BUNDLED, BundledModel  # noqa: E402

log = logging.getLogger("model_table")

MODELS_DIR = ROOT / "models"
SCENARIOS_JSON = MODELS_DIR / "scenarios.json"
TABLE_MD = MODELS_DIR / "model_table.md"
PERCEPTUAL_JSON = MODELS_DIR / "perceptual.json"
MONTAGE_DIR = MODELS_DIR / "montage"

JPEG_QUALITIES = (30, 50, 75)
TARGET = 4
SPEED_SIDE = 256
SLOW_SIDE = 128
SLOW_SECONDS = 25.0
"""Predicted seconds for one 256×256 run above which a model is timed at 128×128 instead."""
REPEAT_BELOW = 4.0
"""A speed run shorter than this is repeated once (the faster of the two counts)."""
JPEG_IMAGES = ("astronaut", "chelsea", "cartoon", "manga")
"""The compression-repair measurements use these two photos and two drawings (time budget)."""
MONTAGE_IMAGES = ("chelsea", "cartoon")
REPAIR_MONTAGE = ("waifu2x-cunet-x1-denoise0", "waifu2x-cunet-x1-denoise3")
QUICK_MODELS = ("realesr-animevideov3-x4", "waifu2x-photo-x2", "waifu2x-cunet-x1-denoise1")

# The scenario rule's parameters (see pick_scenarios).
MIN_GAIN_DB = 0.5
"""A Universal / Digital Art candidate must beat bicubic ×4 by this much on the mean of its photo
and drawing PSNRs (the "universal" score): less is no reason to run a network."""
SPEED_TIE = 0.10
"""×4 speeds within this fraction of each other are a tie (the machine is shared; ±10 % is noise)."""
TIE_DB = 0.05
"""PSNRs closer than this are a tie, broken by SSIM."""
REPAIR_TIE_DB = 0.1
"""Repair: denoise levels within this of the best count as equally good; the gentlest wins."""
REPAIR_BANDS = ((1, 33, 75), (34, 66, 50), (67, 100, 30))
"""Repair strength bands (from, to, the JPEG quality whose best repair model serves the band)."""

UNIVERSAL = ("Universal Fast", "Universal Balanced", "Universal Quality")
DIGITAL_ART = "Digital Art"
FIX_COMPRESSION = "Fix Compression"

Json = dict[str, Any]


# ------------------------------------------------------------------------------------- the runner


class SpecCheckedRunner:
    """A ModelSession whose inspected ModelSpec was checked (and, if wrong, replaced) by
    `checked_runner`. Implements pixup's InferenceRunner; no provider fallback in a benchmark.

    `nearest_residual`: add the input, upscaled by nearest neighbour, to the output. Real-CUGAN's 4×
    networks predict only a residual: realcugan-ncnn-vulkan adds the input in its post-processing
    shader (src/realcugan_4x_postproc.comp), outside the .param graph that pixup converts."""

    def __init__(self, session: ModelSession, spec: ModelSpec, nearest_residual: bool = False) -> None:
        self.session = session
        self._spec = spec
        self.nearest_residual = nearest_residual

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    @property
    def provider(self) -> str:
        return self.session.provider

    def run(self, batch: np.ndarray, token: CancelToken | None = None) -> np.ndarray:
        out = self.session.run(batch, token)
        if self.nearest_residual:
            b, k = self._spec.border, round(self._spec.scale)
            core = batch[:, :, b : batch.shape[2] - b, b : batch.shape[3] - b]
            out = out + np.repeat(np.repeat(core, k, axis=2), k, axis=3)
        return out

    def fallback(self) -> None:
        return None


def open_measured(model_path: Path) -> ModelSession:
    """A ModelSession as pixup opens it (best provider, precision "fast"), but on a fresh ONNX
    Runtime session: pixup inspects a model by probing sizes it may refuse, and on OpenVINO a failed
    probe can leave the session returning NaN or garbage for later valid inputs (seen with Real-CUGAN
    and waifu2x CUNet, intermittently). So the probed session only lends its spec and provider."""
    probed = ModelSession.open(model_path, precision="fast")
    spec, choice = probed.spec, probed.choice
    probed.close()
    session = ort.InferenceSession(
        str(model_path),
        sess_options=session_options(choice),
        providers=[(choice.name, choice.options)],
    )
    return ModelSession(model_path, session, spec, [choice], 0, "fast", None, [])


def verify_against_cpu(session: ModelSession, runner: SpecCheckedRunner) -> float:
    """Max abs difference between the session and ONNX Runtime's default CPU provider on a real
    48×48 image (plus reflect pads); raises when the session's output is not finite or differs by
    more than 1 % of the output range."""
    spec = runner.spec
    side = math.ceil((48 + 2 * max(32, spec.border)) / spec.multiple) * spec.multiple
    pixels = repository_photos()[0].pixels[:side, :side].astype(np.float32) / 255
    batch = np.ascontiguousarray(pixels.transpose(2, 0, 1)[None])
    actual = session.run(batch)
    reference_session = ort.InferenceSession(str(session.model_path), providers=["CPUExecutionProvider"])
    expected = reference_session.run(None, {spec.input_name: batch})[0]
    if not np.isfinite(actual).all():
        raise RuntimeError(f"{session.model_path.name}: non-finite output on {session.description}")
    diff = float(np.abs(actual - expected).max())
    if diff > 0.01 * max(1.0, float(np.ptp(expected))):
        raise RuntimeError(f"{session.model_path.name}: {session.description} differs from CPU by {diff}")
    return diff


def _out_side(session: ModelSession, side: int) -> int:
    spec = session.spec
    feed = np.full((spec.static_batch or 1, spec.in_channels, side, side), 0.5, dtype=np.float32)
    return int(session.run(feed).shape[2])


def outputs_residual_only(session: ModelSession, spec: ModelSpec) -> bool:
    """Whether the network returns only a residual (see SpecCheckedRunner): a flat grey input must
    come out as the same grey from an upscaler, and comes out as about 0 from a residual network."""
    side = math.ceil(max(spec.min_size, 32 + 2 * spec.border) / spec.multiple) * spec.multiple
    out = session.run(np.full((spec.static_batch or 1, spec.in_channels, side, side), 0.5, dtype=np.float32))
    return abs(float(out.mean())) < 0.1


RESIDUAL_NOTE = (
    "pixup runs this network without the input residual realcugan-ncnn-vulkan adds after it "
    "(output + nearest-upscaled input, src/realcugan_4x_postproc.comp), so pixup's output is only the "
    "residual (about 9 dB); measured here with the residual added"
)


def checked_runner(session: ModelSession) -> tuple[SpecCheckedRunner, str | None]:
    """The session behind a spec that predicts its output sizes, and a note when pixup's inspection
    got it wrong. Workaround, not a fix: the waifu2x CUNet models run (with wrong output sizes) at
    sides off their 4-px U-Net grid, so the inspection reads a scale of 0.875 / 0.125; they are then
    measured on that grid, with scale and border solved from runs at 96, 104 and 112 px."""
    spec = session.spec
    sides = [math.ceil(n / spec.multiple) * spec.multiple for n in (96, 112)]
    if all(_out_side(session, n) == round(spec.scale * (n - 2 * spec.border)) for n in sides):
        return SpecCheckedRunner(session, spec), None
    sizes = [(n, _out_side(session, n)) for n in (96, 104, 112)]
    (n0, o0), (n1, o1) = sizes[0], sizes[-1]
    scale = (o1 - o0) / (n1 - n0)
    border = round((n0 - o0 / scale) / 2)
    if scale <= 0 or any(abs(o - scale * (n - 2 * border)) > 1e-9 for n, o in sizes):
        raise RuntimeError(f"{session.model_path.name}: output sizes {sizes} fit no scale and border")
    fixed = dataclasses.replace(
        spec, scale=scale, border=border, multiple=4, min_size=max(spec.min_size, 4 * (border // 2 + 1))
    )
    note = (
        f"pixup inspected scale {spec.scale:g}, multiple {spec.multiple}, border {spec.border}, which "
        f"mispredicts its output; measured with scale {scale:g}, border {border}, multiple 4"
    )
    return SpecCheckedRunner(session, fixed), note


# ------------------------------------------------------------------------------------ measuring


def variant(model: BundledModel) -> str:
    """ "plain", "denoiseN" or "conservative"."""
    if model.id.endswith("-conservative"):
        return "conservative"
    return "plain" if model.denoise_level is None else f"denoise{model.denoise_level}"


def is_repair_model(model: BundledModel) -> bool:
    """Trained to remove compression noise (waifu2x denoise levels, Real-CUGAN denoise/conservative)."""
    return variant(model) != "plain"


def _sibling_repair_families() -> set[str]:
    """Models whose family has denoise variants: their plain member is measured on JPEG too."""
    return {m.id.split("-denoise")[0].split("-conservative")[0] for m in BUNDLED if is_repair_model(m)}


Scores = tuple[float, float, float]
"""PSNR, SSIM, detail ratio."""


def _score(pairs: Sequence[tuple[TestImage, float, float, float]]) -> Json:
    """Mean PSNR / SSIM / detail ratio per kind, and [PSNR, SSIM, detail] per image."""
    block: Json = {}
    for kind in ("photo", "drawing"):
        rows = [values for image, *values in pairs if image.kind == kind]
        if rows:
            block[kind] = {
                "psnr": round(statistics.fmean(v[0] for v in rows), 4),
                "ssim": round(statistics.fmean(v[1] for v in rows), 5),
                "detail": round(statistics.fmean(v[2] for v in rows), 3),
            }
    block["images"] = {image.name: [round(p, 4), round(s, 5), round(d, 3)] for image, p, s, d in pairs}
    return block


def _compare(output: U8, truth: U8, border: int) -> Scores:
    return psnr_y(output, truth, border), ssim_y(output, truth, border), detail_ratio(output, truth, border)


@dataclasses.dataclass
class Measurer:
    """Runs the quality measurements of one model (or the baselines) over the test images."""

    images: list[TestImage]

    @property
    def jpeg_images(self) -> list[TestImage]:
        return [image for image in self.images if image.name in JPEG_IMAGES]

    def _run(self, runner: SpecCheckedRunner, pixels: U8, target: float | None) -> U8:
        return np.asarray(upscale_array(pixels, runner, target_scale=target, tile=1024), dtype=np.uint8)

    def native(self, runner: SpecCheckedRunner, scale: int) -> Json:
        pairs = []
        for image in self.images:
            out = self._run(runner, downscale(image.pixels, scale), None)
            pairs.append((image, *_compare(out, image.pixels, scale)))
        return _score(pairs)

    def at_target(self, runner: SpecCheckedRunner) -> Json:
        pairs = []
        for image in self.images:
            out = self._run(runner, downscale(image.pixels, TARGET), TARGET)
            pairs.append((image, *_compare(out, image.pixels, TARGET)))
        return _score(pairs)

    def repair(self, runner: SpecCheckedRunner, scale: int) -> Json:
        block: Json = {}
        qualities: list[int | None] = [*JPEG_QUALITIES]
        if scale == 1:
            qualities.append(None)  # what a repair pass does to an image that was never compressed
        for quality in qualities:
            pairs = []
            for image in self.jpeg_images:
                small = downscale(image.pixels, scale) if scale > 1 else image.pixels
                damaged = jpeg(small, quality) if quality is not None else small
                out = self._run(runner, damaged, None)
                pairs.append((image, *_compare(out, image.pixels, max(scale, 4))))
            block["clean" if quality is None else str(quality)] = _score(pairs)
        return block

    def baselines(self) -> list[Json]:
        """Bicubic at ×2/×3/×4 from clean and from JPEG inputs, and the JPEG itself (no repair)."""
        rows: list[Json] = []
        for scale in (2, 3, 4):
            pairs, jpeg_pairs = [], {q: [] for q in JPEG_QUALITIES}  # type: ignore[var-annotated]
            for image in self.images:
                truth = image.pixels
                small = downscale(truth, scale)
                out = bicubic_resize(small, *truth.shape[:2])
                pairs.append((image, *_compare(out, truth, scale)))
                for q in JPEG_QUALITIES if image.name in JPEG_IMAGES else ():
                    up = bicubic_resize(jpeg(small, q), *truth.shape[:2])
                    jpeg_pairs[q].append((image, *_compare(up, truth, max(scale, 4))))
            rows.append(
                {
                    "id": f"bicubic-x{scale}",
                    "scale": scale,
                    "native": _score(pairs),
                    "x4": _score(pairs) if scale == TARGET else None,
                    "jpeg": {str(q): _score(p) for q, p in jpeg_pairs.items()},
                }
            )
        jpeg_only = {}
        for q in JPEG_QUALITIES:
            pairs = []
            for image in self.jpeg_images:
                damaged = jpeg(image.pixels, q)
                pairs.append((image, *_compare(damaged, image.pixels, 4)))
            jpeg_only[str(q)] = _score(pairs)
        rows.append({"id": "jpeg-x1", "scale": 1, "native": None, "x4": None, "jpeg": jpeg_only})
        return rows


def time_speed(runner: SpecCheckedRunner, seconds_per_input_pixel: float) -> Json:
    """upscale_array on a side×side input (auto tile size, as pixup runs by default): the faster of
    two runs, one when it is slow."""
    predicted = seconds_per_input_pixel * SPEED_SIDE * SPEED_SIDE
    side = SPEED_SIDE if predicted <= SLOW_SECONDS else SLOW_SIDE
    pixels = np.asarray(np.random.default_rng(0).integers(0, 256, (side, side, 3)), dtype=np.uint8)
    tile = auto_tile_size(runner)
    grid = plan_grid(side, side, runner.spec, tile=tile, pad=32)
    fed = grid.count * grid.tile_shape[0] * grid.tile_shape[1]
    times: list[float] = []
    while len(times) < 2 and (not times or times[0] < REPEAT_BELOW):
        started = time.perf_counter()
        upscale_array(pixels, runner, tile=tile)
        times.append(time.perf_counter() - started)
    best = min(times)
    mps = side * side / best / 1e6
    return {
        "side": side,
        "tiles": grid.count,
        "tile_in": grid.tile_shape[0],
        "seconds": round(best, 3),
        "runs": len(times),
        "mps": round(mps, 5),
        "fed_mps": round(fed / best / 1e6, 5),
        # A 256² run feeds (256 + 2·32)² px; scale the fed throughput back to that input.
        "mps_256": round(mps if side == SPEED_SIDE else fed / best / 1e6 * SPEED_SIDE**2 / 320**2, 5),
        "load": round(os.getloadavg()[0], 2),
    }


def measure_model(model: BundledModel, measurer: Measurer, repair_families: set[str]) -> Json:
    from pixup.models.catalogue import resolve_model

    started = time.perf_counter()
    resolved = resolve_model(model.id)
    session = open_measured(resolved.onnx_path)
    try:
        runner, note = checked_runner(session)
        cpu_diff = verify_against_cpu(session, runner)
        if outputs_residual_only(session, runner.spec):
            runner.nearest_residual = True
            note = RESIDUAL_NOTE if note is None else f"{note}; {RESIDUAL_NOTE}"
        scale = round(runner.spec.scale)
        row: Json = {
            "id": model.id,
            "graph": graph_id(model),
            "pack": model.pack,
            "scale": scale,
            "variant": variant(model),
            "denoise_level": model.denoise_level,
            "provider": session.description,
            "spec_note": note,
            "max_diff_vs_cpu": float(f"{cpu_diff:.2g}"),
            "pixup_ok": not runner.nearest_residual,
            "native": None,
            "x4": None,
            "jpeg": None,
        }
        work_started = time.perf_counter()
        if scale >= 2:
            row["native"] = measurer.native(runner, scale)
            if scale == TARGET:
                row["x4"] = row["native"]
            elif variant(model) == "plain":
                row["x4"] = measurer.at_target(runner)
        family = model.id.split("-denoise")[0].split("-conservative")[0]
        if is_repair_model(model) or family in repair_families:
            row["jpeg"] = measurer.repair(runner, scale)
        per_pixel = session.seconds_per_pixel or (time.perf_counter() - work_started) / 1e5
        row["speed"] = time_speed(runner, per_pixel * 320**2 / 256**2)
    finally:
        session.close()
    row["wall_s"] = round(time.perf_counter() - started, 1)
    return row


# ------------------------------------------------------------------------------------ the rules


def _kind_metric(row: Json, block: str, kind: str) -> tuple[float, float] | None:
    data = row.get(block)
    if not data or kind not in data:
        return None
    return float(data[kind]["psnr"]), float(data[kind]["ssim"])


def _best(rows: Iterable[Json], metric: Callable[[Json], tuple[float, float]]) -> Json:
    """The row with the highest PSNR; PSNRs within TIE_DB of the top are ranked by SSIM."""
    rows = list(rows)
    top = max(metric(r)[0] for r in rows)
    tied = [r for r in rows if metric(r)[0] >= top - TIE_DB]
    return max(tied, key=lambda r: (metric(r)[1], metric(r)[0]))


def passes_to_target(scale: int) -> int:
    passes = 1
    while scale**passes < TARGET:
        passes += 1
    return passes


def graph_id(model: BundledModel) -> str:
    """The network's identity: the SHA-256 of its .param (denoise variants share one graph)."""
    return hashlib.sha256(model.files()[0].read_bytes()).hexdigest()[:12]


def graph_speeds(models: Iterable[Json]) -> dict[str, float]:
    """Median 256² MP/s of the models sharing each graph. The same network with other weights
    runs at the same speed, so the median of its runs damps the noise of a shared machine."""
    runs: dict[str, list[float]] = {}
    for row in models:
        runs.setdefault(row["graph"], []).append(float(row["speed"]["mps_256"]))
    return {graph: statistics.median(values) for graph, values in runs.items()}


def x4_mps(row: Json, speeds: dict[str, float]) -> float:
    """Input MP/s for a ×4 result: the graph's 256² throughput divided by the pixels of every pass
    (a 2× model's second pass has 4× the pixels of its first), assuming cost ∝ pixels."""
    scale = int(row["scale"])
    work: int = sum(scale ** (2 * k) for k in range(passes_to_target(scale)))
    return speeds[row["graph"]] / work


def universal_score(row: Json) -> float:
    """Mean of the ×4 photo and drawing PSNRs."""
    return statistics.fmean(float(row["x4"][kind]["psnr"]) for kind in ("photo", "drawing"))


def bicubic_x4(table: Json) -> Json:
    return next(b for b in table["baselines"] if b["id"] == f"bicubic-x{TARGET}")


def universal_candidates(table: Json) -> list[Json]:
    """Plain upscalers (denoising belongs to the Fix Compression pass, not to the scenario model) of
    scale ≥ 2 that pixup runs correctly (`pixup_ok`) and whose universal score beats bicubic ×4 by
    MIN_GAIN_DB."""
    floor = universal_score(bicubic_x4(table)) + MIN_GAIN_DB
    return [
        r
        for r in table["models"]
        if r["variant"] == "plain"
        and r["scale"] >= 2
        and r["pixup_ok"]
        and r.get("x4")
        and universal_score(r) >= floor
    ]


def _repair_score(row: Json, quality: str) -> float:
    """Mean of the photo and drawing PSNRs after repairing JPEG `quality` (kinds weigh the same)."""
    block = row["jpeg"][quality]
    return statistics.fmean(block[kind]["psnr"] for kind in ("photo", "drawing") if kind in block)


def load_perceptual(path: Path | None = None) -> Json | None:
    """models/perceptual.json (benchmarks/perceptual_table.py), or None where it was never measured."""
    path = path or PERCEPTUAL_JSON
    if not path.exists():
        return None
    document: Json = json.loads(path.read_text(encoding="utf-8"))
    return document


def pick_scenarios(table: Json, perceptual: Json | None = None) -> Json:
    """The scenario mapping from a measured table (models/scenarios.json "table") and, when given, the
    perceptual table (models/perceptual.json). The rule:

    Only models pixup runs correctly today count (`pixup_ok`). Candidates for the Universal scenarios
    and Digital Art: plain models (no denoise, not conservative) of scale ≥ 2, compared at ×4 as pixup
    runs them for a 4× target, that beat bicubic by MIN_GAIN_DB on the universal score (mean of photo
    and drawing PSNR). Speed: ×4 input MP/s from the median speed of the model's network (`x4_mps`);
    speeds within SPEED_TIE are equal.
    - Universal Quality: with a perceptual table, its perception–distortion pick
      (benchmarks/perceptual_table.py `pick`: within 1 dB of the best universal PSNR, the lowest GMSD);
      without one, the best photo PSNR (within TIE_DB: the best photo SSIM).
    - Universal Fast: the fastest candidate (speed ties: the best photo PSNR).
    - Universal Balanced: the best photo PSNR among the candidates faster than Quality, Fast aside;
      Fast itself when there is none.
    - Digital Art: likewise on drawings (the perception–distortion pick on drawing PSNR and GMSD;
      without a perceptual table, the best drawing PSNR, within TIE_DB: the best drawing SSIM).
    - Fix Compression: a 1× repair pass before upscaling. For each JPEG quality, the 1× repair model
      with the best mean PSNR (photos and drawings weigh the same) against the clean original, the
      gentlest denoise level within REPAIR_TIE_DB of it; repair strength bands (REPAIR_BANDS) map to
      those qualities, strength 0 = no pass. For reference, the best 2× upscale-and-repair model per
      quality is named too (not a pick).
    """
    models: list[Json] = table["models"]
    candidates = universal_candidates(table)
    if not candidates:
        raise ValueError("no plain upscaler beats bicubic at ×4")
    speeds = graph_speeds(models)

    def speed(r: Json) -> float:
        return x4_mps(r, speeds)

    def metric(kind: str) -> Callable[[Json], tuple[float, float]]:
        return lambda r: (float(r["x4"][kind]["psnr"]), float(r["x4"][kind]["ssim"]))

    photo, drawing = metric("photo"), metric("drawing")
    quality = _best(candidates, photo)
    art = _best(candidates, drawing)
    if perceptual is not None:
        from benchmarks.perceptual_table import pick_perceptual

        chosen = pick_perceptual(perceptual)
        by_id = {r["id"]: r for r in models if r["pixup_ok"] and r.get("x4")}
        quality = by_id[chosen["Universal Quality"]["model"]]
        art = by_id[chosen[DIGITAL_ART]["model"]]
    top_speed = max(speed(r) for r in candidates)
    fast = max((r for r in candidates if speed(r) >= top_speed * (1 - SPEED_TIE)), key=lambda r: photo(r))
    quicker = [
        r
        for r in candidates
        if speed(r) > speed(quality) * (1 + SPEED_TIE) and r["id"] not in (fast["id"], quality["id"])
    ]
    balanced = _best(quicker, photo) if quicker else fast

    def describe(r: Json) -> Json:
        p, d = photo(r), drawing(r)
        return {
            "model": r["id"],
            "photo_psnr_x4": p[0],
            "photo_ssim_x4": p[1],
            "drawing_psnr_x4": d[0],
            "drawing_ssim_x4": d[1],
            "x4_mps": round(speed(r), 5),
        }

    return {
        "Universal Fast": describe(fast),
        "Universal Balanced": describe(balanced),
        "Universal Quality": describe(quality),
        DIGITAL_ART: describe(art),
        FIX_COMPRESSION: _pick_repair(models),
    }


def _gentlest_best(rows: Sequence[Json], quality: str) -> Json:
    top = max(_repair_score(r, quality) for r in rows)
    good = [r for r in rows if _repair_score(r, quality) >= top - REPAIR_TIE_DB]
    return min(good, key=lambda r: (r.get("denoise_level") or 0, r["id"]))


def _pick_repair(models: Sequence[Json]) -> Json:
    prepass = [r for r in models if r["scale"] == 1 and r.get("jpeg") and r["pixup_ok"]]
    combined = [
        r for r in models if r["scale"] == 2 and r.get("jpeg") and r["variant"] != "plain" and r["pixup_ok"]
    ]
    bands = []
    for low, high, quality in REPAIR_BANDS if prepass else ():
        best = _gentlest_best(prepass, str(quality))
        bands.append(
            {
                "strength_from": low,
                "strength_to": high,
                "jpeg_quality": quality,
                "model": best["id"],
                "psnr": round(_repair_score(best, str(quality)), 4),
            }
        )
    reference = {}
    for quality in JPEG_QUALITIES if combined else ():
        best = max(combined, key=lambda r: _repair_score(r, str(quality)))
        reference[str(quality)] = {"model": best["id"], "psnr": round(_repair_score(best, str(quality)), 4)}
    return {"strength_0": None, "bands": bands, "upscale_and_repair_x2": reference}


# ------------------------------------------------------------------------------------ outputs


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _fmt(value: float | None, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return "∞" if math.isinf(value) else f"{value:.{digits}f}"


def _pair(row: Json, block: str, kind: str) -> str:
    value = _kind_metric(row, block, kind)
    return "–" if value is None else f"{_fmt(value[0], 2)} / {_fmt(value[1], 4)}"


def _speed_cell(row: Json, speeds: dict[str, float] | None = None) -> str:
    """ "0.0123 (whole)", with the estimate for a slow model and the graph median when it differs."""
    speed = row.get("speed")
    if not speed:
        return "–"
    run = "whole" if speed["tiles"] == 1 else f"{speed['tiles']} tiles"
    text = f"{speed['mps']:.4f} ({run})"
    if speed["side"] != SPEED_SIDE:
        text += f" at {speed['side']}², est. {speed['mps_256']:.4f} at 256²"
    if speeds is not None and speeds[row["graph"]] != speed["mps_256"]:
        text += f"; graph {speeds[row['graph']]:.4f}"
    return text


def _jpeg_cells(row: Json) -> list[str]:
    data = row.get("jpeg")
    cells = []
    for quality in (*[str(q) for q in JPEG_QUALITIES], "clean"):
        if not data or quality not in data:
            cells.append("–")
            continue
        cells.append(
            " / ".join(_fmt(data[quality].get(kind, {}).get("psnr"), 2) for kind in ("photo", "drawing"))
        )
    return cells


def render_markdown(document: Json) -> str:
    """models/model_table.md from the scenarios.json document (deterministic: tests compare it)."""
    table, picks, meta = document["table"], document["scenarios"], document["meta"]
    models: list[Json] = table["models"]
    baselines: list[Json] = table["baselines"]
    lines = [
        "# Bundled models: measured table and scenario mapping",
        "",
        "Generated by `benchmarks/model_table.py` (do not edit by hand); the numbers and the picks live",
        "in [`scenarios.json`](scenarios.json); `tests/models/test_scenarios.py` re-applies the rule.",
        "",
        f"Measured {meta['date']} on {meta['cpu']} ({meta['cores']} cores, pixup {meta['commit']}),",
        f"{meta['provider']}, in {meta['duration_min']} min. Load average during the run: "
        f"{meta['load_min']}–{meta['load_max']} (the machine is shared: speeds are indicative, ±30 %)."
        + (
            f" Measured again afterwards (`--merge`): {', '.join(meta['remeasured'])}"
            + (f", {meta['remeasured_note']}." if meta.get("remeasured_note") else ".")
            if meta.get("remeasured")
            else ""
        ),
        "",
        f"**Method.** Ground truth: one {CROP}×{CROP} crop per image (the most detailed window of each",
        "photo; two hand-picked crops of each drawing page). Input: the crop reduced by bicubic ÷scale.",
        "PSNR (dB) / SSIM on the BT.601 luma channel, 8-bit, `scale` px shaved from each edge (4 px for ×4",
        "and JPEG columns), SSIM with an 11-tap Gaussian window (σ 1.5) as scikit-image computes it. The",
        "model runs through pixup (`upscale_array`, reflect padding, one tile). *×4* = what pixup returns",
        "for a 4× target: 2× models run twice, 3× models twice then Lanczos down. Speed: input MP/s of",
        "`upscale_array` on a 256×256 input with the automatic tile size, the faster of two runs (slow",
        "models at 128×128: their 256² figure is estimated from the pixels fed, 32-px pads included).",
        f"Compression repair is measured on {', '.join(JPEG_IMAGES)} only (time budget).",
        "",
        "Images: " + "; ".join(f"{i['name']} ({i['kind']}): {i['source']}" for i in document["images"]) + ".",
        "",
        "## Scenario picks",
        "",
    ]
    lines += _scenario_paragraphs(picks, table, load_perceptual() is not None)
    lines += [
        "",
        "## Quality at ×4 (plain models: what pixup gives for a 4× target)",
        "",
        "Universal = mean of the photo and drawing PSNRs (Δ: against bicubic); candidates (✓) beat",
        f"bicubic by {MIN_GAIN_DB} dB on it. Detail = fine-detail activity of the output over the original's",
        "(mean |Laplacian| of Y, photo / drawing): < 1 is smoother than the original, ≈ 1 as busy (GAN",
        "models invent texture there, which PSNR punishes).",
        "",
        "| model | scale | passes | ×4 MP/s | photo PSNR / SSIM | drawing PSNR / SSIM | universal (Δ) "
        "| detail | candidate |",
        "|---|---:|---:|---:|---:|---:|---:|---:|:-:|",
    ]
    speeds = graph_speeds(models)
    floor = universal_score(bicubic_x4(table))
    chosen = {r["id"] for r in universal_candidates(table)}
    x4_rows = [r for r in models if r.get("x4") and r["variant"] == "plain"]
    x4_rows.sort(key=lambda r: -float(r["x4"]["photo"]["psnr"]))
    for r in [bicubic_x4(table), *x4_rows]:
        baseline = r["id"].startswith("bicubic")
        name = f"{r['id']} (baseline)" if baseline else r["id"]
        passes = "–" if baseline else str(passes_to_target(r["scale"]))
        mps = "–" if baseline else f"{x4_mps(r, speeds):.4f}"
        score = universal_score(r)
        detail = " / ".join(f"{r['x4'][k]['detail']:.2f}" for k in ("photo", "drawing"))
        lines.append(
            f"| {name} | {r['scale']} | {passes} | {mps} | {_pair(r, 'x4', 'photo')} | "
            f"{_pair(r, 'x4', 'drawing')} | {score:.2f} ({score - floor:+.2f}) | {detail} | "
            f"{'✓' if r['id'] in chosen else '' if r.get('pixup_ok', True) else 'pixup bug ¹'} |"
        )
    if any(not r.get("pixup_ok", True) for r in models):
        lines += [
            "",
            "¹ Measured with the fix the benchmark applies (see Notes); not a candidate until pixup runs it "
            "that way itself.",
        ]
    lines += [
        "",
        "## Every model at its own scale",
        "",
        "| model | scale | MP/s at 256² (run) | photo PSNR / SSIM | drawing PSNR / SSIM | "
        "JPEG q30 photo / drawing PSNR | q50 | q75 | clean |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for b in baselines:
        cells = " | ".join(_jpeg_cells(b))
        lines.append(
            f"| {b['id']} (baseline) | {b['scale']} | – | {_pair(b, 'native', 'photo')} | "
            f"{_pair(b, 'native', 'drawing')} | {cells} |"
        )
    for r in models:
        cells = " | ".join(_jpeg_cells(r))
        lines.append(
            f"| {r['id']} | {r['scale']} | {_speed_cell(r, speeds)} | {_pair(r, 'native', 'photo')} | "
            f"{_pair(r, 'native', 'drawing')} | {cells} |"
        )
    lines += [
        "",
        "JPEG columns: PSNR against the clean original after the model ran on a JPEG-compressed input",
        "(Pillow, 4:2:0): 1× models repair the crop itself; 2×/3×/4× models upscale a compressed ÷scale",
        "input (their baseline is bicubic-xN on the same input). *clean* = a 1× model on an image that",
        "was never compressed (what a needless repair pass costs).",
    ]
    perceptual = load_perceptual()
    if perceptual is not None:
        from benchmarks.perceptual_table import render_section

        lines += ["", *render_section(perceptual)]
    notes = [r for r in models if r.get("spec_note")]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {r['id']}: {r['spec_note']}." for r in notes]
    if lines[-1] != "":
        lines.append("")
    return "\n".join(lines)


def _scenario_paragraphs(picks: Json, table: Json, perceptual: bool = False) -> list[str]:
    models: list[Json] = table["models"]
    no_repair = next(b for b in table["baselines"] if b["id"] == "jpeg-x1")
    bicubic = bicubic_x4(table)
    candidates = universal_candidates(table)
    speeds = graph_speeds(models)
    by_id = {r["id"]: r for r in models}
    quality, fast = picks["Universal Quality"], picks["Universal Fast"]
    balanced, art = picks["Universal Balanced"], picks[DIGITAL_ART]

    def numbers(p: Json) -> str:
        return (
            f"photo {p['photo_psnr_x4']:.2f} dB / SSIM {p['photo_ssim_x4']:.4f}, drawing "
            f"{p['drawing_psnr_x4']:.2f} dB / {p['drawing_ssim_x4']:.4f}, {p['x4_mps']:.4f} MP/s for ×4"
        )

    def next_best(kind: str, exclude: str) -> str:
        rest = sorted(
            (r for r in candidates if r["id"] != exclude), key=lambda r: -float(r["x4"][kind]["psnr"])
        )
        return f"`{rest[0]['id']}` {float(rest[0]['x4'][kind]['psnr']):.2f} dB" if rest else "none"

    b_photo, b_drawing = float(bicubic["x4"]["photo"]["psnr"]), float(bicubic["x4"]["drawing"]["psnr"])
    lines = [
        f"Candidates: {len(candidates)} plain upscalers beat bicubic ×4 (photo {b_photo:.2f} dB, drawing "
        f"{b_drawing:.2f} dB) by {MIN_GAIN_DB} dB on the universal score: "
        + ", ".join(f"`{r['id']}`" for r in candidates)
        + ".",
        "",
        f"- **Universal Quality → `{quality['model']}`**: "
        + (
            "the perception–distortion pick (the lowest GMSD within 1 dB of the best universal PSNR; "
            "see *Perception–distortion* below) "
            if perceptual
            else "the best photo PSNR at ×4 "
        )
        + f"({numbers(quality)}); next on photo PSNR {next_best('photo', quality['model'])}.",
        f"- **Universal Balanced → `{balanced['model']}`**: the best photo PSNR among the candidates faster "
        f"than Quality ({numbers(balanced)}; {balanced['x4_mps'] / quality['x4_mps']:.1f}× Quality's speed, "
        f"{balanced['photo_psnr_x4'] - quality['photo_psnr_x4']:+.2f} dB on photos).",
        f"- **Universal Fast → `{fast['model']}`**: the fastest candidate ({numbers(fast)}; "
        f"{fast['x4_mps'] / quality['x4_mps']:.1f}× Quality's speed, "
        f"{fast['photo_psnr_x4'] - quality['photo_psnr_x4']:+.2f} dB on photos, "
        f"{fast['drawing_psnr_x4'] - b_drawing:+.2f} dB over bicubic on drawings).",
        f"- **Digital Art → `{art['model']}`**: "
        + (
            "the perception–distortion pick on drawings (the lowest drawing GMSD within 1 dB of the best "
            "drawing PSNR; see below) "
            if perceptual
            else "the best drawing PSNR at ×4 "
        )
        + f"({numbers(art)}); next on drawing PSNR {next_best('drawing', art['model'])}.",
    ]
    repair = picks[FIX_COMPRESSION]
    bands = "; ".join(
        f"{b['strength_from']}–{b['strength_to']} (JPEG q{b['jpeg_quality']}) → `{b['model']}` "
        f"({b['psnr']:.2f} dB)"
        for b in repair["bands"]
    )
    untouched = ", ".join(
        f"q{q} {statistics.fmean(no_repair['jpeg'][str(q)][k]['psnr'] for k in ('photo', 'drawing')):.2f} dB"
        for q in sorted(JPEG_QUALITIES, reverse=True)
    )
    lines.append(
        f"- **Fix Compression** (a 1× pass before upscaling; mean of photo and drawing PSNR against the "
        f"clean original): strength 0 → no pass; {bands}. The JPEGs themselves score {untouched}."
    )
    combined = repair.get("upscale_and_repair_x2") or {}
    if combined:
        lines.append(
            "  For reference, the best 2× upscale-and-repair models: "
            + "; ".join(f"q{q} → `{c['model']}` ({c['psnr']:.2f} dB)" for q, c in combined.items())
            + "."
        )
    gan = [
        by_id[m]
        for m in ("realesrgan-x4plus", "realesrgan-x4plus-anime")
        if m in by_id and by_id[m].get("x4")
    ]
    if gan:
        detail = ", ".join(
            f"`{r['id']}` photo {float(r['x4']['photo']['psnr']):.2f} dB, "
            f"detail {r['x4']['photo']['detail']:.2f}, {x4_mps(r, speeds):.4f} MP/s"
            for r in gan
        )
        lines += [
            "",
            "Reading the numbers: PSNR and SSIM reward faithful, smooth reconstructions of a clean bicubic "
            "downscale. Models trained with GAN losses on synthetic real-world damage (Real-ESRGAN, "
            "Real-CUGAN) invent sharp texture instead and score at or below bicubic here, although many "
            f"people prefer how they look: {detail} (bicubic photo {b_photo:.2f} dB, detail "
            f"{bicubic['x4']['photo']['detail']:.2f}). See the montages in `montage/`"
            + (", and the perceptual measures below." if perceptual else "."),
        ]
    return lines


def _montage_panels(model_id: str, images: Sequence[TestImage], quality: int | None) -> list[U8]:
    """`model_id`'s output for each image: ×4 from a bicubic ÷4 input, or (quality given) the 1×
    repair of a JPEG. "bicubic" and "jpeg" are the baselines."""
    if model_id == "bicubic":
        return [bicubic_resize(downscale(i.pixels, TARGET), CROP, CROP) for i in images]
    if model_id == "jpeg":
        return [jpeg(i.pixels, quality or 30) for i in images]
    from pixup.models.catalogue import resolve_model

    with open_measured(resolve_model(model_id).onnx_path) as session:
        runner, _ = checked_runner(session)
        runner.nearest_residual = outputs_residual_only(session, runner.spec)
        outputs = []
        for image in images:
            if quality is None:
                small = downscale(image.pixels, TARGET)
                out = upscale_array(small, runner, target_scale=TARGET, tile=1024)
            else:
                out = upscale_array(jpeg(image.pixels, quality), runner, tile=1024)
            outputs.append(np.asarray(out, dtype=np.uint8))
        return outputs


def write_montage(
    path: Path, images: Sequence[TestImage], columns: Sequence[str], quality: int | None
) -> None:
    """One row per image: the original, then each column's output (the central 96 px at 3×, labelled)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=15)
    zoom, window, strip = 3, 96, 22
    side = window * zoom
    outputs = {c: _montage_panels(c, images, quality) for c in columns}
    sheet = Image.new("RGB", ((1 + len(columns)) * side, len(images) * (side + strip)), "white")
    draw = ImageDraw.Draw(sheet)
    start = (CROP - window) // 2
    for row, image in enumerate(images):
        top = row * (side + strip)
        panels = [("original", image.pixels), *((c, outputs[c][row]) for c in columns)]
        for col, (label, pixels) in enumerate(panels):
            crop = Image.fromarray(pixels[start : start + window, start : start + window])
            sheet.paste(crop.resize((side, side), Image.Resampling.NEAREST), (col * side, top + strip))
            text = label if quality is None or label == "original" else f"{label} (q{quality})"
            draw.text((col * side + 4, top + 3), text, fill="black", font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=88, optimize=True)


def write_montages(picks: Json, images: Sequence[TestImage], out_dir: Path) -> list[Path]:
    """×4 montage (bicubic, the scenario picks, Real-ESRGAN x4plus) and JPEG q30 repair montage."""
    chosen = [i for i in images if i.name in MONTAGE_IMAGES]
    upscalers = list(
        dict.fromkeys(
            ["bicubic", *(picks[s]["model"] for s in (*UNIVERSAL, DIGITAL_ART)), "realesrgan-x4plus"]
        )
    )
    repairers = ["jpeg", *sorted({*REPAIR_MONTAGE, *(b["model"] for b in picks[FIX_COMPRESSION]["bands"])})]
    written = []
    for name, columns, quality in (("x4.jpg", upscalers, None), ("jpeg-q30.jpg", repairers, 30)):
        path = out_dir / name
        write_montage(path, chosen, columns, quality)
        written.append(path)
    return written


# ------------------------------------------------------------------------------------ main


def run(models: Sequence[BundledModel], images: list[TestImage]) -> Json:
    measurer = Measurer(images)
    started = time.perf_counter()
    loads = [os.getloadavg()[0]]
    repair_families = _sibling_repair_families()
    rows = []
    for index, model in enumerate(models, 1):
        row = measure_model(model, measurer, repair_families)
        rows.append(row)
        loads.append(os.getloadavg()[0])
        log.info(
            "[%d/%d] %s ×%d: %s, %.1f s",
            index,
            len(models),
            model.id,
            row["scale"],
            _speed_cell(row),
            row["wall_s"],
        )
    baselines = measurer.baselines()
    provider = rows[0]["provider"] if rows else "?"
    document: Json = {
        "schema": 1,
        "meta": {
            "date": datetime.date.today().isoformat(),
            "cpu": _cpu_name(),
            "cores": os.cpu_count(),
            "commit": _git_commit(),
            "provider": provider,
            "duration_min": round((time.perf_counter() - started) / 60, 1),
            "load_min": round(min(loads), 1),
            "load_max": round(max(loads), 1),
        },
        "rule": {
            "min_gain_db": MIN_GAIN_DB,
            "speed_tie": SPEED_TIE,
            "tie_db": TIE_DB,
            "repair_tie_db": REPAIR_TIE_DB,
            "repair_bands": [list(b) for b in REPAIR_BANDS],
            "target_scale": TARGET,
        },
        "images": [
            {"name": i.name, "kind": i.kind, "source": i.source, "crop": list(i.crop)} for i in images
        ],
        "table": {"models": rows, "baselines": baselines},
    }
    return document


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK_MODELS)} on one photo")
    parser.add_argument("--models", nargs="*", help="measure only these ids (output to --out)")
    parser.add_argument(
        "--out", type=Path, help="output folder (default: models/, or a temp folder with --quick)"
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=Path(tempfile.gettempdir()) / "pixup-bench-home",
        help="PIXUP_HOME for the converted-model cache (default %(default)s)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(tempfile.gettempdir()) / "pixup-bench-data",
        help="where the scikit-image wheel and its photos are kept (default %(default)s)",
    )
    parser.add_argument(
        "--rerender",
        action="store_true",
        help="re-apply the rule to models/scenarios.json, rewrite it, the Markdown and the montages",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="with --models: measure them again and replace their rows in models/scenarios.json",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("pixup").setLevel(logging.WARNING)
    os.environ["PIXUP_HOME"] = str(args.home)

    subset = args.quick or bool(args.models)
    out = args.out or (Path(tempfile.gettempdir()) / "pixup-model-table" if subset else MODELS_DIR)
    if args.quick:
        wanted = list(QUICK_MODELS)
        images = repository_photos()[:1]
    else:
        wanted = args.models or [m.id for m in BUNDLED]
        images = [*photos(args.data), *drawings()]
    by_id = {m.id: m for m in BUNDLED}
    unknown = [w for w in wanted if w not in by_id]
    if unknown:
        parser.error(f"unknown model ids: {', '.join(unknown)}")
    if args.merge or args.rerender:
        document = json.loads(SCENARIOS_JSON.read_text(encoding="utf-8"))
        for row in document["table"]["models"]:  # tables measured before rows carried these
            row.setdefault("graph", graph_id(by_id[row["id"]]))
            row.setdefault("denoise_level", by_id[row["id"]].denoise_level)
            # Only Real-CUGAN 4× returns a bare residual, and its rows carry the flag.
            row.setdefault("pixup_ok", True)
        if args.merge:
            fresh = {row["id"]: row for row in run([by_id[w] for w in wanted], images)["table"]["models"]}
            document["table"]["models"] = [fresh.get(row["id"], row) for row in document["table"]["models"]]
            document["meta"]["remeasured"] = sorted({*document["meta"].get("remeasured", []), *fresh})
        out = args.out or MODELS_DIR
        subset = False
    else:
        document = run([by_id[w] for w in wanted], images)
    try:
        document["scenarios"] = pick_scenarios(document["table"], load_perceptual())
    except (ValueError, KeyError) as err:
        log.warning("no scenario picks from this subset: %s", err)
        document["scenarios"] = None
    out.mkdir(parents=True, exist_ok=True)
    (out / "scenarios.json").write_text(
        json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    if document["scenarios"] is not None and not subset:
        (out / "model_table.md").write_text(render_markdown(document), encoding="utf-8")
        for path in write_montages(document["scenarios"], images, out / "montage"):
            log.info("wrote %s (%d KB)", path, path.stat().st_size // 1024)
    log.info("wrote %s", out / "scenarios.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
