"""Measure the Fix compression repair paths and derive the rule pixup follows (SPEC §5, issue 9).

    PIXUP_HOME=/tmp/pixup-repair-home PYTHONPATH=app:. .venv/bin/python benchmarks/repair_table.py
    PYTHONPATH=app:. .venv/bin/python benchmarks/repair_table.py --rerender   # rule + Markdown only

Damage: each held-out crop (4 photos, 4 drawing crops: benchmarks/sr_images.py, 192×192) is reduced
by bicubic ÷4 (as benchmarks/model_table.py does for ×4) and saved as JPEG at quality 20, 40 and 60
(Pillow, 4:2:0). Every path then produces a ×4 result through pixup itself (`resolve_model` →
`ModelSession.open`, precision "fast" → `upscale_array`), scored by PSNR / SSIM on Y against the clean
crop (benchmarks/sr_metrics.py, 4 px shaved). The paths:

- plain: the upscaler alone on the JPEG (what pixup does with repair off);
- prepass: a 1× waifu2x CUNet denoise model (levels 0-3) on the JPEG, the result blended with the JPEG
  (`alpha` of the repaired pixels: 0.5 or 1), then the upscaler;
- swap: a denoising upscaler instead of the upscaler (waifu2x photo / anime / CUNet 2× denoise 0-3, run
  twice for ×4; Real-CUGAN SE 2× denoise 1-3, SE 4× denoise 3, Pro 2× denoise 3).

The upscalers are the scenario picks of `SCENARIO_MODELS`. Results go to models/repair.json (every
number) and models/repair_table.md (the table and the picks); `pick_repair` is the rule, and
tests/models/test_repair_table.py re-applies it to the stored numbers and checks that
`pixup.models.bundled.REPAIR_PATHS` / `REPAIR_MODELS` say the same.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "app", ROOT):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from benchmarks._common import load_average  # noqa: E402
from benchmarks.sr_images import CROP, TestImage, drawings, photos  # noqa: E402
from benchmarks.sr_metrics import U8, bicubic_resize, downscale, jpeg, psnr_y, ssim_y  # noqa: E402

from pixup.engine.session import ModelSession  # noqa: E402
from pixup.engine.upscale import upscale_array  # noqa: E402
from pixup.models.bundled import SCENARIO_MODELS  # noqa: E402

log = logging.getLogger("repair_table")

MODELS_DIR = ROOT / "models"
REPAIR_JSON = MODELS_DIR / "repair.json"
REPAIR_MD = MODELS_DIR / "repair_table.md"

TARGET = 4
QUALITIES = (20, 40, 60)
BANDS = ((1, 33, 60), (34, 66, 40), (67, 100, 20))
"""Repair strength bands (from, to, the JPEG quality whose measurements pick the band's path):
light damage for a gentle strength, heavy damage for a strong one."""
PREPASS_MODELS = tuple(f"waifu2x-cunet-x1-denoise{level}" for level in range(4))
ALPHAS = (0.5, 1.0)
"""Share of the repaired pixels in the blend fed to the upscaler (1 = the repaired image only)."""
SWAP_MODELS = (
    *(f"waifu2x-{style}-x2-denoise{level}" for style in ("photo", "anime", "cunet") for level in range(4)),
    "realcugan-se-x2-denoise1",
    "realcugan-se-x2-denoise2",
    "realcugan-se-x2-denoise3",
    "realcugan-se-x4-denoise3",
    "realcugan-pro-x2-denoise3",
)
KINDS = ("photo", "drawing")
TIE_DB = 0.05
"""PSNRs closer than this to the best are a tie: the plain upscale wins a tie (no extra work), else
the fastest path."""

Json = dict[str, Any]


# ------------------------------------------------------------------------------------ measuring


def run_key(upscaler: str, repair: str | None = None, alpha: float = 1.0) -> str:
    """A path's id: "U", "U<-R@a" (R's repair blended at a, then U)."""
    return upscaler if repair is None else f"{upscaler}<-{repair}@{alpha:g}"


def blend(repaired: U8, damaged: U8, alpha: float) -> U8:
    """alpha·repaired + (1 − alpha)·damaged, rounded (what pixup.jobs.repair does)."""
    if alpha >= 1.0:
        return repaired
    mixed = alpha * repaired.astype(np.float32) + (1.0 - alpha) * damaged.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


class Bench:
    def __init__(self, images: list[TestImage], cache: Path) -> None:
        self.images = images
        self.cache = cache
        self.runs: dict[str, Json] = json.loads(cache.read_text()) if cache.is_file() else {}
        self.damaged = {
            (image.name, q): jpeg(downscale(image.pixels, TARGET), q) for image in images for q in QUALITIES
        }

    def save(self) -> None:
        self.cache.write_text(json.dumps(self.runs))

    def _score(self, key: str, outputs: dict[tuple[str, int], U8], seconds: float) -> None:
        for q in QUALITIES:
            row = {"psnr": {}, "ssim": {}}
            for image in self.images:
                out = outputs[(image.name, q)]
                row["psnr"][image.name] = round(psnr_y(out, image.pixels, TARGET), 4)
                row["ssim"][image.name] = round(ssim_y(out, image.pixels, TARGET), 5)
            self.runs[f"{key}|q{q}"] = row
        self.runs[f"{key}|seconds"] = {"per_image": round(seconds / len(outputs), 3)}
        self.save()

    def has(self, key: str) -> bool:
        return f"{key}|seconds" in self.runs

    def bicubic(self) -> None:
        outs = {k: bicubic_resize(v, CROP, CROP) for k, v in self.damaged.items()}
        self._score("bicubic", outs, 0.0)

    def model_outputs(self, model_id: str, inputs: dict[tuple[str, int], U8]) -> tuple[dict[Any, U8], float]:
        from pixup.models.catalogue import resolve_model

        session = ModelSession.open(resolve_model(model_id).onnx_path, precision="fast")
        try:
            scale = None if session.spec.scale == 1 else TARGET
            outs, spent = {}, 0.0
            for key, pixels in inputs.items():
                started = time.perf_counter()
                outs[key] = np.asarray(upscale_array(pixels, session, target_scale=scale, tile=1024))
                spent += time.perf_counter() - started
            return outs, spent
        finally:
            session.close()

    def measure(self, upscalers: Sequence[str], swaps: Sequence[str]) -> None:
        if not self.has("bicubic"):
            self.bicubic()
        repaired: dict[str, dict[tuple[str, int], U8]] = {}
        repair_seconds: dict[str, float] = {}
        for model_id in PREPASS_MODELS:
            log.info("prepass %s", model_id)
            outs, spent = self.model_outputs(model_id, self.damaged)
            repaired[model_id], repair_seconds[model_id] = outs, spent / len(outs)
        for upscaler in upscalers:
            inputs: dict[Any, U8] = {}
            for k, v in self.damaged.items():
                inputs[("plain", *k)] = v
            for model_id in PREPASS_MODELS:
                for alpha in ALPHAS:
                    for k, v in self.damaged.items():
                        inputs[(model_id, alpha, *k)] = blend(repaired[model_id][k], v, alpha)
            todo = {
                k: v for k, v in inputs.items()
                if not self.has(run_key(upscaler) if k[0] == "plain" else run_key(upscaler, k[0], k[1]))
            }
            if not todo:
                continue
            log.info("upscaler %s: %d runs", upscaler, len(todo))
            outs, spent = self.model_outputs(upscaler, todo)
            per_image = spent / len(todo)
            groups: dict[str, dict[tuple[str, int], U8]] = {}
            for k, out in outs.items():
                key = run_key(upscaler) if k[0] == "plain" else run_key(upscaler, k[0], k[1])
                groups.setdefault(key, {})[(k[-2], k[-1])] = out
            for key, group in groups.items():
                extra = 0.0 if "<-" not in key else repair_seconds[key.split("<-")[1].split("@")[0]]
                self._score(key, group, (per_image + extra) * len(group))
        for model_id in swaps:
            if self.has(run_key(model_id)):
                continue
            log.info("swap %s", model_id)
            outs, spent = self.model_outputs(model_id, self.damaged)
            self._score(run_key(model_id), outs, spent)


# ------------------------------------------------------------------------------------ the rule


def score(document: Json, key: str, quality: int, kinds: Iterable[str]) -> tuple[float, float]:
    """Mean PSNR and SSIM of a path at one JPEG quality over the images of `kinds` (each kind weighs
    the same)."""
    runs = document["runs"]
    by_kind = {i["name"]: i["kind"] for i in document["images"]}
    row = runs[f"{key}|q{quality}"]
    psnr, ssim = [], []
    for kind in kinds:
        names = [n for n, k in by_kind.items() if k == kind]
        psnr.append(statistics.fmean(row["psnr"][n] for n in names))
        ssim.append(statistics.fmean(row["ssim"][n] for n in names))
    return statistics.fmean(psnr), statistics.fmean(ssim)


def path_of(key: str, upscaler: str) -> Json:
    """A measured run key → the step pixup takes: none, a 1× prepass blended at alpha, or a swap."""
    if key == upscaler:
        return {"action": "none", "model": None, "alpha": 0.0}
    if "<-" in key:
        repair, alpha = key.split("<-")[1].split("@")
        return {"action": "prepass", "model": repair, "alpha": float(alpha)}
    return {"action": "swap", "model": key, "alpha": 1.0}


def network(key: str) -> str:
    """The networks a path runs, denoise levels and blend aside: paths sharing them cost the same."""
    if "<-" in key:
        return key.split("<-")[0] + "<-prepass"
    return key.split("-denoise")[0].split("-conservative")[0]


def seconds(document: Json, key: str) -> float:
    """Seconds per image of a path: the median over the measured paths that run the same networks
    (one run is noise on a shared machine; denoise levels of one network cost the same)."""
    runs = document["runs"]
    paths = [k.removesuffix("|seconds") for k in runs if k.endswith("|seconds")]
    same = [k for k in paths if network(k) == network(key)]
    return statistics.median(float(runs[f"{k}|seconds"]["per_image"]) for k in same)


def _choose(candidates: list[str], plain: str, metric: Any, cost: Any) -> str:
    """The best PSNR; within TIE_DB of it, the plain upscale if it is there, else the cheapest, then
    the higher SSIM."""
    scored = {key: metric(key) for key in candidates}
    top = max(p for p, _ in scored.values())
    tied = [key for key in candidates if scored[key][0] >= top - TIE_DB]
    if plain in tied:
        return plain
    return min(tied, key=lambda key: (round(cost(key), 2), -scored[key][1], -scored[key][0]))


def pick_repair(document: Json) -> Json:
    """The repair rule, from the stored measurements. For each upscaler measured and each content kind
    (photo: the Universal scenarios and any explicit model; drawing: Digital Art), and for each strength
    band (BANDS: 1-33 → JPEG q60, 34-66 → q40, 67-100 → q20):

    - candidates: the upscaler alone (no repair), a 1× CUNet denoise pre-pass (levels 0-3) blended at
      each measured alpha before that upscaler, and every denoising upscaler measured (swap);
    - the pick is the best mean PSNR over that kind's images at the band's quality; paths within
      TIE_DB of it tie: the plain upscale wins a tie (no needless work), else the fastest path
      (`seconds`: per image, pre-pass included, the median of the paths running the same networks),
      then the higher SSIM.

    "any": for an upscaler not measured here (the user's explicit model), the pre-pass only (pixup does
    not swap a model the user chose): the (level, alpha) with the best PSNR averaged over the measured
    upscalers and both kinds, same ties.
    Strength 0 runs no repair."""
    runs = document["runs"]
    upscalers: list[str] = document["upscalers"]
    swaps = [s for s in document["swaps"] if f"{s}|seconds" in runs]
    picks: Json = {}
    for upscaler in upscalers:
        prepass = [run_key(upscaler, m, a) for m in PREPASS_MODELS for a in ALPHAS]
        candidates = [upscaler, *[k for k in prepass if f"{k}|seconds" in runs], *swaps]
        for kind in KINDS:
            bands = []
            for low, high, quality in BANDS:
                def metric(key: str, q: int = quality, k: str = kind) -> tuple[float, float]:
                    return score(document, key, q, (k,))

                best = _choose(candidates, upscaler, metric, lambda key: seconds(document, key))
                p, s = metric(best)
                p0, s0 = metric(upscaler)
                bands.append(
                    {"from": low, "to": high, "quality": quality, **path_of(best, upscaler),
                     "psnr": round(p, 3), "ssim": round(s, 4),
                     "plain_psnr": round(p0, 3), "plain_ssim": round(s0, 4), "gain_db": round(p - p0, 3)}
                )
            picks[f"{upscaler}|{kind}"] = bands
    any_options: dict[str, tuple[str | None, float]] = {
        "plain": (None, 0.0), **{f"{m}@{a:g}": (m, a) for m in PREPASS_MODELS for a in ALPHAS}
    }

    def any_metric(name: str, quality: int) -> tuple[float, float]:
        """Mean over the measured upscalers of the photo-and-drawing score of one pre-pass."""
        model, alpha = any_options[name]
        keys = [run_key(u) if model is None else run_key(u, model, alpha) for u in upscalers]
        values = [score(document, key, quality, KINDS) for key in keys]
        return statistics.fmean(v[0] for v in values), statistics.fmean(v[1] for v in values)

    def any_cost(name: str) -> float:
        model, alpha = any_options[name]
        keys = [run_key(u) if model is None else run_key(u, model, alpha) for u in upscalers]
        return statistics.fmean(seconds(document, key) for key in keys)

    any_bands = []
    for low, high, quality in BANDS:
        best = _choose(list(any_options), "plain", lambda name, q=quality: any_metric(name, q), any_cost)
        model, alpha = any_options[best]
        p, s = any_metric(best, quality)
        p0, _ = any_metric("plain", quality)
        any_bands.append(
            {"from": low, "to": high, "quality": quality,
             "action": "none" if model is None else "prepass", "model": model,
             "alpha": alpha, "psnr": round(p, 3), "ssim": round(s, 4), "plain_psnr": round(p0, 3),
             "gain_db": round(p - p0, 3)}
        )
    picks["any"] = any_bands
    return picks


def scenario_picks(document: Json) -> Json:
    """What each scenario gets: its upscaler (as measured) and content kind."""
    out = {}
    for scenario, upscaler in document["scenario_models"].items():
        kind = "drawing" if scenario == "Digital Art" else "photo"
        out[scenario] = {"upscaler": upscaler, "kind": kind, "bands": document["picks"][f"{upscaler}|{kind}"]}
    return out


# ------------------------------------------------------------------------------------ Markdown


def _label(key: str, upscaler: str) -> str:
    path = path_of(key, upscaler)
    if path["action"] == "none":
        return "plain (no repair)"
    if path["action"] == "prepass":
        return f"{path['model'].removeprefix('waifu2x-cunet-x1-')} @ {path['alpha']:g} → upscaler"
    return f"swap → {path['model']}"


def _step(band: Json) -> str:
    if band["action"] == "none":
        return "no repair"
    if band["action"] == "prepass":
        return f"`{band['model']}` pre-pass, blended at {band['alpha']:g}"
    return f"swap to `{band['model']}`"


def render_markdown(document: Json) -> str:
    meta = document["meta"]
    images = document["images"]
    upscalers: list[str] = document["upscalers"]
    runs = document["runs"]
    lines = [
        "# Fix compression: measured repair paths and the rule",
        "",
        "Generated by `benchmarks/repair_table.py` (do not edit by hand); every number is in",
        "[`repair.json`](repair.json); `tests/models/test_repair_table.py` re-applies the rule and checks",
        "that `pixup.models.bundled.REPAIR_PATHS` / `REPAIR_MODELS` follow it.",
        "",
        f"Measured {meta['date']} on {meta['cpu']} ({meta['cores']} cores, shared: load "
        f"{meta['load_min']}–{meta['load_max']}), in {meta['duration_min']} min. Reproduce with",
        "`PIXUP_HOME=/tmp/pixup-repair-home PYTHONPATH=app:. .venv/bin/python benchmarks/repair_table.py`.",
        "",
        f"**Method.** {len(images)} held-out {CROP}×{CROP} crops (benchmarks/sr_images.py): "
        + ", ".join(f"{i['name']} ({i['kind']})" for i in images)
        + ". Each is reduced by bicubic ÷4 and saved as JPEG at quality "
        + ", ".join(str(q) for q in QUALITIES)
        + "; every path returns a ×4 result through pixup (`upscale_array`), scored by PSNR (dB) / SSIM on"
        " Y against the clean crop (4 px shaved). *prepass* = waifu2x CUNet 1× denoise N on the JPEG,"
        " blended with it at alpha (share of the repaired pixels), then the upscaler; *swap* = a"
        " denoising upscaler instead (2× models run twice). Seconds: per 48×48 input on this CPU, pre-pass"
        " included (indicative).",
        "",
        "## The rule and the picks",
        "",
        pick_repair.__doc__.split("band (BANDS", 1)[0].strip().replace("\n    ", " ")
        + " band: 1–33 → JPEG q60, 34–66 → q40, 67–100 → q20. Candidates: the upscaler alone, a CUNet 1×"
        f" pre-pass (denoise 0–3, alpha {', '.join(f'{a:g}' for a in ALPHAS)}) before it, or a swap to a"
        f" denoising upscaler; the best mean PSNR of the kind wins, paths within {TIE_DB} dB tie (plain"
        " wins a tie, else the fastest network, then the higher SSIM). An explicit model (not a"
        " scenario) gets the pre-pass only, chosen on the mean over the measured upscalers and both"
        " kinds (row *any*). Strength 0 = off.",
        "",
        "| scenario | upscaler | kind | strength | JPEG q | path | PSNR / SSIM | plain PSNR / SSIM | gain |",
        "|---|---|---|---|---:|---|---:|---:|---:|",
    ]
    for scenario, pick in scenario_picks(document).items():
        for band in pick["bands"]:
            lines.append(
                f"| {scenario} | `{pick['upscaler']}` | {pick['kind']} | {band['from']}–{band['to']} | "
                f"{band['quality']} | {_step(band)} | {band['psnr']:.2f} / {band['ssim']:.4f} | "
                f"{band['plain_psnr']:.2f} / {band['plain_ssim']:.4f} | {band['gain_db']:+.2f} dB |"
            )
    for band in document["picks"]["any"]:
        lines.append(
            f"| any explicit model | (mean of the measured) | both | {band['from']}–{band['to']} | "
            f"{band['quality']} | {_step(band)} | {band['psnr']:.2f} / {band['ssim']:.4f} | "
            f"{band['plain_psnr']:.2f} / – | {band['gain_db']:+.2f} dB |"
        )
    bicubic = {kind: [score(document, "bicubic", q, (kind,)) for q in QUALITIES] for kind in KINDS}
    lines += [
        "",
        "Bicubic ×4 on the same JPEGs, for scale: "
        + "; ".join(
            f"{kind} " + ", ".join(f"q{q} {v[0]:.2f}" for q, v in zip(QUALITIES, bicubic[kind], strict=True))
            for kind in KINDS
        )
        + " dB.",
    ]
    swaps = [s for s in document["swaps"] if f"{s}|seconds" in runs]
    for upscaler in upscalers:
        keys = [upscaler, *[run_key(upscaler, m, a) for m in PREPASS_MODELS for a in ALPHAS]]
        lines += _block(document, f"Before / instead of `{upscaler}`", keys, upscaler)
    lines += _block(document, "Denoising upscalers (swap), for every scenario", swaps, "")
    lines.append("")
    return "\n".join(lines)


def _block(document: Json, title: str, keys: list[str], upscaler: str) -> list[str]:
    runs = document["runs"]
    head = " | ".join(f"{kind} q{q}" for kind in KINDS for q in QUALITIES)
    lines = [
        "",
        f"## {title}",
        "",
        "PSNR / SSIM per kind and JPEG quality.",
        "",
        f"| path | s/image | {head} |",
        "|---|---:|" + "---:|" * (len(KINDS) * len(QUALITIES)),
    ]
    for key in keys:
        if f"{key}|seconds" not in runs:
            continue
        cells = []
        for kind in KINDS:
            for q in QUALITIES:
                p, s = score(document, key, q, (kind,))
                cells.append(f"{p:.2f} / {s:.4f}")
        label = _label(key, upscaler) if upscaler else key
        lines.append(f"| {label} | {runs[f'{key}|seconds']['per_image']:.2f} | {' | '.join(cells)} |")
    return lines


# ------------------------------------------------------------------------------------ main


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="output folder (default models/)")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(tempfile.gettempdir()) / "pixup-bench-data",
        help="where the scikit-image wheel and its photos are kept (default %(default)s)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "pixup-repair-runs.json",
        help="measured runs so far; a rerun measures only what is missing (default %(default)s)",
    )
    parser.add_argument("--no-swaps", action="store_true", help="skip the denoising upscalers")
    parser.add_argument("--rerender", action="store_true", help="re-apply the rule to models/repair.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("pixup").setLevel(logging.WARNING)

    if args.rerender:
        document = json.loads(REPAIR_JSON.read_text(encoding="utf-8"))
    else:
        started, loads = time.perf_counter(), [load_average()]
        images = [*photos(args.data), *drawings()]
        upscalers = list(dict.fromkeys(SCENARIO_MODELS.values()))
        bench = Bench(images, args.cache)
        bench.measure(upscalers, () if args.no_swaps else SWAP_MODELS)
        loads.append(load_average())
        document = {
            "meta": {
                "date": datetime.date.today().isoformat(),
                "cpu": _cpu_name(),
                "cores": os.cpu_count(),
                "load_min": round(min(loads), 1),
                "load_max": round(max(loads), 1),
                "duration_min": round((time.perf_counter() - started) / 60, 1),
            },
            "params": {
                "qualities": list(QUALITIES),
                "bands": [list(b) for b in BANDS],
                "prepass_models": list(PREPASS_MODELS),
                "alphas": list(ALPHAS),
                "tie_db": TIE_DB,
                "target_scale": TARGET,
            },
            "images": [
                {"name": i.name, "kind": i.kind, "source": i.source, "crop": list(i.crop)} for i in images
            ],
            "scenario_models": dict(SCENARIO_MODELS),
            "upscalers": upscalers,
            "swaps": [s for s in SWAP_MODELS if bench.has(s)],
            "runs": dict(sorted(bench.runs.items())),
        }
    document["picks"] = pick_repair(document)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "repair.json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", "utf-8")
    (args.out / "repair_table.md").write_text(render_markdown(document), encoding="utf-8")
    log.info("wrote %s and %s", args.out / "repair.json", args.out / "repair_table.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
