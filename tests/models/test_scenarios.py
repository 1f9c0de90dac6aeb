"""models/scenarios.json: the measured scenario mapping is consistent with the bundled catalogue, with
its own table, with the rule in benchmarks/model_table.py, with models/model_table.md, and with
what pixup measures today (one model re-run on the astronaut crop). models/perceptual.json: Universal
Quality and Digital Art follow the perception–distortion rule of benchmarks/perceptual_table.py."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from benchmarks import model_table as mt
from benchmarks import perceptual_table as pt
from benchmarks.sr_images import repository_photos
from benchmarks.sr_metrics import (
    bicubic_resize,
    detail_ratio,
    downscale,
    gaussian_window,
    gmsd_y,
    luma,
    psnr_y,
    ssim_y,
)
from PIL import Image

from pixup.models.bundled import BUNDLED, SCENARIO_MODELS, bundled_model
from pixup.models.catalogue import resolve_model

Json = dict[str, Any]
SCENARIOS = (*mt.UNIVERSAL, mt.DIGITAL_ART)


@pytest.fixture(scope="module")
def document() -> Json:
    data: Json = json.loads(mt.SCENARIOS_JSON.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def perceptual() -> Json:
    data = mt.load_perceptual()
    assert data is not None, "models/perceptual.json is missing: run benchmarks/perceptual_table.py"
    return data


def _row(document: Json, model_id: str) -> Json:
    return next(r for r in document["table"]["models"] if r["id"] == model_id)


# ------------------------------------------------------------------------------ catalogue and table


def test_every_scenario_names_an_installed_bundled_model(document: Json) -> None:
    picks = document["scenarios"]
    assert set(picks) == {*SCENARIOS, mt.FIX_COMPRESSION}
    for scenario in SCENARIOS:
        model = bundled_model(picks[scenario]["model"])
        assert model is not None, scenario
        assert model.available, f"{scenario}: {model.id} needs {model.pack}"
    bands = picks[mt.FIX_COMPRESSION]["bands"]
    assert [(b["strength_from"], b["strength_to"]) for b in bands] == [(1, 33), (34, 66), (67, 100)]
    for band in bands:
        model = bundled_model(band["model"])
        assert model is not None and model.available
        assert model.nominal_scale == 1 and model.denoise_level is not None, band


def test_every_bundled_model_was_measured(document: Json) -> None:
    rows = document["table"]["models"]
    assert sorted(r["id"] for r in rows) == sorted(m.id for m in BUNDLED)
    for row in rows:
        model = bundled_model(row["id"])
        assert model is not None
        assert row["scale"] == model.nominal_scale, row["id"]
        assert row["speed"]["mps"] > 0 and row["speed"]["tiles"] >= 1, row["id"]
        if row["scale"] >= 2:
            assert {"photo", "drawing"} <= set(row["native"]), row["id"]
        if row["scale"] >= 2 and row["variant"] == "plain":
            assert {"photo", "drawing"} <= set(row["x4"]), row["id"]
        if mt.is_repair_model(model):
            assert set(row["jpeg"]) >= {str(q) for q in mt.JPEG_QUALITIES}, row["id"]
    measured = {i["name"] for i in document["images"]}
    assert {"astronaut", "chelsea", "coffee", "rocket"} <= measured
    assert sum(i["kind"] == "drawing" for i in document["images"]) >= 2


def test_picks_are_what_the_rule_gives_for_the_stored_table(document: Json) -> None:
    assert document["rule"] == {
        "min_gain_db": mt.MIN_GAIN_DB,
        "speed_tie": mt.SPEED_TIE,
        "tie_db": mt.TIE_DB,
        "repair_tie_db": mt.REPAIR_TIE_DB,
        "repair_bands": [list(b) for b in mt.REPAIR_BANDS],
        "target_scale": mt.TARGET,
    }
    assert mt.pick_scenarios(document["table"], mt.load_perceptual()) == document["scenarios"]


def test_picks_are_justified_by_the_numbers(document: Json, perceptual: Json) -> None:
    """The documented rule, spelled out against the stored numbers (independently of pick_scenarios)."""
    table, picks = document["table"], document["scenarios"]
    bicubic = next(b for b in table["baselines"] if b["id"] == "bicubic-x4")

    def universal(r: Json) -> float:
        return float(np.mean([r["x4"]["photo"]["psnr"], r["x4"]["drawing"]["psnr"]]))

    plain = [r for r in table["models"] if r["variant"] == "plain" and r["scale"] >= 2 and r["pixup_ok"]]
    candidates = [r for r in plain if universal(r) >= universal(bicubic) + mt.MIN_GAIN_DB]
    assert [r["id"] for r in candidates] == [r["id"] for r in mt.universal_candidates(table)]
    photo = {r["id"]: r["x4"]["photo"]["psnr"] for r in candidates}
    speeds = mt.graph_speeds(table["models"])
    speed = {r["id"]: mt.x4_mps(r, speeds) for r in candidates}
    quality, fast = picks["Universal Quality"]["model"], picks["Universal Fast"]["model"]
    balanced, art = picks["Universal Balanced"]["model"], picks[mt.DIGITAL_ART]["model"]

    # Quality and Digital Art: the perception–distortion rule, spelled out on models/perceptual.json.
    rule = perceptual["rule"]
    rows = [r for r in perceptual["models"] if r["id"] != "bicubic" and r["pixup_ok"]]
    assert {r["id"] for r in rows} <= {r["id"] for r in table["models"] if r["pixup_ok"]}
    for model_id, kinds in ((quality, ("photo", "drawing")), (art, ("drawing",))):

        def p(r: Json, measure: str, kinds: tuple[str, ...] = kinds) -> float:
            return float(np.mean([r["x4"][k][measure] for k in kinds]))

        band = [r for r in rows if p(r, "psnr") >= max(p(r, "psnr") for r in rows) - rule["psnr_band_db"]]
        chosen = next(r for r in rows if r["id"] == model_id)
        assert chosen in band, f"{model_id} spends more PSNR than the rule allows"
        assert p(chosen, "gmsd") <= min(p(r, "gmsd") for r in band) + rule["gmsd_tie"], model_id
    assert speed[fast] >= max(speed.values()) * (1 - mt.SPEED_TIE)
    speed.update({m: mt.x4_mps(_row(document, m), speeds) for m in (quality, art)})
    photo.setdefault(quality, _row(document, quality)["x4"]["photo"]["psnr"])
    if balanced != fast:
        assert speed[balanced] > speed[quality] * (1 + mt.SPEED_TIE)
        rivals = [m for m in photo if speed[m] > speed[quality] * (1 + mt.SPEED_TIE) and m != fast]
        assert photo[balanced] >= max(photo[m] for m in rivals) - mt.TIE_DB
    # The tiers are ordered: never slower than the tier above, never better than it on photos.
    assert speed[fast] >= speed[balanced] >= speed[quality]
    assert photo[quality] + mt.TIE_DB >= photo[balanced]

    broken = {r["id"] for r in table["models"] if not r["pixup_ok"]}
    named = {picks[s]["model"] for s in SCENARIOS} | {b["model"] for b in picks[mt.FIX_COMPRESSION]["bands"]}
    assert not named & broken, "a scenario names a model pixup cannot run correctly"

    no_repair = next(b for b in table["baselines"] if b["id"] == "jpeg-x1")
    for band in picks[mt.FIX_COMPRESSION]["bands"]:
        key = str(band["jpeg_quality"])
        scores = {
            r["id"]: float(np.mean([r["jpeg"][key][k]["psnr"] for k in ("photo", "drawing")]))
            for r in table["models"]
            if r["scale"] == 1
        }
        assert scores[band["model"]] >= max(scores.values()) - mt.REPAIR_TIE_DB
        gentler = [
            m
            for m in scores
            if _row(document, m)["denoise_level"] < _row(document, band["model"])["denoise_level"]
        ]
        assert all(scores[m] < max(scores.values()) - mt.REPAIR_TIE_DB for m in gentler)
        untouched = float(np.mean([no_repair["jpeg"][key][k]["psnr"] for k in ("photo", "drawing")]))
        assert band["psnr"] > untouched + 0.5, "the repair pass must clearly beat leaving the JPEG alone"


def test_the_rule_follows_the_numbers(document: Json) -> None:
    """Edit the table and the picks move: the mapping is computed, not hard-wired."""
    table = copy.deepcopy(document["table"])
    candidates = mt.universal_candidates(table)
    picked = {document["scenarios"][s]["model"] for s in SCENARIOS}
    outsider = next(r for r in candidates if r["id"] not in picked)
    best_photo = max(r["x4"]["photo"]["psnr"] for r in candidates)
    best_drawing = max(r["x4"]["drawing"]["psnr"] for r in candidates)
    outsider["x4"] = copy.deepcopy(outsider["x4"])
    outsider["x4"]["photo"]["psnr"] = best_photo + 1.0
    outsider["x4"]["drawing"]["psnr"] = best_drawing + 1.0
    picks = mt.pick_scenarios(table)
    assert picks["Universal Quality"]["model"] == outsider["id"]
    assert picks[mt.DIGITAL_ART]["model"] == outsider["id"]

    table = copy.deepcopy(document["table"])
    slowest = min(
        mt.universal_candidates(table), key=lambda r: mt.x4_mps(r, mt.graph_speeds(table["models"]))
    )
    for row in table["models"]:
        if row["graph"] == slowest["graph"]:
            row["speed"]["mps_256"] *= 1e6  # the slowest network is now the fastest by far
    fast = mt.pick_scenarios(table)["Universal Fast"]["model"]
    assert _row({"table": table}, fast)["graph"] == slowest["graph"]

    table = copy.deepcopy(document["table"])
    bicubic = next(b for b in table["baselines"] if b["id"] == "bicubic-x4")
    bicubic["x4"]["photo"]["psnr"] += 100  # nothing beats bicubic any more
    with pytest.raises(ValueError, match="bicubic"):
        mt.pick_scenarios(table)


def test_perceptual_picks_are_what_its_rule_gives(document: Json, perceptual: Json) -> None:
    assert perceptual["rule"] == pt.rule()
    assert pt.pick_perceptual(perceptual) == perceptual["picks"]
    for scenario in pt.SCOPES:
        assert perceptual["picks"][scenario]["model"] == document["scenarios"][scenario]["model"]
        assert SCENARIO_MODELS[scenario] == document["scenarios"][scenario]["model"]
    measured = {r["id"] for r in perceptual["models"]}
    plain = {r["id"] for r in document["table"]["models"] if r["variant"] == "plain" and r["scale"] >= 2}
    assert measured == {"bicubic", *plain}, "every plain upscaler competes, the GAN models included"
    for r in perceptual["models"]:
        for kind in ("photo", "drawing"):
            block = r["x4"][kind]
            assert 0 <= block["gmsd"] < 0.5 and block["sharpness"] > 0, r["id"]
            assert block["naturalness_gap"] >= 0, r["id"]
            assert block["psnr"] > 15 and 0 < block["ssim"] < 1, r["id"]


def test_the_perceptual_rule_follows_the_numbers(perceptual: Json) -> None:
    """Within the PSNR budget the lower GMSD wins, even over the best PSNR; outside it, it cannot."""
    doc = copy.deepcopy(perceptual)
    rows = pt.competing(doc)
    current = doc["picks"]["Universal Quality"]["model"]
    best_psnr = max(pt.value(r, "psnr", None) for r in rows)
    best_gmsd = min(pt.value(r, "gmsd", None) for r in rows)
    outsider = next(r for r in rows if r["id"] != current)
    for kind in ("photo", "drawing"):
        outsider["x4"][kind]["gmsd"] = best_gmsd / 2  # the most faithful structure of all...
        outsider["x4"][kind]["psnr"] = best_psnr - 0.5 * doc["rule"]["psnr_band_db"]  # ...inside the budget
    assert pt.pick(rows, None)["model"] == outsider["id"]
    assert pt.pick(rows, "drawing")["model"] == outsider["id"]
    for kind in ("photo", "drawing"):
        outsider["x4"][kind]["psnr"] = best_psnr - 1.5 * doc["rule"]["psnr_band_db"]  # now outside it
    assert pt.pick(rows, None)["model"] == current
    assert outsider["id"] in pt.frontier(rows, None, "gmsd")  # still on the front, just too lossy
    broken = copy.deepcopy(perceptual)
    for r in broken["models"]:
        r["pixup_ok"] = r["id"] != current
    assert pt.pick_perceptual(broken)["Universal Quality"]["model"] != current


def test_stored_gmsd_reproduces(perceptual: Json) -> None:
    astronaut = repository_photos()[0]
    truth = astronaut.pixels
    out = bicubic_resize(downscale(truth, 4), *truth.shape[:2])
    bicubic = next(r for r in perceptual["models"] if r["id"] == "bicubic")
    psnr, _, gmsd, *_ = bicubic["x4"]["images"]["astronaut"]
    assert gmsd_y(out, truth, 4) == pytest.approx(gmsd, abs=1e-5)
    assert psnr_y(out, truth, 4) == pytest.approx(psnr, abs=1e-4)
    assert pt.score(out, truth) == bicubic["x4"]["images"]["astronaut"]


def test_markdown_is_rendered_from_the_json(document: Json) -> None:
    assert mt.TABLE_MD.read_text(encoding="utf-8") == mt.render_markdown(document)


def test_montages_are_there_and_small() -> None:
    paths = sorted(mt.MONTAGE_DIR.glob("*.jpg"))
    assert [p.name for p in paths] == ["jpeg-q30.jpg", "x4.jpg"]
    assert pt.MONTAGE.exists() and pt.MONTAGE.stat().st_size < 1_000_000
    assert sum(p.stat().st_size for p in paths) < 3_000_000
    for path in paths:
        with Image.open(path) as image:
            assert image.height == len(mt.MONTAGE_IMAGES) * (288 + 22)
            assert image.width % 288 == 0 and image.width >= 4 * 288


# ------------------------------------------------------------------------------------- metrics


def test_psnr_of_a_known_error() -> None:
    truth = np.full((32, 32, 3), 100, dtype=np.uint8)
    result = truth + np.uint8(10)
    dy = 10 * 219 / 255  # BT.601 luma of grey v is 16 + v·219/255
    assert psnr_y(result, truth) == pytest.approx(10 * math.log10(255**2 / dy**2), abs=1e-9)
    assert psnr_y(truth, truth) == math.inf
    noisy = truth.copy()
    noisy[:4] = 0  # only the shaved border differs
    assert psnr_y(noisy, truth, border=4) == math.inf


def _ssim_by_windows(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM the slow way: a 2-D Gaussian window at every valid position."""
    w1 = gaussian_window()
    w = np.outer(w1, w1)
    k = len(w1)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for i in range(x.shape[0] - k + 1):
        for j in range(x.shape[1] - k + 1):
            a, b = x[i : i + k, j : j + k], y[i : i + k, j : j + k]
            ma, mb = (w * a).sum(), (w * b).sum()
            va, vb = (w * a * a).sum() - ma**2, (w * b * b).sum() - mb**2
            cov = (w * a * b).sum() - ma * mb
            values.append(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(values))


def test_ssim_matches_the_definition() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 256, (20, 23, 3), dtype=np.uint8)
    result = np.clip(truth.astype(np.int16) + rng.integers(-40, 41, truth.shape), 0, 255).astype(np.uint8)
    expected = _ssim_by_windows(luma(result), luma(truth))
    assert ssim_y(result, truth) == pytest.approx(expected, abs=1e-12)
    assert 0.5 < expected < 0.99  # noisy, not identical
    assert ssim_y(truth, truth) == pytest.approx(1.0, abs=1e-12)


def test_detail_ratio_tells_blur_from_sharpness() -> None:
    truth = repository_photos()[0].pixels
    blurred = bicubic_resize(downscale(truth, 4), *truth.shape[:2])
    assert detail_ratio(truth, truth) == pytest.approx(1.0)
    assert 0.1 < detail_ratio(blurred, truth, 4) < 0.5
    noisy = np.clip(truth.astype(np.int16) + np.random.default_rng(1).integers(-30, 31, truth.shape), 0, 255)
    assert detail_ratio(noisy.astype(np.uint8), truth) > 1.5


# ------------------------------------------------------------------------- reproducing the numbers


def test_stored_numbers_reproduce(document: Json, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The astronaut crop, the bicubic baseline and the default model, measured again."""
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path))
    astronaut = repository_photos()[0]
    stored = next(i for i in document["images"] if i["name"] == "astronaut")
    assert list(astronaut.crop) == stored["crop"]
    truth = astronaut.pixels

    bicubic = next(b for b in document["table"]["baselines"] if b["id"] == "bicubic-x4")
    out = bicubic_resize(downscale(truth, 4), *truth.shape[:2])
    psnr, ssim, _ = bicubic["native"]["images"]["astronaut"]
    assert psnr_y(out, truth, 4) == pytest.approx(psnr, abs=1e-4)
    assert ssim_y(out, truth, 4) == pytest.approx(ssim, abs=1e-5)

    model_id = "realesr-animevideov3-x4"
    with mt.open_measured(resolve_model(model_id).onnx_path) as session:
        runner, note = mt.checked_runner(session)
        assert note is None
        block = mt.Measurer([astronaut]).native(runner, 4)
    psnr, ssim, _ = _row(document, model_id)["native"]["images"]["astronaut"]
    # Other CPUs (bf16, other kernels) round differently: a few hundredths of a dB.
    assert block["images"]["astronaut"][0] == pytest.approx(psnr, abs=0.05)
    # The table was measured with the mirrored-edge tile grid; the budget grid (issue 8) lets the model
    # see the real image edge, which moved this SSIM by 0.0016 (PSNR by < 0.05 dB): re-measure the table
    # with benchmarks/model_table.py to tighten this again.
    assert block["images"]["astronaut"][1] == pytest.approx(ssim, abs=2.5e-3)
    assert block["photo"]["psnr"] > psnr_y(out, truth, 4), "the model must beat bicubic on this crop"
