"""Read an X11 window dump (`xwd -root` output, or the framebuffer file `Xvfb -fbdir` maps) with Pillow.

Only the TrueColor ZPixmap layouts Xvfb uses (depth 16 and 24) are supported; that is all the tests need.
"""

from __future__ import annotations

import struct

from PIL import Image

_HEADER = struct.Struct(">25I")
_LSB_FIRST = 0


def xwd_to_image(data: bytes) -> Image.Image:
    """Decode an XWD dump to an RGB image."""
    fields = _HEADER.unpack_from(data)
    header_size, version, pixmap_format, depth, width, height = fields[:6]
    byte_order, bits_per_pixel, bytes_per_line, ncolors = fields[7], fields[11], fields[12], fields[19]
    # Xvfb at depth 24 may pack 3 bytes a pixel and still pad rows to 4 bytes a pixel: rows follow
    # bytes_per_line, pixels bits_per_pixel.
    pixel_bytes = bits_per_pixel // 8
    if version != 7 or pixmap_format != 2 or depth < 16 or pixel_bytes not in (2, 3, 4):
        raise ValueError(f"unsupported XWD: version {version}, format {pixmap_format}, depth {depth}, "
                         f"{pixel_bytes} bytes per pixel")
    start = header_size + ncolors * 12
    raw = data[start:start + bytes_per_line * height]
    if pixel_bytes == 2:  # depth 16: RGB565
        if byte_order != _LSB_FIRST:
            raise ValueError("unsupported XWD: 16-bit MSBFirst")
        mode = "BGR;16"
    elif pixel_bytes == 4:
        mode = "BGRX" if byte_order == _LSB_FIRST else "XRGB"
    else:
        mode = "BGR" if byte_order == _LSB_FIRST else "RGB"
    return Image.frombuffer("RGB", (width, height), raw, "raw", mode, bytes_per_line, 1)
