"""Every way an input can be unreadable gives one ImageReadError line naming the file and why."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pixup.errors import ImageReadError, ImageTooLargeError
from pixup.imaging import read_image
from tests.imaging.helpers import public_folder, run_unprivileged


def image_bytes(fmt: str, **kwargs: object) -> bytes:
    rng = np.random.default_rng(5)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def error_for(path: Path, **kwargs: Any) -> str:
    with pytest.raises(ImageReadError) as info:
        read_image(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert error_for(tmp_path / "nope.png") == f"{tmp_path / 'nope.png'}: file not found"
    with pytest.raises(ImageReadError) as info:
        read_image(tmp_path / "nope.png")
    assert (info.value.code, info.value.reason) == ("not_found", "file not found")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "pics.png"
    folder.mkdir()
    assert error_for(folder) == f"{folder}: is a folder, not an image file"


def test_zero_bytes(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.touch()
    assert error_for(empty) == f"{empty}: file is empty (0 bytes)"


def test_text_renamed_png(tmp_path: Path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("shopping list:\n- milk\n- ünïcode eggs\n", encoding="utf-8")
    assert error_for(fake) == f"{fake}: not an image: it is a text file"


def test_svg_is_explained(tmp_path: Path) -> None:
    svg = tmp_path / "logo.png"
    svg.write_text('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>\n')
    assert "SVG is a vector format" in error_for(svg)


def test_random_binary(tmp_path: Path) -> None:
    junk = tmp_path / "junk.webp"
    junk.write_bytes(bytes(range(256)) * 4)
    assert "not an image, or a format pixup cannot read (supported: PNG, JPEG" in error_for(junk)


def test_unsupported_format(tmp_path: Path) -> None:
    path = tmp_path / "icon.ico"
    Image.new("RGB", (16, 16)).save(path)
    message = error_for(path)
    assert message == (
        f"{path}: ICO images are not supported (supported: PNG, JPEG, WebP, TIFF, BMP, GIF, AVIF"
        + (", HEIC)" if "HEIC" in message else ")")
    )


def test_heic_without_plugin_says_which_package(tmp_path: Path) -> None:
    # an ISO-BMFF "ftyp" box with the heic brand: what an iPhone photo starts with
    heic = tmp_path / "IMG_0001.HEIC"
    heic.write_bytes(struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + b"\x00" * 64)
    message = error_for(heic)
    assert "pillow-heif" in message or "damaged" in message  # the latter only when the plugin is installed


@pytest.mark.parametrize(
    ("fmt", "kwargs"),
    [
        ("PNG", {}),
        ("JPEG", {"quality": 90}),
        ("JPEG", {"quality": 90, "progressive": True}),
        ("WEBP", {"quality": 80}),
        ("WEBP", {"lossless": True}),
        ("TIFF", {}),
        ("TIFF", {"compression": "tiff_adobe_deflate"}),
        ("BMP", {}),
        ("GIF", {}),
    ],
)
@pytest.mark.parametrize("keep", [0.97, 0.6, 0.2])
def test_truncated(tmp_path: Path, fmt: str, kwargs: dict[str, object], keep: float) -> None:
    """Pillow decodes some cut files without complaint; read_image must not."""
    data = image_bytes(fmt, **kwargs)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: int(len(data) * keep)])
    message = error_for(path)
    assert ("truncated" in message) or ("damaged" in message), message


def test_png_cut_right_after_image_data_is_truncated(tmp_path: Path) -> None:
    """All pixels present, IEND (and anything after the IDAT) missing: still a cut file."""
    data = image_bytes("PNG")
    path = tmp_path / "noiend.png"
    path.write_bytes(data[:-12])
    assert error_for(path) == f"{path}: file is truncated (it ends before the image data does)"


def test_png_with_corrupted_chunk_crc(tmp_path: Path) -> None:
    data = bytearray(image_bytes("PNG"))
    idat = data.index(b"IDAT")
    data[idat + 40] ^= 0xFF  # one flipped byte inside the compressed data: CRC no longer matches
    path = tmp_path / "crc.png"
    path.write_bytes(bytes(data))
    assert "damaged" in error_for(path)


def _bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming a huge size, followed by very little data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 100))


def test_decompression_bomb_is_refused_as_too_large(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_bomb_png(30000, 20000))
    message = error_for(path)
    assert message == (
        f"{path}: 30000×20000 is 600 megapixels, above the 179 MP safety limit against "
        "decompression bombs"
    )  # the front end says how to lift the limit (the CLI: --allow-large)
    with pytest.raises(ImageTooLargeError) as info:
        read_image(path)
    assert (info.value.code, info.value.path) == ("too_large", path)
    assert info.value.reason == message.removeprefix(f"{path}: ")  # the line without the file


def test_pixel_limit_is_per_call(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (20, 10)).save(path)
    assert "above the 0 MP safety limit" in error_for(path, max_pixels=199)
    assert read_image(path, max_pixels=200).pixels.shape == (10, 20, 3)
    assert read_image(path, max_pixels=None).pixels.shape == (10, 20, 3)


def test_unreadable_file() -> None:
    with public_folder() as folder:
        path = folder / "secret.png"
        Image.new("RGB", (4, 4)).save(path)
        os.chmod(path, 0o000)

        def attempt() -> str:
            try:
                read_image(path)
            except ImageReadError as err:
                return str(err)
            return "read it"

        assert run_unprivileged(attempt) == f"{path}: permission denied (the file is not readable)"


def test_float_tiff_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "hdr.tif"
    Image.fromarray(np.ones((4, 4), dtype=np.float32)).save(path)
    assert (
        error_for(path) == f"{path}: 32-bit floating point images are not supported; save it as 8- or 16-bit"
    )


def test_damaged_tiff_header(tmp_path: Path) -> None:
    path = tmp_path / "bad.tif"
    path.write_bytes(b"II*\x00" + struct.pack("<I", 999999) + b"\x00" * 64)
    assert error_for(path) == f"{path}: damaged or truncated TIFF file (its header cannot be read)"


def _made(tmp_path: Path, case: str) -> Path:
    path = tmp_path / f"{case}.png"
    if case == "folder":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("hello\n")
    elif case == "truncated":
        path.write_bytes(image_bytes("PNG")[:-12])
    elif case == "bomb":
        path.write_bytes(_bomb_png(30000, 20000))
    elif case == "ico":
        path = tmp_path / "icon.ico"
        Image.new("RGB", (16, 16)).save(path)
    elif case == "float":
        path = tmp_path / "hdr.tif"
        Image.fromarray(np.ones((4, 4), dtype=np.float32)).save(path)
    return path


@pytest.mark.parametrize(
    ("case", "code"),
    [("missing", "not_found"), ("folder", "not_an_image"), ("empty", "empty"), ("text", "not_an_image"),
     ("truncated", "truncated"), ("bomb", "too_large"), ("ico", "unsupported"), ("float", "unsupported")],
)
def test_every_failure_carries_its_code_and_a_reason_without_the_path(
    tmp_path: Path, case: str, code: str
) -> None:
    """Front ends word a failure from its code and name the file their own way: the reason is the
    line without the path."""
    path = _made(tmp_path, case)
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert info.value.code == code
    assert info.value.path == path and str(path) not in info.value.reason
    assert str(info.value) == f"{path}: {info.value.reason}"
