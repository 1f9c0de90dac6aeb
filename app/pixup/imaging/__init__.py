"""Everything between files and pixel arrays: decode, encode, metadata, atomic writes, naming.

The engine sees only H×W×C numpy arrays (uint8/uint16, C in 1, 3, 4); this package turns files
into such arrays (read_image) and arrays back into files (write_image), carrying EXIF, ICC and XMP.
"""

from pixup.imaging.atomic import atomic_write
from pixup.imaging.decode import DEFAULT_MAX_PIXELS, DecodedImage, read_image
from pixup.imaging.encode import EncodeOptions, encode_notes, write_image
from pixup.imaging.limits import FORMATS, Format, check_output_fits, formats_that_fit
from pixup.imaging.metadata import Metadata, graft_exif, graft_xmp
from pixup.imaging.naming import (
    DEFAULT_TEMPLATE,
    InputItem,
    collect_inputs,
    output_path_for,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_TEMPLATE",
    "FORMATS",
    "DecodedImage",
    "EncodeOptions",
    "Format",
    "InputItem",
    "Metadata",
    "atomic_write",
    "check_output_fits",
    "collect_inputs",
    "encode_notes",
    "formats_that_fit",
    "graft_exif",
    "graft_xmp",
    "output_path_for",
    "read_image",
    "write_image",
]
