"""recover_faces: detect on the source, restore each face on the upscaled image, paste back.

The face model only ever sees 512×512 aligned crops, and every step after detection touches only the
window each face covers, so the cost grows with the number (and output size) of faces, not with
the size of the image.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from pixup.engine.cancel import CancelToken
from pixup.faces.align import align_matrix, crop_bounds, warp_to_crop
from pixup.faces.detect import Face, FaceDetector
from pixup.faces.paste import paste_face
from pixup.faces.restore import FaceModel
from pixup.imaging.pixels import check_pixels, to_uint8

log = logging.getLogger(__name__)

MIN_FACE_PX = 16
"""Default threshold on the shorter side of a face's box in the source image: below it there is too
little of the face for a restorer to work from (and the detector is unreliable)."""

Progress = Callable[[int, int], None]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _crop(image: np.ndarray, matrix: np.ndarray) -> np.ndarray | None:
    """The aligned 512×512 8-bit RGB crop; only the window it covers is converted."""
    height, width = image.shape[:2]
    window = crop_bounds(matrix, height, width)
    if window is None:
        return None
    x0, y0, x1, y1 = window
    part = to_uint8(image[y0:y1, x0:x1])
    rgb = np.repeat(part, 3, axis=2) if part.shape[2] in (1, 2) else part[..., :3]
    return warp_to_crop(rgb, matrix, (x0, y0))


def recover_faces(
    source: np.ndarray,
    upscaled: np.ndarray,
    detector: FaceDetector,
    model: FaceModel,
    *,
    min_face_px: float = MIN_FACE_PX,
    keep_detail: bool = True,
    cancel: CancelToken | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Restore the faces of `upscaled` (the upscale of `source`) and return (image, notices).

    Both arrays are H×W×C with C 1, 3 or 4 (a 2-D array is taken as H×W×1), uint8 or uint16, with the
    same channels; the scale may differ per axis. Faces are found on `source` and mapped to
    `upscaled`; those whose box's shorter side is below `min_face_px` source pixels are skipped.
    `keep_detail`: paste the model's change rather than its image (see `paste_face`); False pastes
    the restored face itself, as GFPGAN does, which softens faces larger than the 512 crop.
    The result has `upscaled`'s shape, dtype and alpha; `upscaled` itself is never modified and is
    returned as is when no face was restored. Notices are one-line messages for the user.

    `cancel` is checked between faces and aborts a running face inference (raises Cancelled);
    `progress(done, total)` is called once before the first face and after each.
    """
    src = check_pixels(source)
    up = check_pixels(upscaled)
    if src.shape[2] != up.shape[2]:
        raise ValueError(f"source and upscaled channels differ: {src.shape} vs {up.shape}")
    if cancel is not None:
        cancel.raise_if_cancelled()
    found = detector.detect(src, cancel)
    sx, sy = up.shape[1] / src.shape[1], up.shape[0] / src.shape[0]
    faces: list[Face] = [f.scaled(sx, sy) for f in found if f.size >= min_face_px]
    notices: list[str] = []
    small = len(found) - len(faces)
    if small:
        notices.append(
            f"Face recovery skipped {_plural(small, 'face')} smaller than {min_face_px:g} px in the source."
        )
    if not found:
        notices.append("Face recovery found no face.")
    total = len(faces)
    if progress is not None and total:
        progress(0, total)
    result = upscaled
    restored = 0
    for done, face in enumerate(faces, start=1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        matrix = align_matrix(face.landmarks)
        crop = _crop(up, matrix)
        if crop is not None:
            fixed = model.restore(crop, cancel)
            if result is upscaled:
                result = upscaled.copy()  # copy on first write: no faces, no copy
            given = crop.astype(np.float32) / 255.0 if keep_detail else None
            paste_face(result if result.ndim == 3 else result[..., None], fixed, matrix, original=given)
            restored += 1
        log.debug("face %d/%d at %s (score %.3f) restored", done, total, face.box, face.score)
        if progress is not None:
            progress(done, total)
    if restored:
        notices.append(f"Face recovery restored {_plural(restored, 'face')}.")
    return result, notices
