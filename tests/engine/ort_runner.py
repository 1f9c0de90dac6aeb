"""Test support for the tiling pipeline, plus references that never touch pixup's tiler.

- `Sessions` opens real, inspected `ModelSession`s (what most tests feed the pipeline).
- `OrtRunner`: a bare ONNX Runtime session with a hand-written ModelSpec, for tests where the spec
  must lie (errors the engine must report).
- `Recording` passes through to a real runner and records batch shapes.
- `OomAbove` wraps a real runner and raises OutOfMemory for tiles above a size (the one test double:
  it stands for a device that is out of memory, and still runs the real session below the limit).
- `whole_image`: the model run once on the whole image, the reference for tiling.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from pixup.engine.cancel import Cancelled, CancelToken
from pixup.engine.runner import InferenceRunner, OutOfMemory
from pixup.engine.session import ModelSession
from pixup.engine.spec import ModelSpec

BASE_SPEC = ModelSpec(
    input_name="input",
    output_name="output",
    dtype="float32",
    layout="NCHW",
    in_channels=3,
    out_channels=3,
    static_batch=None,
    fixed_height=None,
    fixed_width=None,
    multiple=1,
    min_size=1,
    border=0,
    scale=2.0,
)


def spec_for(**changes: Any) -> ModelSpec:
    """BASE_SPEC with `changes` (scale, channels, static dims ...)."""
    return replace(BASE_SPEC, **changes)


class OrtRunner:
    """A CPU InferenceSession for `model` fed per `spec` (float32/float16, NCHW/NHWC)."""

    def __init__(
        self,
        model: onnx.ModelProto,
        spec: ModelSpec,
        *,
        provider: str = "CPUExecutionProvider",
        successor: InferenceRunner | None = None,
    ) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self._spec = spec
        self._provider = provider
        self._successor = successor
        self.shapes: list[tuple[int, ...]] = []
        """Shape of every batch run, in order."""

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    @property
    def provider(self) -> str:
        return self._provider

    def run(self, batch: np.ndarray, token: CancelToken | None = None) -> np.ndarray:
        self.shapes.append(tuple(batch.shape))
        x = batch.transpose(0, 2, 3, 1) if self._spec.layout == "NHWC" else batch
        x = np.ascontiguousarray(x, dtype=np.float16 if self._spec.dtype == "float16" else np.float32)
        options = ort.RunOptions()
        handle = None
        if token is not None:
            handle = token.add_abort_hook(lambda: setattr(options, "terminate", True))
        try:
            out = self._session.run([self._spec.output_name], {self._spec.input_name: x}, options)[0]
        except Exception:
            if token is not None and token.cancelled:
                raise Cancelled() from None
            raise
        finally:
            if handle is not None and token is not None:
                token.remove_abort_hook(handle)
        if token is not None and token.cancelled:
            raise Cancelled()
        out = np.asarray(out, dtype=np.float32)
        return out.transpose(0, 3, 1, 2) if self._spec.layout == "NHWC" else out

    def fallback(self) -> InferenceRunner | None:
        return self._successor


class OomAbove:
    """Wraps a real runner; any batch whose tile side exceeds `limit` raises OutOfMemory, as a device
    that ran out of memory would. `fallback()` hands over to `successor`."""

    def __init__(
        self,
        inner: InferenceRunner,
        limit: int,
        *,
        provider: str = "FakeGPUExecutionProvider",
        successor: InferenceRunner | None = None,
    ) -> None:
        self._inner = inner
        self._limit = limit
        self._provider = provider
        self._successor = successor
        self.refused: list[tuple[int, ...]] = []

    @property
    def spec(self) -> ModelSpec:
        return self._inner.spec

    @property
    def provider(self) -> str:
        return self._provider

    def run(self, batch: np.ndarray, token: CancelToken | None = None) -> np.ndarray:
        if max(batch.shape[2:]) > self._limit:
            self.refused.append(tuple(batch.shape))
            raise OutOfMemory()
        return self._inner.run(batch, token)

    def fallback(self) -> InferenceRunner | None:
        return self._successor


# ---------------------------------------------------------------- references without the tiler


def to_float(pixels: np.ndarray) -> np.ndarray:
    """H×W×C uint8/uint16 → 1×C×H×W float32 in [0, 1]."""
    top = float(np.iinfo(pixels.dtype).max)
    return (pixels.astype(np.float32) / np.float32(top)).transpose(2, 0, 1)[None]


def to_uint(values: np.ndarray, dtype: type[np.unsignedinteger[Any]]) -> np.ndarray:
    """1×C×H×W float → H×W×C pixels, clipped and rounded."""
    top = float(np.iinfo(dtype).max)
    pixels: np.ndarray = np.rint(np.clip(values[0].transpose(1, 2, 0), 0.0, 1.0) * top).astype(dtype)
    return pixels


def whole_image(runner: InferenceRunner, pixels: np.ndarray, pad: int = 0) -> np.ndarray:
    """The model run once on the whole image (reflect-101 padded by `pad`, numpy's "reflect", then
    cropped; 0: as it is, the model's own zero padding at the edges): what tiling must reproduce when
    the receptive field fits in the tiles' context."""
    scale = runner.spec.scale
    height, width = pixels.shape[:2]
    padded = np.pad(pixels, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    out = runner.run(to_float(padded))
    top, left = round(pad * scale), round(pad * scale)
    oh, ow = int(np.floor(height * scale + 0.5)), int(np.floor(width * scale + 0.5))
    return to_uint(out[:, :, top : top + oh, left : left + ow], pixels.dtype.type)


def random_image(height: int, width: int, channels: int = 3, *, seed: int = 0, bits: int = 8) -> np.ndarray:
    """Smooth-ish random test image (noise plus gradients), H×W×C uint8 or uint16."""
    rng = np.random.default_rng(seed)
    dtype = np.uint8 if bits == 8 else np.uint16
    top = float(np.iinfo(dtype).max)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = 0.5 + 0.3 * np.sin(yy / 7.0)[..., None] * np.cos(xx / 5.0)[..., None]
    noise = rng.uniform(-0.2, 0.2, size=(height, width, channels))
    image: np.ndarray = np.rint(np.clip(base + noise, 0, 1) * top).astype(dtype)
    return image


def identity(channels: int = 3) -> onnx.ModelProto:
    """1× model that returns its input unchanged (Identity op)."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"])],
        "identity",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", channels, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", channels, "H", "W"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def dilated(radius: int, scale: int = 2, seed: int = 7) -> onnx.ModelProto:
    """×`scale` model whose receptive radius is exactly `radius` with no decay: one 3×3 conv dilated by
    `radius` (each output reads the pixels `radius` away at full weight), then DepthToSpace."""
    rng = np.random.default_rng(seed)
    out_ch = 3 * scale * scale
    w = rng.normal(0.0, 0.3, size=(out_ch, 3, 3, 3)).astype(np.float32)
    b = np.full(out_ch, 0.5, dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node(
                "Conv",
                ["input", "w", "b"],
                ["feat"],
                kernel_shape=[3, 3],
                dilations=[radius, radius],
                pads=[radius] * 4,
            ),
            helper.make_node("DepthToSpace", ["feat"], ["output"], blocksize=scale, mode="CRD"),
        ],
        "dilated",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, None, None])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# ---------------------------------------------------------------- the real ModelSession


class Sessions:
    """Opens real `ModelSession`s (inspected, not hand-described) on one provider, warms each up so
    its inference thread exists before a test counts threads, and closes them all at the end."""

    def __init__(self, folder: Path, provider: str = "CPUExecutionProvider") -> None:
        self._folder = folder
        self._provider = provider
        self._open: list[ModelSession] = []

    def __call__(self, model: onnx.ModelProto, *, provider: str | None = None) -> ModelSession:
        path = self._folder / f"{model.graph.name}-{len(self._open)}.onnx"
        onnx.save(model, str(path))
        session = ModelSession.open(path, "exact", providers=[provider or self._provider])
        spec = session.spec
        side = max(spec.min_size, 8)
        side += -side % spec.multiple
        warm = np.zeros(
            (spec.static_batch or 1, spec.in_channels, spec.fixed_height or side, spec.fixed_width or side),
            dtype=np.float32,
        )
        session.run(warm)
        self._open.append(session)
        return session

    def close(self) -> None:
        for session in self._open:
            session.close()
        self._open.clear()


class Recording:
    """Passes everything through to a real runner and records the batch shapes it was given."""

    def __init__(self, inner: InferenceRunner) -> None:
        self._inner = inner
        self.shapes: list[tuple[int, ...]] = []

    @property
    def spec(self) -> ModelSpec:
        return self._inner.spec

    @property
    def provider(self) -> str:
        return self._inner.provider

    def run(self, batch: np.ndarray, token: CancelToken | None = None) -> np.ndarray:
        self.shapes.append(tuple(batch.shape))
        return self._inner.run(batch, token)

    def fallback(self) -> InferenceRunner | None:
        return self._inner.fallback()


def max_diff_inside(a: np.ndarray, b: np.ndarray, margin: int) -> int:
    """`max_diff` away from the image's edges (`margin` output pixels on each side left out): where a
    tile must read past the image (mirrored slack up to a fixed or multiple-of size) the output
    differs from a whole-image run within the receptive field of the edge."""
    return max_diff(a[margin:-margin, margin:-margin], b[margin:-margin, margin:-margin])


def max_diff(a: np.ndarray, b: np.ndarray) -> int:
    """Largest absolute difference between two images of the same shape and dtype."""
    assert a.shape == b.shape and a.dtype == b.dtype
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max())
