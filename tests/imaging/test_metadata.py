"""graft_exif / graft_xmp / fit_metadata, and EXIF orientation at read time."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import piexif
import pytest
from PIL import Image, ImageOps

from pixup.imaging import read_image
from pixup.imaging.metadata import (
    EXIF_HEADER,
    Metadata,
    exif_orientation,
    fit_metadata,
    graft_exif,
    graft_xmp,
    icc_colour_space,
)
from tests.imaging.helpers import GRAY_ICC, KEPT_TAGS, P3_ICC, SRGB_ICC, camera_exif, xmp_packet


def test_graft_removes_thumbnail_sets_size_and_orientation_keeps_the_rest() -> None:
    source = camera_exif(orientation=6, width=60, height=40)
    before = piexif.load(source)
    assert before["thumbnail"] and before["1st"]  # the test material really has a thumbnail

    out = graft_exif(source, 240, 160)
    assert out is not None and out.startswith(EXIF_HEADER)
    after = piexif.load(out)
    assert after["thumbnail"] is None and after["1st"] == {}
    assert after["0th"][piexif.ImageIFD.Orientation] == 1
    assert after["Exif"][piexif.ExifIFD.PixelXDimension] == 240
    assert after["Exif"][piexif.ExifIFD.PixelYDimension] == 160
    assert piexif.ImageIFD.ImageWidth not in after["0th"]  # not invented where absent
    for ifd, tag in KEPT_TAGS:
        assert after[ifd][tag] == before[ifd][tag], (ifd, tag)
    assert len(out) < len(source) - 400  # the thumbnail's bytes are gone too


def test_graft_accepts_bare_tiff_and_updates_image_width_when_present() -> None:
    exif = piexif.dump({"0th": {piexif.ImageIFD.ImageWidth: 10, piexif.ImageIFD.ImageLength: 5}})
    out = graft_exif(exif[len(EXIF_HEADER) :], 40, 20)
    assert out is not None
    zeroth = piexif.load(out)["0th"]
    assert (zeroth[piexif.ImageIFD.ImageWidth], zeroth[piexif.ImageIFD.ImageLength]) == (40, 20)


def test_graft_drops_storage_tags_of_a_tiff_source() -> None:
    exif = piexif.dump(
        {
            "0th": {
                piexif.ImageIFD.Make: b"Nikon",
                piexif.ImageIFD.StripOffsets: (8, 1000),
                piexif.ImageIFD.StripByteCounts: (992, 992),
                piexif.ImageIFD.BitsPerSample: (16, 16, 16),
                piexif.ImageIFD.InterColorProfile: SRGB_ICC,
            }
        }
    )
    out = graft_exif(exif, 8, 8)
    assert out is not None
    assert set(piexif.load(out)["0th"]) == {
        piexif.ImageIFD.Make,
        piexif.ImageIFD.Orientation,
        piexif.ImageIFD.ExifTag,  # the pointer to the EXIF IFD that holds PixelX/YDimension
    }


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"Exif\x00\x00",
        b"Exif\x00\x00MM\x00*",
        b"hello world",
        b"II*\x00\xff\xff\xff\xff",
        bytes(range(256)),
    ],
)
def test_graft_of_garbage_is_none(junk: bytes) -> None:
    assert graft_exif(junk, 10, 10) is None


def _patch_entry(exif: bytes, tag: int, *, count: int | None = None, typ: int | None = None) -> bytes:
    """Rewrite one IFD entry's type/count in a big-endian (piexif) EXIF block, wherever it is."""
    data = bytearray(exif)
    body = 6
    needle = struct.pack(">H", tag)
    start = body + 8
    while True:
        at = data.index(needle, start)
        entry_type = struct.unpack_from(">H", data, at + 2)[0]
        if entry_type in range(1, 13):
            break
        start = at + 1
    if typ is not None:
        struct.pack_into(">H", data, at + 2, typ)
    if count is not None:
        struct.pack_into(">I", data, at + 4, count)
    return bytes(data)


def test_graft_survives_a_huge_count_fast_and_keeps_the_other_tags() -> None:
    """A count of 2**32-1 makes piexif build a 4-GB struct format (it hangs); pixup drops the
    entry before piexif sees it."""
    bad = _patch_entry(camera_exif(), piexif.ImageIFD.Artist, count=0xFFFFFFFF)
    started = time.monotonic()
    out = graft_exif(bad, 10, 10)
    assert time.monotonic() - started < 5
    assert out is not None
    loaded = piexif.load(out)
    assert piexif.ImageIFD.Artist not in loaded["0th"]
    assert loaded["0th"][piexif.ImageIFD.Make] == b"Canon"
    assert loaded["Exif"][piexif.ExifIFD.LensModel] == b"EF 50mm"


def test_graft_survives_a_wild_exif_pointer() -> None:
    exif = camera_exif()
    data = bytearray(exif)
    at = data.index(struct.pack(">HHI", piexif.ImageIFD.ExifTag, 4, 1))
    struct.pack_into(">I", data, at + 8, 0x7FFFFFF0)
    out = graft_exif(bytes(data), 10, 10)
    assert out is not None
    loaded = piexif.load(out)
    assert loaded["0th"][piexif.ImageIFD.Model] == b"EOS 5D"
    assert loaded["GPS"][piexif.GPSIFD.GPSLatitudeRef] == b"N"
    assert set(loaded["Exif"]) == {piexif.ExifIFD.PixelXDimension, piexif.ExifIFD.PixelYDimension}


def test_graft_survives_an_unknown_type() -> None:
    bad = _patch_entry(camera_exif(), piexif.ImageIFD.Copyright, typ=99)
    out = graft_exif(bad, 10, 10)
    assert out is not None
    loaded = piexif.load(out)
    assert piexif.ImageIFD.Copyright not in loaded["0th"]
    assert loaded["0th"][piexif.ImageIFD.Artist] == b"Ann Example"


def test_graft_drops_a_maker_note_that_would_overflow_a_jpeg_segment() -> None:
    exif = piexif.dump(
        {"0th": {piexif.ImageIFD.Make: b"X"}, "Exif": {piexif.ExifIFD.MakerNote: b"\x01" * 70000}}
    )
    out = graft_exif(exif, 10, 10)
    assert out is not None and len(out) < 1000
    assert piexif.ExifIFD.MakerNote not in piexif.load(out)["Exif"]


def test_exif_orientation_reads_tag_and_tolerates_garbage() -> None:
    assert exif_orientation(camera_exif(orientation=8)) == 8
    assert exif_orientation(None) == 1
    assert exif_orientation(b"garbage") == 1


def test_graft_xmp_sets_orientation_and_sizes_in_both_syntaxes() -> None:
    out = graft_xmp(xmp_packet(orientation=6, width=60, height=40), 240, 160).decode("utf-8")
    assert 'tiff:Orientation="1"' in out
    assert 'exif:PixelXDimension="240"' in out
    assert "<exif:PixelYDimension>160</exif:PixelYDimension>" in out
    assert "Ünïcode title" in out and out.endswith('<?xpacket end="w"?>')


def test_fit_metadata_drops_a_profile_of_the_wrong_colour_space() -> None:
    meta = Metadata(exif=None, icc=GRAY_ICC, xmp=None)
    fitted, notes = fit_metadata(meta, 10, 10, channels=3)
    assert fitted.icc is None
    assert notes == ["colour profile dropped: it is for GRAY data and the output has 3 channels"]
    fitted, notes = fit_metadata(Metadata(icc=P3_ICC), 10, 10, channels=4)
    assert fitted.icc == P3_ICC and notes == []
    assert icc_colour_space(P3_ICC) == "RGB" and icc_colour_space(b"short") is None


# ----------------------------------------------------------------------------------- orientation


def asymmetric(h: int = 6, w: int = 10) -> np.ndarray:
    """Every pixel different, so any wrong flip or turn shows."""
    values = np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)
    return values


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["png", "webp", "tiff"])
def test_read_applies_orientation_like_exif_transpose(tmp_path: Path, orientation: int, fmt: str) -> None:
    arr = asymmetric()
    path = tmp_path / f"o{orientation}.{fmt}"
    im = Image.fromarray(arr)
    if fmt == "tiff":
        im.save(path, tiffinfo={274: orientation})
    elif fmt == "webp":
        im.save(path, lossless=True, exif=camera_exif(orientation=orientation))
    else:
        im.save(path, exif=camera_exif(orientation=orientation))
    decoded = read_image(path)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    assert decoded.orientation == orientation
    assert np.array_equal(decoded.pixels, expected)
    assert decoded.pixels.flags["C_CONTIGUOUS"]


def test_invalid_orientation_value_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "o.png"
    exif = piexif.dump({"0th": {piexif.ImageIFD.Orientation: 9}})
    Image.fromarray(asymmetric()).save(path, exif=exif)
    decoded = read_image(path)
    assert decoded.orientation == 1 and np.array_equal(decoded.pixels, asymmetric())
