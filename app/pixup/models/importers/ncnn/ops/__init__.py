"""ncnn layer converters. Importing this package registers every supported layer type."""

from pixup.models.importers.ncnn.ops import (  # noqa: F401  (imported for registration)
    activation,
    constant,
    conv,
    elementwise,
    layout,
    pooling,
    resize,
)
from pixup.models.importers.ncnn.ops.registry import CONVERTERS, convert_layer

__all__ = ["CONVERTERS", "convert_layer"]
