"""The converter's version, apart from the converter: the model cache keys on it for every lookup,
and a lookup must not import onnx (~0.1 s) when the converted model is already there."""

CONVERTER_VERSION = "1"
"""Bumped whenever a change alters the ONNX produced for the same files (the cache keys on it)."""
