"""read_image: a file on disk → upright H×W×C pixels (uint8 or uint16, C in 1, 3, 4) and metadata.

Every failure is an ImageReadError whose text is one line naming the file and the reason. Pillow's
own pixel limit is a process-wide global, so it is switched off here and the limit is checked per
call instead (`max_pixels`), which lets one job allow a large image without touching the others.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import stat
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from pixup.errors import FailureCode, ImageReadError, ImageTooLargeError
from pixup.imaging.deep import decode_deep, needs_deep_decode, unpremultiply16
from pixup.imaging.metadata import EXIF_HEADER, Metadata, icc_colour_space, icc_is_valid
from pixup.imaging.pixels import apply_orientation

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 178_956_970
"""Largest image read without `max_pixels=None` (Pillow's own hard limit, 2 × 89.5 MP)."""

Image.MAX_IMAGE_PIXELS = None  # replaced by the per-call `max_pixels` check below
ImageFile.LOAD_TRUNCATED_IMAGES = False  # the default; a truncated file must fail, not half-decode


def _pillow_reads_avif() -> bool:
    """Whether Pillow itself reads AVIF (11.2+ built with libavif). Asking its AVIF plugin, not
    `Image.registered_extensions()`, which would load every one of Pillow's ~45 plugins (~0.15 s);
    Image.open still loads them when a file is none of the common formats, as it always did."""
    try:
        from PIL import AvifImagePlugin
    except ImportError:
        return False
    return bool(getattr(AvifImagePlugin, "SUPPORTED", False))


def _optional_plugins() -> list[str]:
    """Register HEIF/AVIF plugins that happen to be installed; return the formats they add."""
    added: list[str] = []
    try:
        import pillow_heif  # type: ignore[import-not-found]

        pillow_heif.register_heif_opener()
        added.append("HEIF")
    except ImportError:
        pass
    if not _pillow_reads_avif():
        try:
            import pillow_avif  # type: ignore[import-not-found]  # noqa: F401  (registers on import)

            added.append("AVIF")
        except ImportError:
            pass
    return added


_PLUGIN_FORMATS = _optional_plugins()
SUPPORTED_FORMATS = frozenset(
    {"PNG", "JPEG", "MPO", "WEBP", "TIFF", "BMP", "DIB", "GIF", "AVIF", *_PLUGIN_FORMATS}
)
"""Pillow format names read_image accepts."""
_SUPPORTED_TEXT = "PNG, JPEG, WebP, TIFF, BMP, GIF, AVIF" + (", HEIC" if "HEIF" in _PLUGIN_FORMATS else "")

_SRGB_ICC: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()

# Magic numbers of formats we read, to tell "damaged PNG" from "not an image at all".
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)


@dataclass(frozen=True)
class DecodedImage:
    """An image as read from disk, pixels upright (EXIF orientation already applied)."""

    path: Path
    """The file it came from."""
    pixels: np.ndarray
    """H×W×C, C in 1 (gray), 3 (RGB), 4 (RGBA); uint8 or uint16; C-contiguous and read-only."""
    format: str
    """Pillow's name of the file format: "PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF", "AVIF"..."""
    bit_depth: int
    """Bits per sample of `pixels`: 8 or 16."""
    source_mode: str
    """Pillow's mode of the file ("P", "LA", "CMYK", "I;16"...), before conversion to `pixels`."""
    icc_profile: bytes | None = None
    """The colour profile the pixels are in (sRGB's when pixup converted CMYK/Lab), or None."""
    exif: bytes | None = None
    """EXIF as stored in the file, as an APP1 payload (b"Exif\\0\\0" + TIFF); its Orientation is the
    file's: graft it (metadata.graft_exif) before writing."""
    xmp: bytes | None = None
    """The XMP packet, or None."""
    orientation: int = 1
    """The EXIF orientation (1-8) that was applied to the pixels."""
    notes: tuple[str, ...] = field(default=())
    """Things the user should know, e.g. "GIF: only the first of 12 frames is upscaled"."""

    @property
    def height(self) -> int:
        """Rows of `pixels` (as shown)."""
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        """Columns of `pixels` (as shown)."""
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        """1, 3 or 4."""
        return int(self.pixels.shape[2])

    @property
    def has_alpha(self) -> bool:
        """Whether the last channel is alpha (C == 4)."""
        return self.channels == 4

    @property
    def metadata(self) -> Metadata:
        """EXIF, ICC and XMP to hand to write_image (which grafts them to the output)."""
        return Metadata(exif=self.exif, icc=self.icc_profile, xmp=self.xmp)


def _fail(path: Path, reason: str, code: FailureCode = "damaged") -> ImageReadError:
    return ImageReadError(reason, path=path, code=code)


def read_image(path: Path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode `path` fully (first frame) into upright pixels plus metadata.

    `max_pixels` guards against decompression bombs; None lifts the limit (`--allow-large`).
    Raises ImageReadError, and nothing else, for any file that cannot be read.
    """
    path = Path(path)
    _check_file(path)
    notes: list[str] = []
    with _pillow_errors(path), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        im = _open(path)
        with im:
            fmt = im.format or "unknown"
            _check_format(path, fmt)
            width, height = im.size
            _check_size(path, width, height, max_pixels)
            frames = int(getattr(im, "n_frames", 1) or 1)
            if frames > 1 and fmt != "MPO":  # MPO's extra frames are previews/depth maps, not pages
                what = "page" if fmt == "TIFF" else "frame"
                notes.append(f"{_pretty(fmt)}: only the first of {frames} {what}s is upscaled")
            source_mode = im.mode
            info_icc = im.info.get("icc_profile") or None
            # A TIFF's tags must be read before its pixels (loading closes the file); a PNG's
            # eXIf chunk may follow the image data and is only seen once the pixels are read.
            early = fmt != "PNG"
            if early:
                exif, xmp, orientation = _exif_of(im), _xmp_of(im), _orientation_of(im)
            pixels, icc, converted = _pixels(im, path, info_icc, notes)
            if not early:
                exif, xmp, orientation = _exif_of(im), _xmp_of(im), _orientation_of(im)
            # Recent Pillow (13 does) turns TIFF pixels upright while loading and deletes the tag.
            upright = fmt == "TIFF" and 0x0112 not in getattr(im, "tag_v2", {})
        if fmt == "PNG":
            _verify_png(path)
    for w in caught:
        log.debug("%s: Pillow warning: %s", path, w.message)
        if "EXIF" in str(w.message).upper():
            notes.append("EXIF looks damaged; some of it may be lost")

    if icc is not None and not converted:
        if not icc_is_valid(icc):
            notes.append("colour profile ignored: it is damaged")
            icc = None
        elif icc_colour_space(icc) == "GRAY" and pixels.shape[2] != 1:
            notes.append("gray colour profile dropped: the image is stored as RGB(A)")
            icc = None

    if orientation != 1 and not upright:
        pixels = apply_orientation(pixels, orientation)
    pixels = np.ascontiguousarray(pixels)
    pixels.setflags(write=False)  # part of a frozen record; copy it to change it
    return DecodedImage(
        path=path,
        pixels=pixels,
        format=fmt,
        bit_depth=16 if pixels.dtype == np.uint16 else 8,
        source_mode=source_mode,
        icc_profile=icc,
        exif=exif,
        xmp=xmp,
        orientation=orientation,
        notes=tuple(dict.fromkeys(notes)),
    )


# ------------------------------------------------------------------------------------ file checks


def _check_file(path: Path) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise _fail(path, "file not found", "not_found") from None
    except PermissionError:
        raise _fail(path, "permission denied (cannot look at the file)", "unreadable") from None
    except OSError as err:
        raise _fail(path, f"cannot access the file ({err.strerror or err})", "unreadable") from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(path, "is a folder, not an image file", "not_an_image")
    if not stat.S_ISREG(st.st_mode):
        raise _fail(path, "is not a regular file", "not_an_image")
    if st.st_size == 0:
        raise _fail(path, "file is empty (0 bytes)", "empty")
    if not os.access(path, os.R_OK):
        raise _fail(path, "permission denied (the file is not readable)", "unreadable")


@contextmanager
def _pillow_errors(path: Path) -> Iterator[None]:
    """Turn whatever Pillow (or the codecs under it) raises into one ImageReadError line."""
    try:
        yield
    except ImageReadError:
        raise
    except PermissionError:
        raise _fail(path, "permission denied (the file is not readable)", "unreadable") from None
    except MemoryError:
        raise _fail(path, "not enough memory to decode this image", "out_of_memory") from None
    except OSError as err:
        text = str(err)
        if "truncated" in text:
            raise _fail(path, "file is truncated (it ends before the image data does)", "truncated") from None
        if err.errno == errno.EIO:
            raise _fail(path, "read error from the disk (I/O error)", "unreadable") from None
        raise _fail(path, f"damaged image data ({_short(text)})") from None
    except Exception as err:  # SyntaxError, ValueError, struct.error... from damaged files
        log.debug("%s: decoding failed", path, exc_info=True)  # keeps the trace should it be a bug
        raise _fail(path, f"damaged image data ({_short(str(err)) or type(err).__name__})") from None


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 120 else line[:117] + "..."


def _open(path: Path) -> ImageFile.ImageFile:
    try:
        return Image.open(path)
    except UnidentifiedImageError:
        raise _fail(path, *_unidentified_reason(path)) from None


def _unidentified_reason(path: Path) -> tuple[str, FailureCode]:
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        head = b""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return f"damaged or truncated {name} file (its header cannot be read)", "damaged"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"heim", b"heis"):
            return "HEIC/HEIF needs the optional pillow-heif package (pip install pillow-heif)", "unsupported"
        if brand in (b"avif", b"avis"):
            return "damaged or unsupported AVIF file", "damaged"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "damaged or truncated WebP file", "damaged"
    text = head.lstrip()
    if b"<svg" in text[:1024].lower():
        return f"SVG is a vector format; pixup upscales raster images ({_SUPPORTED_TEXT})", "not_an_image"
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "not an image: it is a text file", "not_an_image"
        except UnicodeDecodeError:
            pass
    return f"not an image, or a format pixup cannot read (supported: {_SUPPORTED_TEXT})", "not_an_image"


def _pretty(fmt: str) -> str:
    return {"WEBP": "WebP", "MPO": "JPEG (MPO)"}.get(fmt, fmt)


def _check_format(path: Path, fmt: str) -> None:
    if fmt not in SUPPORTED_FORMATS:
        raise _fail(path, f"{fmt} images are not supported (supported: {_SUPPORTED_TEXT})", "unsupported")


def _check_size(path: Path, width: int, height: int, max_pixels: int | None) -> None:
    if width < 1 or height < 1:
        raise _fail(path, f"image has no pixels ({width}×{height})")
    if max_pixels is not None and width * height > max_pixels:
        # Typed: the front end knows how its user lifts the limit (the CLI: --allow-large).
        raise ImageTooLargeError(
            f"{width}×{height} is {width * height / 1e6:.0f} megapixels, above the "
            f"{max_pixels / 1e6:.0f} MP safety limit against decompression bombs",
            path=path,
        )


def _verify_png(path: Path) -> None:
    """Pillow decodes a PNG cut after its last image data without complaint; verify() reads every
    chunk to IEND and checks each CRC, so a cut or corrupted file is caught."""
    with Image.open(path) as check:
        check.verify()


# ----------------------------------------------------------------------------------------- pixels


def _pixels(
    im: ImageFile.ImageFile, path: Path, icc: bytes | None, notes: list[str]
) -> tuple[np.ndarray, bytes | None, bool]:
    """(pixels H×W×C, the profile they are in, whether pixup converted colour spaces)."""
    if needs_deep_decode(im):
        return _deep(im, path, notes), icc, False
    im.load()
    mode = im.mode
    arr: np.ndarray
    if mode in ("L", "1"):
        arr = np.asarray(im.convert("L") if mode == "1" else im)
        return _keyed(arr[..., None], im.info.get("transparency")), icc, False
    if mode.startswith("I;16"):
        arr = np.asarray(im).astype(np.uint16)
        return _keyed(arr[..., None], im.info.get("transparency")), icc, False
    if mode == "I":
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise _fail(path, "32-bit integer samples outside 0-65535 are not supported", "unsupported")
        return arr.astype(np.uint16)[..., None], icc, False
    if mode == "F":
        raise _fail(path, "32-bit floating point images are not supported; save it as 8- or 16-bit",
                    "unsupported")
    if mode == "P":
        has_alpha = "transparency" in im.info or (im.palette is not None and im.palette.mode == "RGBA")
        return np.asarray(im.convert("RGBA" if has_alpha else "RGB")), icc, False
    if mode in ("LA", "La", "PA", "RGBa"):
        return np.asarray(im.convert("RGBA")), icc, False
    if mode == "RGBA":
        return np.asarray(im), icc, False
    if mode == "RGB":
        return _keyed(np.asarray(im), im.info.get("transparency")), icc, False
    if mode in ("RGBX", "YCbCr", "HSV"):
        return np.asarray(im.convert("RGB")), icc, False
    if mode == "CMYK":
        return _from_cmyk(im, icc, notes)
    if mode == "LAB":
        lab = ImageCms.createProfile("LAB")
        srgb = ImageCms.createProfile("sRGB")
        rgb = ImageCms.profileToProfile(im, lab, srgb, outputMode="RGB")
        assert rgb is not None
        notes.append("Lab colours converted to sRGB")
        return np.asarray(rgb), _SRGB_ICC, True
    raise _fail(path, f"image mode {mode} is not supported", "unsupported")


def _deep(im: ImageFile.ImageFile, path: Path, notes: list[str]) -> np.ndarray:
    transparency = im.info.get("transparency")
    arr, premultiplied = decode_deep(im, path)
    if premultiplied:
        arr = unpremultiply16(arr)
    return _keyed(arr, transparency)


def _keyed(arr: np.ndarray, key: object) -> np.ndarray:
    """Gray or RGB with a transparent colour key (PNG tRNS) → RGBA with that colour cut out."""
    if key is None or isinstance(key, bytes):
        return arr
    if arr.shape[2] == 1 and isinstance(key, int):
        mask = arr[..., 0] == key
    elif arr.shape[2] == 3 and isinstance(key, tuple) and len(key) == 3:
        mask = np.all(arr == np.asarray(key, dtype=arr.dtype), axis=-1)
    else:
        return arr
    top = np.iinfo(arr.dtype).max
    alpha = np.where(mask, 0, top).astype(arr.dtype)[..., None]
    rgb = np.repeat(arr, 3, axis=2) if arr.shape[2] == 1 else arr
    return np.concatenate([rgb, alpha], axis=2)


def _from_cmyk(im: Image.Image, icc: bytes | None, notes: list[str]) -> tuple[np.ndarray, bytes | None, bool]:
    """CMYK (JPEG Adobe-inverted and YCCK are undone by Pillow/libjpeg) → RGB. With a CMYK profile
    the conversion is colour-managed to sRGB; without one it is the naive formula."""
    if icc is not None and icc_colour_space(icc) == "CMYK" and icc_is_valid(icc):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            rgb = ImageCms.profileToProfile(
                im,
                src,
                ImageCms.createProfile("sRGB"),
                outputMode="RGB",
                renderingIntent=ImageCms.Intent.PERCEPTUAL,
            )
            assert rgb is not None
            notes.append("CMYK converted to sRGB with the embedded colour profile")
            return np.asarray(rgb), _SRGB_ICC, True
        except ImageCms.PyCMSError as err:
            log.debug("CMYK profile conversion failed: %s", err)
    notes.append("CMYK converted to RGB without a colour profile (colours are approximate)")
    return np.asarray(im.convert("RGB")), None, True


# --------------------------------------------------------------------------------------- metadata


def _exif_of(im: Image.Image) -> bytes | None:
    if im.format == "TIFF":
        return _tiff_exif(im)
    raw = im.info.get("exif")
    if not isinstance(raw, bytes) or not raw:
        return None
    if raw.startswith(EXIF_HEADER):
        return raw
    if raw[:4] in (b"II*\x00", b"MM\x00*"):
        return EXIF_HEADER + raw
    return raw  # odd, but graft_exif decides; "as in the file"


# IFD0 tags of a TIFF that describe its own storage; not EXIF the output should inherit.
_TIFF_STORAGE_TAGS = frozenset(
    {
        254,
        255,
        256,
        257,
        258,
        259,
        262,
        263,
        266,
        269,
        273,
        277,
        278,
        279,
        280,
        281,
        284,
        317,
        320,
        322,
        323,
        324,
        325,
        330,
        338,
        339,
        340,
        341,
        347,
        530,
        532,
        700,
        34377,
        34675,
        37724,
    }
)


def _tiff_exif(im: Image.Image) -> bytes | None:
    """A TIFF's EXIF lives in its own IFD0 (camera tags) plus the EXIF and GPS sub-IFDs."""
    try:
        src = im.getexif()
        out = Image.Exif()
        for tag, value in src.items():
            if tag not in _TIFF_STORAGE_TAGS and tag not in (0x8769, 0x8825):
                out[tag] = value
        for pointer in (0x8769, 0x8825):
            sub = dict(src.get_ifd(pointer))
            if 0xA005 in sub:  # the Interop pointer holds an offset into the source file: nest it
                interop = dict(src.get_ifd(0xA005))
                if interop:
                    sub[0xA005] = interop
                else:
                    del sub[0xA005]
            if sub:
                out[pointer] = sub
        if not len(out):
            return None
        data: bytes = out.tobytes()
        return data
    except Exception as err:  # a TIFF with unreadable EXIF still has readable pixels
        log.warning("%s: TIFF EXIF ignored (%s)", im.filename if hasattr(im, "filename") else "", err)
        return None


def _xmp_of(im: Image.Image) -> bytes | None:
    raw = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if isinstance(raw, tuple):  # TIFF tag 700 read as a tuple of bytes on some Pillow versions
        raw = bytes(raw)
    return raw if isinstance(raw, bytes) and raw else None


def _orientation_of(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # EXIF too damaged to read: show the pixels as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1
