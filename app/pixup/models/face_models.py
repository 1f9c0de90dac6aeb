"""Where the user's face models live and which one a job uses.

No registry package ships GFPGAN or CodeFormer weights, so face models are the user's own ONNX files,
kept in `<user models>/faces/` (what `pixup models import` puts there when a file has a face model's
signature) or given by path.
"""

from __future__ import annotations

from pathlib import Path

from pixup.errors import UnavailableError
from pixup.paths import user_paths

FACES_FOLDER = "faces"

NO_FACE_MODEL = (
    "Face recovery needs a face model: import a GFPGAN or CodeFormer .onnx file "
    "(Import model in the app, or pixup models import FILE.onnx)"
)


def face_models_folder() -> Path:
    return user_paths().models / FACES_FOLDER


def face_models() -> list[Path]:
    """The user's face models, by name."""
    folder = face_models_folder()
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.suffix.lower() == ".onnx" and p.is_file()),
                  key=lambda p: p.name.lower())


def resolve_face_model(ref: str) -> Path:
    """`ref`: a file path, the name of an imported face model, or "" for the first one imported.
    Raises UnavailableError (code "no_face_model") when there is no such model: face recovery
    cannot run, as when no face model was ever imported."""
    if ref:
        path = Path(ref).expanduser()
        if path.suffix.lower() == ".onnx" and path.is_file():
            return path
        for candidate in face_models():
            if candidate.stem == ref or candidate.name == ref:
                return candidate
        raise UnavailableError(f"no face model {ref}", code="no_face_model")
    found = face_models()
    if not found:
        raise UnavailableError(NO_FACE_MODEL, code="no_face_model")
    return found[0]
