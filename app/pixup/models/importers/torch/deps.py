"""The optional `pixup[torch]` extra (torch + spandrel): imported on demand, never at pixup start-up.

spandrel imports torchvision at module level for two architectures only (LaMa, an inpainter, and
RestoreFormer, a face restorer), and `import spandrel` loads every architecture. A torchvision wheel
that does not match the installed torch fails to import (or is absent: the extra does not need
it), so when torchvision cannot be imported, spandrel is imported against a small stand-in whose
functions raise if called. Those two architectures are refused by pixup anyway (not upscalers); the
stand-in is removed from `sys.modules` right after, so nothing else ever sees it.
"""

from __future__ import annotations

import enum
import logging
import sys
import threading
import types
from typing import NoReturn

from pixup.errors import ModelError

log = logging.getLogger(__name__)

EXTRA_HINT = (
    "importing PyTorch models needs the optional extra: "
    "pip install 'pixup[torch]' && pip install --no-deps spandrel (or: bash scripts/install.sh --torch)"
)

_STUB_MODULES = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")
_lock = threading.Lock()
_ready = False


class _InterpolationMode(enum.Enum):
    """Stand-in for torchvision's enum (spandrel's LaMa only names it at import time)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


def _torchvision_missing(*_args: object, **_kwargs: object) -> NoReturn:
    raise RuntimeError("torchvision is not available; this architecture cannot run in pixup")


def _stub_torchvision() -> dict[str, types.ModuleType]:
    root = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")
    functional.InterpolationMode = _InterpolationMode  # type: ignore[attr-defined]
    functional.rotate = _torchvision_missing  # type: ignore[attr-defined]
    functional.normalize = _torchvision_missing  # type: ignore[attr-defined]
    transforms.functional = functional  # type: ignore[attr-defined]
    root.transforms = transforms  # type: ignore[attr-defined]
    return dict(zip(_STUB_MODULES, (root, transforms, functional), strict=True))


def _torchvision_works() -> bool:
    try:
        import torchvision  # noqa: F401
    except Exception as err:  # ImportError, or a binary built for another torch (RuntimeError, OSError)
        log.debug("torchvision unusable (%s); importing spandrel without it", err)
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]  # a half-imported torchvision must not linger
        return False
    return True


def _import_spandrel() -> None:
    if _torchvision_works():
        import spandrel

        return
    stubs = _stub_torchvision()
    sys.modules.update(stubs)
    try:
        import spandrel  # noqa: F401
    finally:
        for name in _STUB_MODULES:
            if sys.modules.get(name) is stubs[name]:
                del sys.modules[name]


def require_backend() -> None:
    """Import torch and spandrel (once). Raises ModelError with the install hint when the extra is
    missing or broken."""
    global _ready
    with _lock:
        if _ready:
            return
        try:
            import torch  # noqa: F401
        except ImportError as err:
            log.debug("torch import failed: %s", err)
            raise ModelError(EXTRA_HINT) from None
        try:
            _import_spandrel()
        except ImportError as err:
            log.debug("spandrel import failed: %s", err)
            raise ModelError(EXTRA_HINT) from None
        _ready = True
