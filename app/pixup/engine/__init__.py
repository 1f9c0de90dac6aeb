"""The upscaling engine: knows numpy and ONNX Runtime, nothing of UI, files or config."""
