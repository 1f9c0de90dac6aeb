"""pixup.imaging.pngwrite's row filters: the choice among None, Sub, Up and Average per row (and the
old five-filter choice kept for comparison), checked against the PNG spec's arithmetic and a decoder
written from the spec, across depths, channel counts, odd sizes, blocks and threaded segments."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from pixup.imaging import pngwrite
from pixup.imaging.pngwrite import write_png
from tests.imaging.helpers import png_unfilter

RNG = np.random.default_rng(2024)


def _spec_filter(raw: np.ndarray, previous: np.ndarray, bpp: int, kind: int) -> np.ndarray:
    """One filter type applied to every row of `raw` (n×L uint8), in plain integers per the spec."""
    x = raw.astype(np.int32)
    b = np.vstack([previous[None].astype(np.int32), x[:-1]])
    a = np.zeros_like(x)
    a[:, bpp:] = x[:, :-bpp]
    c = np.zeros_like(x)
    c[:, bpp:] = b[:, :-bpp]
    if kind == 0:
        pred = np.zeros_like(x)
    elif kind == 1:
        pred = a
    elif kind == 2:
        pred = b
    elif kind == 3:
        pred = (a + b) // 2
    else:
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    return ((x - pred) % 256).astype(np.uint8)


def _cost(filtered: np.ndarray) -> np.ndarray:
    signed = filtered.astype(np.int32)
    return np.minimum(signed, 256 - signed).sum(axis=1)


def _idat_rows(data: bytes) -> tuple[list[int], bytes]:
    """Filter type byte of each row and the inflated IDAT stream (zlib checks header and Adler-32)."""
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(kind + body)
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    width, _, depth, colour = struct.unpack(">IIBB", data[16:26])
    row = 1 + width * {0: 1, 2: 3, 6: 4}[colour] * depth // 8
    return [raw[i] for i in range(0, len(raw), row)], raw


def _mixed_rows(width: int, bpp: int) -> np.ndarray:
    """Byte rows (uint8, 12×L) built so each filter wins somewhere: a noise row, then a zero row
    (None: cost 0, Sub ties it and loses on order), a ramp along x (Sub), a copy of the row above
    (Up), a row that is exactly the Average of its left and upper bytes past its first pixel (Average) and one
    that is exactly Paeth's prediction past its first pixel (Paeth, for the five-filter choice)."""
    length = width * bpp
    rows: list[np.ndarray] = []

    def noise() -> np.ndarray:
        return RNG.integers(0, 256, length, dtype=np.uint8)

    def predicted(up: np.ndarray, kind: int) -> np.ndarray:
        row = np.zeros(length, dtype=np.int32)
        row[:bpp] = noise()[:bpp]  # else Paeth's row would be the row above (a = c = 0 at the start)
        for x in range(bpp, length):
            a = int(row[x - bpp]) if x >= bpp else 0
            b = int(up[x])
            c = int(up[x - bpp]) if x >= bpp else 0
            if kind == 3:
                row[x] = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[x] = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        return row.astype(np.uint8)

    rows.append(noise())
    rows.append(np.zeros(length, dtype=np.uint8))  # None
    rows.append(noise())
    rows.append((np.arange(length) * 7 % 256).astype(np.uint8))  # Sub
    rows.append(rows[-1].copy())  # Up
    rows.append(noise())
    rows.append(predicted(rows[-1], 3))  # Average
    rows.append(noise())
    rows.append(predicted(rows[-1], 4))  # Paeth
    rows.append(noise())
    rows.append(np.zeros(length, dtype=np.uint8))
    rows.append((np.arange(length) * 5 % 256).astype(np.uint8))
    return np.stack(rows)


@pytest.mark.parametrize("bpp", [1, 3, 4, 6, 8])
def test_each_row_gets_the_cheapest_of_none_sub_up_average(bpp: int) -> None:
    raw = _mixed_rows(9, bpp)
    previous = RNG.integers(0, 256, raw.shape[1], dtype=np.uint8)
    stack = np.vstack([previous[None], raw])
    out = pngwrite._filter_rows(stack, bpp)
    assert out.shape == (len(raw), raw.shape[1] + 1) and out.flags.c_contiguous
    candidates = [_spec_filter(raw, previous, bpp, kind) for kind in range(4)]
    costs = np.stack([_cost(c) for c in candidates])
    assert out[:, 0].tolist() == costs.argmin(axis=0).tolist()  # first of equals, as numpy's argmin
    assert {0, 1, 2, 3} <= set(out[:, 0].tolist())
    for i, kind in enumerate(out[:, 0]):
        assert np.array_equal(out[i, 1:], candidates[kind][i])


def test_one_filter_for_the_whole_block_is_the_same_as_row_by_row() -> None:
    """All rows choosing the same filter (the path that returns that filter's rows as they are)."""
    ramp = (np.arange(30) * 11 % 256).astype(np.uint8)
    raw = np.tile(ramp, (5, 1)) + np.arange(5, dtype=np.uint8)[:, None]  # a ramp 1 brighter a row: Up
    previous = ramp - 1
    out = pngwrite._filter_rows(np.vstack([previous[None], raw]), 3)
    kinds = out[:, 0].tolist()
    assert kinds == [2] * 5
    assert not out.flags.owndata  # that filter's rows of the candidates, not a gathered copy
    for i, kind in enumerate(kinds):
        assert np.array_equal(out[i, 1:], _spec_filter(raw, previous, 3, kind)[i])


def _image(height: int, width: int, channels: int, dtype: type) -> np.ndarray:
    """Row content that changes every few rows (noise, ramps, repeats, constructed Average and
    Paeth rows), as pixels of the given depth."""
    bpp = channels * np.dtype(dtype).itemsize
    bands = [_mixed_rows(width, bpp) for _ in range(-(-height // 12))]
    rows = np.concatenate(bands)[:height]
    big = np.dtype(dtype) == np.uint16
    return rows.view(">u2" if big else np.uint8).reshape(height, width, channels).astype(dtype)


@pytest.mark.parametrize("choice", ["four", "five"])
@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_rows_with_different_filters_decode_by_the_book(
    monkeypatch: pytest.MonkeyPatch, choice: str, channels: int, dtype: type
) -> None:
    """Odd sizes, blocks of 3 rows inside segments of 7 (several deflate threads, rows above carried
    across both joins): every byte comes back through a decoder written from the spec, and Pillow
    agrees (8-bit; for 16-bit its decode is the high bytes)."""
    height, width = 29, 13
    bpp = channels * np.dtype(dtype).itemsize
    monkeypatch.setattr(pngwrite, "_SEGMENT_BYTES", 7 * width * bpp)
    monkeypatch.setattr(pngwrite, "_BLOCK_BYTES", 3 * width * bpp)
    monkeypatch.setattr(pngwrite, "_FILTER_CHOICE", choice)
    pixels = _image(height, width, channels, dtype)
    buffer = io.BytesIO()
    write_png(buffer, pixels, compress_level=1)
    kinds, raw = _idat_rows(buffer.getvalue())
    assert len(kinds) == height
    assert len(set(kinds)) >= 4, kinds
    assert (4 in kinds) == (choice == "five")  # the four-filter choice never writes Paeth
    back = png_unfilter(raw, width, height, bpp)
    big = np.dtype(dtype) == np.uint16
    assert np.array_equal(back.view(">u2" if big else np.uint8).reshape(pixels.shape), pixels)
    with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
        seen = np.asarray(decoded).reshape(pixels.shape) if not big else None
    if seen is not None:
        assert np.array_equal(seen, pixels)


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_a_photo_like_image_round_trips_through_pillow(level: int) -> None:
    """A smooth image with noise (what an upscale looks like to the filters), 1 block and many."""
    y, x = np.mgrid[0:300, 0:211]
    smooth = np.stack([x * 255 / 210, y * 255 / 299, (x + y) * 255 / 509], -1)
    pixels = np.clip(smooth + RNG.normal(0, 3, smooth.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    write_png(buffer, pixels, compress_level=level)
    with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
        assert np.array_equal(np.asarray(decoded), pixels)


def _photo_and_drawing(height: int, width: int) -> np.ndarray:
    """Top half: a smooth gradient with noise (an upscaled photo to deflate: literals); bottom
    half: a 3-colour 12×12 tile repeated (a drawing: matches 36 bytes and a row back)."""
    y, x = np.mgrid[0 : height // 2, 0:width]
    smooth = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / width], -1)
    photo = np.clip(smooth + RNG.normal(0, 2, smooth.shape), 0, 255).astype(np.uint8)
    palette = np.array([[255, 255, 255], [0, 0, 0], [200, 40, 90]], dtype=np.uint8)
    tile = palette[RNG.integers(0, 3, (12, 12))]
    drawing = np.tile(tile, (-(-height // 24), -(-width // 12), 1))[: height - height // 2, :width]
    return np.concatenate([photo, drawing])


def test_each_segment_deflates_with_the_strategy_its_first_block_favours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Segments whose first block deflates clearly smaller with Z_RLE go on with Z_RLE, the others
    with zlib's default; the joined stream decodes to the same pixels either way."""
    height, width = 512, 256
    monkeypatch.setattr(pngwrite, "_SEGMENT_BYTES", 128 * width * 3)
    monkeypatch.setattr(pngwrite, "_BLOCK_BYTES", 64 * width * 3)
    monkeypatch.setattr(pngwrite, "_MAX_WORKERS", 1)  # segments in order
    strategies: list[str] = []
    start = pngwrite._start_deflate

    def spy(level: int, data: memoryview) -> tuple[object, bytes]:
        squeeze, deflated = start(level, data)
        whole = deflated + squeeze.copy().flush()
        for name, strategy in (("default", zlib.Z_DEFAULT_STRATEGY), ("rle", zlib.Z_RLE)):
            alone = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy)
            if alone.compress(data) + alone.flush() == whole:
                strategies.append(name)
        return squeeze, deflated

    monkeypatch.setattr(pngwrite, "_start_deflate", spy)
    pixels = _photo_and_drawing(height, width)
    for level in (1, 6):
        strategies.clear()
        buffer = io.BytesIO()
        write_png(buffer, pixels, compress_level=level)
        assert strategies == ["rle", "rle", "default", "default"]
        _, raw = _idat_rows(buffer.getvalue())
        assert np.array_equal(png_unfilter(raw, width, height, 3).reshape(pixels.shape), pixels)
        with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
            assert np.array_equal(np.asarray(decoded), pixels)

    monkeypatch.setattr(pngwrite, "_RLE_TRIAL", False)  # the old path: the default strategy only
    strategies.clear()
    write_png(io.BytesIO(), pixels, compress_level=1)
    assert strategies == ["default"] * 4


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (6, 1), (2, 2)])
@pytest.mark.parametrize("channels", [1, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_tiny_images_round_trip(shape: tuple[int, int], channels: int, dtype: type) -> None:
    """One pixel wide or one row high: rows with no pixel on the left, blocks of a single row."""
    height, width = shape
    pixels = RNG.integers(0, np.iinfo(dtype).max + 1, (height, width, channels), dtype=dtype)
    buffer = io.BytesIO()
    write_png(buffer, pixels, compress_level=1)
    _, raw = _idat_rows(buffer.getvalue())
    bpp = channels * np.dtype(dtype).itemsize
    big = np.dtype(dtype) == np.uint16
    back = png_unfilter(raw, width, height, bpp).view(">u2" if big else np.uint8).reshape(pixels.shape)
    assert np.array_equal(back, pixels)
