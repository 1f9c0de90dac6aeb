"""Lossy WebP for big images through libwebp's own API, in bounded memory.

Pillow's WebP encode copies the pixels into its own 4-bytes-per-pixel image (192 MB for an
8000×6000 upscale), hands libwebp an ARGB picture made from that (another 192 MB), and libwebp then
converts it to YUV 4:2:0 (72 MB). Here the YUV(A) planes are allocated by libwebp
(`WebPPictureAlloc`) and filled from pixup's array a band of rows at a time, with libwebp's own
RGB→YUV arithmetic (`ImportYUVAFromRGBA` in src/enc/picture_csp_enc.c: BT.601 limited range, chroma
averaged over 2×2 blocks in a gamma-0.8 domain, alpha-weighted where partly transparent), so the
encoder sees the planes it would have made itself and the file decodes to what Pillow's encode
gives. The library is the libwebp Pillow bundles (or, failing that, the system's), called through
ctypes: no new dependency. The compressed stream (a few MB) is collected in memory and wrapped in a
RIFF/VP8X container with the ICCP, EXIF and XMP chunks Pillow's encode writes.

`library()` is None when no usable libwebp is found; callers then use Pillow.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import re
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from pixup.errors import ImageWriteError
from pixup.imaging.metadata import EXIF_HEADER

__all__ = ["MAX_DIMENSION", "WebPUnavailable", "library", "write_webp_bands"]

log = logging.getLogger(__name__)

MAX_DIMENSION = 16383
"""WEBP_MAX_DIMENSION: the most pixels per side a WebP holds."""
_BAND_PIXELS = 1 << 16
"""Source pixels per band: the conversion's temporaries stay about 3 MB (8 rows of an 8000 px image)."""
_WEBP_YUV420, _WEBP_YUV420A = 0, 4
_PRESET_DEFAULT = 0
_ALPHA_FLAG, _ICC_FLAG, _EXIF_FLAG, _XMP_FLAG = 0x10, 0x20, 0x08, 0x04
_RIFF_MAX = 0xFFFFFFFF - 1

_ERRORS = {
    1: "out of memory",
    2: "out of memory while writing the bitstream",
    3: "a parameter is missing",
    4: "invalid configuration",
    5: "the image size exceeds WebP's limit",
    6: "the first partition is bigger than 512 KB",
    7: "a partition is bigger than 16 MB",
    8: "the output could not be written",
    9: "the file would be bigger than 4 GB",
    10: "aborted",
}


class WebPUnavailable(Exception):
    """No usable libwebp: nothing has been written; the caller should use Pillow."""


# ----------------------------------------------------------------------------------- libwebp's ABI
# The layouts of WebPConfig and WebPPicture in src/webp/encode.h, encoder ABI 0x020e-0x0210
# (libwebp 1.0-1.6): the same size and offsets throughout (1.2 renamed two pads of WebPConfig to
# qmin/qmax and 1.5 changed only WebPAuxStats, which is not used here).


class _Config(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_float if name in ("quality", "target_PSNR") else ctypes.c_int)
        for name in (
            "lossless", "quality", "method", "image_hint", "target_size", "target_PSNR", "segments",
            "sns_strength", "filter_strength", "filter_sharpness", "filter_type", "autofilter",
            "alpha_compression", "alpha_filtering", "alpha_quality", "pass_", "show_compressed",
            "preprocessing", "partitions", "partition_limit", "emulate_jpeg_size", "thread_level",
            "low_memory", "near_lossless", "exact", "use_delta_palette", "use_sharp_yuv", "qmin", "qmax",
        )
    ]


class _Picture(ctypes.Structure):
    pass


_WRITER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t,
                           ctypes.POINTER(_Picture))
_Bytes = ctypes.POINTER(ctypes.c_uint8)
_Picture._fields_ = [
    ("use_argb", ctypes.c_int),
    ("colorspace", ctypes.c_int),
    ("width", ctypes.c_int),
    ("height", ctypes.c_int),
    ("y", _Bytes),
    ("u", _Bytes),
    ("v", _Bytes),
    ("y_stride", ctypes.c_int),
    ("uv_stride", ctypes.c_int),
    ("a", _Bytes),
    ("a_stride", ctypes.c_int),
    ("pad1", ctypes.c_uint32 * 2),
    ("argb", ctypes.POINTER(ctypes.c_uint32)),
    ("argb_stride", ctypes.c_int),
    ("pad2", ctypes.c_uint32 * 3),
    ("writer", _WRITER),
    ("custom_ptr", ctypes.c_void_p),
    ("extra_info_type", ctypes.c_int),
    ("extra_info", _Bytes),
    ("stats", ctypes.c_void_p),
    ("error_code", ctypes.c_int),
    ("progress_hook", ctypes.c_void_p),
    ("user_data", ctypes.c_void_p),
    ("pad3", ctypes.c_uint32 * 3),
    ("pad4", _Bytes),
    ("pad5", _Bytes),
    ("pad6", ctypes.c_uint32 * 8),
    ("memory_", ctypes.c_void_p),
    ("memory_argb_", ctypes.c_void_p),
    ("pad7", ctypes.c_void_p * 2),
]

_GUARD = 64
"""Bytes past each struct that must survive libwebp's initialisation: the layout check."""


class _Lib:
    """A loaded libwebp whose version and struct layouts have been checked."""

    def __init__(self, handle: ctypes.CDLL, path: str) -> None:
        self.path = path
        version = int(handle.WebPGetEncoderVersion())
        self.version = f"{version >> 16}.{(version >> 8) & 0xFF}.{version & 0xFF}"
        if version >> 16 != 1:
            raise WebPUnavailable(f"libwebp {self.version} has an unknown encoder ABI")
        # The WEBP_ENCODER_ABI_VERSION of that release's encode.h (only the major byte is checked).
        self.abi = 0x0210 if version >= 0x010500 else 0x020F if version >= 0x010100 else 0x020E
        handle.WebPConfigInitInternal.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_float, ctypes.c_int]
        handle.WebPValidateConfig.argtypes = [ctypes.c_void_p]
        handle.WebPPictureInitInternal.argtypes = [ctypes.c_void_p, ctypes.c_int]
        for name in ("WebPPictureAlloc", "WebPPictureFree"):
            getattr(handle, name).argtypes = [ctypes.POINTER(_Picture)]
        handle.WebPPictureFree.restype = None
        handle.WebPEncode.argtypes = [ctypes.POINTER(_Config), ctypes.POINTER(_Picture)]
        self.handle = handle
        self._check_layouts()

    def _check_layouts(self) -> None:
        """Initialise each struct inside a larger buffer full of a marker byte: libwebp must write
        exactly our struct's bytes (no more) and put the documented defaults at our offsets."""
        size = ctypes.sizeof(_Config)
        buffer = ctypes.create_string_buffer(b"\xa5" * (size + _GUARD), size + _GUARD)
        if not self.handle.WebPConfigInitInternal(buffer, _PRESET_DEFAULT, 75.0, self.abi):
            raise WebPUnavailable(f"libwebp {self.version} refused WebPConfig ABI {self.abi:#06x}")
        config = _Config.from_buffer(buffer)
        expected = {"lossless": 0, "quality": 75.0, "method": 4, "segments": 4, "sns_strength": 50,
                    "filter_strength": 60, "alpha_compression": 1, "alpha_quality": 100, "pass_": 1,
                    "exact": 0, "use_sharp_yuv": 0}
        wrong = [name for name, value in expected.items() if getattr(config, name) != value]
        if wrong or buffer.raw[size:] != b"\xa5" * _GUARD:
            raise WebPUnavailable(f"libwebp {self.version}: WebPConfig does not have the expected layout")
        size = ctypes.sizeof(_Picture)
        buffer = ctypes.create_string_buffer(b"\xa5" * (size + _GUARD), size + _GUARD)
        if not self.handle.WebPPictureInitInternal(buffer, self.abi):
            raise WebPUnavailable(f"libwebp {self.version} refused WebPPicture ABI {self.abi:#06x}")
        writer = _Picture.writer.offset
        pointer = ctypes.sizeof(ctypes.c_void_p)
        raw = buffer.raw
        zero = raw[:writer] + raw[writer + pointer : size]
        if zero.count(0) != len(zero) or raw[writer : writer + pointer] == bytes(pointer) \
                or raw[size:] != b"\xa5" * _GUARD:
            raise WebPUnavailable(f"libwebp {self.version}: WebPPicture does not have the expected layout")


def _candidates() -> Iterator[str]:
    """Where libwebp may be: the copy bundled in Pillow's wheel (Linux pillow.libs/, macOS
    PIL/.dylibs/), Pillow's _webp module itself (its dependencies are searched too), the system."""
    try:
        import PIL
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return
    package = Path(PIL.__file__).parent
    for folder in (package.parent / "pillow.libs", package / ".dylibs"):
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if re.match(r"libwebp[-.]", path.name) and re.search(r"\.(so|dylib|dll)\b", path.name):
                    yield str(path)
    try:
        from PIL import _webp

        yield str(_webp.__file__)
    except (ImportError, AttributeError):
        pass
    system = ctypes.util.find_library("webp")
    if system:
        yield system


@functools.cache
def library() -> _Lib | None:
    """The first usable libwebp, or None (the reasons are logged at debug level)."""
    reasons: list[str] = []
    for path in _candidates():
        try:
            handle = ctypes.CDLL(path)
            for name in ("WebPGetEncoderVersion", "WebPConfigInitInternal", "WebPPictureInitInternal",
                         "WebPPictureAlloc", "WebPPictureFree", "WebPEncode", "WebPValidateConfig"):
                getattr(handle, name)
            lib = _Lib(handle, path)
        except (OSError, AttributeError, WebPUnavailable) as err:
            reasons.append(f"{path}: {err}")
            continue
        log.debug("WebP: libwebp %s from %s", lib.version, path)
        return lib
    log.debug("WebP: no usable libwebp (%s); big WebPs go through Pillow",
              "; ".join(reasons) or "none found")
    return None


# ------------------------------------------------------------------------- RGB → YUV, as libwebp
# src/dsp/yuv.h (VP8RGBToY/U/V, YUV_FIX 16) and src/enc/picture_csp_enc.c (gamma tables,
# Interpolate, SUM4/SUM2, AccumulateRGBA with kInvAlpha), libwebp 1.6.0.

_GAMMA, _GAMMA_FIX, _GAMMA_TAB_FIX = 0.80, 12, 7
_GAMMA_SCALE = (1 << _GAMMA_FIX) - 1
_GAMMA_TAB_SIZE = 1 << (_GAMMA_FIX - _GAMMA_TAB_FIX)
_TO_LINEAR = np.array([int((v / 255.0) ** _GAMMA * _GAMMA_SCALE + 0.5) for v in range(256)], np.uint16)
_TO_GAMMA = np.array(
    [int(255.0 * ((1 << _GAMMA_TAB_FIX) / _GAMMA_SCALE * v) ** (1.0 / _GAMMA) + 0.5)
     for v in range(_GAMMA_TAB_SIZE + 1)],
    np.int32,
)
_ALPHA_FIX = 19
_INV_ALPHA = np.array([0] + [(1 << _ALPHA_FIX) // a for a in range(1, 4 * 255 + 1)], np.int64)
_YUV_FIX = 16
_MAX_SUM = 4 * _GAMMA_SCALE


def _interpolate(linear: np.ndarray) -> np.ndarray:
    """Interpolate + LinearToGamma(·, 0): a sum of four linear values → 4 × the gamma average."""
    scale = (1 << _GAMMA_TAB_FIX) << 2
    position = linear >> (_GAMMA_TAB_FIX + 2)
    fraction = linear & (scale - 1)
    mixed = _TO_GAMMA[position + 1] * fraction + _TO_GAMMA[position] * (scale - fraction)
    out: np.ndarray = (mixed + (1 << _GAMMA_TAB_FIX >> 1)) >> _GAMMA_TAB_FIX
    return out


_GAMMA_OF_SUM = _interpolate(np.arange(_MAX_SUM + 1, dtype=np.int32)).astype(np.float64)
"""`_interpolate` of every possible sum, as one lookup."""
# Integer arithmetic done in floating point, exactly: every product and partial sum below is an
# integer under 2**24 (luma, float32) or 2**53 (chroma, float64), and the final shifts are
# multiplications by powers of two, so BLAS gives libwebp's bits several times faster than int32
# numpy. (`_luma` was checked against the integer formula for all 2**24 colours.)
_Y_WEIGHTS = np.array([16839, 33059, 6420], np.float32)
_Y_OFFSET = float((1 << (_YUV_FIX - 1)) + (16 << _YUV_FIX))
_UV_WEIGHTS = np.array([[-9719, 28800], [-19081, -24116], [28800, -4684]], np.float64)
_UV_OFFSET = float((1 << (_YUV_FIX - 1 + 2)) + (128 << (_YUV_FIX + 2)))


def _luma(rgb: np.ndarray) -> np.ndarray:
    """VP8RGBToY(r, g, b, YUV_HALF) for uint8 R, G, B (last axis) → uint8 Y."""
    luma = rgb.astype(np.float32) @ _Y_WEIGHTS
    luma += _Y_OFFSET
    luma *= 1.0 / (1 << _YUV_FIX)
    out: np.ndarray = luma.astype(np.uint8)  # truncation: the floor of a positive value
    return out


def _blocks(plane: np.ndarray) -> np.ndarray:
    """Sums over the 2×2 blocks of a plane (H×W or H×W×3) of even height and width."""
    height, width = plane.shape[:2]
    down = plane[0::2] + plane[1::2]  # whole rows first: contiguous, the faster add
    pairs = down.reshape(height // 2, width // 2, 2, *plane.shape[2:])
    summed: np.ndarray = pairs[:, :, 0] + pairs[:, :, 1]
    return summed


def _chroma(rgb: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """U and V of each 2×2 block of a band of even height (an odd last column is doubled, as
    libwebp's SUM2 does): R, G, B averaged in the gamma domain (SUM4), weighted by alpha where a
    block is partly transparent (AccumulateRGBA), then VP8RGBToU/V(·, YUV_HALF << 2)."""
    if rgb.shape[1] & 1:
        rgb = np.concatenate([rgb, rgb[:, -1:]], axis=1)
        alpha = None if alpha is None else np.concatenate([alpha, alpha[:, -1:]], axis=1)
    linear = np.take(_TO_LINEAR, rgb)  # H×W×3 uint16; a block's sum is at most 4 × 4095
    averaged = np.take(_GAMMA_OF_SUM, _blocks(linear))  # (H/2)×(W/2)×3: 4 × the gamma average
    if alpha is not None:
        weight = alpha.astype(np.int32)
        total = _blocks(weight)
        partial = (total != 0) & (total != 4 * 255)
        if partial.any():
            rows, cols = np.nonzero(partial)
            weighted = _blocks(linear * weight[..., None])[rows, cols].astype(np.int64)
            divided = (weighted * _INV_ALPHA[total[rows, cols]][:, None]) >> (_ALPHA_FIX - 2)
            averaged[rows, cols] = _GAMMA_OF_SUM[np.minimum(divided, _MAX_SUM)]
    uv = averaged @ _UV_WEIGHTS
    uv += _UV_OFFSET
    uv *= 1.0 / (1 << (_YUV_FIX + 2))
    np.floor(uv, out=uv)
    np.clip(uv, 0, 255, out=uv)
    out = uv.astype(np.uint8)
    return out[..., 0], out[..., 1]


def band_rows(width: int) -> int:
    """Rows per band: about `_BAND_PIXELS` pixels, an even number (whole chroma rows)."""
    return max(2, _BAND_PIXELS // max(1, width) // 2 * 2)


def _plane(pointer: Any, rows: int, stride: int, width: int) -> np.ndarray:
    view: np.ndarray = np.ctypeslib.as_array(pointer, shape=(rows, stride))
    return view[:, :width]


def _fill(picture: _Picture, height: int, width: int, band: Callable[[int, int], np.ndarray],
          has_alpha: bool) -> None:
    """Write the Y, U, V (and A) planes of `picture` from `band`, a band of rows at a time."""
    chroma_width = (width + 1) // 2
    y_plane = _plane(picture.y, height, picture.y_stride, width)
    u_plane = _plane(picture.u, (height + 1) // 2, picture.uv_stride, chroma_width)
    v_plane = _plane(picture.v, (height + 1) // 2, picture.uv_stride, chroma_width)
    a_plane = _plane(picture.a, height, picture.a_stride, width) if has_alpha else None
    rows = band_rows(width)
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        pixels = band(top, bottom)
        rgb = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels[..., :3]
        y_plane[top:bottom] = _luma(rgb)
        alpha = pixels[..., 3] if a_plane is not None else None
        if a_plane is not None:
            a_plane[top:bottom] = alpha
        if (bottom - top) & 1:  # the last row of an odd height: doubled, as SUM4 with stride 0
            rgb = np.concatenate([rgb, rgb[-1:]], axis=0)
            alpha = None if alpha is None else np.concatenate([alpha, alpha[-1:]], axis=0)
        u, v = _chroma(rgb, alpha)
        u_plane[top // 2 : top // 2 + u.shape[0]] = u
        v_plane[top // 2 : top // 2 + v.shape[0]] = v


# ------------------------------------------------------------------------------------- the encode


def write_webp_bands(
    f: BinaryIO,
    height: int,
    width: int,
    channels: int,
    band: Callable[[int, int], np.ndarray],
    *,
    quality: int,
    method: int = 4,
    icc: bytes | None = None,
    exif: bytes | None = None,
    xmp: bytes | None = None,
    name: str = "",
) -> None:
    """Write an H×W image whose rows `band(top, bottom)` returns (uint8, H'×W×C, C in 1, 3, 4) as a
    lossy WebP with libwebp's defaults and `quality`/`method` (as Pillow's `save(quality=, method=)`),
    plus the metadata chunks given. Raises WebPUnavailable (before writing anything) when libwebp
    cannot be used, ImageWriteError when it fails to encode, OSError from `f`."""
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        raise ImageWriteError(f"WebP cannot hold {width}×{height} (max {MAX_DIMENSION} px per side)",
                              path=name or None, code="format_limit")
    lib = library()
    if lib is None:
        raise WebPUnavailable("no usable libwebp")
    config = _Config()
    if not lib.handle.WebPConfigInitInternal(ctypes.byref(config), _PRESET_DEFAULT, 75.0, lib.abi):
        raise WebPUnavailable(f"libwebp {lib.version}: WebPConfigInit failed")
    config.quality = float(quality)
    config.method = method
    if not lib.handle.WebPValidateConfig(ctypes.byref(config)):
        raise ImageWriteError(f"invalid WebP settings (quality {quality}, method {method})",
                              path=name or None, code="encode_failed")
    has_alpha = channels == 4 and _transparent(height, width, band)
    picture = _Picture()
    if not lib.handle.WebPPictureInitInternal(ctypes.byref(picture), lib.abi):
        raise WebPUnavailable(f"libwebp {lib.version}: WebPPictureInit failed")
    picture.use_argb = 0
    picture.colorspace = _WEBP_YUV420A if has_alpha else _WEBP_YUV420
    picture.width, picture.height = width, height
    stream = bytearray()
    writer = _WRITER(lambda data, size, _picture: _collect(stream, data, size))  # kept alive here
    try:
        if not lib.handle.WebPPictureAlloc(ctypes.byref(picture)):
            raise ImageWriteError("not enough memory for the WebP encoder's picture", path=name or None,
                                  code="out_of_memory")
        _fill(picture, height, width, band, has_alpha)
        picture.writer = writer
        if not lib.handle.WebPEncode(ctypes.byref(config), ctypes.byref(picture)):
            code = int(picture.error_code)
            reason = _ERRORS.get(code, f"error {code}")
            raise ImageWriteError(f"the WebP encoder failed: {reason}", path=name or None,
                                  code="encode_failed")
    finally:
        lib.handle.WebPPictureFree(ctypes.byref(picture))
    for part in _container(stream, width, height, icc=icc, exif=exif, xmp=xmp):
        f.write(part)


def _collect(stream: bytearray, data: Any, size: int) -> int:
    """libwebp's writer: append `size` bytes at `data` to `stream`; 0 (a failed write) on error."""
    try:
        stream.extend(ctypes.string_at(data, size))
    except Exception:  # nothing may propagate through libwebp's C frames
        return 0
    return 1


def _transparent(height: int, width: int, band: Callable[[int, int], np.ndarray]) -> bool:
    """Whether any alpha is below 255 (libwebp writes no alpha plane for an opaque picture)."""
    rows = band_rows(width)
    return any(bool((band(top, min(top + rows, height))[..., 3] != 255).any())
               for top in range(0, height, rows))


# -------------------------------------------------------------------------------------- container


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)


def _chunks(data: bytes | bytearray) -> Iterator[tuple[bytes, int, int]]:
    """(fourcc, start, end) of each chunk after the RIFF header; end includes the padding byte."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ImageWriteError("the WebP encoder did not return a RIFF/WEBP file", code="encode_failed")
    at = 12
    while at + 8 <= len(data):
        size = struct.unpack_from("<I", data, at + 4)[0]
        end = at + 8 + size + (size & 1)
        if end > len(data):
            raise ImageWriteError("the WebP encoder returned a truncated chunk", code="encode_failed")
        yield bytes(data[at : at + 4]), at, end
        at = end


def _container(
    stream: bytearray, width: int, height: int, *, icc: bytes | None, exif: bytes | None, xmp: bytes | None
) -> list[bytes | memoryview]:
    """libwebp's file as is when there is no metadata; else the extended format, in the order the
    container spec asks: VP8X, ICCP, ALPH, VP8, EXIF, XMP (what libwebpmux writes for Pillow)."""
    if exif and exif.startswith(EXIF_HEADER):
        exif = exif[len(EXIF_HEADER) :]  # as Pillow writes it: the TIFF structure only
    view = memoryview(stream)
    if not (icc or exif or xmp):
        list(_chunks(stream))  # checked, not changed
        return [view]
    image: list[memoryview] = []
    flags = 0
    for fourcc, start, end in _chunks(stream):
        if fourcc == b"ALPH":
            flags |= _ALPHA_FLAG
        if fourcc in (b"ALPH", b"VP8 "):
            image.append(view[start:end])
    if not any(bytes(part[:4]) == b"VP8 " for part in image):
        raise ImageWriteError("the WebP encoder returned no VP8 chunk", code="encode_failed")
    head: list[bytes] = []
    tail: list[bytes] = []
    if icc:
        flags |= _ICC_FLAG
        head.append(_chunk(b"ICCP", icc))
    if exif:
        flags |= _EXIF_FLAG
        tail.append(_chunk(b"EXIF", exif))
    if xmp:
        flags |= _XMP_FLAG
        tail.append(_chunk(b"XMP ", xmp))
    vp8x = _chunk(b"VP8X", struct.pack("<I", flags) + (width - 1).to_bytes(3, "little")
                  + (height - 1).to_bytes(3, "little"))
    parts: list[bytes | memoryview] = [vp8x, *head, *image, *tail]
    size = 4 + sum(len(part) for part in parts)
    if size > _RIFF_MAX:
        raise ImageWriteError(f"the WebP file would be {size / 2**30:.1f} GB; a WebP holds at most 4 GB",
                              code="format_limit")
    return [b"RIFF" + struct.pack("<I", size) + b"WEBP", *parts]
