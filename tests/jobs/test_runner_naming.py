"""Output names in a job: FileRunner names outputs with naming.output_path_for, so two inputs
that would share an output name both keep their result."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from pixup.jobs.options import UpscaleOptions
from pixup.jobs.service import JobService
from pixup.models.config import ConfigStore
from pixup.models.slot import ModelSlot
from tests.engine import graphs
from tests.jobs.test_job_service import TIMEOUT, image
from tests.sessions import RecordingOpener


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[JobService]:
    svc = JobService(ModelSlot(RecordingOpener()), ConfigStore(tmp_path / "user-models"))
    yield svc
    svc.shutdown()


@pytest.fixture()
def x2(tmp_path: Path) -> str:
    return str(graphs.save(graphs.pixel_shuffle_x2(), tmp_path / "x2.onnx"))


def _run(service: JobService, job_id: str, inputs: list[Path], options: UpscaleOptions) -> list[str]:
    service.submit(job_id, inputs, options)
    assert service.wait(job_id, TIMEOUT)
    files = service.status(job_id).files
    return [f"{f.status}: {f.error_code or 'ok'}: {Path(f.output or '').name}" for f in files]


@pytest.mark.parametrize("out_dir", ["beside the inputs", "output folder"])
def test_png_and_jpg_of_one_name_are_both_kept(
    service: JobService, x2: str, tmp_path: Path, out_dir: str
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    png = image(src / "a.png", size=16, seed=1)
    jpg = src / "a.jpg"
    Image.open(image(tmp_path / "b.png", size=16, seed=2)).save(jpg)
    out = src if out_dir == "beside the inputs" else tmp_path / "out"
    options = UpscaleOptions(model=x2, format="png", output_dir=None if out == src else str(out))

    assert _run(service, "job-1", [png, jpg], options) == [
        "done: ok: a_pixup_2x.png",
        "done: ok: a_jpg_pixup_2x.png",  # not a second write over a_pixup_2x.png
    ]
    first, second = out / "a_pixup_2x.png", out / "a_jpg_pixup_2x.png"
    assert Image.open(first).size == Image.open(second).size == (32, 32)
    assert first.read_bytes() != second.read_bytes()  # each holds its own input's result

    # Run again without overwrite: both refuse, by the same names, and nothing changes.
    before = (first.read_bytes(), second.read_bytes())
    assert _run(service, "job-2", [png, jpg], options) == [
        "failed: output_exists: a_pixup_2x.png",
        "failed: output_exists: a_jpg_pixup_2x.png",
    ]
    assert (first.read_bytes(), second.read_bytes()) == before
