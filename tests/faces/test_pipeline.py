"""recover_faces end to end: real detector, real photos, tiny face models."""

from __future__ import annotations

import numpy as np
import pytest

from pixup.engine.cancel import Cancelled, CancelToken
from pixup.faces import FaceDetector, FaceModel, align_matrix, recover_faces, window_mask
from pixup.faces.align import crop_bounds
from tests.faces.conftest import tiled_faces, upscale


def _mask(detector: FaceDetector, source: np.ndarray, upscaled: np.ndarray) -> np.ndarray:
    """The feathered blend weight of every face, in `upscaled`'s pixels."""
    height, width = upscaled.shape[:2]
    out = np.zeros((height, width), np.float32)
    for face in detector.detect(source):
        matrix = align_matrix(face.scaled(width / source.shape[1], height / source.shape[0]).landmarks)
        window = crop_bounds(matrix, height, width)
        assert window is not None
        x0, y0, x1, y1 = window
        out[y0:y1, x0:x1] = np.maximum(out[y0:y1, x0:x1], window_mask(matrix, window))
    return out


def _diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(a.astype(np.int64) - b.astype(np.int64))
    return d if d.ndim == 2 else d.max(axis=2)


class _Recording(FaceModel):
    """Wraps a model and records the crops it is given."""

    def __init__(self, inner: FaceModel) -> None:
        self.inner = inner
        self.shapes: list[tuple[int, ...]] = []

    def restore(self, crop: np.ndarray, cancel: CancelToken | None = None) -> np.ndarray:
        self.shapes.append(crop.shape)
        return self.inner.restore(crop, cancel)


@pytest.mark.parametrize("factor", [2, 4])
def test_identity_model_leaves_the_image_unchanged(
    detector: FaceDetector, identity: FaceModel, astronaut: np.ndarray, factor: int
) -> None:
    upscaled = upscale(astronaut, factor)
    calls: list[tuple[int, int]] = []
    out, notices = recover_faces(astronaut, upscaled, detector, identity, progress=lambda *a: calls.append(a))
    assert notices == ["Face recovery restored 1 face."]
    assert calls == [(0, 1), (1, 1)]
    mask = _mask(detector, astronaut, upscaled)
    seam = (mask > 0) & (mask < 1)
    diff = _diff(out, upscaled)
    assert diff[~seam].max() <= 2 and diff[seam].max() <= 3
    # In fact exact: only the model's change is pasted, and the identity changes nothing.
    assert diff.max() == 0


def test_plain_paste_with_identity_model_is_close(
    detector: FaceDetector, identity: FaceModel, astronaut: np.ndarray
) -> None:
    upscaled = upscale(astronaut, 2)
    out, _ = recover_faces(astronaut, upscaled, detector, identity, keep_detail=False)
    mask = _mask(detector, astronaut, upscaled)
    diff = _diff(out, upscaled)
    assert diff[mask == 0].max() == 0
    # GFPGAN-style replacement resamples the face twice: close, not exact (sharp hair edges).
    assert diff[mask > 0].mean() < 1.0 and np.percentile(diff[mask > 0], 99) <= 3


@pytest.mark.parametrize("keep_detail", [True, False])
def test_changing_model_changes_only_the_face(
    detector: FaceDetector, darken: FaceModel, astronaut: np.ndarray, keep_detail: bool
) -> None:
    upscaled = upscale(astronaut, 2)
    recording = _Recording(darken)
    out, _ = recover_faces(astronaut, upscaled, detector, recording, keep_detail=keep_detail)
    assert recording.shapes == [(512, 512, 3)]  # the model saw one 512 crop, never the image
    (face,) = detector.detect(astronaut)
    x0, y0, x1, y1 = (round(v * 2) for v in face.box)
    # The face (the box shrunk by a quarter: fully inside the mask) is at about half brightness.
    inner = (slice(y0 + (y1 - y0) // 4, y1 - (y1 - y0) // 4), slice(x0 + (x1 - x0) // 4, x1 - (x1 - x0) // 4))
    ratio = out[inner].astype(float).mean() / upscaled[inner].astype(float).mean()
    assert 0.45 < ratio < 0.6
    # Far from the face (beyond twice the box size around it) nothing changed, bit for bit.
    far = np.ones(upscaled.shape[:2], bool)
    w, h = x1 - x0, y1 - y0
    far[max(0, y0 - h) : y1 + h, max(0, x0 - w) : x1 + w] = False
    np.testing.assert_array_equal(out[far], upscaled[far])
    # And everything the mask does not reach is untouched.
    mask = _mask(detector, astronaut, upscaled)
    np.testing.assert_array_equal(out[mask == 0], upscaled[mask == 0])


def test_no_face_is_untouched(detector: FaceDetector, darken: FaceModel, coffee: np.ndarray) -> None:
    upscaled = upscale(coffee, 2)
    before = upscaled.copy()
    out, notices = recover_faces(coffee, upscaled, detector, darken)
    assert out is upscaled and notices == ["Face recovery found no face."]
    np.testing.assert_array_equal(out, before)


def test_small_faces_are_skipped_and_said(
    detector: FaceDetector, darken: FaceModel, astronaut: np.ndarray
) -> None:
    upscaled = upscale(astronaut, 2)
    out, notices = recover_faces(astronaut, upscaled, detector, darken, min_face_px=200)
    assert out is upscaled
    assert notices == ["Face recovery skipped 1 face smaller than 200 px in the source."]


def test_several_faces_cost_one_crop_each(detector: FaceDetector, darken: FaceModel) -> None:
    source = tiled_faces(3)
    upscaled = upscale(source, 2)
    recording = _Recording(darken)
    out, notices = recover_faces(source, upscaled, detector, recording)
    assert recording.shapes == [(512, 512, 3)] * 3 and notices == ["Face recovery restored 3 faces."]
    for tile in range(3):  # each face's centre darkened
        centre = out[190:230, tile * 416 + 170 : tile * 416 + 250].astype(float).mean()
        assert centre < 0.65 * upscaled[190:230, tile * 416 + 170 : tile * 416 + 250].astype(float).mean()


def test_cancel_between_faces(detector: FaceDetector, identity: FaceModel) -> None:
    source = tiled_faces(3)
    upscaled = upscale(source, 2)
    token = CancelToken()
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        recover_faces(source, upscaled, detector, identity, cancel=token, progress=progress)
    assert seen == [0, 1]
    with pytest.raises(Cancelled):  # cancelled before it starts: not even detection runs
        recover_faces(source, upscaled, detector, identity, cancel=token)


def test_uint16_rgb(
    detector: FaceDetector, identity: FaceModel, darken: FaceModel, astronaut: np.ndarray
) -> None:
    source = astronaut.astype(np.uint16) * 256 + 100  # not 8-bit values stretched by 257
    upscaled = upscale(source, 2)
    same, _ = recover_faces(source, upscaled, detector, identity)
    np.testing.assert_array_equal(same, upscaled)  # 16-bit precision kept: nothing was rounded
    out, _ = recover_faces(source, upscaled, detector, darken)
    assert out.dtype == np.uint16 and out.shape == upscaled.shape
    mask = _mask(detector, source, upscaled)
    np.testing.assert_array_equal(out[mask == 0], upscaled[mask == 0])
    core = mask == 1
    ratio = out[core].astype(float).mean() / upscaled[core].astype(float).mean()
    assert 0.45 < ratio < 0.6
    # Blended in 16 bits: the changed pixels are not all multiples of 257 apart.
    assert np.any((out[core].astype(np.int64) - upscaled[core]) % 257 != 0)


def test_rgba_alpha_untouched(detector: FaceDetector, darken: FaceModel, astronaut: np.ndarray) -> None:
    alpha = np.tile(np.linspace(0, 255, 512).astype(np.uint8), (512, 1))
    source = np.dstack([astronaut, alpha])
    upscaled = upscale(source, 2)
    out, _ = recover_faces(source, upscaled, detector, darken)
    assert out.shape == upscaled.shape
    np.testing.assert_array_equal(out[..., 3], upscaled[..., 3])
    mask = _mask(detector, source, upscaled)
    assert _diff(out[..., :3], upscaled[..., :3])[mask == 1].mean() > 20
    np.testing.assert_array_equal(out[mask == 0], upscaled[mask == 0])


@pytest.mark.parametrize("shape", ["2d", "hw1"])
def test_grayscale(
    detector: FaceDetector, identity: FaceModel, darken: FaceModel, astronaut: np.ndarray, shape: str
) -> None:
    grey = (astronaut @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)
    source = grey if shape == "2d" else grey[..., None]
    upscaled = upscale(source, 2)
    same, notices = recover_faces(source, upscaled, detector, identity)
    assert notices == ["Face recovery restored 1 face."]
    np.testing.assert_array_equal(same, upscaled)
    out, _ = recover_faces(source, upscaled, detector, darken)
    assert out.shape == upscaled.shape and out.dtype == np.uint8
    mask = _mask(detector, source, upscaled)
    np.testing.assert_array_equal(out[mask == 0], upscaled[mask == 0])
    ratio = out[mask == 1].astype(float).mean() / upscaled[mask == 1].astype(float).mean()
    assert 0.45 < ratio < 0.6


def test_mismatched_channels_refused(
    detector: FaceDetector, identity: FaceModel, astronaut: np.ndarray
) -> None:
    with pytest.raises(ValueError, match="channels differ"):
        recover_faces(astronaut, upscale(astronaut, 2)[..., :1], detector, identity)


def test_face_at_the_border(detector: FaceDetector, darken: FaceModel, astronaut: np.ndarray) -> None:
    # The face near the top-left corner: its crop reaches past the image, nothing breaks.
    source = np.ascontiguousarray(astronaut[40:300, 150:400])
    upscaled = upscale(source, 2)
    out, notices = recover_faces(source, upscaled, detector, darken)
    assert notices == ["Face recovery restored 1 face."]
    assert out.shape == upscaled.shape and not np.array_equal(out, upscaled)
