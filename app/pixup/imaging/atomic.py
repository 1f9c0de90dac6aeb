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


def _failure(path: Path, err: OSError) -> ImageWriteError:
    """The OS error `err` writing `path`, as one line with its code."""
    folder = path.parent
    code = err.errno
    if code == errno.ENOSPC:
        return ImageWriteError("disk full", path=path, code="disk_full")
    if code == errno.EDQUOT:
        return ImageWriteError("disk quota exceeded", path=path, code="disk_full")
    if code == errno.ENOENT:
        reason = f"folder {folder} does not exist"
    elif code == errno.ENOTDIR:
        reason = f"{folder} is not a folder"
    elif code in (errno.EACCES, errno.EPERM):
        reason = f"no permission to write in {folder}"
    elif code == errno.EROFS:
        reason = f"{folder} is on a read-only file system"
    elif code == errno.ENAMETOOLONG:
        reason = "the file name is too long"
    elif code == errno.EISDIR:
        reason = "it is a folder"
    else:
        reason = str(err.strerror or err)
    return ImageWriteError(reason, path=path)


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
            raise ImageWriteError(str(err), path=path, code="encode_failed") from None
        raise _failure(path, err) from None
