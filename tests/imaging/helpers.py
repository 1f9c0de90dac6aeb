"""Test material made on the spot: ICC profiles, EXIF, XMP, hand-built PNG/TIFF, a non-root runner."""

from __future__ import annotations

import io
import os
import pickle
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import piexif
from PIL import Image, ImageCms

SRGB_ICC: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _tag_xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \x00\x00\x00\x00" + _s15(x) + _s15(y) + _s15(z)


def _tag_curve(gamma: float) -> bytes:
    return (
        b"curv\x00\x00\x00\x00" + struct.pack(">I", 1) + struct.pack(">H", round(gamma * 256)) + b"\x00\x00"
    )


def _tag_desc(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\x00"
    body = b"desc\x00\x00\x00\x00" + struct.pack(">I", len(ascii_)) + ascii_
    body += b"\x00" * 8 + b"\x00" * 3 + b"\x00" * 67  # no Unicode, no ScriptCode (ICC v2 layout)
    return body


def build_icc(space: str, description: str) -> bytes:
    """A small valid ICC v2 display profile: "RGB" (Display P3-like primaries, gamma 2.2) or "GRAY"."""
    tags: list[tuple[bytes, bytes]] = [
        (b"desc", _tag_desc(description)),
        (b"wtpt", _tag_xyz(0.9642, 1.0, 0.8249)),
        (b"cprt", b"text\x00\x00\x00\x00pixup test profile\x00"),
    ]
    if space == "RGB":
        # Display P3 primaries adapted to D50, as in Apple's profile
        tags += [
            (b"rXYZ", _tag_xyz(0.5151, 0.2412, -0.0011)),
            (b"gXYZ", _tag_xyz(0.2920, 0.6922, 0.0419)),
            (b"bXYZ", _tag_xyz(0.1571, 0.0666, 0.7841)),
            (b"rTRC", _tag_curve(2.2)),
            (b"gTRC", _tag_curve(2.2)),
            (b"bTRC", _tag_curve(2.2)),
        ]
        colour = b"RGB "
    else:
        tags += [(b"kTRC", _tag_curve(2.2))]
        colour = b"GRAY"
    table = struct.pack(">I", len(tags))
    data = b""
    offset = 128 + 4 + 12 * len(tags)
    for sig, body in tags:
        while len(body) % 4:
            body += b"\x00"
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = struct.pack(">I", size) + b"lcms" + b"\x02\x10\x00\x00" + b"mntr" + colour + b"XYZ "
    header += b"\x07\xe8\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00"  # date
    header += b"acsp" + b"APPL" + b"\x00" * 4 + b"\x00" * 4 + b"\x00" * 4 + b"\x00" * 8 + b"\x00" * 4
    header += _s15(0.9642) + _s15(1.0) + _s15(0.8249)  # PCS illuminant
    header += b"\x00" * (128 - len(header))
    profile = header + table + data
    assert len(profile) == size
    ImageCms.ImageCmsProfile(io.BytesIO(profile))  # LittleCMS must accept it
    return profile


P3_ICC = build_icc("RGB", "Display P3-like (test)")
GRAY_ICC = build_icc("GRAY", "Gray gamma 2.2 (test)")


def thumbnail_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


def camera_exif(orientation: int = 6, width: int = 60, height: int = 40, thumbnail: bool = True) -> bytes:
    """EXIF as a camera writes it: IFD0, EXIF, GPS, Interop, and a 1st IFD with a JPEG thumbnail."""
    exif: dict[str, Any] = {
        "0th": {
            piexif.ImageIFD.Make: b"Canon",
            piexif.ImageIFD.Model: b"EOS 5D",
            piexif.ImageIFD.Orientation: orientation,
            piexif.ImageIFD.XResolution: (300, 1),
            piexif.ImageIFD.YResolution: (300, 1),
            piexif.ImageIFD.ResolutionUnit: 2,
            piexif.ImageIFD.Artist: b"Ann Example",
            piexif.ImageIFD.Copyright: b"(c) Ann",
        },
        "Exif": {
            piexif.ExifIFD.DateTimeOriginal: b"2021:06:01 12:34:56",
            piexif.ExifIFD.ExposureTime: (1, 250),
            piexif.ExifIFD.FNumber: (28, 10),
            piexif.ExifIFD.ISOSpeedRatings: 200,
            piexif.ExifIFD.PixelXDimension: width,
            piexif.ExifIFD.PixelYDimension: height,
            piexif.ExifIFD.LensModel: b"EF 50mm",
            piexif.ExifIFD.UserComment: b"ASCII\x00\x00\x00hello",
        },
        "GPS": {
            piexif.GPSIFD.GPSLatitudeRef: b"N",
            piexif.GPSIFD.GPSLatitude: ((48, 1), (51, 1), (2400, 100)),
            piexif.GPSIFD.GPSLongitudeRef: b"E",
            piexif.GPSIFD.GPSLongitude: ((2, 1), (21, 1), (300, 100)),
        },
        "Interop": {piexif.InteropIFD.InteroperabilityIndex: b"R98"},
    }
    if thumbnail:
        exif["1st"] = {piexif.ImageIFD.Compression: 6, piexif.ImageIFD.XResolution: (72, 1)}
        exif["thumbnail"] = thumbnail_jpeg()
    data: bytes = piexif.dump(exif)
    return data


# Tags camera_exif writes that every output must carry unchanged, (ifd, tag).
KEPT_TAGS = [
    ("0th", piexif.ImageIFD.Make),
    ("0th", piexif.ImageIFD.Model),
    ("0th", piexif.ImageIFD.Artist),
    ("0th", piexif.ImageIFD.Copyright),
    ("0th", piexif.ImageIFD.XResolution),
    ("Exif", piexif.ExifIFD.DateTimeOriginal),
    ("Exif", piexif.ExifIFD.ExposureTime),
    ("Exif", piexif.ExifIFD.FNumber),
    ("Exif", piexif.ExifIFD.ISOSpeedRatings),
    ("Exif", piexif.ExifIFD.LensModel),
    ("Exif", piexif.ExifIFD.UserComment),
    ("GPS", piexif.GPSIFD.GPSLatitudeRef),
    ("GPS", piexif.GPSIFD.GPSLatitude),
    ("GPS", piexif.GPSIFD.GPSLongitude),
    ("Interop", piexif.InteropIFD.InteroperabilityIndex),
]


def xmp_packet(orientation: int = 6, width: int = 60, height: int = 40) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
        'xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'tiff:Orientation="{orientation}" exif:PixelXDimension="{width}">'
        f"<exif:PixelYDimension>{height}</exif:PixelYDimension>"
        '<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Ünïcode title</rdf:li></rdf:Alt></dc:title>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode()


# ------------------------------------------------------------------------------- hand-built files


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def raw_png(pixels: np.ndarray, *, interlaced: bool = False, trns: bytes | None = None) -> bytes:
    """A PNG built byte by byte (filter 0), any depth/colour type Pillow cannot write (16-bit RGB,
    gray+alpha 16, Adam7 interlace). `pixels` H×W×C uint8/uint16 with C in 1-4."""
    h, w, c = pixels.shape
    depth = 16 if pixels.dtype == np.uint16 else 8
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    big = pixels.astype(">u2") if depth == 16 else pixels

    def scanlines(sub: np.ndarray) -> bytes:
        return b"".join(b"\x00" + row.tobytes() for row in sub)

    if interlaced:
        passes = [
            (0, 0, 8, 8),
            (4, 0, 8, 8),
            (0, 4, 4, 8),
            (2, 0, 4, 4),
            (0, 2, 2, 4),
            (1, 0, 2, 2),
            (0, 1, 1, 2),
        ]
        raw = b"".join(
            scanlines(big[y0::dy, x0::dx]) for x0, y0, dx, dy in passes if big[y0::dy, x0::dx].size
        )
    else:
        raw = scanlines(big)
    out = b"\x89PNG\r\n\x1a\n" + _png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, int(interlaced))
    )
    if trns is not None:
        out += _png_chunk(b"tRNS", trns)
    return out + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b"")


def raw_tiff_le(pixels: np.ndarray) -> bytes:
    """An uncompressed little-endian TIFF (one strip) of 16-bit RGB or RGBA, as cameras/scanners
    write them; pixup's writer makes big-endian deflate files, so this is the other path."""
    h, w, c = pixels.shape
    data = pixels.astype("<u2").tobytes()
    entries: list[tuple[int, int, int, bytes]] = []
    extra = b""
    base = 8

    def add(tag: int, typ: int, values: list[int]) -> None:
        nonlocal extra
        fmt = {3: "H", 4: "I"}[typ]
        payload = struct.pack("<" + fmt * len(values), *values)
        if len(payload) <= 4:
            entries.append((tag, typ, len(values), payload.ljust(4, b"\x00")))
        else:
            entries.append((tag, typ, len(values), b"EXTRA" + struct.pack("<I", len(extra))))
            extra += payload

    add(256, 4, [w])
    add(257, 4, [h])
    add(258, 3, [16] * c)
    add(259, 3, [1])
    add(262, 3, [2])
    add(273, 4, [0])  # fixed below
    add(277, 3, [c])
    add(278, 4, [h])
    add(279, 4, [len(data)])
    if c == 4:
        add(338, 3, [2])
    ifd_size = 2 + 12 * len(entries) + 4
    extra_at = base + ifd_size
    data_at = extra_at + len(extra)
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        if value.startswith(b"EXTRA"):
            value = struct.pack("<I", extra_at + struct.unpack("<I", value[5:])[0])
        if tag == 273:
            value = struct.pack("<I", data_at)
        ifd += struct.pack("<HHI", tag, typ, count) + value
    ifd += b"\x00\x00\x00\x00"
    return b"II*\x00" + struct.pack("<I", base) + ifd + extra + data


# --------------------------------------------------------------------------------- unprivileged


@contextmanager
def public_folder() -> Iterator[Path]:
    """A fresh folder that an unprivileged user can reach (pytest's tmp_path lives in a 0700
    folder of root's when tests run as root)."""
    folder = Path(tempfile.mkdtemp(prefix="pixup-perm-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for root, dirs, _ in os.walk(folder):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
        shutil.rmtree(folder, ignore_errors=True)


def run_unprivileged(fn: Callable[[], Any]) -> Any:
    """Run `fn` in a forked child that has dropped root (uid/gid 65534), so file permissions apply
    as they do for a normal user; returns its result or re-raises its exception. Without root it
    just runs `fn` (permissions already apply)."""
    if os.geteuid() != 0:
        return fn()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            result: tuple[str, Any] = ("ok", fn())
        except BaseException as err:  # hand every outcome to the parent
            result = ("err", err)
        try:
            payload = pickle.dumps(result)
        except Exception as err:
            payload = pickle.dumps(("err", RuntimeError(f"unpicklable result: {err}")))
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        payload = pipe.read()
    os.waitpid(pid, 0)
    status, value = pickle.loads(payload)
    if status == "err":
        raise value
    return value


def png_unfilter(data: bytes, width: int, height: int, bpp: int) -> np.ndarray:
    """PNG unfiltering as the spec states it (the decoder side): Sub, Average and Paeth a byte at a
    time, slow and obviously right; None and Up a row at a time. `data` is the inflated IDAT."""
    stride = width * bpp
    out = np.zeros((height + 1, stride), dtype=np.int32)  # row 0: the zero row above the image
    for y in range(1, height + 1):
        start = (y - 1) * (stride + 1)
        kind = data[start]
        line = np.frombuffer(data, dtype=np.uint8, count=stride, offset=start + 1).astype(np.int32)
        up = out[y - 1]
        if kind in (0, 2):
            out[y] = (line + (up if kind == 2 else 0)) % 256
            continue
        row = out[y]
        for x in range(stride):
            a = int(row[x - bpp]) if x >= bpp else 0
            b = int(up[x])
            c = int(up[x - bpp]) if x >= bpp else 0
            if kind == 1:
                pred = a
            elif kind == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            row[x] = (int(line[x]) + pred) % 256
    return out[1:].astype(np.uint8)
