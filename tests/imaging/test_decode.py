"""read_image on every format and mode pixup accepts: exact pixels, bit depth, alpha, notes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageCms

from pixup.imaging import read_image
from tests.imaging.helpers import GRAY_ICC, P3_ICC, raw_png, raw_tiff_le

RNG = np.random.default_rng(1234)


def noise(h: int, w: int, c: int, dtype: type = np.uint8) -> np.ndarray:
    top = np.iinfo(dtype).max
    arr = RNG.integers(0, top + 1, (h, w, c), dtype=dtype)
    return arr


def smooth(h: int, w: int) -> np.ndarray:
    """An 8-bit RGB gradient: lossy codecs keep it within a few levels."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (w + h - 2)], -1).astype(
        np.uint8
    )


def save(tmp_path: Path, name: str, im: Image.Image, **kwargs: Any) -> Path:
    path = tmp_path / name
    im.save(path, **kwargs)
    return path


# ------------------------------------------------------------------------------------------- PNG


def test_png_8bit_modes_exact(tmp_path: Path) -> None:
    rgb = noise(13, 17, 3)
    rgba = noise(13, 17, 4)
    gray = noise(13, 17, 1)
    d = read_image(save(tmp_path, "rgb.png", Image.fromarray(rgb)))
    assert (d.format, d.bit_depth, d.pixels.shape, d.source_mode) == ("PNG", 8, (13, 17, 3), "RGB")
    assert np.array_equal(d.pixels, rgb)
    d = read_image(save(tmp_path, "rgba.png", Image.fromarray(rgba)))
    assert d.pixels.dtype == np.uint8 and d.has_alpha and np.array_equal(d.pixels, rgba)
    d = read_image(save(tmp_path, "gray.png", Image.fromarray(gray[..., 0])))
    assert d.channels == 1 and np.array_equal(d.pixels, gray)


def test_png_gray_alpha_becomes_rgba(tmp_path: Path) -> None:
    la = noise(9, 11, 2)
    d = read_image(save(tmp_path, "la.png", Image.fromarray(la, mode="LA")))
    assert d.pixels.shape == (9, 11, 4)
    for c in range(3):
        assert np.array_equal(d.pixels[..., c], la[..., 0])
    assert np.array_equal(d.pixels[..., 3], la[..., 1])


def test_png_palette_with_and_without_transparency(tmp_path: Path) -> None:
    index = RNG.integers(0, 4, (8, 10), dtype=np.uint8)
    palette = [10, 20, 30, 200, 100, 50, 0, 255, 0, 255, 255, 255]
    im = Image.fromarray(index, mode="P")
    im.putpalette(palette)
    d = read_image(save(tmp_path, "p.png", im))
    expected = np.array(palette, dtype=np.uint8).reshape(4, 3)[index]
    assert d.pixels.shape == (8, 10, 3) and np.array_equal(d.pixels, expected)

    d = read_image(save(tmp_path, "pt.png", im, transparency=bytes([255, 0, 255, 128])))
    assert d.pixels.shape == (8, 10, 4)
    assert np.array_equal(d.pixels[..., :3], expected)
    assert np.array_equal(d.pixels[..., 3], np.array([255, 0, 255, 128], dtype=np.uint8)[index])


def test_png_one_bit_is_gray(tmp_path: Path) -> None:
    bits = RNG.integers(0, 2, (7, 9)).astype(bool)
    d = read_image(save(tmp_path, "bw.png", Image.fromarray(bits)))
    assert d.pixels.shape == (7, 9, 1) and d.pixels.dtype == np.uint8
    assert np.array_equal(d.pixels[..., 0], np.where(bits, 255, 0))


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("interlaced", [False, True])
def test_png_16bit_exact(tmp_path: Path, channels: int, interlaced: bool) -> None:
    """All 16 bits of every sample survive, for every colour type, interlaced or not (Pillow alone
    narrows 16-bit colour PNG to 8 bits)."""
    arr = noise(11, 13, channels, np.uint16)
    path = tmp_path / "deep.png"
    path.write_bytes(raw_png(arr, interlaced=interlaced))
    d = read_image(path)
    assert d.bit_depth == 16 and d.pixels.dtype == np.uint16
    # gray+alpha comes back as RGBA
    expected = np.stack([arr[..., 0]] * 3 + [arr[..., 1]], axis=-1) if channels == 2 else arr
    assert np.array_equal(d.pixels, expected)


def test_png_16bit_rgb_colour_key_becomes_alpha(tmp_path: Path) -> None:
    arr = noise(6, 7, 3, np.uint16)
    key = arr[2, 3].copy()
    arr[4, 5] = key
    almost = key.copy()
    almost[0] ^= 1  # differs only in the low byte: must stay opaque
    arr[0, 0] = almost
    path = tmp_path / "key.png"
    path.write_bytes(raw_png(arr, trns=key.astype(">u2").tobytes()))
    d = read_image(path)
    assert d.pixels.shape == (6, 7, 4) and d.pixels.dtype == np.uint16
    assert np.array_equal(d.pixels[..., :3], arr)
    transparent = np.argwhere(d.pixels[..., 3] == 0).tolist()
    assert transparent == [[2, 3], [4, 5]]
    assert d.pixels[0, 0, 3] == 65535


def test_png_8bit_gray_colour_key_becomes_rgba(tmp_path: Path) -> None:
    gray = noise(5, 6, 1)
    gray[1, 1] = 77
    path = tmp_path / "gkey.png"
    path.write_bytes(raw_png(gray, trns=b"\x00\x4d"))
    d = read_image(path)
    assert d.pixels.shape == (5, 6, 4)
    assert np.array_equal(d.pixels[..., 3] == 0, gray[..., 0] == 77)


def test_apng_notes_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = tmp_path / "anim.png"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    d = read_image(path)
    assert tuple(d.pixels[0, 0]) == (255, 0, 0)
    assert d.notes == ("PNG: only the first of 3 frames is upscaled",)


# ------------------------------------------------------------------------------------------ JPEG


def test_jpeg_rgb_and_gray(tmp_path: Path) -> None:
    rgb = smooth(32, 48)
    d = read_image(save(tmp_path, "a.jpg", Image.fromarray(rgb), quality=98, subsampling=0))
    assert (d.format, d.pixels.shape, d.pixels.dtype) == ("JPEG", (32, 48, 3), np.uint8)
    assert np.abs(d.pixels.astype(int) - rgb).max() <= 6
    gray = rgb[..., :1]
    d = read_image(save(tmp_path, "g.jpg", Image.fromarray(gray[..., 0]), quality=98))
    assert d.pixels.shape == (32, 48, 1)
    assert np.abs(d.pixels.astype(int) - gray).max() <= 4


def test_jpeg_cmyk_without_profile_uses_naive_inversion(tmp_path: Path) -> None:
    """Pillow writes CMYK JPEG the Adobe way (inverted, APP14); reading must undo that, giving
    R = 255 - C - K·(255-C)/255 style values, not a negative image."""
    cmyk = np.zeros((16, 16, 4), dtype=np.uint8)
    cmyk[:, :8] = (0, 255, 255, 0)  # red
    cmyk[:, 8:] = (0, 0, 0, 128)  # mid gray
    d = read_image(save(tmp_path, "cmyk.jpg", Image.fromarray(cmyk, mode="CMYK"), quality=100))
    assert d.source_mode == "CMYK" and d.pixels.shape == (16, 16, 3)
    assert np.abs(d.pixels[4, 2].astype(int) - (255, 0, 0)).max() <= 3
    assert np.abs(d.pixels[4, 12].astype(int) - (127, 127, 127)).max() <= 3
    assert d.icc_profile is None
    assert any("CMYK converted to RGB without a colour profile" in n for n in d.notes)


def test_jpeg_cmyk_with_profile_is_colour_managed(tmp_path: Path) -> None:
    """A CMYK profile: LittleCMS converts to sRGB and the output carries sRGB, not the CMYK profile."""
    cmyk = np.zeros((8, 8, 4), dtype=np.uint8)
    cmyk[:, 4:] = (0, 0, 0, 255)  # full black ink
    im = Image.fromarray(cmyk, mode="CMYK")
    d = read_image(save(tmp_path, "cmykp.jpg", im, quality=100, icc_profile=_minimal_cmyk_profile()))
    assert d.icc_profile is not None and d.icc_profile[16:20] == b"RGB "
    assert "CMYK converted to sRGB with the embedded colour profile" in d.notes
    assert d.pixels[:, :4].min() >= 240  # no ink: paper white
    # The test profile maps K=100% to Lab L≈76 (sRGB ≈188); the naive formula would give 0, so this
    # value proves the embedded profile drove the conversion.
    assert d.pixels[:, 4:].min() >= 175 and d.pixels[:, 4:].max() <= 200


def _minimal_cmyk_profile() -> bytes:
    """An ICC v2 CMYK output profile with 2-point identity-ish LUTs (lut8 A2B0/B2A0): enough for
    LittleCMS to build a transform. CMYK 0,0,0,0 maps to Lab L=100 (white)."""
    import struct

    def lut8(in_ch: int, out_ch: int, table: list[list[int]], grid: int) -> bytes:
        body = b"mft1\x00\x00\x00\x00" + bytes([in_ch, out_ch, grid, 0])
        ident = [65536, 0, 0, 0, 65536, 0, 0, 0, 65536]
        body += b"".join(struct.pack(">i", v) for v in ident)
        body += bytes(range(256)) * in_ch
        for entry in table:
            body += bytes(entry)
        body += bytes(range(256)) * out_ch
        return body

    # A2B0: CMYK (grid 2, 16 entries) → Lab: white at all-zero ink, darker with any ink.
    a2b = []
    for i in range(16):
        ink = bin(i).count("1")
        lightness = max(0, 255 - ink * 60)
        a2b.append([lightness, 128, 128])
    # B2A0: Lab (grid 2, 8 entries) → CMYK: no ink for light colours, black ink for dark.
    b2a = [[0, 0, 0, 0 if (i & 4) else 255] for i in range(8)]
    tags = [
        (b"desc", b"desc\x00\x00\x00\x00" + struct.pack(">I", 5) + b"cmyk\x00" + b"\x00" * 78),
        (b"wtpt", b"XYZ \x00\x00\x00\x00" + struct.pack(">iii", 63190, 65536, 54061)),
        (b"A2B0", lut8(4, 3, a2b, 2)),
        (b"B2A0", lut8(3, 4, b2a, 2)),
    ]
    table = struct.pack(">I", len(tags))
    data = b""
    offset = 128 + 4 + 12 * len(tags)
    for sig, body in tags:
        while len(body) % 4:
            body += b"\x00"
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = struct.pack(">I", size) + b"lcms" + b"\x02\x10\x00\x00" + b"prtr" + b"CMYK" + b"Lab "
    header += b"\x07\xe8\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00" + b"acsp" + b"\x00" * 24
    header += b"\x00" * 8 + b"\x00" * 4 + struct.pack(">iii", 63190, 65536, 54061)
    header += b"\x00" * (128 - len(header))
    profile = header + table + data
    ImageCms.ImageCmsProfile(io.BytesIO(profile))
    return profile


# ------------------------------------------------------------------------------------------ WebP


def test_webp_lossless_exact_with_alpha(tmp_path: Path) -> None:
    rgba = noise(12, 14, 4)
    rgba[..., 3] = np.maximum(rgba[..., 3], 1)  # lossless WebP may rewrite colour under alpha 0
    d = read_image(save(tmp_path, "l.webp", Image.fromarray(rgba), lossless=True, exact=True))
    assert (d.format, d.pixels.shape) == ("WEBP", (12, 14, 4))
    assert np.array_equal(d.pixels, rgba)


def test_webp_lossy_rgb_close(tmp_path: Path) -> None:
    rgb = smooth(40, 40)
    d = read_image(save(tmp_path, "q.webp", Image.fromarray(rgb), quality=100))
    assert d.pixels.shape == (40, 40, 3)
    assert np.abs(d.pixels.astype(int) - rgb).mean() < 2.0


def test_webp_lossy_alpha_kept(tmp_path: Path) -> None:
    rgba = np.dstack([smooth(20, 20), np.full((20, 20), 255, np.uint8)])
    rgba[:, :10, 3] = 0
    d = read_image(save(tmp_path, "a.webp", Image.fromarray(rgba), quality=90))
    assert d.pixels.shape == (20, 20, 4)
    assert d.pixels[:, :10, 3].max() == 0 and d.pixels[:, 10:, 3].min() == 255


# ------------------------------------------------------------------------------------------ TIFF


def test_tiff_8bit_rgba_and_gray_via_pillow(tmp_path: Path) -> None:
    rgba = noise(10, 12, 4)
    d = read_image(save(tmp_path, "a.tif", Image.fromarray(rgba), compression="tiff_lzw"))
    assert d.format == "TIFF" and np.array_equal(d.pixels, rgba)
    gray16 = noise(10, 12, 1, np.uint16)
    d = read_image(save(tmp_path, "g16.tif", Image.fromarray(gray16[..., 0])))
    assert d.bit_depth == 16 and np.array_equal(d.pixels, gray16)


@pytest.mark.parametrize("channels", [3, 4])
def test_tiff_16bit_little_endian_uncompressed_exact(tmp_path: Path, channels: int) -> None:
    arr = noise(9, 10, channels, np.uint16)
    path = tmp_path / "le.tif"
    path.write_bytes(raw_tiff_le(arr))
    d = read_image(path)
    assert d.bit_depth == 16 and np.array_equal(d.pixels, arr)


def test_tiff_multipage_notes_first_page(tmp_path: Path) -> None:
    pages = [Image.new("L", (6, 6), v) for v in (10, 20)]
    path = tmp_path / "pages.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    d = read_image(path)
    assert d.pixels[0, 0, 0] == 10
    assert d.notes == ("TIFF: only the first of 2 pages is upscaled",)


# ----------------------------------------------------------------------------------- BMP, GIF, AVIF


def test_bmp_exact(tmp_path: Path) -> None:
    rgb = noise(7, 9, 3)
    d = read_image(save(tmp_path, "a.bmp", Image.fromarray(rgb)))
    assert d.format == "BMP" and np.array_equal(d.pixels, rgb)


def test_gif_first_frame_with_transparency_and_note(tmp_path: Path) -> None:
    first = Image.new("P", (10, 10), 1)
    first.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    first.paste(0, (0, 0, 5, 10))
    second = Image.new("P", (10, 10), 2)
    second.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    path = tmp_path / "anim.gif"
    first.save(path, save_all=True, append_images=[second], transparency=0, duration=100, disposal=2)
    d = read_image(path)
    assert d.pixels.shape == (10, 10, 4)
    assert d.pixels[:, :5, 3].max() == 0
    assert tuple(d.pixels[0, 7]) == (255, 0, 0, 255)
    assert d.notes == ("GIF: only the first of 2 frames is upscaled",)


def test_avif_reads(tmp_path: Path) -> None:
    rgb = smooth(32, 32)
    d = read_image(save(tmp_path, "a.avif", Image.fromarray(rgb), quality=95))
    assert (d.format, d.pixels.shape, d.pixels.dtype) == ("AVIF", (32, 32, 3), np.uint8)
    assert np.abs(d.pixels.astype(int) - rgb).mean() < 3.0


# ------------------------------------------------------------------------------------ colour profiles


def test_icc_profiles_are_returned_and_gray_profile_dropped_for_rgba(tmp_path: Path) -> None:
    rgb = noise(4, 4, 3)
    d = read_image(save(tmp_path, "p3.png", Image.fromarray(rgb), icc_profile=P3_ICC))
    assert d.icc_profile == P3_ICC and d.notes == ()
    d = read_image(save(tmp_path, "g.png", Image.fromarray(rgb[..., 0]), icc_profile=GRAY_ICC))
    assert d.icc_profile == GRAY_ICC
    la = Image.fromarray(noise(4, 4, 2), mode="LA")
    d = read_image(save(tmp_path, "la.png", la, icc_profile=GRAY_ICC))
    assert d.icc_profile is None and d.channels == 4
    assert "gray colour profile dropped: the image is stored as RGB(A)" in d.notes


def test_damaged_icc_profile_is_ignored_with_note(tmp_path: Path) -> None:
    broken = P3_ICC[:100] + b"\xff" * 50
    d = read_image(save(tmp_path, "b.png", Image.fromarray(noise(4, 4, 3)), icc_profile=broken))
    assert d.icc_profile is None and "colour profile ignored: it is damaged" in d.notes
