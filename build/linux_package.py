"""Package the Linux standalone folder: a `.tar.xz` and a `.deb`.

The `.deb` installs the folder as /opt/pixup, `pixup` on PATH (/usr/bin/pixup), a desktop entry
that offers "Open with pixup" for image types, and the icon. Its Depends are read off the build
itself: every library the folder's ELF files load from outside the folder (ldd), mapped to its
Debian package (dpkg -S) — the system libraries Nuitka does not bundle (NSS, xkbcommon, xcb,
fontconfig, GL/EGL, ALSA, glibc...). Standard library only, except icon.py (Pillow) run through the
build venv's interpreter.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

BUILD = Path(__file__).resolve().parent
PREFIX = "/opt/pixup"
IMAGE_TYPES = (
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/tiff",
    "image/bmp",
    "image/gif",
    "image/avif",
    "image/heic",
    "image/heif",
    "image/x-tga",
    "image/x-portable-pixmap",
)
"""What the desktop entry offers to open (the formats pixup reads)."""
ALWAYS_PRESENT = {"libc6"}
"""Essential packages a Depends line may still name (dpkg requires them anyway)."""


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def dedupe_libraries(folder: Path) -> int:
    """Replace byte-identical copies of a shared library by relative symlinks to one of them
    (Nuitka copies each name of a versioned .so chain: libopenvino.so, .so.2541, .so.2025.4.1).
    Returns the bytes saved."""
    seen: dict[tuple[int, str], Path] = {}
    saved = 0
    for path in sorted(folder.rglob("*.so*")):
        if path.is_symlink() or not path.is_file():
            continue
        size = path.stat().st_size
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        first = seen.setdefault((size, digest), path)
        if first is path:
            continue
        path.unlink()
        path.symlink_to(os.path.relpath(first, path.parent))
        saved += size
    return saved


def launcher_script(folder: str, binary: str) -> str:
    """A `pixup` that runs the program by its real path. Not a symlink: Qt WebEngine looks for its
    process and resources beside argv[0], so a program started as /usr/bin/pixup → /opt/pixup/...
    aborts ("could not find Qt WebEngine Process")."""
    return f'#!/bin/sh\nexec {folder}/{binary} "$@"\n'


def make_tarball(folder: Path, version: str, out: Path, binary: str) -> Path:
    """pixup-VERSION-linux-ARCH.tar.xz: pixup-VERSION/app/ is the standalone folder and
    pixup-VERSION/pixup links to its program (run ./pixup-VERSION/pixup)."""
    arch = os.uname().machine
    target = out / f"pixup-{version}-linux-{arch}.tar.xz"
    partial = target.with_suffix(".partial")
    top = out / "tarball" / f"pixup-{version}"
    shutil.rmtree(top.parent, ignore_errors=True)
    top.mkdir(parents=True)
    launcher = top / "pixup"
    launcher.write_text(launcher_script('"$(dirname "$(readlink -f "$0")")/app"', binary), encoding="utf-8")
    launcher.chmod(0o755)
    if shutil.which("xz"):  # multi-threaded, much faster than Python's lzma on a big folder
        with partial.open("wb") as fh:
            # The standalone folder goes in under pixup-VERSION/app (a rename of its own top name
            # only, S: link targets inside it are left as they are).
            tar = subprocess.Popen(
                [
                    "tar",
                    "--owner=0",
                    "--group=0",
                    "-cf",
                    "-",
                    "-C",
                    str(top.parent),
                    f"{top.name}/pixup",
                    "-C",
                    str(folder.parent),
                    "--transform",
                    f"s,^{folder.name}\\(/\\|$\\),{top.name}/app\\1,S",
                    folder.name,
                ],
                stdout=subprocess.PIPE,
            )
            assert tar.stdout is not None
            xz = subprocess.run(["xz", "-T0", "-6", "-c"], stdin=tar.stdout, stdout=fh, check=False)
            tar.stdout.close()
            if tar.wait() != 0 or xz.returncode != 0:
                raise RuntimeError("tar | xz failed")
    else:
        with tarfile.open(partial, "w:xz") as tf:
            tf.add(top / "pixup", arcname=f"{top.name}/pixup")
            tf.add(folder, arcname=f"{top.name}/app")
    shutil.rmtree(top.parent)
    partial.replace(target)
    return target


def _external_libraries(folder: Path) -> set[str]:
    """Absolute paths of the libraries outside `folder` that its ELF files load."""
    found: set[str] = set()
    inside = str(folder.resolve())
    env = dict(os.environ)
    for path in folder.rglob("*"):
        if path.is_symlink() or not path.is_file() or not _is_elf(path):
            continue
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env, check=False).stdout
        for line in out.splitlines():
            match = re.search(r"=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
            if match and not os.path.realpath(match.group(1)).startswith(inside):
                found.add(match.group(1))
    return found


def system_dependencies(folder: Path) -> list[str]:
    """The Debian packages that own the libraries the folder loads from the system."""
    packages: set[str] = set()
    for library in sorted(_external_libraries(folder)):
        owners = []
        for candidate in dict.fromkeys((library, os.path.realpath(library))):
            # usrmerge: /lib/x86_64-linux-gnu is /usr/lib/x86_64-linux-gnu; dpkg knows one of the two.
            for name in dict.fromkeys((candidate, candidate.removeprefix("/usr"), "/usr" + candidate)):
                result = subprocess.run(["dpkg", "-S", name], capture_output=True, text=True, check=False)
                if result.returncode == 0:
                    owners = [entry.split(":")[0] for entry in result.stdout.split(": ")[0].split(", ")]
                    break
            if owners:
                break
        if not owners:
            raise RuntimeError(f"no Debian package owns {library}, which the app loads")
        packages.update(owners)
    return sorted(packages)


def desktop_entry() -> str:
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Name=pixup",
            "GenericName=Image Upscaler",
            "Comment=Make photos and drawings bigger and sharper with AI, on your own computer",
            "Exec=pixup %F",
            "Icon=pixup",
            "Terminal=false",
            "Categories=Graphics;RasterGraphics;",
            "Keywords=upscale;super-resolution;enlarge;photo;image;",
            f"MimeType={';'.join(IMAGE_TYPES)};",
            "StartupWMClass=pixup",
            "",
        ]
    )


def _icons(python: Path, staging: Path) -> None:
    icons = staging / "icons"
    subprocess.run([str(python), str(BUILD / "icon.py"), str(icons)], check=True)
    for size in (16, 32, 48, 64, 128, 256):
        target = staging / f"usr/share/icons/hicolor/{size}x{size}/apps/pixup.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(icons / f"pixup-{size}.png", target)
    target = staging / "usr/share/icons/hicolor/512x512/apps/pixup.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(icons / "pixup.png", target)
    shutil.rmtree(icons)


def make_deb(folder: Path, version: str, out: Path, python: Path, binary: str) -> Path:
    """pixup_VERSION_ARCH.deb, built with dpkg-deb from a staging tree."""
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    staging = out / "deb-root"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(folder, staging / PREFIX.lstrip("/"), symlinks=True)
    # Qt WebEngine creates this (empty) folder beside the program on its first start when it may
    # (as root): owned by the package, `apt-get remove` takes it away again.
    (staging / PREFIX.lstrip("/") / "locales").mkdir(exist_ok=True)
    (staging / "usr/bin").mkdir(parents=True)
    launcher = staging / "usr/bin/pixup"
    launcher.write_text(launcher_script(PREFIX, binary), encoding="utf-8")
    launcher.chmod(0o755)
    applications = staging / "usr/share/applications"
    applications.mkdir(parents=True)
    (applications / "pixup.desktop").write_text(desktop_entry(), encoding="utf-8")
    _icons(python, staging)
    docs = staging / "usr/share/doc/pixup"
    docs.mkdir(parents=True)
    shutil.copy2(BUILD.parent / "README.md", docs / "README.md")
    depends = ", ".join(system_dependencies(folder))
    installed_kib = sum(p.lstat().st_size for p in staging.rglob("*")) // 1024
    control = staging / "DEBIAN/control"
    control.parent.mkdir()
    control.write_text(
        "\n".join(
            [
                "Package: pixup",
                f"Version: {version}",
                f"Architecture: {arch}",
                "Maintainer: pixup developers <pixup@users.noreply.github.com>",
                f"Installed-Size: {installed_kib}",
                f"Depends: {depends}",
                "Section: graphics",
                "Priority: optional",
                "Homepage: https://github.com/pixup/pixup",
                "Description: AI image upscaler (ONNX Runtime in-process)",
                " Makes photos and drawings bigger and sharper with super-resolution models, without",
                " seams, keeping their metadata; a desktop window, a command line and a local web UI.",
                "",
            ]
        ),
        encoding="utf-8",
    )
    target = out / f"pixup_{version}_{arch}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "-b", str(staging), str(target)], check=True)
    shutil.rmtree(staging)
    return target
