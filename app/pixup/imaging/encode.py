"""write_image: H×W×C pixels + metadata → a PNG, WebP, JPEG or TIFF file, written atomically.

What each format keeps: PNG and TIFF keep 16 bits and alpha; WebP keeps alpha at 8 bits; JPEG
keeps neither (alpha is flattened onto `EncodeOptions.background`). Metadata is fitted to the
pixels on the way (metadata.fit_metadata): EXIF grafted, XMP orientation/size fixed, a profile of
the wrong colour space dropped. PNG (8 and 16 bits: parallel deflate) and TIFF use pixup's own small
writers (Pillow has no 16-bit colour mode); JPEG and WebP go through Pillow, except big baseline
JPEGs (written in strips, imaging/jpegwrite.py) and big lossy WebPs (libwebp fed a band of rows at
a time, imaging/webpwrite.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, get_args

import numpy as np
from PIL import Image

from pixup.choices import JpegSubsampling
from pixup.errors import ImageWriteError
from pixup.imaging import webpwrite
from pixup.imaging.atomic import atomic_write
from pixup.imaging.jpegwrite import write_jpeg_strips
from pixup.imaging.limits import FORMATS, Format, check_output_fits, formats_that_fit
from pixup.imaging.metadata import EXIF_HEADER, JPEG_EXIF_MAX, Metadata, fit_metadata
from pixup.imaging.pixels import check_pixels, flatten_alpha, gray_to_rgb, to_uint8
from pixup.imaging.pngwrite import write_png
from pixup.imaging.tiffwrite import write_tiff

__all__ = ["EncodeOptions", "check_output_fits", "encode_notes", "formats_that_fit", "write_image"]

log = logging.getLogger(__name__)

WHOLE_IMAGE_MAX_PIXELS = 4_000_000
"""Above this, a baseline JPEG is written in strips (see `_jpeg_in_strips`) and a lossy WebP in
bands (see `_webp_in_bands`); up to it, Pillow encodes the whole image."""
_JPEG_XMP_MAX = 65502  # one APP1 segment less the XMP namespace header; larger needs "extended XMP"


@dataclass(frozen=True)
class EncodeOptions:
    """How to encode an output file. Fields that do not apply to the chosen format are ignored."""

    quality: int | None = None
    """JPEG/WebP quality 1-100; None means the format's default (JPEG 92, WebP 90)."""
    webp_lossless: bool = False
    """Write lossless WebP (quality then sets the compression effort)."""
    png_compress_level: int = 6
    """zlib level 0-9 for PNG (and TIFF's deflate)."""
    jpeg_subsampling: JpegSubsampling = "4:4:4"
    """Chroma subsampling; 4:4:4 keeps the detail an upscaler just made."""
    jpeg_progressive: bool = False
    """Write a progressive JPEG."""
    background: tuple[int, int, int] = (255, 255, 255)
    """8-bit RGB colour that transparent areas are flattened onto where the format has no alpha (JPEG)."""

    def __post_init__(self) -> None:
        if self.quality is not None and not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be 1-100, got {self.quality}")
        if not 0 <= self.png_compress_level <= 9:
            raise ValueError(f"png_compress_level must be 0-9, got {self.png_compress_level}")
        if self.jpeg_subsampling not in get_args(JpegSubsampling):
            raise ValueError(f"jpeg_subsampling must be 4:4:4 or 4:2:0, got {self.jpeg_subsampling!r}")
        if len(self.background) != 3 or not all(0 <= v <= 255 for v in self.background):
            raise ValueError(f"background must be three values 0-255, got {self.background!r}")


def encode_notes(channels: int, bit_depth: int, fmt: Format) -> list[str]:
    """What writing pixels of this kind as `fmt` will lose, one line each (for the UI and CLI)."""
    notes: list[str] = []
    if bit_depth > 8 and fmt in ("jpg", "webp"):
        name = "JPEG" if fmt == "jpg" else "WebP"
        notes.append(f"{name} holds 8 bits per channel; the 16-bit result is reduced to 8-bit")
    if channels == 4 and fmt == "jpg":
        notes.append("JPEG has no transparency; the alpha channel is flattened onto the background colour")
    if channels == 1 and fmt == "webp":
        notes.append("WebP has no grayscale mode; the image is stored as RGB")
    return notes


def write_image(
    pixels: np.ndarray,
    path: Path,
    *,
    fmt: Format,
    options: EncodeOptions,
    metadata: Metadata | None,
    overwrite: bool = False,
) -> Path:
    """Encode `pixels` (H×W×C, uint8/uint16, C in 1, 3, 4) as `fmt` into `path`, atomically.

    `metadata` is the source's (DecodedImage.metadata); it is fitted to these pixels here.
    Raises ImageWriteError (one line) for format limits, an existing file without `overwrite`, and
    file-system errors; ValueError for pixels of the wrong shape or dtype. Returns `path`.
    """
    path = Path(path)
    pixels = check_pixels(pixels)
    height, width, channels = pixels.shape
    check_output_fits(width, height, fmt, channels=channels, bit_depth=pixels.itemsize * 8)
    notes = encode_notes(channels, pixels.itemsize * 8, fmt)
    source = pixels  # JPEG strips and WebP bands convert (8-bit...) a band at a time: no full-size copy
    whole = not (_jpeg_in_strips(fmt, pixels, options) or _webp_in_bands(fmt, pixels, options))
    pixels, channels = _for_format(pixels, fmt, options, whole=whole)
    fitted, dropped = fit_metadata(metadata or Metadata(), width, height, channels)
    for note in notes + dropped:
        log.info("%s: %s", path, note)

    def writer(f: BinaryIO) -> None:
        if fmt == "png":
            _png(f, pixels, options, fitted)
        elif fmt == "tiff":
            write_tiff(
                f,
                pixels,
                compress_level=options.png_compress_level,
                icc=fitted.icc,
                exif=fitted.exif,
                xmp=fitted.xmp,
                name=str(path),
            )
        elif fmt == "jpg":
            _jpeg(f, pixels, source, options, fitted, path)
        else:
            _webp(f, pixels, source, options, fitted, path)

    return atomic_write(path, writer, overwrite)


def _for_format(
    pixels: np.ndarray, fmt: Format, options: EncodeOptions, *, whole: bool = True
) -> tuple[np.ndarray, int]:
    """Pixels the format can store: 8-bit for JPEG/WebP, no alpha for JPEG, no gray for WebP.
    `whole=False` (JPEG in strips, WebP in bands): only the channel count; the bands are converted
    one by one."""
    if fmt == "jpg" and not whole:
        return pixels, min(int(pixels.shape[2]), 3)
    if fmt == "webp" and not whole:
        return pixels, 4 if pixels.shape[2] == 4 else 3
    if fmt == "jpg":
        pixels = to_uint8(flatten_alpha(pixels, options.background))
    elif fmt == "webp":
        pixels = gray_to_rgb(to_uint8(pixels))
    elif fmt not in FORMATS:
        raise ImageWriteError(f"unknown output format {fmt!r}", code="invalid_request")
    return pixels, int(pixels.shape[2])


def _pillow_image(pixels: np.ndarray) -> Image.Image:
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[pixels.shape[2]]
    data = pixels[..., 0] if pixels.shape[2] == 1 else pixels
    return Image.fromarray(np.ascontiguousarray(data), mode=mode)


def _png(f: BinaryIO, pixels: np.ndarray, options: EncodeOptions, meta: Metadata) -> None:
    # pixup's writer for every depth: deflate on several threads, straight from the pixels (no
    # full-size copy into Pillow); at the same zlib level as fast as Pillow's on one core
    # (benchmarks/bench_png.py), and the same iCCP/eXIf/iTXt chunks.
    write_png(
        f, pixels, compress_level=options.png_compress_level, icc=meta.icc, exif=meta.exif, xmp=meta.xmp
    )


def _jpeg_in_strips(fmt: Format, pixels: np.ndarray, options: EncodeOptions) -> bool:
    """Big baseline JPEGs are written in strips (pixup.imaging.jpegwrite): Pillow's whole-image
    encode copies the pixels and, to optimise its Huffman tables, buffers every coefficient (about
    10 bytes per pixel at 4:4:4). Up to `WHOLE_IMAGE_MAX_PIXELS` that is cheap and gives files a few
    per cent smaller; a progressive JPEG needs the whole image whatever its size."""
    big = pixels.shape[0] * pixels.shape[1] > WHOLE_IMAGE_MAX_PIXELS
    return fmt == "jpg" and big and not options.jpeg_progressive


def _jpeg(
    f: BinaryIO, pixels: np.ndarray, source: np.ndarray, options: EncodeOptions, meta: Metadata, path: Path
) -> None:
    """`pixels`: converted for JPEG (whole-image path); `source`: as given (strip path)."""
    kwargs: dict[str, object] = {
        "quality": options.quality or 92,
        "subsampling": options.jpeg_subsampling,
        "progressive": options.jpeg_progressive,
        "optimize": True,
    }
    if meta.icc:
        kwargs["icc_profile"] = meta.icc  # Pillow splits large profiles over several APP2 segments
    if meta.exif:
        exif = meta.exif if meta.exif.startswith(EXIF_HEADER) else EXIF_HEADER + meta.exif
        if len(exif) <= JPEG_EXIF_MAX:
            kwargs["exif"] = exif
        else:
            log.warning("%s: EXIF dropped: %d bytes do not fit in a JPEG APP1 segment", path, len(exif))
    if meta.xmp:
        if len(meta.xmp) <= _JPEG_XMP_MAX:
            kwargs["xmp"] = meta.xmp
        else:
            log.warning("%s: XMP dropped: %d bytes do not fit in one JPEG segment", path, len(meta.xmp))
    if _jpeg_in_strips("jpg", source, options):
        height, width = source.shape[:2]
        channels = 1 if source.shape[2] == 1 else 3

        def strip(top: int, bottom: int) -> np.ndarray:
            return to_uint8(flatten_alpha(source[top:bottom], options.background))

        fields = [kwargs.get(key) for key in ("icc_profile", "exif", "xmp")]
        kept_icc, kept_exif, kept_xmp = (value if isinstance(value, bytes) else None for value in fields)
        write_jpeg_strips(
            f, height, width, channels, strip, quality=options.quality or 92,
            subsampling=options.jpeg_subsampling, icc=kept_icc, exif=kept_exif, xmp=kept_xmp,
        )
        return
    _pillow_image(pixels).save(f, format="JPEG", **kwargs)


def _webp_in_bands(fmt: Format, pixels: np.ndarray, options: EncodeOptions) -> bool:
    """Big lossy WebPs are encoded from YUV planes filled a band at a time (pixup.imaging.webpwrite):
    Pillow's encode copies the pixels into its 4-byte image and libwebp makes an ARGB picture of
    that before its YUV one (+462 MiB at 8000×6000, against +95 MiB here: the 69 MiB of planes and
    libwebp's own token buffer). Lossless WebP, small images and a Python without a usable libwebp
    stay with Pillow."""
    big = pixels.shape[0] * pixels.shape[1] > WHOLE_IMAGE_MAX_PIXELS
    return fmt == "webp" and big and not options.webp_lossless and webpwrite.library() is not None


def _webp(
    f: BinaryIO, pixels: np.ndarray, source: np.ndarray, options: EncodeOptions, meta: Metadata, path: Path
) -> None:
    """`pixels`: converted for WebP (Pillow path); `source`: as given (band path)."""
    quality = options.quality or 90
    if _webp_in_bands("webp", source, options):
        height, width, channels = source.shape
        try:
            webpwrite.write_webp_bands(
                f, height, width, channels, lambda top, bottom: to_uint8(source[top:bottom]),
                quality=quality, method=4, icc=meta.icc, exif=meta.exif, xmp=meta.xmp, name=str(path),
            )
            return
        except webpwrite.WebPUnavailable as err:  # raised before anything is written
            log.debug("%s: WebP through Pillow: %s", path, err)
            pixels = gray_to_rgb(to_uint8(source))
    kwargs: dict[str, object] = {
        "quality": quality,
        "lossless": options.webp_lossless,
        "method": 4,
    }
    if meta.icc:
        kwargs["icc_profile"] = meta.icc
    if meta.exif:
        kwargs["exif"] = meta.exif
    if meta.xmp:
        kwargs["xmp"] = meta.xmp
    _pillow_image(pixels).save(f, format="WEBP", **kwargs)
