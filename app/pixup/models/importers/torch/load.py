"""Load a PyTorch checkpoint with spandrel and make sure it is an image-to-image model pixup can run."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

from pixup.errors import ModelError, one_line
from pixup.models.importers.torch.deps import require_backend

log = logging.getLogger(__name__)

TORCH_SUFFIXES = (".pth", ".safetensors", ".ckpt")
"""Checkpoint files pixup imports. (".pt" is left out: it may be a TorchScript program.)"""
ACCEPTED_PURPOSES = ("SR", "Restoration")
IMAGE_CHANNELS = (1, 3, 4)


def load_image_model(path: Path) -> Any:
    """The spandrel `ImageModelDescriptor` of an SR or restoration checkpoint, in float32 eval mode
    on the CPU. Raises ModelError naming the reason for anything else."""
    require_backend()
    from spandrel import ImageModelDescriptor, ModelLoader, UnsupportedModelError

    if path.suffix.lower() not in TORCH_SUFFIXES:
        raise ModelError(f"{path.name}: not a PyTorch checkpoint ({', '.join(TORCH_SUFFIXES)})")
    try:
        descriptor = ModelLoader(device="cpu").load_from_file(path)
    except UnsupportedModelError:
        raise ModelError(
            f"{path.name}: unknown PyTorch architecture (spandrel recognises none in this checkpoint)"
        ) from None
    except pickle.UnpicklingError as err:
        why = one_line(err, last=True)  # torch.load puts the cause last, after its advice
        if "forbidden" not in str(err):
            raise ModelError(f"{path.name}: not a readable PyTorch model ({why})") from None
        # spandrel's restricted unpickler refuses anything but tensors: no code runs from the file.
        raise ModelError(f"{path.name}: refused to load this checkpoint ({why})") from None
    except OSError as err:
        raise ModelError(f"cannot read {path}: {err.strerror or err}") from None
    except Exception as err:  # torch.load / safetensors / architecture detection failures
        log.debug("loading %s failed", path, exc_info=True)
        raise ModelError(f"{path.name}: not a readable PyTorch model ({one_line(err, last=True)})") from None

    arch = descriptor.architecture.name
    if not isinstance(descriptor, ImageModelDescriptor):
        raise ModelError(
            f"{path.name}: {arch} is a {descriptor.purpose.lower()} model (it needs a mask); "
            "pixup imports upscaling and restoration models"
        )
    if descriptor.purpose not in ACCEPTED_PURPOSES:
        raise ModelError(
            f"{path.name}: {arch} is a face restoration model, not an image upscaler; "
            "pixup imports upscaling and restoration models"
        )
    if descriptor.input_channels not in IMAGE_CHANNELS or descriptor.output_channels not in IMAGE_CHANNELS:
        raise ModelError(
            f"{path.name}: {arch} maps {descriptor.input_channels} to {descriptor.output_channels} "
            "channels; pixup needs 1, 3 or 4 channel images"
        )
    descriptor.float().eval()
    log.info(
        "loaded %s: %s %s ×%d, %d→%d ch, size %s",
        path.name,
        arch,
        descriptor.purpose,
        descriptor.scale,
        descriptor.input_channels,
        descriptor.output_channels,
        descriptor.size_requirements,
    )
    return descriptor
