"""What the bridge needs from a native shell: file dialogs and the file manager.

The desktop window implements it (`pixup.desktop.dialogs`); `pixup serve` has none, so the UI uses
uploads and typed paths there (`Capabilities.native_dialogs` is False).
"""

from __future__ import annotations

from typing import Protocol


class Dialogs(Protocol):
    def pick_files(self, multiple: bool) -> list[str]:
        """Open-file dialog for images; [] when the user cancels."""
        ...

    def pick_folder(self) -> list[str]:
        """Choose a folder of images; [] or one path."""
        ...

    def pick_output(self) -> list[str]:
        """Choose the output folder; [] or one path."""
        ...

    def open_path(self, path: str) -> None:
        """Show a folder (or a file's folder) in the system file manager."""
        ...
