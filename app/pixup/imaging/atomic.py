"""atomic_write for images: pixup.fileio's atomic write, with OS errors worded as one ImageWriteError
line (folder missing, no permission, disk full...) and an existing output as OutputExistsError."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pixup import fileio
from pixup.errors import ImageWriteError, OutputExistsError
from pixup.fileio import TEMP_SUFFIX, temp_path_for

__all__ = ["TEMP_SUFFIX", "atomic_write", "temp_path_for"]


def _message(path: Path, err: OSError) -> str:
    folder = path.parent
    code = err.errno
    if code == errno.ENOSPC:
        return f"disk full while writing {path}"
    if code == errno.EDQUOT:
        return f"disk quota exceeded while writing {path}"
    if code == errno.ENOENT:
        return f"cannot write {path}: folder {folder} does not exist"
    if code == errno.ENOTDIR:
        return f"cannot write {path}: {folder} is not a folder"
    if code in (errno.EACCES, errno.EPERM):
        return f"cannot write {path}: no permission to write in {folder}"
    if code == errno.EROFS:
        return f"cannot write {path}: {folder} is on a read-only file system"
    if code == errno.ENAMETOOLONG:
        return f"cannot write {path}: the file name is too long"
    if code == errno.EISDIR:
        return f"cannot write {path}: it is a folder"
    return f"cannot write {path}: {err.strerror or err}"


def atomic_write(path: Path, writer: Callable[[BinaryIO], None], overwrite: bool) -> Path:
    """Run `writer` on a temporary file beside `path`, then move it to `path` in one step.

    Without `overwrite` an existing `path` (or one that appears during the write) raises
    OutputExistsError and is left as it was. OS errors become one ImageWriteError line; an
    ImageWriteError from `writer` passes through; anything else propagates. Returns `path`.
    """
    path = Path(path)
    try:
        return fileio.atomic_write(path, writer, overwrite=overwrite)
    except FileExistsError:
        raise OutputExistsError(path) from None
    except OSError as err:
        if err.errno is None:  # an encoder's complaint, not the file system's
            raise ImageWriteError(f"cannot write {path}: {err}") from None
        raise ImageWriteError(_message(path, err)) from None
