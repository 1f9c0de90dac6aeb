"""pixup: an AI image upscaler with ONNX Runtime in-process."""

__version__ = "0.1.0"
