"""The job service's own state maps onto the wire models field for field."""

from __future__ import annotations

import dataclasses

from pydantic import BaseModel

from pixup.api import schema as s
from pixup.api.mapping import file_result, file_state, job_snapshot
from pixup.jobs.state import FileOutcome, FileView, JobView


def _fields(model: type) -> set[str]:
    return {f.name for f in dataclasses.fields(model)}


def test_state_types_and_wire_models_have_the_same_fields() -> None:
    # A field added to one side only would be dropped or fail validation on the way out.
    pairs: list[tuple[type, type[BaseModel]]] = [
        (FileOutcome, s.FileResult), (FileView, s.FileState), (JobView, s.JobSnapshot)]
    for state, wire in pairs:
        assert _fields(state) == set(wire.model_fields), state.__name__


def test_a_job_view_maps_onto_its_snapshot() -> None:
    running = FileView(input="/in/a.png", name="a.png", status="running", stage="upscale",
                       tiles_done=2, tiles_total=8, eta_s=1.5)
    done = FileView(input="/in/b.png", name="b.png", status="done", stage="finished", output="/out/b.png",
                    width=10, height=12, out_width=40, out_height=48, seconds=0.25, model="m",
                    provider="CPUExecutionProvider", notices=("one", "two"), tiles_done=4, tiles_total=4,
                    eta_s=0.0)
    view = JobView(job_id="job-1", status="running", files=(running, done), created=123.5,
                   notices=("one", "two"), output_dir="/out")

    wire = job_snapshot(view)

    assert isinstance(wire, s.JobSnapshot)
    assert wire.model_dump() == {
        "job_id": "job-1", "status": "running", "error": None, "error_code": None,
        "notices": ["one", "two"],
        "output_dir": "/out", "created": 123.5,
        "files": [
            {"input": "/in/a.png", "name": "a.png", "status": "running", "stage": "upscale", "output": None,
             "error_code": None, "error": None, "width": None, "height": None, "out_width": None,
             "out_height": None,
             "seconds": None, "model": None, "provider": None, "notices": [], "tiles_done": 2,
             "tiles_total": 8, "eta_s": 1.5},
            {"input": "/in/b.png", "name": "b.png", "status": "done", "stage": "finished",
             "output": "/out/b.png", "error_code": None, "error": None, "width": 10, "height": 12,
             "out_width": 40,
             "out_height": 48, "seconds": 0.25, "model": "m", "provider": "CPUExecutionProvider",
             "notices": ["one", "two"], "tiles_done": 4, "tiles_total": 4, "eta_s": 0.0},
        ],
    }
    assert file_state(done) == wire.files[1]


def test_a_file_view_gives_its_outcome_for_the_cli() -> None:
    view = FileView(input="/in/a.png", name="a.png", status="failed", stage="finished",
                    error_code="not_an_image", error="bad file")
    result = file_result(view)
    assert type(result) is s.FileResult  # not the FileState the view also fits
    assert result.model_dump() == {
        "input": "/in/a.png", "output": None, "status": "failed", "error_code": "not_an_image",
        "error": "bad file", "width": None,
        "height": None, "out_width": None, "out_height": None, "seconds": None, "model": None,
        "provider": None, "notices": []}
