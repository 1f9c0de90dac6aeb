"""Run an ncnn net with the reference runtime (PyPI `ncnn`, fp32 on CPU) and its ONNX conversion
with ONNX Runtime, so tests can compare the two."""

from __future__ import annotations

import struct
from pathlib import Path

import ncnn
import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort

from pixup.models.importers.ncnn.convert import ncnn_io_blobs
from pixup.models.importers.ncnn.param import read_param

F32 = npt.NDArray[np.float32]

TAG_FP16 = 0x01306B47
TAG_FP32 = 0x0002C056


def run_ncnn(param: Path, bin_path: Path, image: F32) -> F32:
    """`image` is one CHW float32 image; returns the output blob as CHW float32."""
    return run_ncnn_all(param, bin_path, [image])[0]


def run_ncnn_all(param: Path, bin_path: Path, images: list[F32]) -> list[F32]:
    """Like run_ncnn for several images, loading the net once."""
    in_blob, out_blob = ncnn_io_blobs(read_param(param))
    net = ncnn.Net()
    opt = net.opt
    opt.use_vulkan_compute = False
    opt.use_fp16_packed = False
    opt.use_fp16_storage = False
    opt.use_fp16_arithmetic = False
    opt.use_bf16_storage = False
    opt.num_threads = 2
    # No Winograd: its transforms add rounding noise of their own (im2col + sgemm is fine).
    opt.use_winograd_convolution = False
    assert net.load_param(str(param)) == 0
    assert net.load_model(str(bin_path)) == 0
    results = [_extract(net, in_blob, out_blob, image) for image in images]
    net.clear()
    return [r[None] if r.ndim == 2 else r for r in results]  # ncnn drops a single channel's axis


def _extract(net: ncnn.Net, in_blob: str, out_blob: str, image: F32) -> F32:
    # Every Mat must be gone before the net is cleared, or ncnn's pool allocator aborts.
    ex = net.create_extractor()
    data = np.ascontiguousarray(image, dtype=np.float32)
    # A Mat that owns its memory: in-place layers on a Mat wrapping numpy memory segfault in ncnn.
    assert ex.input(in_blob, ncnn.Mat(data).clone()) == 0
    ret, out = ex.extract(out_blob)
    assert ret == 0, f"ncnn extract failed ({ret})"
    result = np.array(out, dtype=np.float32, copy=True)
    del out, ex
    return result


def ort_session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # Basic optimisations only: the test is about the converted graph, not ORT's fusions (and full
    # optimisation of x4plus's 1000 nodes costs seconds per session).
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def run_onnx(model: onnx.ModelProto | ort.InferenceSession, image: F32) -> F32:
    """`image` is one CHW image; the converted graph gets it as a batch of one."""
    session = model if isinstance(model, ort.InferenceSession) else ort_session(model)
    (out,) = session.run(["output"], {"input": image[None].astype(np.float32)})
    result: F32 = out[0]
    return result


def random_image(channels: int, height: int, width: int, seed: int = 0) -> F32:
    return np.random.default_rng(seed).random((channels, height, width), dtype=np.float32)


def smooth_image(channels: int, height: int, width: int, seed: int = 0) -> F32:
    """Random in [0, 1] but low-frequency, like a photo: noise at 1/4 size, upsampled, box-blurred.

    Some models (Real-CUGAN Pro) blow white noise up to activations in the hundreds, where float32
    summation order alone moves outputs by 1e-2; image-like inputs keep them in their trained range.
    """
    small = np.random.default_rng(seed).random((channels, height // 4 + 2, width // 4 + 2), dtype=np.float32)
    big = small.repeat(4, axis=1).repeat(4, axis=2)
    kernel = np.ones(4, np.float32) / 4
    blur_rows = np.apply_along_axis(np.convolve, 1, big, kernel, mode="valid")
    blurred = np.apply_along_axis(np.convolve, 2, blur_rows, kernel, mode="valid")
    return np.ascontiguousarray(blurred[:, :height, :width], dtype=np.float32)


class BinWriter:
    """Builds an ncnn `.bin` the way ncnn's tools write it."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def tagged_fp32(self, values: npt.ArrayLike, tag: int = TAG_FP32) -> BinWriter:
        self.chunks.append(struct.pack("<I", tag) + np.asarray(values, "<f4").tobytes())
        return self

    def tagged_fp16(self, values: npt.ArrayLike) -> BinWriter:
        data = np.asarray(values, "<f2").tobytes()
        data += b"\0" * (-len(data) % 4)
        self.chunks.append(struct.pack("<I", TAG_FP16) + data)
        return self

    def tagged_table(self, table: npt.ArrayLike, indices: npt.ArrayLike) -> BinWriter:
        idx = np.asarray(indices, np.uint8).tobytes()
        idx += b"\0" * (-len(idx) % 4)
        self.chunks.append(struct.pack("<I", 0x00010203) + np.asarray(table, "<f4").tobytes() + idx)
        return self

    def raw(self, values: npt.ArrayLike) -> BinWriter:
        self.chunks.append(np.asarray(values, "<f4").tobytes())
        return self

    def write(self, path: Path) -> Path:
        path.write_bytes(b"".join(self.chunks))
        return path


def write_param(path: Path, layers: list[str]) -> Path:
    """Write a `.param` from layer lines; the blob count is derived from them."""
    blobs: set[str] = set()
    for line in layers:
        tokens = line.split()
        n_bottom, n_top = int(tokens[2]), int(tokens[3])
        blobs.update(tokens[4 : 4 + n_bottom + n_top])
    path.write_text(f"7767517\n{len(layers)} {len(blobs)}\n" + "\n".join(layers) + "\n")
    return path
