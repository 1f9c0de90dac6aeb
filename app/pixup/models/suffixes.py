"""File endings of model files, named once for the catalogue and the importer."""

from __future__ import annotations

ONNX_SUFFIX = ".onnx"
PARAM_SUFFIX = ".param"
BIN_SUFFIX = ".bin"

MODEL_SUFFIXES = (ONNX_SUFFIX, PARAM_SUFFIX)
"""Endings of the file that stands for a model: an ncnn model is named by its `.param`, whose
weights lie beside it in the `.bin` of the same name."""

STORED_SUFFIXES = (*MODEL_SUFFIXES, BIN_SUFFIX)
"""Every file a model in the user models folder consists of."""
