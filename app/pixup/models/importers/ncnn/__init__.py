"""ncnn → ONNX importer: numpy and onnx only (no PyTorch, no ncnn at runtime).

`convert_ncnn(param_path, bin_path)` reads an ncnn `.param`/`.bin` pair and returns an ONNX model
with one float32 NCHW input named "input" and one output named "output".
"""

from pixup.models.importers.ncnn.convert import CONVERTER_VERSION, convert_ncnn, ncnn_io_blobs

__all__ = ["CONVERTER_VERSION", "convert_ncnn", "ncnn_io_blobs"]
