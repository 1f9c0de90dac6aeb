"""Precision, output formats and model file endings are defined once and imported everywhere."""

from __future__ import annotations

from typing import get_args

from pixup.api import schema
from pixup.engine import providers
from pixup.imaging import encode, limits, naming
from pixup.models import catalogue, importing, suffixes


def test_precision_and_formats_come_from_the_api_schema() -> None:
    assert providers.Precision is schema.Precision
    assert limits.Format is schema.OutputFormat
    assert limits.FORMATS == get_args(schema.OutputFormat) == ("png", "webp", "jpg", "tiff")
    assert set(limits.EXTENSIONS) == set(limits.FORMATS)
    # The copies that used to sit beside them are gone.
    assert not hasattr(encode, "EXTENSIONS") and not hasattr(naming, "_EXT")


def test_model_suffixes_come_from_one_module() -> None:
    assert catalogue.MODEL_SUFFIXES is suffixes.MODEL_SUFFIXES == (".onnx", ".param")
    assert importing.IMPORTABLE_SUFFIXES[:3] == suffixes.STORED_SUFFIXES == (".onnx", ".param", ".bin")
    assert importing.BIN_SUFFIX is suffixes.BIN_SUFFIX
