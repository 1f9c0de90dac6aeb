"""atomic_write: a file appears complete or not at all, and an existing file is never damaged.

The bytes go to a hidden temporary file in the target folder (".NAME.RANDOM.pixup-tmp", same file
system, so the final step is a rename), are fsynced, then moved into place: os.replace when
overwriting; os.link + unlink otherwise, which fails instead of clobbering a file that appeared in
the meantime. Any error, KeyboardInterrupt included, removes the temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pixup.errors import ImageWriteError

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".pixup-tmp"
"""Ending of pixup's temporary files (they start with "."); a SIGKILL can leave one behind."""


def temp_path_for(path: Path) -> Path:
    """A fresh temporary name beside `path`."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


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
    if code == errno.EEXIST:
        return f"{path} exists; use --overwrite"
    if code == errno.EISDIR:
        return f"cannot write {path}: it is a folder"
    return f"cannot write {path}: {err.strerror or err}"


def _open_temp(path: Path) -> tuple[Path, int]:
    for _ in range(16):
        temp = temp_path_for(path)
        try:
            # 0o666 through the umask, like any new file (mkstemp would force 0o600)
            return temp, os.open(
                temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
            )
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, "could not create a unique temporary file")


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); not possible or needed on Windows."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _place(temp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(temp, path)
        return
    try:
        os.link(temp, path)  # fails with EEXIST rather than replace: no race can clobber a file
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno not in (
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
            errno.EMLINK,
            errno.EXDEV,
            errno.ENOSYS,
        ):
            raise
        # File systems without hard links (FAT, some network shares): check, then rename. On
        # Windows os.rename refuses an existing target; on POSIX a tiny race window remains.
        if path.exists():
            raise FileExistsError(errno.EEXIST, "exists", str(path)) from None
        os.rename(temp, path)
        return
    os.unlink(temp)


def atomic_write(path: Path, writer: Callable[[BinaryIO], None], overwrite: bool) -> Path:
    """Run `writer` on a temporary file beside `path`, then move it to `path` in one step.

    Without `overwrite` an existing `path` is an error ("X exists; use --overwrite") and is left as
    it was. OS errors become one ImageWriteError line (folder missing, no permission, disk full...);
    an ImageWriteError from `writer` passes through; anything else propagates. Returns `path`.
    """
    path = Path(path)
    if path.is_dir():
        raise ImageWriteError(f"cannot write {path}: it is a folder")
    if not overwrite and path.exists():
        raise ImageWriteError(f"{path} exists; use --overwrite")
    temp: Path | None = None
    try:
        temp, fd = _open_temp(path)
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        _place(temp, path, overwrite)
        temp = None
        _fsync_folder(path.parent)
        return path
    except OSError as err:
        if err.errno is None:  # an encoder's complaint, not the file system's
            raise ImageWriteError(f"cannot write {path}: {err}") from None
        raise ImageWriteError(_message(path, err)) from None
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
