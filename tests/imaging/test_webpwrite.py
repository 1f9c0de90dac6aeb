"""Big lossy WebPs through libwebp's API, a band of rows at a time (pixup.imaging.webpwrite): the
planes libwebp itself would make, the file Pillow's encode writes, metadata kept, a valid RIFF that
two decoders read, Pillow when libwebp is unusable, nothing partial left behind."""

from __future__ import annotations

import ctypes
import errno
import io
import logging
import struct
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pixup.errors import ImageWriteError
from pixup.imaging import encode, webpwrite
from pixup.imaging.atomic import TEMP_SUFFIX
from pixup.imaging.encode import EncodeOptions, write_image
from pixup.imaging.metadata import Metadata
from pixup.imaging.pixels import gray_to_rgb, to_uint8
from tests.imaging.helpers import P3_ICC, SRGB_ICC, camera_exif, xmp_packet

DEFAULTS = EncodeOptions()
LIB = webpwrite.library()
needs_lib = pytest.mark.skipif(LIB is None, reason="no usable libwebp in this Python")


def _photo_like(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    """Smooth colour blobs, edges and a little noise: what an upscaler outputs, roughly."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (h // 12 + 2, w // 12 + 2, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC)).astype(np.int16)
    smooth[h // 3 : h // 2, w // 4 :] = 250  # a hard edge
    noisy: np.ndarray = np.clip(smooth + rng.integers(-6, 7, smooth.shape), 0, 255).astype(np.uint8)
    if c == 1:
        return noisy[..., :1].copy()
    if c == 3:
        return noisy
    y, x = np.mgrid[0:h, 0:w]
    alpha = np.clip((x - w // 4) * 1024 // w, 0, 255).astype(np.uint8)  # transparent, ramp, opaque
    alpha[h // 2 :, : w // 3] = 0
    alpha[: h // 4, w // 2 :] = 128 + (y[: h // 4, w // 2 :] % 7)
    rgba: np.ndarray = np.dstack([noisy, alpha])
    return rgba


@pytest.fixture
def bands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small images take the band path, with bands of a few rows (many bands, odd edges)."""
    monkeypatch.setattr(encode, "WHOLE_IMAGE_MAX_PIXELS", 100)
    monkeypatch.setattr(webpwrite, "_BAND_PIXELS", 600)


def _write(pixels: np.ndarray, path: Path, *, metadata: Metadata | None = None,
           options: EncodeOptions = DEFAULTS) -> bytes:
    return write_image(pixels, path, fmt="webp", options=options, metadata=metadata).read_bytes()


def _pillow_file(pixels: np.ndarray, path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> bytes:
    """The same write through Pillow's whole-image encode."""
    with monkeypatch.context() as m:
        m.setattr(encode, "WHOLE_IMAGE_MAX_PIXELS", 10**15)
        return _write(pixels, path, **kwargs)


def _decode(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im.load()
        return np.asarray(im.convert("RGBA" if im.mode == "RGBA" else "RGB"))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _libwebp_decode(data: bytes) -> np.ndarray:
    """A second decoder path: libwebp's plain WebPDecodeRGBA (Pillow reads through the demuxer)."""
    assert LIB is not None
    decode = LIB.handle.WebPDecodeRGBA
    decode.restype = ctypes.POINTER(ctypes.c_uint8)
    size = ctypes.POINTER(ctypes.c_int)
    decode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, size, size]
    width, height = ctypes.c_int(), ctypes.c_int()
    out = decode(data, len(data), ctypes.byref(width), ctypes.byref(height))
    assert out, "WebPDecodeRGBA failed"
    try:
        return np.ctypeslib.as_array(out, shape=(height.value, width.value, 4)).copy()
    finally:
        LIB.handle.WebPFree.argtypes = [ctypes.c_void_p]
        LIB.handle.WebPFree(out)


def _riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(fourcc, payload) of each chunk, checking sizes, padding and the RIFF length on the way."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    chunks: list[tuple[bytes, bytes]] = []
    at = 12
    while at < len(data):
        size = struct.unpack("<I", data[at + 4 : at + 8])[0]
        chunks.append((data[at : at + 4], data[at + 8 : at + 8 + size]))
        if size & 1:
            assert data[at + 8 + size] == 0  # the padding byte
        at += 8 + size + (size & 1)
    assert at == len(data)
    return chunks


# ------------------------------------------------------------------------------------- the library


@needs_lib
def test_library_is_pillows_libwebp_with_a_matching_abi() -> None:
    assert LIB is not None
    version = tuple(int(v) for v in LIB.version.split("."))
    assert version >= (1, 0, 0)
    assert LIB.abi >> 8 == 0x02
    assert "webp" in Path(LIB.path).name.lower()


@needs_lib
@pytest.mark.parametrize(("h", "w"), [(1, 1), (2, 3), (37, 51), (40, 50), (64, 63)])
@pytest.mark.parametrize("alpha", [False, True])
def test_planes_are_the_ones_libwebp_makes(
    monkeypatch: pytest.MonkeyPatch, h: int, w: int, alpha: bool
) -> None:
    """Y, U, V (and A) from the bands equal libwebp's own conversion of the same RGBA
    (WebPPictureImportRGBA, the path Pillow's ARGB picture takes), odd sizes and partial alpha
    included."""
    assert LIB is not None
    lib = LIB.handle
    monkeypatch.setattr(webpwrite, "_BAND_PIXELS", 64)  # bands of 2 rows or so
    rng = np.random.default_rng(h * 100 + w)
    rgba = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    rgba[: h // 2, : w // 2, 3] = 0
    if not alpha:
        rgba[..., 3] = 255
    lib.WebPPictureImportRGBA.argtypes = [ctypes.POINTER(webpwrite._Picture), ctypes.c_void_p, ctypes.c_int]

    def planes(picture: webpwrite._Picture) -> list[np.ndarray]:
        half = ((h + 1) // 2, picture.uv_stride, (w + 1) // 2)
        out = [webpwrite._plane(picture.y, h, picture.y_stride, w).copy(),
               webpwrite._plane(picture.u, *half).copy(), webpwrite._plane(picture.v, *half).copy()]
        if picture.colorspace & 4:
            out.append(webpwrite._plane(picture.a, h, picture.a_stride, w).copy())
        return out

    reference = webpwrite._Picture()
    assert lib.WebPPictureInitInternal(ctypes.byref(reference), LIB.abi)
    reference.width, reference.height = w, h
    data = np.ascontiguousarray(rgba)
    try:
        assert lib.WebPPictureImportRGBA(ctypes.byref(reference), data.ctypes.data, w * 4)
        expected = planes(reference)
    finally:
        lib.WebPPictureFree(ctypes.byref(reference))
    ours = webpwrite._Picture()
    assert lib.WebPPictureInitInternal(ctypes.byref(ours), LIB.abi)
    ours.width, ours.height, ours.colorspace = w, h, 4 if alpha else 0
    source = rgba if alpha else rgba[..., :3]
    try:
        assert lib.WebPPictureAlloc(ctypes.byref(ours))
        webpwrite._fill(ours, h, w, lambda top, bottom: source[top:bottom], alpha)
        got = planes(ours)
    finally:
        lib.WebPPictureFree(ctypes.byref(ours))
    assert len(got) == len(expected)
    for name, a, b in zip("YUVA", got, expected, strict=False):
        assert np.array_equal(a, b), name


# ------------------------------------------------------------------------------- files and pixels


@needs_lib
@pytest.mark.usefixtures("bands")
@pytest.mark.parametrize(("h", "w"), [(157, 203), (96, 128), (1, 7), (33, 1)])
def test_rgb_is_pillows_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, h: int, w: int) -> None:
    """The same bytes as Pillow's encode; decoded, as close to the source (PSNR) as Pillow's."""
    pixels = _photo_like(h, w)
    ours = _write(pixels, tmp_path / "bands.webp")
    pillow = _pillow_file(pixels, tmp_path / "pillow.webp", monkeypatch)
    psnr_ours = _psnr(_decode(tmp_path / "bands.webp"), pixels)
    psnr_pillow = _psnr(_decode(tmp_path / "pillow.webp"), pixels)
    assert psnr_ours >= psnr_pillow - 0.5
    assert np.abs(_decode(tmp_path / "bands.webp").astype(int) - _decode(tmp_path / "pillow.webp")).max() <= 2
    assert ours == pillow


@needs_lib
@pytest.mark.usefixtures("bands")
@pytest.mark.parametrize("quality", [20, 75, 100])
def test_quality_means_what_it_means_for_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                quality: int) -> None:
    pixels = _photo_like(120, 90, seed=quality)
    options = EncodeOptions(quality=quality)
    ours = _write(pixels, tmp_path / "bands.webp", options=options)
    assert ours == _pillow_file(pixels, tmp_path / "pillow.webp", monkeypatch, options=options)


@needs_lib
@pytest.mark.usefixtures("bands")
def test_alpha_survives_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = _photo_like(101, 77, 4)
    data = _write(pixels, tmp_path / "a.webp")
    back = _decode(tmp_path / "a.webp")
    assert back.shape == (101, 77, 4)
    assert np.array_equal(back[..., 3], pixels[..., 3])  # alpha_quality 100: lossless alpha
    opaque = pixels[..., 3] == 255
    assert _psnr(back[..., :3][opaque], pixels[..., :3][opaque]) > 30
    assert [c for c, _ in _riff_chunks(data)] == [b"VP8X", b"ALPH", b"VP8 "]
    assert data == _pillow_file(pixels, tmp_path / "p.webp", monkeypatch)


@needs_lib
@pytest.mark.usefixtures("bands")
def test_opaque_rgba_has_no_alpha_chunk_as_with_pillow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pixels = _photo_like(50, 61, 4)
    pixels[..., 3] = 255
    data = _write(pixels, tmp_path / "o.webp")
    assert [c for c, _ in _riff_chunks(data)] == [b"VP8 "]
    with Image.open(tmp_path / "o.webp") as im:
        assert im.mode == "RGB"
    assert data == _pillow_file(pixels, tmp_path / "p.webp", monkeypatch)


@needs_lib
@pytest.mark.usefixtures("bands")
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_gray_and_16_bit_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dtype: type) -> None:
    gray: np.ndarray = _photo_like(67, 45, 1).astype(dtype) * (257 if dtype == np.uint16 else 1)
    data = _write(gray, tmp_path / "g.webp")
    back = _decode(tmp_path / "g.webp")
    assert back.shape == (67, 45, 3)
    assert _psnr(back, gray_to_rgb(to_uint8(gray))) > 30
    assert data == _pillow_file(gray, tmp_path / "p.webp", monkeypatch)


# --------------------------------------------------------------------------------------- metadata


@needs_lib
@pytest.mark.usefixtures("bands")
@pytest.mark.parametrize("channels", [3, 4])
def test_metadata_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, channels: int) -> None:
    pixels = _photo_like(80, 120, channels)
    xmp = xmp_packet(1, 120, 80) + b" "  # an odd length: the chunk needs its padding byte
    meta = Metadata(exif=camera_exif(orientation=1, width=120, height=80), icc=P3_ICC, xmp=xmp)
    data = _write(pixels, tmp_path / "m.webp", metadata=meta)
    with Image.open(tmp_path / "m.webp") as im:
        assert im.info["icc_profile"] == P3_ICC
        exif = im.getexif()
        assert exif[0x010F] == "Canon"  # Make
        assert im.info["exif"][:4] in (b"II*\x00", b"MM\x00*", b"Exif")
        assert b'exif:PixelXDimension="120"' in im.info["xmp"]
    chunks = _riff_chunks(data)
    names = [c for c, _ in chunks]
    image = [b"VP8 "] if channels == 3 else [b"ALPH", b"VP8 "]
    assert names == [b"VP8X", b"ICCP", *image, b"EXIF", b"XMP "]
    flags, canvas = chunks[0][1][0], chunks[0][1][4:]
    assert flags == 0x20 | 0x08 | 0x04 | (0x10 if channels == 4 else 0)
    assert int.from_bytes(canvas[:3], "little") + 1 == 120 and int.from_bytes(canvas[3:], "little") + 1 == 80
    assert not dict(chunks)[b"EXIF"].startswith(b"Exif")  # the TIFF structure, as Pillow writes it
    assert data == _pillow_file(pixels, tmp_path / "p.webp", monkeypatch, metadata=meta)


@needs_lib
@pytest.mark.usefixtures("bands")
def test_icc_alone(tmp_path: Path) -> None:
    data = _write(_photo_like(20, 30), tmp_path / "s.webp", metadata=Metadata(icc=SRGB_ICC))
    assert [c for c, _ in _riff_chunks(data)] == [b"VP8X", b"ICCP", b"VP8 "]
    with Image.open(tmp_path / "s.webp") as im:
        assert im.info.get("icc_profile") == SRGB_ICC and "exif" not in im.info


# ----------------------------------------------------------------------------- a valid RIFF, twice


@needs_lib
@pytest.mark.usefixtures("bands")
@pytest.mark.parametrize("channels", [3, 4])
def test_a_second_decoder_reads_the_same_pixels(tmp_path: Path, channels: int) -> None:
    pixels = _photo_like(73, 95, channels)
    meta = Metadata(icc=SRGB_ICC, xmp=xmp_packet(1, 95, 73))
    data = _write(pixels, tmp_path / "d.webp", metadata=meta)
    _riff_chunks(data)
    by_libwebp = _libwebp_decode(data)
    by_pillow = _decode(tmp_path / "d.webp")
    if channels == 3:
        assert np.all(by_libwebp[..., 3] == 255)
        by_libwebp = by_libwebp[..., :3]
    assert np.array_equal(by_libwebp, by_pillow)


# ---------------------------------------------------------------------------------------- fallback


def _no_library(monkeypatch: pytest.MonkeyPatch, candidates: list[str]) -> Iterator[None]:
    monkeypatch.setattr(webpwrite, "_candidates", lambda: iter(candidates))
    webpwrite.library.cache_clear()
    try:
        yield
    finally:
        webpwrite.library.cache_clear()


@pytest.fixture
def no_library(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The loader finds only a file that is not a library."""
    bogus = tmp_path / "libwebp-bogus.so.7"
    bogus.write_bytes(b"not a shared object")
    yield from _no_library(monkeypatch, [str(bogus)])


@pytest.mark.usefixtures("bands", "no_library")
def test_without_libwebp_pillow_writes_a_valid_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pixels = _photo_like(57, 43, 4)
    with caplog.at_level(logging.DEBUG, logger="pixup.imaging.webpwrite"):
        data = _write(pixels, tmp_path / "f.webp", metadata=Metadata(icc=SRGB_ICC))
    assert webpwrite.library() is None
    assert "no usable libwebp" in caplog.text and "libwebp-bogus" in caplog.text
    _riff_chunks(data)
    back = _decode(tmp_path / "f.webp")
    assert np.array_equal(back[..., 3], pixels[..., 3])
    with Image.open(tmp_path / "f.webp") as im:
        assert im.info["icc_profile"] == SRGB_ICC


@needs_lib
@pytest.mark.usefixtures("bands")
def test_failure_to_initialise_falls_back_to_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """libwebp found but WebPConfigInit refusing at encode time: Pillow writes the file instead."""
    assert LIB is not None
    real: webpwrite._Lib = LIB

    class Refusing:
        def __getattr__(self, name: str) -> Any:
            return (lambda *args: 0) if name == "WebPConfigInitInternal" else getattr(real.handle, name)

    class Lib:
        handle, abi, version, path = Refusing(), real.abi, real.version, real.path

    monkeypatch.setattr(webpwrite, "library", lambda: Lib())
    pixels = _photo_like(40, 41, 1)
    with caplog.at_level(logging.DEBUG, logger="pixup.imaging.encode"):
        data = _write(pixels, tmp_path / "i.webp")
    assert "WebP through Pillow" in caplog.text
    assert data == _pillow_file(pixels, tmp_path / "p.webp", monkeypatch)


def test_loader_rejects_a_library_of_the_wrong_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The layout check: a WebPPicture one field short would let libwebp write past it."""
    if LIB is None:
        pytest.skip("no usable libwebp")
    short = type("Short", (ctypes.Structure,), {"_fields_": webpwrite._Picture._fields_[:-1]})
    monkeypatch.setattr(webpwrite, "_Picture", short)
    with pytest.raises(webpwrite.WebPUnavailable, match="WebPPicture"):
        webpwrite._Lib(ctypes.CDLL(LIB.path), LIB.path)


# ------------------------------------------------------------------------------------------ errors


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(TEMP_SUFFIX))


@needs_lib
@pytest.mark.usefixtures("bands")
def test_encoder_failure_is_one_line_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libwebp's writer refusing the bytes (as a failed write): WebPEncode returns 0 with
    VP8_ENC_ERROR_BAD_WRITE; the error names the file, and no file or temporary is left."""
    monkeypatch.setattr(webpwrite, "_collect", lambda stream, data, size: 0)
    target = tmp_path / "e.webp"
    message = r"e\.webp: the WebP encoder failed: the output could not be written"
    with pytest.raises(ImageWriteError, match=message):
        _write(_photo_like(30, 30), target)
    assert not target.exists() and _leftovers(tmp_path) == []


@needs_lib
@pytest.mark.usefixtures("bands")
def test_disk_full_midway_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = webpwrite._container

    def failing(*args: Any, **kwargs: Any) -> Iterator[bytes | memoryview]:
        parts = real(*args, **kwargs)
        yield parts[0]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(webpwrite, "_container", failing)
    target = tmp_path / "full.webp"
    target.write_bytes(b"precious")
    with pytest.raises(ImageWriteError) as info:
        write_image(_photo_like(30, 30), target, fmt="webp", options=DEFAULTS,
                    metadata=Metadata(icc=SRGB_ICC), overwrite=True)
    assert str(info.value) == f"cannot write {target}: disk full"
    assert (info.value.code, info.value.reason, info.value.path) == ("disk_full", "disk full", target)
    assert target.read_bytes() == b"precious" and _leftovers(tmp_path) == []


@pytest.mark.usefixtures("bands")
def test_missing_folder(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "x.webp"
    with pytest.raises(ImageWriteError, match="does not exist"):
        _write(_photo_like(20, 20), target)


def test_dimension_limit_is_the_clear_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encode, "WHOLE_IMAGE_MAX_PIXELS", 100)
    wide = np.zeros((1, 16384, 3), np.uint8)
    with pytest.raises(ImageWriteError, match=r"WebP cannot hold 16384×1 \(max 16383 px per side\)"):
        _write(wide, tmp_path / "w.webp")
    with pytest.raises(ImageWriteError, match=r"WebP cannot hold 16384×1 \(max 16383 px per side\)"):
        webpwrite.write_webp_bands(
            io.BytesIO(), 1, 16384, 3, lambda top, bottom: wide[top:bottom], quality=90
        )
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ memory


@needs_lib
def test_python_side_memory_does_not_grow_with_the_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """Numpy's share of the band encode (tracemalloc sees numpy, not libwebp's own planes) is a
    few bands' worth whatever the image size: no full-size copy of the pixels is made."""
    monkeypatch.setattr(webpwrite, "_BAND_PIXELS", 1 << 14)
    peaks = []
    for side in (300, 900):
        pixels = _photo_like(side, side, 4)

        def band(top: int, bottom: int, rows: np.ndarray = pixels) -> np.ndarray:
            return rows[top:bottom]

        tracemalloc.start()
        try:
            webpwrite.write_webp_bands(io.BytesIO(), side, side, 4, band, quality=90)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[1] < 900 * 900 * 4 / 2, peaks
    assert peaks[1] < peaks[0] * 1.5 + (256 << 10), peaks


def test_luma_in_floating_point_is_libwebps_integer_formula() -> None:
    rng = np.random.default_rng(5)
    colours = np.concatenate([rng.integers(0, 256, (1 << 18, 3)), [[0, 0, 0], [255, 255, 255], [0, 255, 0]]])
    rgb = colours.astype(np.uint8)
    wide = rgb.astype(np.int64)
    expected = (16839 * wide[:, 0] + 33059 * wide[:, 1] + 6420 * wide[:, 2] + (1 << 15) + (16 << 16)) >> 16
    assert np.array_equal(webpwrite._luma(rgb), expected.astype(np.uint8))
