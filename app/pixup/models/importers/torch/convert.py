"""`convert_torch`: a PyTorch checkpoint (.pth / .safetensors / .ckpt) → a verified ONNX file."""

from __future__ import annotations

import importlib.metadata
import logging
from dataclasses import dataclass
from pathlib import Path

from pixup.models.importers.torch.load import load_image_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TorchConversion:
    """What was found in the checkpoint and how it was exported."""

    architecture: str
    """spandrel's architecture id ("SPAN", "PLKSR", "Compact", "ESRGAN", "HAT", ...)."""
    purpose: str
    """"SR" (upscaler) or "Restoration" (1×: denoise, deblur, JPEG repair, ...)."""
    tags: tuple[str, ...]
    """spandrel's size/variant tags ("48nf", "4x", ...)."""
    scale: int
    """The scale spandrel reads from the weights (pixup still measures it from the ONNX file)."""
    shape_mode: str
    """"dynamic", "static-batch" or "fixed" (see `export.ShapeMode`)."""
    fixed_side: int | None
    """Input side of a fixed-shape export, else None."""
    max_diff: float
    """Largest |ONNX − PyTorch| on the random check inputs (outputs in [0, 1])."""
    notes: tuple[str, ...]
    """One-line remarks for the user."""


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def convert_torch(source: Path, onnx_path: Path) -> TorchConversion:
    """Load `source` with spandrel, export it to `onnx_path` and check the export against PyTorch.

    Raises ModelError: the extra is not installed, the file is unreadable, the architecture is
    unknown or not image-to-image, or no export reproduced the model."""
    descriptor = load_image_model(source)
    # Imported only now: it needs torch, which require_backend (in load_image_model) has checked.
    from pixup.models.importers.torch.export import export_onnx

    arch = str(descriptor.architecture.id)
    arch_name = str(descriptor.architecture.name)
    metadata = {
        "pixup_source": source.name,
        "pixup_architecture": arch,
        "pixup_purpose": str(descriptor.purpose),
        "pixup_torch": _version("torch"),
        "pixup_spandrel": _version("spandrel"),
    }
    report = export_onnx(descriptor, onnx_path, metadata)
    notes = [
        f"PyTorch {arch_name} ({descriptor.purpose}) exported to ONNX; max difference {report.max_diff:.1e}"
    ]
    if report.mode == "fixed":
        reason = (
            "the architecture needs square inputs"
            if descriptor.size_requirements.square
            else "its graph would not export with free sizes"
        )
        notes.append(f"exported with a fixed {report.fixed_side}×{report.fixed_side} input: {reason}")
    elif report.mode == "static-batch":
        notes.append("its graph would not export with a free batch size: it runs one tile at a time")
    tiling = getattr(descriptor.tiling, "name", "SUPPORTED")
    if tiling != "SUPPORTED":
        notes.append(f"spandrel advises against tiling {arch_name}: use the largest tile size that fits")
    return TorchConversion(
        architecture=arch,
        purpose=str(descriptor.purpose),
        tags=tuple(str(tag) for tag in descriptor.tags),
        scale=int(descriptor.scale),
        shape_mode=report.mode,
        fixed_side=report.fixed_side,
        max_diff=report.max_diff,
        notes=tuple(notes),
    )
