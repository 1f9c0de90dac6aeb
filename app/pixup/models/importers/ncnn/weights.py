"""Read weights from an ncnn `.bin`, in the order the layers ask for them.

The `.bin` has no index: each layer, in `.param` order, reads its arrays one after another
(ncnn's ModelBinFromDataReader). Two kinds of read exist:

- tagged (`load(n, 0)`, weight tensors): a 4-byte tag first —
  0x01306B47 fp16 (data padded to 4 bytes), 0x0002C056 fp32, 0x000D4B38 int8 (unsupported),
  0 raw fp32, any other tag a 256-entry fp32 table followed by uint8 indices (padded to 4 bytes);
- raw (`load(n, 1)`, biases, slopes, scales): n fp32 values, no tag.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from pixup.errors import ModelError

TAG_FP16 = 0x01306B47
TAG_FP32 = 0x0002C056
TAG_INT8 = 0x000D4B38

F32Array = npt.NDArray[np.float32]


def _align4(n: int) -> int:
    return (n + 3) & ~3


class WeightReader:
    """Sequential reader over the bytes of a `.bin` file."""

    def __init__(self, data: bytes, source: str = "<bin>") -> None:
        self._data = memoryview(data)
        self._offset = 0
        self.source = source

    @classmethod
    def open(cls, path: Path) -> WeightReader:
        try:
            return cls(path.read_bytes(), path.name)
        except OSError as exc:
            raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None

    @property
    def offset(self) -> int:
        return self._offset

    @property
    def remaining(self) -> int:
        return len(self._data) - self._offset

    def _take(self, nbytes: int, what: str) -> memoryview:
        if nbytes > self.remaining:
            raise ModelError(
                f"{self.source} is too short: {what} needs {nbytes} bytes at offset {self._offset}, "
                f"{self.remaining} left (the .bin does not match the .param)"
            )
        chunk = self._data[self._offset : self._offset + nbytes]
        self._offset += nbytes
        return chunk

    def read_raw(self, count: int, what: str = "weights") -> F32Array:
        """`count` untagged little-endian fp32 values (ncnn's load(count, 1))."""
        chunk = self._take(4 * count, what)
        return np.frombuffer(chunk, dtype="<f4").astype(np.float32)

    def read_tagged(self, count: int, what: str = "weights") -> F32Array:
        """`count` values behind a storage tag (ncnn's load(count, 0)), as fp32."""
        tag = int.from_bytes(bytes(self._take(4, what)), "little")
        if tag == TAG_FP16:
            chunk = self._take(_align4(2 * count), what)
            return np.frombuffer(chunk[: 2 * count], dtype="<f2").astype(np.float32)
        if tag == TAG_INT8:
            raise ModelError(f"{self.source}: int8-quantized weights ({what}) are not supported")
        if tag in (TAG_FP32, 0):
            return self.read_raw(count, what)
        # Any other non-zero tag: a 256-entry lookup table then one uint8 index per value.
        table = self.read_raw(256, what)
        indices = np.frombuffer(self._take(_align4(count), what)[:count], dtype=np.uint8)
        return table[indices]
