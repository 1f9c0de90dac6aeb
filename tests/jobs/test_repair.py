"""Fix compression in jobs: the measured path per (scenario, strength), the 1× pre-pass (alpha, 16-bit,
grey), the job service with the real bundled models (beats the plain upscale on a JPEG, keeps alpha,
16 bits and metadata), and cancel inside the repair step."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import piexif
import pytest
from benchmarks.sr_images import repository_photos
from benchmarks.sr_metrics import downscale, psnr_y
from PIL import Image

from pixup.engine.cancel import Cancelled, CancelToken
from pixup.engine.providers import Precision
from pixup.engine.session import ModelSession
from pixup.imaging.decode import read_image
from pixup.jobs.options import UpscaleOptions
from pixup.jobs.plan import JobPlan, plan_job
from pixup.jobs.repair import plan_repair, repair_kind, repair_pixels
from pixup.jobs.service import JobService
from pixup.jobs.state import JobView
from pixup.models.bundled import REPAIR_ANY, REPAIR_PATHS, SCENARIO_MODELS, RepairStep, bundled_model
from pixup.models.catalogue import ResolvedModel, resolve_model
from pixup.models.config import ConfigStore
from pixup.models.slot import ModelSlot
from tests.engine import graphs
from tests.imaging.helpers import P3_ICC

TIMEOUT = 300
FAST_UPSCALER = "realesr-animevideov3-x4"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pixup-home")


@pytest.fixture(autouse=True)
def _home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXUP_HOME", str(home))


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[JobService]:
    svc = JobService(ModelSlot(), ConfigStore(tmp_path / "user-models"))
    yield svc
    svc.shutdown()


def _step(steps: tuple[RepairStep, ...], strength: int) -> RepairStep:
    return next(s for s in steps if s.low <= strength <= s.high)


def prepass_strength() -> int:
    """A strength at which an explicit model gets the 1× pre-pass."""
    step = next((s for s in REPAIR_ANY if s.action == "prepass"), None)
    if step is None:
        pytest.skip("the table found no pre-pass worth running before an unmeasured model")
    return step.high


def run_job(service: JobService, job_id: str, src: Path, out: Path, **options: object) -> JobView:
    service.submit(job_id, [src], UpscaleOptions(output_dir=str(out), **options))  # type: ignore[arg-type]
    assert service.wait(job_id, TIMEOUT)
    snapshot = service.status(job_id)
    assert snapshot.files[0].status == "done", snapshot
    return snapshot


# ------------------------------------------------------------------------------ the plan


def _plan(**options: object) -> JobPlan:
    return plan_job([Path("photo.png")], UpscaleOptions(**options))  # type: ignore[arg-type]


def test_strength_zero_is_off() -> None:
    for scenario in (None, *SCENARIO_MODELS):
        assert _plan(scenario=scenario).repair is None
        assert _plan(scenario=scenario, repair=0).repair is None


def test_every_strength_follows_the_table() -> None:
    assert [(s.low, s.high) for s in REPAIR_ANY] == [(1, 33), (34, 66), (67, 100)]
    for scenario, upscaler in SCENARIO_MODELS.items():
        steps = REPAIR_PATHS[(upscaler, repair_kind(scenario))]
        for strength in range(1, 101):
            step, plan = _step(steps, strength), _plan(scenario=scenario, repair=strength)
            if step.action == "none":
                assert plan.repair is None
                assert plan.model.id == upscaler
            else:
                assert plan.repair is not None and plan.repair.step == step
                assert plan.repair.upscaler == upscaler
                assert plan.model.id == (step.model if step.action == "swap" else upscaler)
            if step.action == "swap":  # the stand-in keeps the scenario model's scale
                assert plan.scale == float(bundled_model(upscaler).nominal_scale)  # type: ignore[union-attr]


def test_an_explicit_model_is_never_swapped() -> None:
    for strength in range(0, 101):
        plan = plan_repair(strength, "my-model", "Digital Art", explicit=True)
        assert plan is None or plan.step.action == "prepass"
        if strength:
            step = _step(REPAIR_ANY, strength)
            assert (plan.step if plan else None) == (step if step.action == "prepass" else None)
    explicit = _plan(model="realesr-animevideov3-x2", scenario="Digital Art", repair=100)
    assert explicit.model.id == "realesr-animevideov3-x2"


# ------------------------------------------------------------------------------ the pre-pass


@pytest.fixture(scope="module")
def x1_session(home: Path) -> Iterator[ModelSession]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIXUP_HOME", str(home))
        path = resolve_model("waifu2x-cunet-x1-denoise2").onnx_path
    session = ModelSession.open(path, precision="exact", providers=["CPUExecutionProvider"])
    yield session
    session.close()


def _jpeg_pixels(size: int = 40, quality: int = 20) -> np.ndarray:
    crop = repository_photos()[1].pixels[:size, :size]
    buffer = io.BytesIO()
    Image.fromarray(crop).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB")).copy()


def test_prepass_keeps_alpha_depth_and_shape(x1_session: ModelSession) -> None:
    rgb = _jpeg_pixels()
    repaired = repair_pixels(rgb, x1_session, 1.0)
    assert repaired.shape == rgb.shape and repaired.dtype == np.uint8
    assert np.abs(repaired.astype(int) - rgb).mean() > 0.5  # it did something

    alpha = np.tile(np.linspace(0, 255, rgb.shape[1], dtype=np.uint8), (rgb.shape[0], 1))
    rgba = np.dstack([rgb, alpha])
    out = repair_pixels(rgba, x1_session, 1.0)
    assert np.array_equal(out[:, :, 3], alpha)
    assert np.array_equal(out[:, :, :3], repaired)

    deep = rgb.astype(np.uint16) * 257
    out16 = repair_pixels(deep, x1_session, 1.0)
    assert out16.dtype == np.uint16
    assert np.abs(out16.astype(np.int64) - repaired.astype(np.int64) * 257).max() <= 2 * 257

    grey = rgb[:, :, 1].copy()
    assert repair_pixels(grey, x1_session, 1.0).shape == grey.shape
    la = np.dstack([grey, alpha])
    assert np.array_equal(repair_pixels(la, x1_session, 1.0)[:, :, 1], alpha)

    half = repair_pixels(rgb, x1_session, 0.5)
    middle = (repaired.astype(np.float32) + rgb) / 2
    assert np.abs(half - middle).max() <= 0.5 + 1e-6


def test_prepass_stops_when_cancelled(x1_session: ModelSession) -> None:
    token = CancelToken()
    calls: list[int] = []

    def progress(p: object) -> None:
        calls.append(1)
        token.cancel()

    with pytest.raises(Cancelled):
        repair_pixels(_jpeg_pixels(160), x1_session, 1.0, tile=32, token=token, progress=progress)
    assert len(calls) == 1


# ------------------------------------------------------------------------------ through the job service


def _damaged(tmp_path: Path, name: str, quality: int) -> tuple[Path, np.ndarray]:
    """A held-out photo crop, reduced ÷4 and saved as a JPEG at `quality`; returns it and the truth."""
    truth = next(i for i in repository_photos() if i.name == name).pixels
    src = tmp_path / f"{name}-q{quality}.jpg"
    Image.fromarray(downscale(truth, 4)).save(src, quality=quality)
    return src, truth


def test_repair_beats_the_plain_upscale_on_a_jpeg(service: JobService, tmp_path: Path) -> None:
    src, truth = _damaged(tmp_path, "astronaut", 20)
    plain = run_job(service, "plain", src, tmp_path / "plain", scenario="Universal Fast", format="png")
    fixed = run_job(service, "fixed", src, tmp_path / "fixed", scenario="Universal Fast", format="png",
                    repair=100)
    plan = _plan(scenario="Universal Fast", repair=100)
    assert plan.repair is not None
    assert plan.repair.notice() in fixed.files[0].notices
    assert fixed.files[0].model == plan.model.id

    def score(snapshot: JobView) -> float:
        output = snapshot.files[0].output
        assert output is not None
        return psnr_y(np.asarray(Image.open(output).convert("RGB")), truth, 4)

    assert score(fixed) > score(plain) + 0.2, (score(fixed), score(plain))


def test_repair_keeps_alpha_16_bits_and_metadata(service: JobService, tmp_path: Path) -> None:
    strength = prepass_strength()
    rgb = _jpeg_pixels(32)

    # RGBA: the pre-pass leaves alpha alone, so alpha comes out as from a plain upscale.
    alpha = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (32, 1))
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(rgba)
    plain = run_job(service, "a0", rgba, tmp_path / "a0", model=FAST_UPSCALER)
    fixed = run_job(service, "a1", rgba, tmp_path / "a1", model=FAST_UPSCALER, repair=strength)
    a0 = np.asarray(Image.open(str(plain.files[0].output)))
    a1 = np.asarray(Image.open(str(fixed.files[0].output)))
    assert a1.shape == a0.shape == (128, 128, 4)
    assert np.array_equal(a1[:, :, 3], a0[:, :, 3])
    assert not np.array_equal(a1[:, :, :3], a0[:, :, :3])  # the colour was repaired

    # 16 bits per channel stay 16 bits.
    deep = tmp_path / "deep.png"
    Image.fromarray(rgb.astype(np.uint16)[:, :, 0] * 257).save(deep)  # 16-bit grey ("I;16")
    out16 = run_job(service, "d1", deep, tmp_path / "d1", model=FAST_UPSCALER, repair=strength)
    decoded = read_image(Path(str(out16.files[0].output)))
    assert decoded.bit_depth == 16 and decoded.pixels.shape[:2] == (128, 128)

    # EXIF and ICC as a plain upscale keeps them.
    photo = tmp_path / "photo.jpg"
    exif = piexif.dump({"0th": {piexif.ImageIFD.Make: b"pixup-test"}})
    Image.fromarray(rgb).save(photo, quality=30, exif=exif, icc_profile=P3_ICC)
    m0 = run_job(service, "m0", photo, tmp_path / "m0", model=FAST_UPSCALER)
    m1 = run_job(service, "m1", photo, tmp_path / "m1", model=FAST_UPSCALER, repair=strength)
    with Image.open(str(m0.files[0].output)) as i0, Image.open(str(m1.files[0].output)) as i1:
        assert i1.info.get("icc_profile") == i0.info.get("icc_profile") == P3_ICC
        assert dict(i1.getexif()) == dict(i0.getexif())
        assert i1.getexif().get(0x010F) == "pixup-test"


class CountingOpener:
    """Opens the upscaler on CPU and counts its inference runs."""

    def __init__(self) -> None:
        self.runs = 0
        self.lock = threading.Lock()

    def __call__(self, model: ResolvedModel, precision: Precision) -> ModelSession:
        session = ModelSession.open(model.onnx_path, precision="exact", providers=["CPUExecutionProvider"])
        original = session.run

        def run(batch: np.ndarray, token: CancelToken | None = None) -> np.ndarray:
            with self.lock:
                self.runs += 1
            return original(batch, token)

        session.run = run  # type: ignore[method-assign]
        return session


def test_cancel_inside_the_repair_step_leaves_no_output(tmp_path: Path) -> None:
    strength = prepass_strength()
    upscaler = graphs.save(graphs.pixel_shuffle_x2(), tmp_path / "x2.onnx")
    opener = CountingOpener()
    svc = JobService(ModelSlot(opener), ConfigStore(tmp_path / "user-models"))
    src = tmp_path / "big.png"
    Image.fromarray(np.tile(_jpeg_pixels(64), (3, 3, 1))).save(src)
    cancelled: list[JobView] = []

    def listener(snapshot: JobView) -> None:
        state = snapshot.files[0]
        if state.stage == "repair" and state.tiles_done >= 1 and not cancelled:
            cancelled.append(snapshot)
            svc.cancel(snapshot.job_id)

    svc.subscribe(listener)
    try:
        opts = UpscaleOptions(model=str(upscaler), repair=strength, tile=32, output_dir=str(tmp_path / "out"))
        svc.submit("job-cancel", [src], opts)
        assert svc.wait("job-cancel", TIMEOUT)
        final = svc.status("job-cancel")
    finally:
        svc.shutdown()
    assert cancelled and final.status == "cancelled"
    assert final.files[0].status == "cancelled"
    assert opener.runs == 0  # cancelled before the upscaler ran a tile
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
