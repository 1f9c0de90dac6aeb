"""Models: the bundled catalogue, imported models, importers (ncnn → ONNX) and the converted cache."""
