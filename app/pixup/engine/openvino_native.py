"""OpenVINO on the CPU through its own C API, so that a cancel stops the computation.

ONNX Runtime's OpenVINO provider ignores `RunOptions.terminate`: a cancelled tile kept the CPU busy
until it finished (up to ~3 s for a 512² tile on two cores), delaying the next job. OpenVINO's own
infer request can be cancelled: its CPU plugin checks between graph nodes, so the abandoned work
is one node (tens of milliseconds). The OpenVINO runtime is the one the `onnxruntime-openvino` wheel
bundles (libopenvino_c.so beside libopenvino.so), reached with ctypes: no second copy, no new
dependency. The model is read by OpenVINO's ONNX front end, the same one the provider uses, so the
numbers are the provider's.

Only what pixup needs: read an ONNX file, compile it for the CPU with the provider's properties,
run one input tensor to one output tensor, cancel. Anything that fails here makes the caller use
the ONNX Runtime provider instead.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_OK = 0
_RESULT_NOT_READY = -9  # ov_status_e: wait_for timed out, still running
_INFER_CANCELLED = -13  # ov_status_e INFER_CANCELLED
_WAIT_SLICE_MS = 50  # wait_for in slices: the worker thread stays responsive to interpreter exit
_LIBRARY_NAMES = ("libopenvino_c.so.*", "libopenvino_c.so", "openvino_c.dll", "libopenvino_c.dylib")

_P = ctypes.c_void_p


class _Shape(ctypes.Structure):
    _fields_ = [("rank", ctypes.c_int64), ("dims", ctypes.POINTER(ctypes.c_int64))]


class OpenVinoError(Exception):
    """A C API call failed; the message is OpenVINO's."""


class InferCancelled(Exception):
    """The inference was cancelled before it finished."""


_library: ctypes.CDLL | None = None
_library_tried = False
_library_lock = threading.Lock()


def _find_library() -> Path | None:
    """libopenvino_c from the onnxruntime-openvino wheel (it sits beside the provider library)."""
    try:
        import onnxruntime
    except ImportError:
        return None
    folder = Path(onnxruntime.__file__).parent / "capi"
    for pattern in _LIBRARY_NAMES:
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    return None


def library() -> ctypes.CDLL | None:
    """The OpenVINO C library, loaded once; None where this onnxruntime build has none."""
    global _library, _library_tried
    with _library_lock:
        if not _library_tried:
            _library_tried = True
            path = _find_library()
            if path is not None:
                try:
                    _library = _declare(ctypes.CDLL(str(path)))
                except (OSError, AttributeError) as err:  # a build without the C API symbols
                    log.info("OpenVINO C API not usable (%s): %s", path, err)
        return _library


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    signatures: dict[str, list[type]] = {
        "ov_core_create": [ctypes.POINTER(_P)],
        "ov_core_read_model": [_P, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(_P)],
        "ov_compiled_model_create_infer_request": [_P, ctypes.POINTER(_P)],
        "ov_model_const_input_by_index": [_P, ctypes.c_size_t, ctypes.POINTER(_P)],
        "ov_port_get_element_type": [_P, ctypes.POINTER(ctypes.c_int)],
        "ov_shape_create": [ctypes.c_int64, ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(_Shape)],
        "ov_shape_free": [ctypes.POINTER(_Shape)],
        "ov_tensor_create_from_host_ptr": [ctypes.c_int, _Shape, _P, ctypes.POINTER(_P)],
        "ov_tensor_get_shape": [_P, ctypes.POINTER(_Shape)],
        "ov_tensor_get_byte_size": [_P, ctypes.POINTER(ctypes.c_size_t)],
        "ov_tensor_get_size": [_P, ctypes.POINTER(ctypes.c_size_t)],
        "ov_tensor_data": [_P, ctypes.POINTER(_P)],
        "ov_infer_request_set_tensor": [_P, ctypes.c_char_p, _P],
        "ov_infer_request_get_tensor": [_P, ctypes.c_char_p, ctypes.POINTER(_P)],
        "ov_infer_request_start_async": [_P],
        "ov_infer_request_wait_for": [_P, ctypes.c_int64],
        "ov_infer_request_cancel": [_P],
    }
    for name, args in signatures.items():
        function = getattr(lib, name)
        function.argtypes = args
        function.restype = ctypes.c_int
    for name in ("ov_core_free", "ov_model_free", "ov_compiled_model_free", "ov_infer_request_free",
                 "ov_tensor_free", "ov_output_const_port_free"):
        getattr(lib, name).argtypes = [_P]
        getattr(lib, name).restype = None
    lib.ov_get_last_err_msg.argtypes = []
    lib.ov_get_last_err_msg.restype = ctypes.c_char_p
    # ov_core_compile_model is variadic (key, value, ...): argtypes stay unset, arguments are cast.
    lib.ov_core_compile_model.restype = ctypes.c_int
    return lib


def _check(lib: ctypes.CDLL, status: int, what: str) -> None:
    if status == _OK:
        return
    if status == _INFER_CANCELLED:
        raise InferCancelled()
    detail = lib.ov_get_last_err_msg() or b""
    lines = [line.strip() for line in detail.decode("utf-8", "replace").splitlines() if line.strip()]
    # OpenVINO's messages are multi-line (location, then cause): keep one line, the one about
    # memory when there is one (the engine retries smaller tiles on it), else the last.
    memory = [line for line in lines if "alloc" in line.lower() or "memory" in line.lower()]
    line = (memory or lines or [f"status {status}"])[-1]
    raise OpenVinoError(f"{what}: {line}")


class CompiledOpenVino:
    """One ONNX model compiled for OpenVINO CPU with one infer request.

    `infer` is for one thread at a time (the session's inference worker); `cancel` may be called
    from any thread and makes the running `infer` raise InferCancelled within one graph node."""

    def __init__(self, lib: ctypes.CDLL, model_path: Path, properties: Mapping[str, str],
                 input_name: str, output_name: str,
                 other_shape: Callable[[tuple[int, ...]], tuple[int, ...]] | None = None) -> None:
        """`other_shape(shape)`: a small input shape the model accepts, different from `shape`
        (None for a fixed-shape model); used to resync the graph after a cancel."""
        self._lib = lib
        self._other_shape = other_shape
        self._after_cancel = False
        self._last_shape: tuple[int, ...] | None = None
        self._input = input_name.encode()
        self._output = output_name.encode()
        self._core, self._model, self._compiled, self._request = _P(), _P(), _P(), _P()
        self._lock = threading.Lock()  # guards close against cancel
        self._element_type = ctypes.c_int()
        try:
            _check(lib, lib.ov_core_create(ctypes.byref(self._core)), "OpenVINO core")
            _check(lib, lib.ov_core_read_model(self._core, str(model_path).encode(), None,
                                               ctypes.byref(self._model)), "read model")
            port = _P()
            _check(lib, lib.ov_model_const_input_by_index(self._model, 0, ctypes.byref(port)), "input port")
            try:
                element = ctypes.byref(self._element_type)
                _check(lib, lib.ov_port_get_element_type(port, element), "input type")
            finally:
                lib.ov_output_const_port_free(port)
            pairs: list[ctypes.c_char_p] = []
            for key, value in properties.items():
                pairs += [ctypes.c_char_p(key.encode()), ctypes.c_char_p(value.encode())]
            _check(lib, lib.ov_core_compile_model(self._core, self._model, ctypes.c_char_p(b"CPU"),
                                                  ctypes.c_size_t(len(pairs)), ctypes.byref(self._compiled),
                                                  *pairs), "compile model")
            request = ctypes.byref(self._request)
            _check(lib, lib.ov_compiled_model_create_infer_request(self._compiled, request), "infer request")
        except BaseException:
            self.close()
            raise

    def infer(self, feed: np.ndarray, stop: Callable[[], bool] | None = None) -> np.ndarray:
        """Run `feed` (C-contiguous, the model's input dtype); returns a copy of the output.
        `stop` is polled while it runs (a cancel that came before the start is not lost)."""
        feed = np.ascontiguousarray(feed)
        if self._after_cancel:
            self._after_cancel = False
            if feed.shape == self._last_shape and self._other_shape is not None:
                # The CPU plugin skips shape inference when the input has the shape of the last
                # finished run, but a cancelled run of another shape has already resized its
                # buffers: the result came back at the cancelled size (tests/engine/test_session.py).
                # A tiny run at a third shape puts the graph back in step.
                self._run(np.zeros(self._other_shape(feed.shape), dtype=feed.dtype), stop)
        result = self._run(feed, stop)
        self._last_shape = feed.shape
        return result

    def _run(self, feed: np.ndarray, stop: Callable[[], bool] | None) -> np.ndarray:
        lib = self._lib
        if stop is not None and stop():  # stopped before it started: run nothing
            raise InferCancelled()
        dims = (ctypes.c_int64 * feed.ndim)(*feed.shape)
        shape = _Shape()
        _check(lib, lib.ov_shape_create(feed.ndim, dims, ctypes.byref(shape)), "input shape")
        tensor = _P()
        try:
            _check(lib, lib.ov_tensor_create_from_host_ptr(self._element_type.value, shape, feed.ctypes.data,
                                                           ctypes.byref(tensor)), "input tensor")
        finally:
            lib.ov_shape_free(ctypes.byref(shape))
        try:
            _check(lib, lib.ov_infer_request_set_tensor(self._request, self._input, tensor), "set input")
            _check(lib, lib.ov_infer_request_start_async(self._request), "start inference")
            stopping = False
            while True:
                status = lib.ov_infer_request_wait_for(self._request, _WAIT_SLICE_MS)
                if status == _OK:
                    break
                if status != _RESULT_NOT_READY:  # cancelled or failed
                    _check(lib, status, "inference")
                if not stopping and stop is not None and stop():
                    stopping = True
                    lib.ov_infer_request_cancel(self._request)
            return self._read_output(feed.dtype)
        except InferCancelled:
            self._after_cancel = True
            raise
        finally:
            lib.ov_tensor_free(tensor)  # the request keeps no reference to `feed` past this call

    def _read_output(self, dtype: np.dtype) -> np.ndarray:
        lib = self._lib
        out = _P()
        _check(lib, lib.ov_infer_request_get_tensor(self._request, self._output, ctypes.byref(out)), "output")
        try:
            shape = _Shape()
            _check(lib, lib.ov_tensor_get_shape(out, ctypes.byref(shape)), "output shape")
            try:
                dims = tuple(int(shape.dims[i]) for i in range(shape.rank))
            finally:
                lib.ov_shape_free(ctypes.byref(shape))
            size, nbytes, data = ctypes.c_size_t(), ctypes.c_size_t(), _P()
            _check(lib, lib.ov_tensor_get_size(out, ctypes.byref(size)), "output size")
            _check(lib, lib.ov_tensor_get_byte_size(out, ctypes.byref(nbytes)), "output bytes")
            _check(lib, lib.ov_tensor_data(out, ctypes.byref(data)), "output data")
            itemsize = nbytes.value // max(1, size.value)
            out_dtype = {4: np.float32, 2: np.float16}.get(itemsize)
            if out_dtype is None or data.value is None:
                raise OpenVinoError(f"unexpected output element size {itemsize}")
            view = np.ctypeslib.as_array((ctypes.c_char * nbytes.value).from_address(data.value))
            return view.view(out_dtype).reshape(dims).copy()
        finally:
            lib.ov_tensor_free(out)

    def cancel(self) -> None:
        """Stop the running inference (no-op when none runs)."""
        with self._lock:
            if self._request:
                self._lib.ov_infer_request_cancel(self._request)

    def close(self) -> None:
        lib = self._lib
        with self._lock:
            for handle, free in ((self._request, lib.ov_infer_request_free),
                                 (self._compiled, lib.ov_compiled_model_free),
                                 (self._model, lib.ov_model_free), (self._core, lib.ov_core_free)):
                if handle:
                    free(handle)
            self._core, self._model, self._compiled, self._request = _P(), _P(), _P(), _P()


def cpu_properties(options: Mapping[str, str], threads: int | None) -> dict[str, str]:
    """OpenVINO CPU properties equivalent to the provider options pixup gives ONNX Runtime:
    threads, the load_config precision hint, the compiled-model cache folder; one stream and
    the latency hint as the provider sets them."""
    import json

    properties = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1"}
    count = options.get("num_of_threads") or (str(threads) if threads else None)
    if count:
        properties["INFERENCE_NUM_THREADS"] = str(count)
    load_config = options.get("load_config")
    if load_config:
        for key, value in json.loads(load_config).get("CPU", {}).items():
            properties[str(key)] = str(value)
    cache = options.get("cache_dir")
    if cache:
        properties["CACHE_DIR"] = str(cache)
    return properties
