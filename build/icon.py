"""Draw pixup's icon with Pillow (no image files in git): a few coarse pixels growing into a smooth
curve, on a rounded square. Writes the sizes each platform wants.

    python build/icon.py OUT_DIR     # pixup.png (512), pixup-{16..256}.png, pixup.ico, pixup.icns
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

SIZE = 512
BACKGROUND = ((37, 99, 235), (124, 58, 237))  # blue to violet, top-left to bottom-right
PIXEL = (255, 255, 255, 235)


def draw(size: int = SIZE) -> Image.Image:
    scale = size / SIZE
    # Diagonal gradient, then a rounded-square mask.
    ramp = Image.linear_gradient("L")
    gradient = Image.blend(ramp, ramp.rotate(90), 0.5).resize((size, size))
    start, end = (Image.new("RGB", (size, size), c) for c in BACKGROUND)
    icon = Image.composite(end, start, gradient).convert("RGBA")
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, size - 1, size - 1), radius=int(112 * scale), fill=255)
    icon.putalpha(mask)
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(layer)
    # Coarse pixels, bottom-left: what goes in.
    cell = 56 * scale
    for row, col in ((0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (0, 2)):
        x0 = 80 * scale + col * (cell + 10 * scale)
        y0 = size - 80 * scale - (row + 1) * cell - row * 10 * scale
        pen.rounded_rectangle((x0, y0, x0 + cell, y0 + cell), radius=int(10 * scale), fill=PIXEL)
    # A smooth arc to the top-right corner: what comes out.
    box = (150 * scale, 80 * scale, 560 * scale, 490 * scale)
    pen.arc(box, start=180, end=270, fill=PIXEL, width=max(2, int(40 * scale)))
    pen.ellipse((394 * scale, 58 * scale, 450 * scale, 114 * scale), fill=PIXEL)
    shadow = layer.filter(ImageFilter.GaussianBlur(6 * scale))
    shadow = Image.merge(
        "RGBA",
        (
            *Image.new("RGB", shadow.size, (20, 20, 60)).split(),
            shadow.getchannel("A").point(lambda a: a // 3),
        ),
    )
    icon.alpha_composite(shadow, (0, int(6 * scale)))
    icon.alpha_composite(layer)
    return icon


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path("build/out/icons")
    out.mkdir(parents=True, exist_ok=True)
    icon = draw()
    icon.save(out / "pixup.png")
    for size in (16, 32, 48, 64, 128, 256):
        draw(size).save(out / f"pixup-{size}.png")
    icon.save(out / "pixup.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    icon.save(out / "pixup.icns")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
