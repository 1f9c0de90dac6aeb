"""The ONNX graph being built, and how ncnn blobs map onto its tensors.

ncnn blobs have no batch axis: an image blob is 3-D (c, h, w), a vector (e.g. after global pooling
or InnerProduct) is 1-D (w). In ONNX every blob becomes a 4-D NCHW tensor: 3-D blobs as
[N, C, H, W], 1-D blobs as [N, C, 1, 1]. The second form broadcasts against images exactly the way
ncnn broadcasts a 1-D blob per channel, so element-wise ops need no reshapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from pixup.errors import ModelError
from pixup.models.importers.ncnn.param import ParamLayer

IMAGE_RANK = 3
VECTOR_RANK = 1


@dataclass(frozen=True)
class Blob:
    """An ncnn blob as it exists in the ONNX graph."""

    tensor: str
    """ONNX tensor name (always 4-D NCHW)."""
    rank: int
    """ncnn dims of the blob: 3 (c, h, w) or 1 (w, stored as [N, w, 1, 1])."""


class GraphBuilder:
    """Collects nodes and initializers; tracks which tensor holds each ncnn blob."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._blobs: dict[str, Blob] = {}
        self._used_names: set[str] = set()
        self._counter = 0

    # -- blobs ---------------------------------------------------------------------------------
    def blob(self, name: str, layer: ParamLayer) -> Blob:
        try:
            return self._blobs[name]
        except KeyError:
            raise ModelError(
                f"ncnn {layer.describe()} reads blob {name!r}, which no layer produced"
            ) from None

    def inputs(self, layer: ParamLayer, count: int | None = None) -> list[Blob]:
        """The layer's input blobs, checking how many it has when `count` is given."""
        if count is not None and len(layer.bottoms) != count:
            raise ModelError(f"ncnn {layer.describe()} has {len(layer.bottoms)} inputs, expected {count}")
        return [self.blob(name, layer) for name in layer.bottoms]

    def set_blob(self, name: str, blob: Blob) -> None:
        self._blobs[name] = blob
        self._used_names.add(blob.tensor)

    # -- naming --------------------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        """A tensor/node name not used before (intermediate tensors live under '_pixup/')."""
        while True:
            self._counter += 1
            name = f"_pixup/{hint}_{self._counter}"
            if name not in self._used_names:
                self._used_names.add(name)
                return name

    # -- building ------------------------------------------------------------------------------
    def const(self, value: npt.ArrayLike, hint: str, dtype: npt.DTypeLike = np.float32) -> str:
        name = self.fresh(hint)
        array = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def const_i64(self, values: Sequence[int], hint: str) -> str:
        return self.const(list(values), hint, np.int64)

    def node(
        self,
        op_type: str,
        inputs: Sequence[str],
        hint: str,
        outputs: int = 1,
        **attrs: Any,
    ) -> list[str]:
        """Append a node; returns the names of its (fresh) outputs."""
        out_names = [self.fresh(f"{hint}_{op_type}") for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), out_names, name=self.fresh(hint), **attrs))
        return out_names

    def op(self, op_type: str, inputs: Sequence[str], hint: str, **attrs: Any) -> str:
        """Append a single-output node and return its output name."""
        return self.node(op_type, inputs, hint, 1, **attrs)[0]

    def shape(self, tensor: str, hint: str, start: int = 2, end: int = 4) -> str:
        """int64 [end - start] tensor: dims start..end of `tensor`'s runtime shape (default H, W)."""
        return self.op("Shape", [tensor], hint, start=start, end=end)
