"""What each output format can hold, checked before inference so no hour of work hits a wall."""

from __future__ import annotations

from typing import get_args

from pixup.choices import OutputFormat
from pixup.errors import ImageWriteError

Format = OutputFormat
"""An output format pixup writes (defined once, in the API schema every front end speaks)."""
FORMATS: tuple[Format, ...] = get_args(Format)

EXTENSIONS: dict[Format, str] = {fmt: fmt for fmt in FORMATS}
"""File name extension per format (without the dot): today each format's own name."""

MAX_SIDE: dict[Format, int] = {
    "png": 2**31 - 1,  # the PNG spec
    "webp": 16383,  # libwebp
    "jpg": 65500,  # libjpeg(-turbo)'s JPEG_MAX_DIMENSION, a little below the format's 65535
    "tiff": 2**32 - 1,
}
"""Largest width or height per format."""

TIFF_MAX_BYTES = 2**32 - 1
"""Classic TIFF addresses 4 GB; pixup does not write BigTIFF."""

_NAMES: dict[Format, str] = {"png": "PNG", "webp": "WebP", "jpg": "JPEG", "tiff": "TIFF"}


def _output_shape(fmt: Format, channels: int, bit_depth: int) -> tuple[int, int]:
    """(channels, bytes per sample) the file will store for pixels of this kind."""
    if fmt == "jpg":
        return (1 if channels == 1 else 3), 1
    if fmt == "webp":
        return (4 if channels == 4 else 3), 1
    return channels, (2 if bit_depth > 8 else 1)


def _problem(width: int, height: int, fmt: Format, channels: int, bit_depth: int) -> str | None:
    side = MAX_SIDE[fmt]
    if width > side or height > side:
        return f"{_NAMES[fmt]} cannot hold {width}×{height} (max {side} px per side)"
    if fmt == "tiff":
        c, size = _output_shape(fmt, channels, bit_depth)
        raw = width * height * c * size
        if raw > TIFF_MAX_BYTES:
            return (
                f"TIFF cannot hold {width}×{height} ({raw / 2**30:.1f} GB uncompressed; "
                "classic TIFF is limited to 4 GB)"
            )
    return None


def formats_that_fit(width: int, height: int, *, channels: int = 4, bit_depth: int = 16) -> list[Format]:
    """The output formats that can hold a `width`×`height` image, in pixup's order of preference.

    `channels` (1, 3, 4) and `bit_depth` (8, 16) of the pixels only matter for TIFF's 4 GB limit;
    the defaults assume the largest (RGBA, 16-bit) so the answer is safe when they are unknown.
    """
    return [f for f in FORMATS if _problem(width, height, f, channels, bit_depth) is None]


def check_output_fits(
    width: int, height: int, fmt: Format, *, channels: int = 4, bit_depth: int = 16
) -> None:
    """Raise ImageWriteError, e.g. "WebP cannot hold 20000×9000 (max 16383 px per side); use png or
    tiff", when `fmt` cannot hold a `width`×`height` output. Call it before inference."""
    if fmt not in FORMATS:
        raise ImageWriteError(f"unknown output format {fmt!r} (choose one of {', '.join(FORMATS)})",
                              code="invalid_request")
    problem = _problem(width, height, fmt, channels, bit_depth)
    if problem is None:
        return
    others = [f for f in formats_that_fit(width, height, channels=channels, bit_depth=bit_depth) if f != fmt]
    advice = (
        f"; use {' or '.join(others)}" if others else "; no output format can hold it, use a smaller scale"
    )
    raise ImageWriteError(problem + advice, code="format_limit")
