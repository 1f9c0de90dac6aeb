"""Face restoration models: the user's GFPGAN- or CodeFormer-style ONNX files, recognised by their
signature (inputs, outputs, shapes, dtypes), never by name.

- GFPGAN-style: one image input 1×3×512×512 (float32/16), one image output of that shape.
- CodeFormer-style: the same plus one scalar fidelity input `w` (float or double, shape [] or [1]).
Both take and give RGB in [-1, 1]. The image input must be a fixed 512×512 (face models are
exported that way); a fully dynamic image→image model is an upscaler, not a face model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from pixup.choices import Precision
from pixup.engine.cancel import CancelToken
from pixup.engine.session import GraphSession
from pixup.errors import EngineError, ModelError
from pixup.faces.align import CROP_SIZE

if TYPE_CHECKING:
    import onnx  # imported where a model is read: it costs ~1 s (ml_dtypes) at start-up

log = logging.getLogger(__name__)

FaceKind = Literal["gfpgan", "codeformer"]

# onnx.TensorProto's element types, as numbers so this module loads without onnx.
_FLOATS: dict[int, type[np.floating[Any]]] = {1: np.float32, 10: np.float16}  # FLOAT, FLOAT16
_SCALARS: dict[int, type[np.floating[Any]]] = {**_FLOATS, 11: np.float64}  # DOUBLE


@dataclass(frozen=True)
class FaceSignature:
    """What a face model file looks like to pixup."""

    kind: FaceKind
    """"gfpgan" (image only) or "codeformer" (image and fidelity weight)."""
    image_input: str
    """Name of the 1×3×512×512 image input."""
    image_dtype: type[np.floating[Any]]
    """float32 or float16, for both image input and output."""
    output: str
    """Name of the restored-image output."""
    weight_input: str | None
    """Name of the fidelity input (CodeFormer), else None."""
    weight_dtype: type[np.floating[Any]] | None
    """Its dtype: float32, float16 or float64."""
    weight_shape: tuple[int, ...]
    """Its shape: () or (1,)."""


def _dims(value: onnx.ValueInfoProto) -> list[int | None] | None:
    """Static sizes (None where symbolic); None when the value is not a tensor of known rank."""
    tensor = value.type.tensor_type
    if not value.type.HasField("tensor_type") or not tensor.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tensor.shape.dim]


def _shape_text(dims: list[int | None] | None) -> str:
    if dims is None:
        return "unknown shape"
    return "×".join("?" if d is None else str(d) for d in dims) if dims else "scalar"


def _is_image(dims: list[int | None] | None, *, fixed: bool) -> bool:
    """N×3×512×512 with N 1 or symbolic; spatial sizes must be static when `fixed`."""
    if dims is None or len(dims) != 4 or dims[0] not in (1, None) or dims[1] not in (3, None):
        return False
    return all(d == CROP_SIZE or (d is None and not fixed) for d in dims[2:])


def _signature(model: onnx.ModelProto, name: str) -> FaceSignature:
    """The face signature of `model`, or ModelError saying in one line why it has none."""
    graph = model.graph
    weights = {init.name for init in graph.initializer}
    inputs = [value for value in graph.input if value.name not in weights]  # old exports list weights
    images = [v for v in inputs if _dims(v) is not None and len(_dims(v) or []) == 4]
    if len(images) != 1:
        shapes = ", ".join(_shape_text(_dims(v)) for v in inputs) or "none"
        raise ModelError(f"{name}: not a face model: needs one 1×3×512×512 image input (has {shapes})")
    image = images[0]
    image_dims = _dims(image)
    if not _is_image(image_dims, fixed=True):
        raise ModelError(
            f"{name}: not a face model: its image input is {_shape_text(image_dims)}; "
            "face models take 1×3×512×512"
        )
    image_type = image.type.tensor_type.elem_type
    if image_type not in _FLOATS:
        raise ModelError(f"{name}: not a face model: its image input is not float32 or float16")
    outputs = [v for v in graph.output if _is_image(_dims(v), fixed=False)]
    if not outputs:
        shapes = ", ".join(_shape_text(_dims(v)) for v in graph.output) or "none"
        raise ModelError(f"{name}: not a face model: no 1×3×512×512 image output (outputs: {shapes})")
    if outputs[0].type.tensor_type.elem_type not in _FLOATS:
        raise ModelError(f"{name}: not a face model: its image output is not float32 or float16")
    others = [v for v in inputs if v is not image]
    if not others:
        return FaceSignature("gfpgan", image.name, _FLOATS[image_type], outputs[0].name, None, None, ())
    weight = others[0]
    weight_dims = _dims(weight)
    scalar = weight_dims is not None and len(weight_dims) <= 1 and all(d in (1, None) for d in weight_dims)
    weight_type = weight.type.tensor_type.elem_type
    if len(others) > 1 or not scalar or weight_type not in _SCALARS:
        extra = ", ".join(f"{v.name} ({_shape_text(_dims(v))})" for v in others)
        raise ModelError(
            f"{name}: not a face model: besides the image it takes {extra}; "
            "only a CodeFormer-style scalar fidelity weight is understood"
        )
    return FaceSignature(
        "codeformer",
        image.name,
        _FLOATS[image_type],
        outputs[0].name,
        weight.name,
        _SCALARS[weight_type],
        () if not weight_dims else (1,),
    )


def check_face_model(path: str | Path) -> FaceSignature:
    """The signature of the face model at `path`; ModelError with a one-line reason when the file is
    not ONNX or not a GFPGAN/CodeFormer-style model."""
    import onnx

    path = Path(path)
    try:
        # Only the graph is needed: external weights (large models) stay on disk.
        model = onnx.load(str(path), load_external_data=False)
    except FileNotFoundError:
        raise ModelError(f"{path.name}: no such file") from None
    except Exception as err:  # protobuf's DecodeError and friends
        raise ModelError(f"{path.name}: not an ONNX model ({type(err).__name__})") from None
    return _signature(model, path.name)


def face_model_kind(path: str | Path) -> FaceKind | None:
    """ "gfpgan" or "codeformer" when `path` is such a face model, else None (any reason)."""
    try:
        return check_face_model(path).kind
    except ModelError as err:
        log.debug("%s", err)
        return None


class FaceModel:
    """One face restoration model on an engine session: 512×512 RGB in, 512×512 RGB out."""

    kind: ClassVar[FaceKind]

    def __init__(self, session: GraphSession, signature: FaceSignature) -> None:
        if signature.kind != self.kind:
            raise ValueError(f"a {signature.kind} signature given to {type(self).__name__}")
        self.session = session
        self.signature = signature

    def restore(
        self, crop: npt.NDArray[np.uint8], cancel: CancelToken | None = None
    ) -> npt.NDArray[np.float32]:
        """The restored face for an aligned 512×512×3 uint8 RGB crop, as 512×512×3 float32 in [0, 1].

        Cancelling `cancel` aborts the inference and raises Cancelled; EngineError when it fails on
        every device left."""
        if crop.shape != (CROP_SIZE, CROP_SIZE, 3):
            raise ValueError(f"a face crop is 512×512×3; got {crop.shape}")
        tensor = (crop.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        feed = self._feed(tensor.astype(self.signature.image_dtype))
        try:
            (out,) = self.session.run(feed, [self.signature.output], cancel)
        except EngineError as err:  # the engine's line names the device, not which model failed
            raise EngineError(f"The face model failed: {err}") from None
        if out.shape != (1, 3, CROP_SIZE, CROP_SIZE):
            raise EngineError(f"The face model returned {out.shape}, not 1×3×512×512")
        face: npt.NDArray[np.float32] = np.clip(
            (out[0].astype(np.float32).transpose(1, 2, 0) + 1.0) * 0.5, 0, 1
        )
        return face

    @property
    def notices(self) -> list[str]:
        """User-visible lines about the model's session (providers skipped, fallbacks)."""
        return self.session.notices

    def _feed(self, image: np.ndarray) -> dict[str, np.ndarray]:
        return {self.signature.image_input: image}


class GfpganModel(FaceModel):
    """GFPGAN-style: the image is the only input."""

    kind = "gfpgan"


class CodeFormerModel(FaceModel):
    """CodeFormer-style: image plus fidelity weight w (0 = best looking, 1 = closest to the input)."""

    kind = "codeformer"

    def __init__(self, session: GraphSession, signature: FaceSignature, fidelity: float = 0.5) -> None:
        super().__init__(session, signature)
        if not 0.0 <= fidelity <= 1.0:
            raise ValueError(f"CodeFormer fidelity lies in [0, 1]; got {fidelity}")
        self.fidelity = fidelity

    def _feed(self, image: np.ndarray) -> dict[str, np.ndarray]:
        sig = self.signature
        assert sig.weight_input is not None and sig.weight_dtype is not None
        weight = np.full(sig.weight_shape, self.fidelity, dtype=sig.weight_dtype)
        return {sig.image_input: image, sig.weight_input: weight}


def load_face_model(
    path: str | Path,
    providers: Sequence[str] | None = ("CPUExecutionProvider",),
    *,
    precision: Precision = "fast",
    fidelity: float = 0.5,
) -> FaceModel:
    """A FaceModel for the file at `path`, its session opened by the engine on `providers` (ONNX
    Runtime's names, best first; None = the machine's plan) at `precision`, falling back along them.
    `fidelity` is used by CodeFormer-style models only. Raises ModelError when the file is not a
    face model or no provider can load it."""
    path = Path(path)
    signature = check_face_model(path)
    session = GraphSession.open(path, precision, providers, name=f"the face model {path.name}")
    log.info("face model %s (%s) on %s", path.name, signature.kind, session.choice.description)
    if signature.kind == "codeformer":
        return CodeFormerModel(session, signature, fidelity)
    return GfpganModel(session, signature)
