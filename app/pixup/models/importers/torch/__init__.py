"""PyTorch → ONNX importer through the optional `pixup[torch]` extra (torch + spandrel).

`convert_torch(source, onnx_path)` loads a .pth / .safetensors / .ckpt checkpoint with spandrel
(which recognises the architecture from the weights: SPAN, RealPLKSR, Compact, ESRGAN, HAT, DAT,
SwinIR, ...), exports it to ONNX and checks the export against PyTorch. Importing this package does
not import torch: that happens on the first conversion, with a clear ModelError if it is missing.
"""

from pixup.models.importers.torch.convert import TorchConversion, convert_torch
from pixup.models.importers.torch.deps import EXTRA_HINT
from pixup.models.importers.torch.load import TORCH_SUFFIXES

__all__ = ["EXTRA_HINT", "TORCH_SUFFIXES", "TorchConversion", "convert_torch"]
