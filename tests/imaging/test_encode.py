"""write_image per format: pixels, bit depth, alpha, options, limits, and metadata read back tag by tag."""

from __future__ import annotations

import io
import logging
import struct
import zlib
from pathlib import Path

import numpy as np
import piexif
import pytest
from PIL import Image, ImageOps, JpegImagePlugin

from pixup.errors import ImageWriteError, OutputExistsError
from pixup.imaging import (
    EncodeOptions,
    Metadata,
    check_output_fits,
    encode_notes,
    formats_that_fit,
    pngwrite,
    read_image,
    write_image,
)
from pixup.imaging.limits import Format
from tests.imaging.helpers import GRAY_ICC, KEPT_TAGS, P3_ICC, SRGB_ICC, camera_exif, png_unfilter, xmp_packet

RNG = np.random.default_rng(99)
DEFAULTS = EncodeOptions()


def noise(h: int, w: int, c: int, dtype: type = np.uint8) -> np.ndarray:
    return RNG.integers(0, np.iinfo(dtype).max + 1, (h, w, c), dtype=dtype)


def gradient(h: int, w: int, c: int = 3) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    planes = [x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (w + h - 2), 255 - x * 255 // (w - 1)]
    return np.stack(planes[:c], -1).astype(np.uint8)


# ------------------------------------------------------------------------------------ pixel fidelity


@pytest.mark.parametrize("fmt", ["png", "tiff"])
@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_lossless_formats_keep_every_bit(tmp_path: Path, fmt: Format, channels: int, dtype: type) -> None:
    arr = noise(23, 31, channels, dtype)
    arr[:10] = gradient(10, 31, channels).astype(dtype) * (
        257 if dtype == np.uint16 else 1
    )  # some smooth rows
    out = write_image(arr, tmp_path / f"x.{fmt}", fmt=fmt, options=DEFAULTS, metadata=None)
    back = read_image(out)
    assert back.pixels.dtype == dtype and back.pixels.shape == arr.shape
    assert np.array_equal(back.pixels, arr)


def test_16bit_png_is_a_real_16bit_png(tmp_path: Path) -> None:
    """Independent of pixup's reader: the IHDR says 16-bit RGB, and Pillow's own (8-bit) decode
    equals the high bytes, which checks the row filters with a second decoder."""
    arr = noise(40, 50, 3, np.uint16)
    arr[:20] = np.linspace(0, 65535, 50, dtype=np.uint16)[None, :, None]
    path = write_image(arr, tmp_path / "d.png", fmt="png", options=DEFAULTS, metadata=None)
    data = path.read_bytes()
    width, height, depth, colour_type = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, colour_type) == (50, 40, 16, 2)
    assert np.array_equal(np.asarray(Image.open(path)), (arr >> 8).astype(np.uint8))


def _png_rows(data: bytes) -> tuple[list[int], bytes]:
    """Filter type of each row and the inflated IDAT stream of a PNG."""
    pos, idat = 8, b""
    while pos < len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(kind + body)
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    ihdr = struct.unpack(">IIBB", data[16:26])
    row = 1 + ihdr[0] * {0: 1, 2: 3, 6: 4}[ihdr[3]] * ihdr[2] // 8
    return [raw[i] for i in range(0, len(raw), row)], raw


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_16bit_png_filters_decode_by_the_book(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, level: int
) -> None:
    """Rows with different content pick different filters; a by-the-spec decoder gets every byte.
    Segments of a few rows (deflated on several threads and joined) and blocks of fewer rows than
    a segment are forced, so the joins and the row-above carried across them are exercised."""
    monkeypatch.setattr(pngwrite, "_SEGMENT_BYTES", 5 * 160)  # 5 rows of 20 px × 8 bytes
    monkeypatch.setattr(pngwrite, "_BLOCK_BYTES", 2 * 160)
    h, w = 24, 20
    arr = np.zeros((h, w, 4), dtype=np.uint16)
    arr[:6] = noise(6, w, 4, np.uint16)  # noise: None or any
    arr[6:12] = np.arange(w, dtype=np.uint16)[None, :, None] * 3000  # ramp along x: Sub
    arr[12:18] = arr[11]  # repeated rows: Up
    arr[18:] = (np.arange(w)[None, :, None] * 700 + np.arange(6)[:, None, None] * 900).astype(np.uint16)
    options = EncodeOptions(png_compress_level=level)
    path = write_image(arr, tmp_path / "f.png", fmt="png", options=options, metadata=None)
    kinds, raw = _png_rows(path.read_bytes())  # zlib.decompress checks the header and Adler-32
    assert len(set(kinds)) >= 3, kinds
    decoded = png_unfilter(raw, w, h, 8).view(">u2").reshape(h, w, 4)
    assert np.array_equal(decoded, arr)
    assert np.array_equal(read_image(path).pixels, arr)
    assert np.array_equal(np.asarray(Image.open(path)), (arr >> 8).astype(np.uint8))


def test_webp_lossless_exact_and_16bit_rounded(tmp_path: Path) -> None:
    rgba = noise(16, 18, 4)
    rgba[..., 3] = np.maximum(rgba[..., 3], 1)
    out = write_image(
        rgba, tmp_path / "a.webp", fmt="webp", options=EncodeOptions(webp_lossless=True), metadata=None
    )
    assert np.array_equal(read_image(out).pixels, rgba)

    deep = np.array([[[0, 128, 32767], [32768, 65535, 257 * 200]]], dtype=np.uint16)
    out = write_image(
        deep, tmp_path / "d.webp", fmt="webp", options=EncodeOptions(webp_lossless=True), metadata=None
    )
    # round(v·255/65535), not v >> 8 (which would make 32767 → 127 but 65535·… fine either way)
    assert read_image(out).pixels.tolist() == [[[0, 0, 127], [128, 255, 200]]]


def test_webp_lossy_quality_and_gray_becomes_rgb(tmp_path: Path) -> None:
    gray = gradient(64, 64, 1)
    low = write_image(
        gray, tmp_path / "low.webp", fmt="webp", options=EncodeOptions(quality=20), metadata=None
    )
    high = write_image(
        gray, tmp_path / "high.webp", fmt="webp", options=EncodeOptions(quality=95), metadata=None
    )
    assert low.stat().st_size < high.stat().st_size
    back = read_image(high)
    assert back.pixels.shape == (64, 64, 3)
    assert np.abs(back.pixels.astype(int) - gray.astype(int)).mean() < 2


def test_jpeg_flattens_alpha_onto_background(tmp_path: Path) -> None:
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)
    rgba[..., :3] = (10, 200, 30)
    rgba[:, 16:, 3] = 255  # right half opaque green, left half fully transparent
    rgba[:16, :16, 3] = 0
    rgba[16:, :16, 3] = 128  # bottom-left: half transparent
    options = EncodeOptions(quality=100, background=(40, 60, 250))
    back = read_image(write_image(rgba, tmp_path / "f.jpg", fmt="jpg", options=options, metadata=None))
    assert back.pixels.shape == (32, 32, 3)
    assert np.abs(back.pixels[4:12, 4:12].astype(int) - (40, 60, 250)).max() <= 2
    assert np.abs(back.pixels[4:12, 20:28].astype(int) - (10, 200, 30)).max() <= 2
    half = (np.array([10, 200, 30]) * 128 / 255 + np.array([40, 60, 250]) * 127 / 255).round()
    assert np.abs(back.pixels[20:28, 4:12].astype(int) - half).max() <= 2


def test_jpeg_options_reach_the_file(tmp_path: Path) -> None:
    arr = gradient(64, 64)
    a = write_image(arr, tmp_path / "a.jpg", fmt="jpg", options=DEFAULTS, metadata=None)
    b = write_image(
        arr,
        tmp_path / "b.jpg",
        fmt="jpg",
        options=EncodeOptions(quality=60, jpeg_subsampling="4:2:0", jpeg_progressive=True),
        metadata=None,
    )
    with Image.open(a) as im_a, Image.open(b) as im_b:
        assert isinstance(im_a, JpegImagePlugin.JpegImageFile) and isinstance(
            im_b, JpegImagePlugin.JpegImageFile
        )
        assert JpegImagePlugin.get_sampling(im_a) == 0  # 4:4:4
        assert JpegImagePlugin.get_sampling(im_b) == 2  # 4:2:0
        assert not im_a.info.get("progressive") and im_b.info.get("progressive")
    assert b.stat().st_size < a.stat().st_size


def test_jpeg_gray_stays_gray(tmp_path: Path) -> None:
    out = write_image(gradient(20, 20, 1), tmp_path / "g.jpg", fmt="jpg", options=DEFAULTS, metadata=None)
    with Image.open(out) as im:
        assert im.mode == "L"


# ------------------------------------------------------------------------------------------ metadata


FULL = Metadata(exif=camera_exif(orientation=1, width=30, height=20), icc=P3_ICC, xmp=xmp_packet(1, 30, 20))


@pytest.mark.parametrize("fmt", ["png", "tiff", "jpg", "webp"])
def test_srgb_profile_round_trip(tmp_path: Path, fmt: Format) -> None:
    out = write_image(
        gradient(8, 8), tmp_path / f"s.{fmt}", fmt=fmt, options=DEFAULTS, metadata=Metadata(icc=SRGB_ICC)
    )
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == SRGB_ICC
    assert read_image(out).icc_profile == SRGB_ICC


def _exif_of_file(path: Path) -> dict[str, dict[int, object]]:
    if path.suffix == ".tiff":
        loaded: dict[str, dict[int, object]] = piexif.load(str(path))
        return loaded
    with Image.open(path) as im:
        data = im.info["exif"]
    return dict(piexif.load(data if data.startswith(b"Exif") else b"Exif\x00\x00" + data))


def _xmp_of_file(path: Path) -> bytes:
    with Image.open(path) as im:
        raw = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    assert raw, "no XMP in the file"
    return raw.encode() if isinstance(raw, str) else bytes(raw)


@pytest.mark.parametrize(
    ("fmt", "dtype"),
    [
        ("png", np.uint8),
        ("png", np.uint16),
        ("tiff", np.uint8),
        ("tiff", np.uint16),
        ("jpg", np.uint8),
        ("webp", np.uint8),
    ],
)
def test_metadata_round_trip_tag_by_tag(tmp_path: Path, fmt: Format, dtype: type) -> None:
    arr: np.ndarray = gradient(80, 120).astype(dtype) * (257 if dtype == np.uint16 else 1)
    out = write_image(arr, tmp_path / f"m.{fmt}", fmt=fmt, options=DEFAULTS, metadata=FULL)
    source = piexif.load(FULL.exif)
    written = _exif_of_file(out)
    for ifd, tag in KEPT_TAGS:
        assert written[ifd][tag] == source[ifd][tag], (ifd, tag)
    assert written["0th"][piexif.ImageIFD.Orientation] == 1
    assert written["Exif"][piexif.ExifIFD.PixelXDimension] == 120
    assert written["Exif"][piexif.ExifIFD.PixelYDimension] == 80
    assert not written["1st"] and written.get("thumbnail") is None

    with Image.open(out) as im:
        assert im.info.get("icc_profile") == P3_ICC
    xmp = _xmp_of_file(out)
    assert b"\xc3\x9cn\xc3\xafcode title" in xmp  # UTF-8 intact
    assert b'exif:PixelXDimension="120"' in xmp and b"<exif:PixelYDimension>80</exif:PixelYDimension>" in xmp

    # and pixup reads its own output's metadata back the same way
    back = read_image(out)
    assert back.icc_profile == P3_ICC and back.xmp is not None and back.exif is not None
    assert piexif.load(back.exif)["0th"][piexif.ImageIFD.Make] == b"Canon"


@pytest.mark.parametrize("fmt", ["png", "tiff", "jpg", "webp"])
def test_rotated_source_output_shows_like_the_source(tmp_path: Path, fmt: Format) -> None:
    """Orientation 6 + thumbnail in, upscaled-size pixels out: a viewer applying the output's EXIF
    shows the same picture as it showed for the input, and the XMP no longer says 6 either."""
    stored = gradient(30, 50)  # as the camera stored it: landscape, to be shown turned
    src = tmp_path / "src.png"
    Image.fromarray(stored).save(
        src, exif=camera_exif(orientation=6, width=50, height=30), pnginfo=_xmp_info(xmp_packet(6, 50, 30))
    )
    decoded = read_image(src)
    seen = np.asarray(ImageOps.exif_transpose(Image.open(src)))
    assert np.array_equal(decoded.pixels, seen) and decoded.pixels.shape == (50, 30, 3)

    big = np.repeat(np.repeat(decoded.pixels, 2, axis=0), 2, axis=1)  # a stand-in 2× upscale
    out = write_image(
        big, tmp_path / f"out.{fmt}", fmt=fmt, options=EncodeOptions(quality=100), metadata=decoded.metadata
    )
    with Image.open(out) as im:
        shown = np.asarray(ImageOps.exif_transpose(im).convert("RGB")).astype(int)
    assert shown.shape == (100, 60, 3)
    assert np.abs(shown - big).mean() < 2.0
    written = _exif_of_file(out)
    assert written["0th"][piexif.ImageIFD.Orientation] == 1
    assert (
        written["Exif"][piexif.ExifIFD.PixelXDimension],
        written["Exif"][piexif.ExifIFD.PixelYDimension],
    ) == (60, 100)
    assert written.get("thumbnail") is None
    assert b'tiff:Orientation="1"' in _xmp_of_file(out)


def _xmp_info(xmp: bytes) -> object:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"))
    return info


def test_gray_profile_is_dropped_when_output_is_rgb(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    gray = gradient(10, 10, 1)
    with caplog.at_level(logging.INFO, logger="pixup.imaging.encode"):
        out = write_image(
            gray, tmp_path / "g.webp", fmt="webp", options=DEFAULTS, metadata=Metadata(icc=GRAY_ICC)
        )
    with Image.open(out) as im:
        assert im.info.get("icc_profile") in (None, b"")
    assert "colour profile dropped: it is for GRAY data and the output has 3 channels" in caplog.text
    assert "WebP has no grayscale mode" in caplog.text
    out = write_image(gray, tmp_path / "g.png", fmt="png", options=DEFAULTS, metadata=Metadata(icc=GRAY_ICC))
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == GRAY_ICC


def test_broken_exif_never_fails_the_write(tmp_path: Path) -> None:
    garbage = Metadata(exif=b"Exif\x00\x00not a tiff header at all", icc=None, xmp=None)
    out = write_image(gradient(8, 8), tmp_path / "b.jpg", fmt="jpg", options=DEFAULTS, metadata=garbage)
    with Image.open(out) as im:
        assert "exif" not in im.info and im.size == (8, 8)
    # an IFD0 that claims 65535 entries and has none: what is left is still valid EXIF
    empty = Metadata(exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff", icc=None, xmp=None)
    out = write_image(gradient(8, 8), tmp_path / "e.jpg", fmt="jpg", options=DEFAULTS, metadata=empty)
    written = _exif_of_file(out)
    assert written["0th"] == {piexif.ImageIFD.Orientation: 1, piexif.ImageIFD.ExifTag: written["0th"][34665]}
    assert written["Exif"] == {piexif.ExifIFD.PixelXDimension: 8, piexif.ExifIFD.PixelYDimension: 8}


# ------------------------------------------------------------------------------------ limits, options


def test_check_output_fits_messages() -> None:
    with pytest.raises(ImageWriteError) as info:
        check_output_fits(20000, 9000, "webp")
    assert str(info.value) == "WebP cannot hold 20000×9000 (max 16383 px per side); use png or jpg or tiff"
    with pytest.raises(ImageWriteError) as info:
        check_output_fits(70000, 100, "jpg")
    assert str(info.value) == "JPEG cannot hold 70000×100 (max 65500 px per side); use png or tiff"
    with pytest.raises(ImageWriteError) as info:
        check_output_fits(40000, 40000, "tiff", channels=3, bit_depth=8)
    assert str(info.value) == (
        "TIFF cannot hold 40000×40000 (4.5 GB uncompressed; classic TIFF is limited to 4 GB); use png or jpg"
    )
    check_output_fits(16383, 16383, "webp")
    check_output_fits(65500, 10, "jpg")


def test_tiff_limit_counts_channels_and_depth() -> None:
    assert "tiff" in formats_that_fit(30000, 30000, channels=3, bit_depth=8)  # 2.5 GB
    assert "tiff" not in formats_that_fit(30000, 30000, channels=4, bit_depth=16)  # 6.7 GB
    assert formats_that_fit(24000, 24000) == ["png", "jpg"]  # RGBA 16-bit: 4.3 GB
    assert formats_that_fit(100, 100) == ["png", "webp", "jpg", "tiff"]


def test_write_refuses_what_does_not_fit_before_writing(tmp_path: Path) -> None:
    wide = np.zeros((1, 16384, 3), dtype=np.uint8)
    with pytest.raises(ImageWriteError, match="WebP cannot hold 16384×1"):
        write_image(wide, tmp_path / "w.webp", fmt="webp", options=DEFAULTS, metadata=None)
    assert list(tmp_path.iterdir()) == []


def test_encode_options_are_validated() -> None:
    for bad in ({"quality": 0}, {"quality": 101}, {"png_compress_level": 10}, {"background": (0, 0, 256)}):
        with pytest.raises(ValueError):
            EncodeOptions(**bad)
    with pytest.raises(ValueError):
        EncodeOptions(jpeg_subsampling="4:1:1")  # type: ignore[arg-type, unused-ignore]


def test_bad_pixels_are_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="C in 1, 3, 4"):
        write_image(
            np.zeros((4, 4, 2), np.uint8), tmp_path / "x.png", fmt="png", options=DEFAULTS, metadata=None
        )
    with pytest.raises(ValueError, match="uint8 or uint16"):
        write_image(
            np.zeros((4, 4, 3), np.float32), tmp_path / "x.png", fmt="png", options=DEFAULTS, metadata=None
        )


def test_encode_notes() -> None:
    assert encode_notes(4, 16, "jpg") == [
        "JPEG holds 8 bits per channel; the 16-bit result is reduced to 8-bit",
        "JPEG has no transparency; the alpha channel is flattened onto the background colour",
    ]
    assert encode_notes(4, 16, "png") == []
    assert encode_notes(3, 16, "tiff") == []


def test_existing_output_is_not_overwritten_by_default(tmp_path: Path) -> None:
    target = tmp_path / "keep.png"
    target.write_bytes(b"precious")
    with pytest.raises(OutputExistsError) as info:
        write_image(gradient(4, 4), target, fmt="png", options=DEFAULTS, metadata=None)
    assert str(info.value) == f"{target} already exists"
    assert target.read_bytes() == b"precious"
    write_image(gradient(4, 4), target, fmt="png", options=DEFAULTS, metadata=None, overwrite=True)
    assert Image.open(io.BytesIO(target.read_bytes())).size == (4, 4)


@pytest.mark.parametrize("level", [0, 1, 6, 9])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_8bit_png_goes_through_the_parallel_writer_and_decodes_exactly(
    tmp_path: Path, level: int, channels: int
) -> None:
    # tall enough for several deflate segments (4 MB of raw rows each), so the joined stream is tested
    height = 2 * (4 << 20) // (700 * channels) + 37
    arr = noise(height, 700, channels)
    arr[: height // 2] = gradient(height // 2, 700, channels)
    options = EncodeOptions(png_compress_level=level)
    out = write_image(arr, tmp_path / "big.png", fmt="png", options=options, metadata=FULL)
    with Image.open(out) as im:
        im.load()
        decoded = np.asarray(im)
        if channels != 1:
            assert im.info.get("icc_profile") == P3_ICC
    assert np.array_equal(decoded.reshape(arr.shape), arr)
    kinds = _chunk_kinds(out.read_bytes())
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and kinds.count(b"IDAT") >= 2
    assert b"eXIf" in kinds and b"iTXt" in kinds
    assert (b"iCCP" in kinds) == (channels != 1)  # an RGB profile is dropped for grey pixels


def _chunk_kinds(data: bytes) -> list[bytes]:
    kinds, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kinds.append(data[at + 4 : at + 8])
        at += 12 + length
    return kinds
