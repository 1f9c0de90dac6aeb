"""Metadata carried from input to output: EXIF (grafted to the new pixels), ICC profile and XMP.

The EXIF graft follows SPEC §7: the thumbnail (1st IFD) goes, the pixel dimensions become the
output's, Orientation becomes 1 (read_image already turned the pixels the way the user sees them),
everything else stays. Broken EXIF is dropped with a logged warning; it never fails a job.
"""

from __future__ import annotations

import io
import logging
import math
import re
import struct
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import piexif
from piexif._exif import TAGS as _PIEXIF_TAGS

log = logging.getLogger(__name__)

EXIF_HEADER = b"Exif\x00\x00"
"""The six bytes that precede the TIFF structure in a JPEG APP1 segment."""

# An APP1 segment holds at most 65533 payload bytes; leave room for nothing else.
JPEG_EXIF_MAX = 65533


@dataclass(frozen=True)
class Metadata:
    """What the output file carries besides pixels. Any field may be None (nothing to write)."""

    exif: bytes | None = None
    """EXIF as an APP1 payload: b"Exif\\0\\0" then the TIFF structure (the bare TIFF form is accepted)."""
    icc: bytes | None = None
    """The ICC colour profile, as stored in the source file."""
    xmp: bytes | None = None
    """The XMP packet (UTF-8 XML)."""


# --------------------------------------------------------------------------------------------- EXIF

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
_ALWAYS_OUT_OF_LINE = {5, 10, 12}  # piexif reads RATIONAL/SRATIONAL/DOUBLE through a pointer always
_NEUTRAL_TAG = 0xFFFF  # a tag piexif does not know, so it skips the entry
_EXIF_IFD, _GPS_IFD, _INTEROP_IFD = 34665, 34853, 40965
_SUB_IFDS = {("0th", _EXIF_IFD): "Exif", ("0th", _GPS_IFD): "GPS", ("Exif", _INTEROP_IFD): "Interop"}

# Tags of IFD0 that describe how the *source file* stored its pixels (they appear when the EXIF came
# from a TIFF) or that pixup carries separately (ICC, XMP); none of them is true of the output.
_STRUCTURAL_0TH = frozenset(
    {
        254,
        255,  # NewSubfileType, SubfileType
        258,
        259,
        262,
        263,
        266,  # BitsPerSample, Compression, Photometric, Threshholding, FillOrder
        273,
        277,
        278,
        279,  # StripOffsets, SamplesPerPixel, RowsPerStrip, StripByteCounts
        280,
        281,
        284,
        317,
        320,  # Min/MaxSampleValue, PlanarConfiguration, Predictor, ColorMap
        322,
        323,
        324,
        325,
        330,  # TileWidth, TileLength, TileOffsets, TileByteCounts, SubIFDs
        338,
        339,
        340,
        341,
        347,  # ExtraSamples, SampleFormat, SMin/SMaxSampleValue, JPEGTables
        513,
        514,
        530,  # JPEGInterchangeFormat(Length), YCbCrSubSampling
        700,
        34377,
        34675,
        37724,  # XMP, Photoshop resources, ICC profile, ImageSourceData (layers)
    }
)
_ORIENTATION = 274
_IMAGE_WIDTH, _IMAGE_LENGTH = 256, 257
_PIXEL_X, _PIXEL_Y = 40962, 40963
_MAKER_NOTE = 37500


def exif_body(exif: bytes) -> bytes | None:
    """The TIFF structure inside `exif` (with or without the "Exif\\0\\0" header), or None."""
    body = exif[len(EXIF_HEADER) :] if exif.startswith(EXIF_HEADER) else exif
    if body[:4] in (b"II*\x00", b"MM\x00*"):
        return body
    return None


def graft_exif(exif: bytes, width: int, height: int) -> bytes | None:
    """EXIF for an output of `width`×`height` whose pixels are already upright.

    Removes the thumbnail (1st IFD) and the source's storage tags, sets PixelX/YDimension (and
    ImageWidth/ImageLength where present) to the output size and Orientation to 1, keeps the rest.
    Returns the APP1 payload (b"Exif\\0\\0" + TIFF), or None when nothing usable is left; never raises.
    """
    try:
        return _graft(exif, width, height)
    except Exception as err:  # EXIF is best effort: a broken block must never fail the job
        log.warning("EXIF dropped: it could not be parsed (%s)", err)
        return None


def _graft(exif: bytes, width: int, height: int) -> bytes | None:
    body = exif_body(exif)
    if body is None:
        log.warning("EXIF dropped: it does not start with a TIFF header")
        return None
    safe = _make_piexif_safe(body)
    if safe is None:
        log.warning("EXIF dropped: its first directory is unreadable")
        return None
    loaded: dict[str, Any] = piexif.load(safe)
    ifds: dict[str, dict[int, Any]] = {
        "0th": {
            k: v
            for k, v in loaded["0th"].items()
            if k not in _STRUCTURAL_0TH and k not in (_EXIF_IFD, _GPS_IFD)
        },
        "Exif": {k: v for k, v in loaded["Exif"].items() if k != _INTEROP_IFD},
        "GPS": dict(loaded["GPS"]),
        "Interop": dict(loaded["Interop"]),
    }
    for name, tags in ifds.items():
        ifds[name] = _dumpable(name, tags)

    zeroth = ifds["0th"]
    zeroth[_ORIENTATION] = 1
    if _IMAGE_WIDTH in zeroth:
        zeroth[_IMAGE_WIDTH] = width
    if _IMAGE_LENGTH in zeroth:
        zeroth[_IMAGE_LENGTH] = height
    ifds["Exif"][_PIXEL_X] = width
    ifds["Exif"][_PIXEL_Y] = height

    out: bytes = piexif.dump(dict(ifds))
    if len(out) > JPEG_EXIF_MAX and _MAKER_NOTE in ifds["Exif"]:
        # Maker notes are the usual reason EXIF outgrows one JPEG segment; they are vendor-private.
        log.warning("EXIF maker note dropped: the EXIF block would be %d bytes", len(out))
        del ifds["Exif"][_MAKER_NOTE]
        out = piexif.dump(dict(ifds))
    piexif.load(out)  # must read back, or we would write garbage
    return out


def _table(ifd: str) -> dict[int, Any]:
    table: dict[int, Any] = _PIEXIF_TAGS["Image" if ifd in ("0th", "1st") else ifd]
    return table


def _dumpable(ifd: str, tags: dict[int, Any]) -> dict[int, Any]:
    """The tags of one IFD that piexif can write back, values coerced to the tag's declared type."""
    kept: dict[int, Any] = {}
    table = _table(ifd)
    for tag, value in tags.items():
        if tag not in table:
            continue
        coerced = _coerce(value, table[tag]["type"])
        if coerced is None:
            log.debug("EXIF tag %s/%d dropped: value %r does not fit its type", ifd, tag, value)
            continue
        probe: dict[str, Any] = {ifd: {tag: coerced}}
        if ifd == "Interop":
            probe["Exif"] = {}
        try:
            piexif.dump(probe)
        except Exception:  # piexif raises ValueError, struct.error, TypeError... per bad value
            log.debug("EXIF tag %s/%d dropped: piexif cannot write %r", ifd, tag, coerced)
            continue
        kept[tag] = coerced
    return kept


def _coerce(value: Any, typ: int) -> Any:
    """`value` as piexif.dump expects it for a tag of TIFF type `typ`, or None when it cannot be."""
    ints = isinstance(value, tuple) and all(isinstance(v, int) for v in value)
    if typ == 7:  # UNDEFINED: bytes
        if isinstance(value, bytes):
            return value
        if isinstance(value, int) and 0 <= value < 256:
            return bytes([value])
        if ints and all(0 <= v < 256 for v in value):
            return bytes(value)
        return None
    if typ == 2:  # ASCII
        if isinstance(value, (bytes, str)):
            return value
        if ints and all(0 <= v < 256 for v in value):
            return bytes(value)
        return None
    if typ in (5, 10):  # (S)RATIONAL: (num, den) or a tuple of pairs
        if isinstance(value, int):
            return (value, 1)
        if isinstance(value, float) and math.isfinite(value):  # stored as FLOAT/DOUBLE by some writers
            frac = Fraction(value).limit_denominator(1_000_000)
            return (frac.numerator, frac.denominator)
        if ints and len(value) == 2:
            return value
        if isinstance(value, tuple) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return value
        return None
    if typ in (1, 3, 4, 6, 8, 9):  # integers
        if isinstance(value, int) or (ints and value):
            return value
        if isinstance(value, bytes) and typ in (1, 6) and value:
            return tuple(value)
        return None
    if typ in (11, 12):
        return value if isinstance(value, (int, float, tuple)) else None
    return None


def _make_piexif_safe(body: bytes) -> bytes | None:
    """A copy of the TIFF structure in which every entry piexif will decode is in bounds.

    piexif trusts counts and offsets: a count of 2**32 builds a 4-GB struct format (a hang), an
    offset past the end raises. Bad entries are renamed to a tag piexif skips, bad sub-IFD pointers
    likewise, and the next-IFD pointer of IFD0 is zeroed (the thumbnail is dropped anyway). IFDs of
    a damaged file can overlap, so one repair may break another view of the same bytes: passes
    repeat until one changes nothing, which proves every entry sound. Returns None if that fails.
    """
    if len(body) < 8:
        return None
    order = "<" if body[:2] == b"II" else ">"
    size = len(body)
    # Four spare zero bytes: piexif reads IFD0's next pointer even where the data ends right there.
    buf = bytearray(body) + b"\x00\x00\x00\x00"
    changed = False

    def u16(p: int) -> int:
        value: int = struct.unpack_from(order + "H", buf, p)[0]
        return value

    def u32(p: int) -> int:
        value: int = struct.unpack_from(order + "I", buf, p)[0]
        return value

    def put(fmt: str, p: int, value: int) -> None:
        nonlocal changed
        if struct.unpack_from(order + fmt, buf, p)[0] != value:
            struct.pack_into(order + fmt, buf, p, value)
            changed = True

    def fix(offset: int, name: str) -> bool:
        if offset < 8 or offset + 2 > size:
            return False
        count = u16(offset)
        room = (size - offset - 2) // 12
        if count > room:
            count = room
            put("H", offset, count)
        table = _table(name)
        for i in range(count):
            p = offset + 2 + 12 * i
            tag, typ, n = u16(p), u16(p + 2), u32(p + 4)
            sub = _SUB_IFDS.get((name, tag))
            if sub is not None:
                if typ in (3, 4, 13) and n == 1:
                    if typ == 13:  # the IFD type: piexif only knows LONG pointers
                        put("H", p + 2, 4)
                    target = u16(p + 8) if typ == 3 else u32(p + 8)
                    if fix(target, sub):
                        continue
                put("H", p, _NEUTRAL_TAG)
                continue
            if tag not in table:
                continue
            unit = _TYPE_SIZES.get(typ)
            if unit is None or n == 0 or n * unit > size:
                put("H", p, _NEUTRAL_TAG)
                continue
            if (n * unit > 4 or typ in _ALWAYS_OUT_OF_LINE) and u32(p + 8) + n * unit > size:
                put("H", p, _NEUTRAL_TAG)
        if name == "0th":
            put("I", offset + 2 + 12 * count, 0)
        return True

    if struct.unpack_from(order + "H", buf, 2)[0] != 42:
        return None
    for _ in range(8):
        changed = False
        if not fix(u32(4), "0th"):
            return None
        if not changed:
            return bytes(buf)
    return None


def exif_orientation(exif: bytes | None) -> int:
    """The Orientation tag (1-8) of `exif`, 1 when absent or invalid; never raises."""
    if not exif:
        return 1
    body = exif_body(exif)
    safe = _make_piexif_safe(body) if body is not None else None
    if safe is None:
        return 1
    try:
        value = piexif.load(safe)["0th"].get(_ORIENTATION, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


# ---------------------------------------------------------------------------------------------- XMP


def _xmp_set(xmp: bytes, prop: bytes, value: int) -> bytes:
    """Set `prop` (e.g. b"tiff:Orientation") to `value`, as an attribute or as an element."""
    new = str(value).encode()
    attr = re.compile(rb"(\b" + re.escape(prop) + rb"\s*=\s*([\"']))[^\"']*(\2)")
    xmp = attr.sub(lambda m: m.group(1) + new + m.group(3), xmp)
    elem = re.compile(rb"(<" + re.escape(prop) + rb">)[^<]*(</" + re.escape(prop) + rb">)")
    return elem.sub(lambda m: m.group(1) + new + m.group(2), xmp)


def graft_xmp(xmp: bytes, width: int, height: int) -> bytes:
    """XMP for an upright `width`×`height` output: tiff:Orientation → 1 and pixel sizes updated
    where the packet states them (tiff:ImageWidth/ImageLength, exif:PixelX/YDimension)."""
    for prop, value in (
        (b"tiff:Orientation", 1),
        (b"tiff:ImageWidth", width),
        (b"tiff:ImageLength", height),
        (b"exif:PixelXDimension", width),
        (b"exif:PixelYDimension", height),
    ):
        if prop in xmp:
            xmp = _xmp_set(xmp, prop, value)
    return xmp


# ---------------------------------------------------------------------------------------------- ICC


def icc_colour_space(icc: bytes) -> str | None:
    """The data colour space an ICC profile declares ("RGB", "GRAY", "CMYK", "Lab"...), or None."""
    if len(icc) < 128:
        return None
    return icc[16:20].decode("latin-1").strip() or None


def icc_fits(icc: bytes, channels: int) -> bool:
    """Whether a profile describes pixels with `channels` channels (alpha not counted)."""
    space = icc_colour_space(icc)
    return (space == "GRAY" and channels == 1) or (space == "RGB" and channels in (3, 4))


def icc_is_valid(icc: bytes) -> bool:
    """Whether LittleCMS can parse the profile."""
    from PIL import ImageCms

    try:
        ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except Exception:  # PyCMSError, OSError, ValueError depending on how it is broken
        return False
    return True


def fit_metadata(meta: Metadata, width: int, height: int, channels: int) -> tuple[Metadata, list[str]]:
    """`meta` made true of an upright `width`×`height` image with `channels` channels.

    EXIF and XMP are grafted; an ICC profile of another colour space (say a gray profile on RGB
    pixels) is dropped. Returns the fitted metadata and a note per thing dropped.
    """
    notes: list[str] = []
    exif = graft_exif(meta.exif, width, height) if meta.exif else None
    if meta.exif and exif is None:
        notes.append("EXIF dropped: it could not be parsed")
    xmp = graft_xmp(meta.xmp, width, height) if meta.xmp else None
    icc = meta.icc
    if icc is not None and not icc_fits(icc, channels):
        notes.append(
            f"colour profile dropped: it is for {icc_colour_space(icc) or 'unknown'} data "
            f"and the output has {channels} channel{'s' if channels > 1 else ''}"
        )
        icc = None
    return Metadata(exif=exif, icc=icc, xmp=xmp), notes
