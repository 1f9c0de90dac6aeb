"""Held-out test images for the model table (benchmarks/model_table.py): photos and drawings.

Photos: samples/astronaut-512.png (NASA, public domain) and samples/chelsea.png (CC0) from the
repository, plus coffee.png (Rachel Michetti, CC0) and rocket.jpg (SpaceX, public domain) from the
data folder of the scikit-image 0.26.0 wheel, fetched once with `pip download` and checked against
scikit-image's own SHA-256 registry. None of them is in any model's training set that we know of.

Drawings: no registry package ships anime-style art under a clear licence (scikit-image's logo and
horse are a textured snake and a silhouette), so two pages are generated here with Pillow: flat
colours, black outlines, an anime-style face, cel shading, screentone, speed lines, hatching and
text, drawn at 4× and reduced with a Box filter (edges anti-aliased like exported vector art).
Deterministic for one Pillow version (the text uses Pillow's built-in Aileron font).

Every photo is cut to one square crop (the window with the most detail, see `detail_crop`); each
drawing page to two crops chosen by hand (`DRAWING_CROPS`). The side is divisible by 12, so ×2, ×3
and ×4 inputs all exist.
"""

from __future__ import annotations

import hashlib
import logging
import math
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

U8 = npt.NDArray[np.uint8]
Kind = Literal["photo", "drawing"]

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SKIMAGE_WHEEL = "scikit-image==0.26.0"
SKIMAGE_SHA256 = {
    "coffee.png": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    "rocket.jpg": "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
}
"""From skimage/data/_registry.py of that wheel."""
CROP = 192
"""Side of the high-resolution crop (divisible by 12: ×2, ×3 and ×4 inputs of 96, 64 and 48 px)."""
CROP_STEP = 24
DRAW_SIZE = 576
DRAWING_CROPS = {"cartoon": ((96, 96), (252, 24)), "manga": ((40, 300), (352, 270))}
"""Chosen by hand so the drawing set holds the face, outlines, stars, text in two sizes, cel
shading and hatching (a gradient search would take the speed lines twice)."""
SUPERSAMPLE = 4


@dataclass(frozen=True)
class TestImage:
    """One held-out image, already cut to its crop."""

    name: str
    """Short id used in the table ("astronaut")."""
    kind: Kind
    """"photo" or "drawing"."""
    source: str
    """Where it came from, and its licence."""
    crop: tuple[int, int, int]
    """(x, y, side) of the crop in the source image."""
    pixels: U8
    """The crop, H×W×3 uint8: the ground truth."""


def detail_crop(rgb: U8, side: int = CROP, step: int = CROP_STEP) -> tuple[int, int]:
    """(x, y) of the `side`-px window, on a `step`-px grid, with the largest summed gradient magnitude
    (the most edges and texture: where upscalers differ most)."""
    height, width = rgb.shape[:2]
    if height < side or width < side:
        raise ValueError(f"a {width}×{height} image is smaller than a {side}-px crop")
    grey = rgb.astype(np.float64).mean(axis=2)
    energy = np.zeros_like(grey)
    energy[:, 1:] += np.abs(np.diff(grey, axis=1))
    energy[1:, :] += np.abs(np.diff(grey, axis=0))
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    best, best_xy = -1.0, (0, 0)
    for y in range(0, height - side + 1, step):
        for x in range(0, width - side + 1, step):
            total = (
                integral[y + side, x + side] - integral[y, x + side] - integral[y + side, x] + integral[y, x]
            )
            if total > best:
                best, best_xy = float(total), (x, y)
    return best_xy


def _cut(name: str, kind: Kind, source: str, rgb: U8) -> TestImage:
    """The most detailed crop of `rgb`."""
    x, y = detail_crop(rgb)
    return TestImage(name, kind, source, (x, y, CROP), np.ascontiguousarray(rgb[y : y + CROP, x : x + CROP]))


def _rgb(image: Image.Image) -> U8:
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def skimage_file(name: str, cache: Path) -> Path:
    """`skimage/data/<name>` from the pinned scikit-image wheel, downloaded into `cache` once."""
    target = cache / name
    expected = SKIMAGE_SHA256[name]
    if target.is_file() and _sha256(target) == expected:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("scikit_image-0.26.0-*.whl"))
    if not wheels:
        log.info("downloading %s (data files only are used)", SKIMAGE_WHEEL)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                SKIMAGE_WHEEL,
                "-d",
                str(cache),
            ],
            check=True,
        )
        wheels = sorted(cache.glob("scikit_image-0.26.0-*.whl"))
    if not wheels:
        raise RuntimeError(f"pip download {SKIMAGE_WHEEL} left no wheel in {cache}")
    with zipfile.ZipFile(wheels[0]) as wheel, tempfile.NamedTemporaryFile(dir=cache, delete=False) as out:
        out.write(wheel.read(f"skimage/data/{name}"))
    Path(out.name).replace(target)
    if _sha256(target) != expected:
        raise RuntimeError(f"{target} does not match scikit-image's SHA-256")
    return target


# ---------------------------------------------------------------------------------------- drawings


class _Canvas:
    """Draws in final-image coordinates on a 4× supersampled canvas."""

    def __init__(self, size: int, background: str) -> None:
        self.size = size
        self.k = SUPERSAMPLE
        self.image = Image.new("RGB", (size * self.k, size * self.k), background)
        self.draw = ImageDraw.Draw(self.image)

    def _xy(self, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x * self.k, y * self.k) for x, y in points]

    def _box(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = box
        return (x0 * self.k, y0 * self.k, x1 * self.k, y1 * self.k)

    def ellipse(self, box: tuple[float, float, float, float], fill: str | None, line: float = 0) -> None:
        self.draw.ellipse(
            self._box(box), fill=fill, outline="black" if line else None, width=round(line * self.k)
        )

    def polygon(self, points: list[tuple[float, float]], fill: str | None, line: float = 0) -> None:
        self.draw.polygon(
            self._xy(points), fill=fill, outline="black" if line else None, width=round(line * self.k)
        )

    def rect(self, box: tuple[float, float, float, float], fill: str | None, line: float = 0) -> None:
        self.draw.rectangle(
            self._box(box), fill=fill, outline="black" if line else None, width=round(line * self.k)
        )

    def line(self, points: list[tuple[float, float]], width: float, colour: str = "black") -> None:
        self.draw.line(self._xy(points), fill=colour, width=max(1, round(width * self.k)), joint="curve")

    def arc(self, box: tuple[float, float, float, float], start: float, end: float, width: float) -> None:
        self.draw.arc(self._box(box), start, end, fill="black", width=max(1, round(width * self.k)))

    def text(self, xy: tuple[float, float], text: str, size: float, colour: str = "black") -> None:
        font = ImageFont.load_default(size=size * self.k)
        self.draw.text((xy[0] * self.k, xy[1] * self.k), text, fill=colour, font=font)

    def result(self) -> U8:
        small = self.image.resize((self.size, self.size), Image.Resampling.BOX)
        return np.asarray(small, dtype=np.uint8).copy()


def _face(c: _Canvas, cx: float, cy: float, r: float) -> None:
    """An anime-style head: spiky hair, big eyes with highlights, blush."""
    c.polygon(
        [
            (cx + r * 1.25 * math.cos(a), cy - r * 0.15 + r * 1.2 * math.sin(a))
            for a in np.linspace(0, 2 * math.pi, 19)
        ],
        "#5b3a8c",
        2.5,
    )
    c.ellipse((cx - r, cy - r, cx + r, cy + r), "#ffe3cc", 2.5)
    spikes = [(cx - r * 1.05, cy - r * 0.1)]
    for i in range(9):
        t = i / 8
        spikes.append((cx - r + 2 * r * t, cy - r * (0.35 if i % 2 else 1.25)))
    spikes.append((cx + r * 1.05, cy - r * 0.1))
    c.polygon(spikes, "#5b3a8c", 2.5)
    for side in (-1, 1):
        ex = cx + side * r * 0.42
        c.ellipse((ex - r * 0.2, cy - r * 0.05, ex + r * 0.2, cy + r * 0.42), "white", 2)
        c.ellipse((ex - r * 0.15, cy + r * 0.02, ex + r * 0.15, cy + r * 0.4), "#2f7fd6", 0)
        c.ellipse((ex - r * 0.08, cy + r * 0.12, ex + r * 0.08, cy + r * 0.32), "black", 0)
        c.ellipse((ex - r * 0.1, cy + r * 0.04, ex - r * 0.01, cy + r * 0.13), "white", 0)
        c.arc((ex - r * 0.25, cy - r * 0.3, ex + r * 0.25, cy + r * 0.05), 200, 340, 2.5)
        c.ellipse(
            (ex + side * r * 0.12 - r * 0.14, cy + r * 0.5, ex + side * r * 0.12 + r * 0.14, cy + r * 0.6),
            "#ffb0b8",
            0,
        )
    c.arc((cx - r * 0.2, cy + r * 0.45, cx + r * 0.2, cy + r * 0.75), 20, 160, 2)


def cartoon_drawing(size: int = DRAW_SIZE) -> U8:
    """A flat-colour cartoon scene with outlines, an anime-style face and a speech bubble."""
    s = size / 576
    c = _Canvas(size, "#8fd3ff")
    rng = np.random.default_rng(7)
    for _ in range(14):  # stars: small sharp polygons
        x, y, r = rng.uniform(20, 556) * s, rng.uniform(10, 150) * s, rng.uniform(4, 9) * s
        c.polygon(
            [
                (
                    x + (r if i % 2 == 0 else r / 2.5) * math.cos(i * math.pi / 5 - math.pi / 2),
                    y + (r if i % 2 == 0 else r / 2.5) * math.sin(i * math.pi / 5 - math.pi / 2),
                )
                for i in range(10)
            ],
            "#fff7a8",
            1,
        )
    c.ellipse((440 * s, 30 * s, 530 * s, 120 * s), "#ffd23f", 3)
    for i in range(12):
        a = i * math.pi / 6
        c.line(
            [
                (485 * s + 55 * s * math.cos(a), 75 * s + 55 * s * math.sin(a)),
                (485 * s + 72 * s * math.cos(a), 75 * s + 72 * s * math.sin(a)),
            ],
            2.5 * s,
            "#e89a00",
        )
    c.ellipse((-120 * s, 300 * s, 330 * s, 700 * s), "#6cc24a", 3)
    c.ellipse((220 * s, 330 * s, 720 * s, 760 * s), "#4fa83d", 3)
    for i in range(40):  # grass: 1-px strokes
        x = (10 + i * 14) * s
        c.line([(x, 560 * s), (x + 4 * s, 540 * s)], 1.0 * s, "#2d6b22")
    # house
    c.rect((300 * s, 300 * s, 470 * s, 430 * s), "#f4e1b0", 3)
    c.polygon([(285 * s, 305 * s), (385 * s, 215 * s), (485 * s, 305 * s)], "#d6453d", 3)
    c.rect((430 * s, 225 * s, 455 * s, 275 * s), "#8c5a3c", 2.5)
    c.rect((370 * s, 350 * s, 405 * s, 430 * s), "#8c5a3c", 2.5)
    for wx in (315, 420):
        c.rect((wx * s, 325 * s, (wx + 35) * s, 360 * s), "#bfe9ff", 2.5)
        c.line([((wx + 17.5) * s, 325 * s), ((wx + 17.5) * s, 360 * s)], 1.5 * s)
        c.line([(wx * s, 342.5 * s), ((wx + 35) * s, 342.5 * s)], 1.5 * s)
    for row in range(4):  # roof shingles: thin parallel lines
        y = (240 + row * 16) * s
        c.line(
            [((385 - (y / s - 215) * 1.0) * s, y), ((385 + (y / s - 215) * 1.0) * s, y)], 1.2 * s, "#8f2621"
        )
    # tree
    c.rect((60 * s, 330 * s, 85 * s, 450 * s), "#8c5a3c", 2.5)
    for bx, by, br in ((72, 300, 55), (40, 330, 38), (105, 330, 40)):
        c.ellipse(((bx - br) * s, (by - br) * s, (bx + br) * s, (by + br) * s), "#3f9142", 2.5)
    _face(c, 195 * s, 200 * s, 70 * s)
    # speech bubble with text
    c.polygon([(250 * s, 130 * s), (285 * s, 95 * s), (300 * s, 110 * s)], "white", 2)
    c.ellipse((250 * s, 35 * s, 430 * s, 115 * s), "white", 2.5)
    c.polygon([(252 * s, 128 * s), (287 * s, 97 * s), (298 * s, 108 * s)], "white", 0)
    c.text((275 * s, 55 * s), "Hello,", 18 * s)
    c.text((290 * s, 78 * s), "pixup!", 22 * s, "#d6453d")
    return c.result()


def manga_drawing(size: int = DRAW_SIZE) -> U8:
    """A manga-style page: panel borders, speed lines, screentone, hatching, cel shading and text."""
    s = size / 576
    c = _Canvas(size, "white")
    # panel 1: speed lines and a screentone gradient behind a line-art face
    c.rect((12 * s, 12 * s, 564 * s, 250 * s), "white", 4)
    for i in range(60):
        a = i * 2 * math.pi / 60
        c.line(
            [
                (288 * s + 120 * s * math.cos(a), 131 * s + 80 * s * math.sin(a)),
                (288 * s + 400 * s * math.cos(a), 131 * s + 400 * s * math.sin(a)),
            ],
            (0.6 + (i % 3) * 0.5) * s,
        )
    c.rect((14 * s, 14 * s, 120 * s, 248 * s), "white", 0)
    for row in range(34):
        for col in range(15):
            r = (0.6 + 2.4 * row / 33) * s
            x, y = (20 + col * 7 + (row % 2) * 3.5) * s, (18 + row * 7) * s
            c.ellipse((x - r, y - r, x + r, y + r), "black", 0)
    c.rect((12 * s, 12 * s, 564 * s, 250 * s), None, 4)
    c.ellipse((220 * s, 60 * s, 356 * s, 200 * s), "white", 3)
    for side in (-1, 1):
        ex = 288 + side * 30
        c.ellipse(((ex - 12) * s, 110 * s, (ex + 12) * s, 145 * s), "black", 0)
        c.ellipse(((ex - 8) * s, 114 * s, (ex - 2) * s, 122 * s), "white", 0)
        c.arc(((ex - 16) * s, 92 * s, (ex + 16) * s, 115 * s), 200, 340, 2.5 * s)
    c.arc((270 * s, 150 * s, 306 * s, 178 * s), 20, 160, 2 * s)
    for i in range(7):  # hair strands
        x = 225 + i * 19
        c.line([(x * s, 62 * s), ((x + 10) * s, 40 * s), ((x + 24) * s, 75 * s)], 2.2 * s)
    # panel 2: text in a bubble
    c.rect((12 * s, 262 * s, 270 * s, 564 * s), "white", 4)
    c.ellipse((24 * s, 282 * s, 258 * s, 452 * s), "white", 2.5)
    c.text((58 * s, 318 * s), "WHAT?!", 34 * s)
    c.text((52 * s, 366 * s), "It's twice as big", 17 * s)
    c.text((62 * s, 390 * s), "and still sharp...", 17 * s)
    c.text((40 * s, 480 * s), "small print: 12 px text, 1-px lines", 11 * s)
    for i in range(5):
        c.line([(30 * s, (505 + i * 11) * s), (250 * s, (505 + i * 11) * s)], 1.0 * s)
    # panel 3: cel-shaded sphere, cross-hatching, checker pattern
    c.rect((282 * s, 262 * s, 564 * s, 564 * s), "#fbeee0", 4)
    c.ellipse((320 * s, 290 * s, 470 * s, 440 * s), "#e5484d", 3)
    c.polygon(
        [(395 * s + 75 * s * math.cos(a), 365 * s + 75 * s * math.sin(a)) for a in np.linspace(-0.3, 2.0, 20)]
        + [(395 * s, 365 * s)],
        "#a8252a",
        0,
    )
    c.ellipse((345 * s, 310 * s, 385 * s, 345 * s), "#ffd0d2", 0)
    c.ellipse((320 * s, 290 * s, 470 * s, 440 * s), None, 3)
    for i in range(16):  # cross-hatching, 4 px apart
        c.line([((480 + i * 4) * s, 290 * s), ((480 + i * 4) * s, 440 * s)], 0.9 * s)
        c.line([(480 * s, (290 + i * 9.5) * s), (545 * s, (290 + i * 9.5) * s)], 0.9 * s)
    for row in range(6):
        for col in range(14):
            if (row + col) % 2 == 0:
                x, y = (300 + col * 18) * s, (460 + row * 15) * s
                c.rect((x, y, x + 18 * s, y + 15 * s), "#2b2d42", 0)
    c.rect((282 * s, 262 * s, 564 * s, 564 * s), None, 4)
    return c.result()


# ---------------------------------------------------------------------------------------- the sets


def _read(path: Path) -> U8:
    with Image.open(path) as image:
        return _rgb(image)


def repository_photos() -> list[TestImage]:
    """The photos that live in this repository (no download): what the tests re-measure."""
    return [
        _cut(
            "astronaut",
            "photo",
            "samples/astronaut-512.png (NASA, public domain)",
            _read(SAMPLES / "astronaut-512.png"),
        ),
        _cut(
            "chelsea",
            "photo",
            "samples/chelsea.png (Stefan van der Walt, CC0)",
            _read(SAMPLES / "chelsea.png"),
        ),
    ]


def photos(cache: Path) -> list[TestImage]:
    """The held-out photos, one crop each. Downloads the scikit-image wheel into `cache` once."""
    return [
        *repository_photos(),
        _cut(
            "coffee",
            "photo",
            "scikit-image 0.26.0 data/coffee.png (Rachel Michetti, CC0)",
            _read(skimage_file("coffee.png", cache)),
        ),
        _cut(
            "rocket",
            "photo",
            "scikit-image 0.26.0 data/rocket.jpg (SpaceX, public domain)",
            _read(skimage_file("rocket.jpg", cache)),
        ),
    ]


def drawings() -> list[TestImage]:
    """The held-out drawings: two crops of each generated page (`DRAWING_CROPS`)."""
    pages: list[tuple[str, Callable[[], U8]]] = [("cartoon", cartoon_drawing), ("manga", manga_drawing)]
    images = []
    for name, make in pages:
        page = make()
        source = (
            f"generated by benchmarks/sr_images.py:{make.__name__} (Pillow, drawn at 4× then Box-reduced)"
        )
        for k, (x, y) in enumerate(DRAWING_CROPS[name]):
            crop = np.ascontiguousarray(page[y : y + CROP, x : x + CROP])
            images.append(
                TestImage(name if k == 0 else f"{name}-{k + 1}", "drawing", source, (x, y, CROP), crop)
            )
    return images
