"""ncnn → ONNX importer: numpy and onnx only (no PyTorch, no ncnn at runtime).

`convert_ncnn(param_path, bin_path)` reads an ncnn `.param`/`.bin` pair and returns an ONNX model
with one float32 NCHW input named "input" and one output named "output".

The converter (and onnx with it) loads on first use of `convert_ncnn`/`ncnn_io_blobs`: importing the
package for CONVERTER_VERSION, as the model cache does on every lookup, stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixup.models.importers.ncnn.version import CONVERTER_VERSION

if TYPE_CHECKING:
    from pixup.models.importers.ncnn.convert import convert_ncnn, ncnn_io_blobs

__all__ = ["CONVERTER_VERSION", "convert_ncnn", "ncnn_io_blobs"]


def __getattr__(name: str) -> object:
    if name in ("convert_ncnn", "ncnn_io_blobs"):
        from pixup.models.importers.ncnn import convert

        return getattr(convert, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
