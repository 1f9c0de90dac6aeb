"""Fuzz targets for read_image and graft_exif, shared by the short test and benchmarks/fuzz_imaging.py.

Inputs are valid files (every format read_image takes, with EXIF/ICC/XMP where the format has
them) mutated by Hypothesis: bytes flipped, set, cut, duplicated, deleted, inserted. The contract:
read_image either decodes or raises ImageReadError, within a time limit; graft_exif returns None
or EXIF that piexif reads back with Orientation 1, and never raises.
"""

from __future__ import annotations

import contextlib
import functools
import io
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import piexif
from hypothesis import strategies as st
from PIL import Image

from pixup.errors import ImageReadError
from pixup.imaging import read_image
from pixup.imaging.metadata import EXIF_HEADER, graft_exif
from pixup.imaging.pngwrite import write_png
from pixup.imaging.tiffwrite import write_tiff
from tests.imaging.helpers import P3_ICC, camera_exif, raw_png, xmp_packet

FUZZ_MAX_PIXELS = 4_000_000  # small, so a mutated header asking for a huge canvas stays cheap
TIME_LIMIT_S = 10.0  # one input taking longer than this counts as a hang


class Hang(AssertionError):
    """An input took longer than TIME_LIMIT_S."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise Hang in the main thread when the body runs longer than `seconds`."""

    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _save(im: Image.Image, fmt: str, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


@functools.cache
def image_seeds() -> tuple[bytes, ...]:
    """Small valid files of every format and mode read_image takes."""
    rng = np.random.default_rng(7)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    rgba = Image.fromarray(rng.integers(0, 256, (12, 16, 4), dtype=np.uint8))
    exif = camera_exif(orientation=6, width=16, height=12)
    xmp = xmp_packet(6, 16, 12)
    deep = rng.integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    frames = [Image.new("P", (10, 10), i) for i in range(3)]
    png16 = io.BytesIO()
    write_png(png16, deep, icc=P3_ICC, exif=exif, xmp=xmp)
    tiff16 = io.BytesIO()
    write_tiff(tiff16, np.dstack([deep, deep[..., :1]]), icc=P3_ICC, exif=exif, xmp=xmp)
    return (
        _save(rgb, "PNG", exif=exif, icc_profile=P3_ICC),
        _save(rgba.convert("P"), "PNG", transparency=3),
        png16.getvalue(),
        raw_png(rng.integers(0, 65536, (7, 9, 2), dtype=np.uint16), interlaced=True),
        _save(rgb, "JPEG", quality=80, exif=exif, icc_profile=P3_ICC, xmp=xmp),
        _save(rgb, "JPEG", quality=80, progressive=True),
        _save(rgb.convert("CMYK"), "JPEG"),
        _save(rgb, "WEBP", quality=70, exif=exif),
        _save(rgba, "WEBP", lossless=True, icc_profile=P3_ICC, xmp=xmp),
        _gif(frames),
        _save(rgb, "TIFF", compression="tiff_adobe_deflate", tiffinfo={274: 6}),
        _save(rgba, "TIFF"),
        tiff16.getvalue(),
        _save(rgb, "BMP"),
    )


def _gif(frames: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], transparency=0)
    return buf.getvalue()


@functools.cache
def exif_seeds() -> tuple[bytes, ...]:
    little = Image.Exif()
    little[271] = "Maker"
    little[274] = 3
    little[0x8769] = {33434: (1, 60), 36867: "2020:01:01 00:00:00"}
    return (
        camera_exif(orientation=6),
        camera_exif(orientation=1, thumbnail=False)[len(EXIF_HEADER) :],
        little.tobytes(),
    )


_OPS = ("flip", "set", "cut", "dup", "del", "ins")


def mutate(data: bytes, ops: list[tuple[str, int, int]]) -> bytes:
    """Apply (op, position, value) edits; positions wrap around the current length."""
    buf = bytearray(data)
    for op, position, value in ops:
        if not buf:
            break
        at = position % len(buf)
        if op == "flip":
            buf[at] ^= 1 << (value % 8)
        elif op == "set":
            buf[at] = value
        elif op == "cut":
            del buf[at:]
        elif op == "dup":
            buf[at:at] = buf[at : at + 1 + value]
        elif op == "del":
            del buf[at : at + 1 + value % 16]
        else:
            buf[at:at] = bytes([value]) * (1 + value % 8)
    return bytes(buf)


_EDITS = st.lists(
    st.tuples(st.sampled_from(_OPS), st.integers(0, 1 << 20), st.integers(0, 255)), min_size=0, max_size=6
)


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    seed = draw(st.sampled_from(image_seeds()))
    return mutate(seed, draw(_EDITS))


@st.composite
def mutated_exif(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    seed = draw(st.sampled_from(exif_seeds()))
    return mutate(seed, draw(_EDITS))


def check_read(data: bytes, folder: Path) -> str:
    """The read_image contract on one input: "decoded" or "error"; anything else raises."""
    path = folder / "fuzz.img"
    path.write_bytes(data)
    with time_limit(TIME_LIMIT_S):
        try:
            decoded = read_image(path, max_pixels=FUZZ_MAX_PIXELS)
        except ImageReadError as err:
            text = str(err)
            assert text.startswith(str(path)) and "\n" not in text, text
            return "error"
    pixels = decoded.pixels
    assert pixels.ndim == 3 and pixels.shape[2] in (1, 3, 4), pixels.shape
    assert pixels.dtype in (np.uint8, np.uint16) and pixels.flags["C_CONTIGUOUS"]
    return "decoded"


def check_graft(data: bytes) -> str:
    """The graft_exif contract on one input: "grafted" or "dropped"; anything else raises."""
    with time_limit(TIME_LIMIT_S):
        out = graft_exif(data, 640, 480)
    if out is None:
        return "dropped"
    assert out.startswith(EXIF_HEADER)
    loaded = piexif.load(out)
    assert loaded["0th"][piexif.ImageIFD.Orientation] == 1
    assert loaded["Exif"][piexif.ExifIFD.PixelXDimension] == 640
    assert loaded["thumbnail"] is None
    return "grafted"
