"""Native dialogs and the file manager for the desktop window (the `Dialogs` protocol of the bridge)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pixup.errors import PixupError

if TYPE_CHECKING:
    from webview import Window

log = logging.getLogger("pixup.desktop")

_IMAGE_PATTERNS = ("png", "jpg", "jpeg", "jpe", "jfif", "webp", "tif", "tiff", "bmp", "dib", "gif",
                   "avif", "heic", "heif")


def image_file_types() -> tuple[str, ...]:
    """pywebview file filters ('Description (*.a;*.b)'): images first, then everything."""
    try:
        from pixup.imaging.naming import IMAGE_EXTENSIONS

        suffixes = sorted(ext.lstrip(".") for ext in IMAGE_EXTENSIONS)
    except ImportError:  # keep the dialog working even if the imaging package moves
        suffixes = sorted(_IMAGE_PATTERNS)
    # Qt matches case-sensitively on Linux: offer both cases so PHOTO.JPG shows up.
    patterns = ";".join(f"*.{s}" for s in suffixes) + ";" + ";".join(f"*.{s.upper()}" for s in suffixes)
    return (f"Images ({patterns})", "All files (*.*)")


def _as_list(selection: Sequence[str] | str | None) -> list[str]:
    """pywebview returns None on cancel, a tuple (or on some backends one string) otherwise."""
    if selection is None:
        return []
    if isinstance(selection, str):
        return [selection] if selection else []
    return [str(p) for p in selection if p]


class NativeDialogs:
    """`pixup.api.dialogs.Dialogs` through pywebview's native dialogs. Called from bridge threads;
    pywebview marshals the dialog onto the GUI thread and blocks the caller until it closes."""

    def __init__(self, window: Window) -> None:
        self._window = window

    def pick_files(self, multiple: bool) -> list[str]:
        import webview

        return _as_list(self._window.create_file_dialog(
            webview.FileDialog.OPEN, allow_multiple=multiple, file_types=image_file_types()))

    def pick_folder(self) -> list[str]:
        import webview

        return _as_list(self._window.create_file_dialog(webview.FileDialog.FOLDER))[:1]

    def pick_output(self) -> list[str]:
        return self.pick_folder()

    def open_path(self, path: str) -> None:
        open_in_file_manager(path)


def file_manager_command(path: Path, platform: str | None = None) -> list[str] | None:
    """The command that shows `path` (a folder, or a file's folder) in the file manager; None on
    Windows, where os.startfile does it."""
    platform = sys.platform if platform is None else platform
    target = path if path.is_dir() else path.parent
    if platform.startswith("win"):
        return None
    if platform == "darwin":
        # `open -R` reveals (selects) a file in Finder; a folder is simply opened.
        return ["open", "-R", str(path)] if path.is_file() else ["open", str(target)]
    return ["xdg-open", str(target)]


def open_in_file_manager(path: str) -> None:
    """Show `path` in the system file manager without waiting for it. Raises PixupError (one line)."""
    target = Path(path).expanduser()
    if not target.exists():
        raise PixupError(f"Cannot open {target}: it does not exist.")
    command = file_manager_command(target)
    if command is None:
        startfile = getattr(os, "startfile", None)
        if startfile is None:
            raise PixupError("No file manager is available on this system.")
        try:
            startfile(str(target if target.is_dir() else target.parent))
        except OSError as err:
            raise PixupError(f"Could not open the file manager: {err.strerror or err}.") from err
        return
    if shutil.which(command[0]) is None:
        raise PixupError(f"No file manager found ({command[0]} is not installed); the files are in {target}.")
    try:
        # Detached: the file manager outlives nothing of ours and must not block the bridge thread.
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as err:
        raise PixupError(f"Could not open the file manager: {err.strerror or err}.") from err
    log.info("opened %s in the file manager", target)
