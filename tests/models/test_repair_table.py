"""models/repair.json and models/repair_table.md: the Fix compression rule re-applied to the stored
numbers gives the stored picks, and pixup.models.bundled (hence pixup.jobs.repair) follows them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from benchmarks import repair_table as rt

from pixup.jobs.repair import repair_kind
from pixup.models.bundled import (
    REPAIR_ANY,
    REPAIR_MODELS,
    REPAIR_PATHS,
    SCENARIO_MODELS,
    RepairStep,
    bundled_model,
)

Json = dict[str, Any]


@pytest.fixture(scope="module")
def document() -> Json:
    data: Json = json.loads(rt.REPAIR_JSON.read_text(encoding="utf-8"))
    return data


def _steps(bands: list[Json]) -> tuple[RepairStep, ...]:
    return tuple(
        RepairStep(b["from"], b["to"], b["action"], b["model"], float(b["alpha"]) if b["action"] == "prepass"
                   else 1.0)
        for b in bands
    )


def test_the_rule_gives_the_stored_picks(document: Json) -> None:
    assert rt.pick_repair(document) == document["picks"]
    params = document["params"]
    assert params["qualities"] == list(rt.QUALITIES)
    assert params["bands"] == [list(b) for b in rt.BANDS]
    assert params["alphas"] == list(rt.ALPHAS) and params["tie_db"] == rt.TIE_DB


def test_the_code_follows_the_table(document: Json) -> None:
    picks = document["picks"]
    expected = {
        (key.split("|")[0], key.split("|")[1]): _steps(bands) for key, bands in picks.items() if key != "any"
    }
    assert expected == REPAIR_PATHS
    assert _steps(picks["any"]) == REPAIR_ANY
    assert all(step.action == "prepass" or step.action == "none" for step in REPAIR_ANY)
    named = {step.model for steps in (*REPAIR_PATHS.values(), REPAIR_ANY) for step in steps if step.model}
    assert {model for _, _, model in REPAIR_MODELS} == named


def test_every_scenario_was_measured_with_its_upscaler(document: Json) -> None:
    for scenario, upscaler in SCENARIO_MODELS.items():
        assert (upscaler, repair_kind(scenario)) in REPAIR_PATHS, (
            f"{scenario} now runs {upscaler}: re-measure with benchmarks/repair_table.py"
        )


def test_the_named_models_are_bundled_repair_models() -> None:
    for steps in (*REPAIR_PATHS.values(), REPAIR_ANY):
        assert [(s.low, s.high) for s in steps] == [(1, 33), (34, 66), (67, 100)]
        for step in steps:
            if step.action == "none":
                assert step.model is None
                continue
            model = bundled_model(str(step.model))
            assert model is not None and model.available, step
            assert model.denoise_level is not None, step
            assert (model.nominal_scale == 1) == (step.action == "prepass"), step
            assert 0 < step.alpha <= 1


def test_at_quality_40_and_below_every_scenario_gains(document: Json) -> None:
    for scenario, pick in rt.scenario_picks(document).items():
        for band in pick["bands"]:
            if band["quality"] <= 40:
                assert band["action"] != "none", (scenario, band)
                assert band["gain_db"] > rt.TIE_DB, (scenario, band)


def test_a_tie_goes_to_the_plain_upscale(document: Json) -> None:
    tweaked = copy.deepcopy(document)
    upscaler = tweaked["upscalers"][0]
    best = tweaked["picks"][f"{upscaler}|photo"][-1]  # the q20 band: a repair path
    assert best["action"] != "none"
    key = rt.run_key(upscaler) if best["action"] == "none" else (
        rt.run_key(upscaler, best["model"], best["alpha"]) if best["action"] == "prepass" else best["model"]
    )
    # The plain upscale now scores a little above the pick, so within TIE_DB of the best candidate.
    plain = tweaked["runs"][f"{upscaler}|q{best['quality']}"]
    for metric in ("psnr", "ssim"):
        plain[metric] = {n: v + (0.04 if metric == "psnr" else 0)
                         for n, v in tweaked["runs"][f"{key}|q{best['quality']}"][metric].items()}
    assert rt.pick_repair(tweaked)[f"{upscaler}|photo"][-1]["action"] == "none"


def test_the_markdown_is_the_rendering_of_the_json(document: Json) -> None:
    assert rt.REPAIR_MD.read_text(encoding="utf-8") == rt.render_markdown(document)
