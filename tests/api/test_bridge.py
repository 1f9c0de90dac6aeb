"""The bridge: typed requests in, typed replies or one-line ApiErrors out, for every method."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import get_args

import numpy as np
import pytest
from PIL import Image

from pixup.api.bridge import Api
from pixup.api.methods import METHODS
from pixup.api.schema import JobSnapshot, Scenario, Settings


def test_every_method_of_the_table_exists_and_is_typed(api: Api) -> None:
    for name in METHODS:
        assert callable(getattr(api, name)), name


def test_unknown_method_and_bad_requests_are_typed_errors(api: Api) -> None:
    assert api.call("drop_tables", {}) == {
        "ok": False,
        "error": {"code": "not_found", "message": "no bridge method 'drop_tables'", "kind": None},
    }
    reply = api.call("start_job", {"job_id": "x", "inputs": []})
    assert reply["ok"] is False and reply["error"]["code"] == "invalid_request"
    assert reply["error"]["message"].startswith("job_id:")
    reply = api.call("set_settings", {"quality": 500})
    assert reply["error"]["code"] == "invalid_request" and "quality" in reply["error"]["message"]
    status, body = api.handle("job_status", b"{not json")
    assert status == 400 and json.loads(body)["code"] == "invalid_request"
    status, body = api.handle("job_status", b'{"job_id": "nope"}')
    assert status == 404
    assert json.loads(body) == {"code": "not_found", "message": "no job nope", "kind": "not_found"}


def test_settings_persist_across_api_instances(api: Api, tmp_path: Path) -> None:
    defaults = Settings.model_validate(api.call("get_settings", {})["result"])
    assert defaults.output_dir == str(tmp_path / "out")  # serve --output is the default
    changed = defaults.model_copy(update={"scenario": "Digital Art", "quality": 80, "theme": "dark"})
    assert api.call("set_settings", changed.model_dump())["ok"]
    again = Api(api.service, settings_path=tmp_path / "home" / "config" / "settings.json")
    loaded = Settings.model_validate(again.call("get_settings", {})["result"])
    assert (loaded.scenario, loaded.quality, loaded.theme) == ("Digital Art", 80, "dark")


def test_no_native_dialogs_in_a_browser(api: Api) -> None:
    caps = api.call("capabilities", {})["result"]
    assert caps["native_dialogs"] is False and caps["uploads"] is True
    assert "repair" not in caps  # Fix compression runs on bundled models: always there
    assert caps["faces"]  # no face model imported yet: the reason is given
    reply = api.call("pick_files", {"multiple": True})
    assert reply["ok"] is False and reply["error"]["code"] == "unavailable"


def test_capabilities_without_a_face_model_do_not_read_the_detector(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The UI renders only once capabilities answer; reading the detector out of its package takes
    # ~0.9 s and is pointless while no face model exists.
    import pixup.faces

    def unexpected() -> bytes:
        raise AssertionError("the face detector was read with no face model imported")

    monkeypatch.setattr(pixup.faces, "detector_model", unexpected)
    assert "needs a face model" in api.call("capabilities", {})["result"]["faces"]


def test_models_and_edit_model_write_model_config(api: Api, tmp_path: Path) -> None:
    listed = api.call("list_models", {})["result"]
    ids = {m["id"] for m in listed["models"]}
    assert "realesr-animevideov3-x4" in ids
    # Every scenario of the one list (pixup.choices.Scenario), in its order, with a model and words.
    assert [s["name"] for s in listed["scenarios"]] == list(get_args(Scenario))
    assert all(s["model_id"] in ids and s["description"] for s in listed["scenarios"])
    reply = api.call("edit_model", {"model_id": "realesr-animevideov3-x4", "display_name": "Mine",
                                    "batch_size": 4, "tile_size": 256})
    assert reply["ok"], reply
    assert (reply["result"]["display_name"], reply["result"]["batch_size"]) == ("Mine", 4)
    saved = json.loads((tmp_path / "home" / "models" / "model_config.json").read_text())
    assert saved["models"]["realesr-animevideov3-x4"] == {"display_name": "Mine", "batch_size": 4,
                                                          "tile_size": 256}
    assert api.call("edit_model", {"model_id": "nope"})["error"]["code"] == "not_found"
    assert api.call("edit_model", {"model_id": "x", "batch_size": 9})["error"]["code"] == "invalid_request"


def test_start_job_runs_to_done_and_status_reports_it(api: Api, x2_model: str, tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    Image.fromarray(np.full((20, 24, 3), 90, np.uint8)).save(src)
    job_id = str(uuid.uuid4())
    reply = api.call("start_job", {"job_id": job_id, "inputs": [str(src)], "options": {"model": x2_model}})
    assert reply["ok"], reply
    assert api.service.wait(job_id, 60)
    snap = JobSnapshot.model_validate(api.call("job_status", {"job_id": job_id})["result"])
    assert snap.status == "done" and snap.files[0].status == "done"
    out = Path(snap.files[0].output or "")
    assert out.parent == tmp_path / "out" and Image.open(out).size == (48, 40)
    assert api.may_serve(out.resolve()) and api.may_serve(src.resolve())
    assert api.call("start_job", {"job_id": job_id, "inputs": [str(src)]})["error"]["code"] == "conflict"


def test_edit_model_keeps_unsent_fields_and_clears_nulls(api: Api) -> None:
    model = "realesr-animevideov3-x4"
    api.call("edit_model", {"model_id": model, "display_name": "Mine", "batch_size": 4, "tile_size": 256})
    reply = api.call("edit_model", {"model_id": model, "tile_size": None})["result"]
    assert (reply["display_name"], reply["batch_size"], reply["tile_size"]) == ("Mine", 4, None)


def test_importing_a_face_model_enables_face_recovery(api: Api, tmp_path: Path) -> None:
    from tests.faces import graphs as face_graphs

    assert api.call("capabilities", {})["result"]["faces"]  # no face model yet: the reason
    source = face_graphs.gfpgan_identity(tmp_path / "my-gfpgan.onnx")
    reply = api.call("import_model", {"path": str(source)})["result"]
    assert reply["outcomes"][0]["model_id"] == "my-gfpgan" and reply["outcomes"][0]["face"] is True
    assert (tmp_path / "home" / "models" / "faces" / "my-gfpgan.onnx").is_file()
    assert api.call("capabilities", {})["result"]["faces"] is None
    listed = api.call("list_models", {})["result"]
    assert listed["face_models"] == ["my-gfpgan"]
    assert "my-gfpgan" not in {m["id"] for m in listed["models"]}  # not an upscaler
