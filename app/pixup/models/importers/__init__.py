"""Importers turn foreign model formats into ONNX graphs the engine can run."""
