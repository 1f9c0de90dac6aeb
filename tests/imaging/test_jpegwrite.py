"""Big JPEGs in strips joined by restart markers: the same pixels as Pillow's whole-image encode,
every decoder reads them, metadata kept, memory bounded."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixup.imaging import encode, jpegwrite
from pixup.imaging.encode import EncodeOptions, write_image
from pixup.imaging.metadata import Metadata
from tests.imaging.helpers import SRGB_ICC, camera_exif, xmp_packet


def _photo_like(h: int, w: int, c: int, seed: int = 0) -> np.ndarray:
    """Smooth colour blobs plus noise: varied blocks, so the DC predictors matter."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (h // 16 + 2, w // 16 + 2, c), dtype=np.uint8)
    mode = "L" if c == 1 else ("RGBA" if c == 4 else "RGB")
    small = Image.fromarray(coarse[..., 0] if c == 1 else coarse, mode)
    smooth = np.asarray(small.resize((w, h), Image.Resampling.BICUBIC))
    noisy = smooth.reshape(h, w, c).astype(np.int16) + rng.integers(-12, 13, (h, w, c))
    out: np.ndarray = np.clip(noisy, 0, 255).astype(np.uint8)
    return out


def _markers(data: bytes) -> list[int]:
    """Marker codes in file order up to SOS, then every RSTn in the entropy data, then EOI."""
    found: list[int] = []
    at = 2
    while True:
        marker = data[at + 1]
        found.append(marker)
        length = struct.unpack(">H", data[at + 2 : at + 4])[0]
        at += 2 + length
        if marker == 0xDA:
            break
    for i in range(at, len(data) - 1):
        if data[i] == 0xFF and data[i + 1] not in (0x00,) and 0xD0 <= data[i + 1] <= 0xD9:
            found.append(data[i + 1])
    return found


@pytest.fixture
def small_strips(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strips of a couple of MCU rows and a low size limit, so small test images take the strip path
    with many strips (more than eight: the RST numbers wrap)."""
    monkeypatch.setattr(jpegwrite, "_STRIP_BYTES", 1)
    monkeypatch.setattr(encode, "WHOLE_IMAGE_MAX_PIXELS", 100)


@pytest.mark.parametrize(
    ("h", "w", "c", "subsampling"),
    [(157, 203, 3, "4:4:4"), (157, 203, 3, "4:2:0"), (100, 77, 1, "4:4:4"), (161, 90, 4, "4:2:0")],
)
def test_strips_decode_to_the_whole_image_encode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, h: int, w: int, c: int, subsampling: str
) -> None:
    pixels = _photo_like(h, w, c)
    options = EncodeOptions(quality=88, jpeg_subsampling=subsampling)  # type: ignore[arg-type]
    whole = write_image(pixels, tmp_path / "whole.jpg", fmt="jpg", options=options, metadata=None)
    monkeypatch.setattr(jpegwrite, "_STRIP_BYTES", 1)
    monkeypatch.setattr(encode, "WHOLE_IMAGE_MAX_PIXELS", 100)
    strips = write_image(pixels, tmp_path / "strips.jpg", fmt="jpg", options=options, metadata=None)

    data = strips.read_bytes()
    markers = _markers(data)
    rows = jpegwrite.strip_rows(w, 1 if c == 1 else 3, subsampling)  # type: ignore[arg-type]
    count = -(-h // rows)
    assert count > 8  # the test is about many strips
    assert 0xDD in markers  # DRI
    restarts = [m for m in markers if 0xD0 <= m <= 0xD7]
    assert restarts == [0xD0 + i % 8 for i in range(count - 1)]
    assert markers[-1] == 0xD9
    with Image.open(strips) as im:
        assert im.size == (w, h)
        assert im.mode == ("L" if c == 1 else "RGB")
        got = np.asarray(im)
    with Image.open(whole) as im:
        want = np.asarray(im)  # optimised Huffman tables there: lossless, same pixels
    assert np.array_equal(got, want)


def test_strip_jpeg_keeps_metadata(tmp_path: Path, small_strips: None) -> None:
    h, w = 120, 90
    meta = Metadata(exif=camera_exif(orientation=1, width=w, height=h), icc=SRGB_ICC, xmp=xmp_packet(1, w, h))
    pixels = _photo_like(h, w, 3)
    out = write_image(pixels, tmp_path / "m.jpg", fmt="jpg", options=EncodeOptions(), metadata=meta)
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == SRGB_ICC
        exif = im.getexif()
        assert exif.get(0x010F) == "Canon"  # Make, from the source's EXIF
        assert b"xmpmeta" in im.info.get("xmp", b"")
        assert im.size == (w, h)


def test_big_jpeg_never_copies_the_whole_image(tmp_path: Path) -> None:
    """A 6000×4000 RGB output (72 MB) through the default settings: the strip path adds a few MB,
    where Pillow's whole-image encode with optimised tables added ~10 bytes per pixel (240 MB)."""
    script = r"""
import sys, numpy as np
from pathlib import Path
from pixup.imaging.encode import EncodeOptions, write_image
def rss():
    fields = dict(line.split(':', 1) for line in open('/proc/self/status'))
    return int(fields['VmHWM'].split()[0]) // 1024, int(fields['VmRSS'].split()[0]) // 1024
pixels = np.empty((4000, 6000, 3), np.uint8)
pixels[...] = (np.arange(6000, dtype=np.uint32) % 251).astype(np.uint8)[None, :, None]
open('/proc/self/clear_refs', 'w').write('5')
before = rss()[1]
write_image(pixels, Path(sys.argv[1]), fmt="jpg", options=EncodeOptions(), metadata=None)
print(rss()[0] - before)
"""
    added = int(subprocess.run([sys.executable, "-c", script, str(tmp_path / "big.jpg")], check=True,
                               capture_output=True, text=True).stdout)
    assert added < 40, f"encoding added {added} MB"
    with Image.open(tmp_path / "big.jpg") as im:
        assert im.size == (6000, 4000)


def test_progressive_and_small_jpegs_keep_the_whole_image_path(tmp_path: Path, small_strips: None) -> None:
    pixels = _photo_like(64, 64, 3)
    out = write_image(pixels, tmp_path / "p.jpg", fmt="jpg", options=EncodeOptions(jpeg_progressive=True),
                      metadata=None)
    assert 0xDD not in _markers(out.read_bytes())  # no restart interval: Pillow's own encode
    with Image.open(out) as im:
        assert im.info.get("progressive") or im.info.get("progression")


def test_mismatched_tables_are_refused(monkeypatch: pytest.MonkeyPatch, small_strips: None) -> None:
    """Should libjpeg ever pick different tables for two strips, the writer stops rather than
    joining them into a file that decodes wrong."""
    import io

    calls = {"n": 0}
    real_save = Image.Image.save

    def save(self: Image.Image, fp: object, format: str | None = None, **kw: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            kw["quality"] = 50
        real_save(self, fp, format=format, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Image.Image, "save", save)
    monkeypatch.setattr(jpegwrite, "_MAX_WORKERS", 1)
    pixels = _photo_like(64, 32, 3)
    with pytest.raises(jpegwrite.StripMismatch):
        jpegwrite.write_jpeg_strips(io.BytesIO(), 64, 32, 3, lambda a, b: pixels[a:b], quality=90,
                                    subsampling="4:4:4")
