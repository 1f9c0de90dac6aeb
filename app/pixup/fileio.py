"""atomic_write: a file appears complete or not at all, and an existing file is never damaged.

The one way pixup writes files (images, converted models, settings, caches). The bytes go to a hidden
temporary file in the target folder (".NAME.PID.RANDOM.pixup-tmp", same file system, so the final
step is a rename), are fsynced, then moved into place: os.replace when overwriting; os.link + unlink
otherwise, which fails instead of clobbering a file that appeared in the meantime. Any error,
KeyboardInterrupt included, removes the temporary file.

Only a killed process (SIGKILL, power loss) leaves its temporary file behind; the next write into
that folder removes such leftovers (pixup's own names only, see `remove_stale_temps`).

OS errors propagate as OSError (FileExistsError for an existing target without `overwrite`); callers
word them for their users (pixup.imaging.atomic for images).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".pixup-tmp"
"""Ending of pixup's temporary files (they start with "."); a SIGKILL can leave one behind."""

STALE_TEMP_S = 30 * 60
"""A temporary file untouched this long is a leftover, whoever wrote it: a live write keeps
changing its file, and no single write takes this long."""

DEAD_WRITER_GRACE_S = 60
"""A temporary file whose writer (by the pid in its name) is gone is a leftover once this old;
the grace covers a pid from another machine writing to the same network folder."""

# ".NAME.PID.RANDOM.pixup-tmp"; the PID part is absent in files of older pixup versions.
_TEMP_NAME = re.compile(r"^\..+?(?:\.(?P<pid>\d+))?\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + "$")

# Folders already swept by this process: a leftover can only come from a process that died, so
# one sweep per folder per run is enough, and a batch of 10,000 outputs does not list its folder
# 10,000 times.
_swept: set[str] = set()
_swept_lock = threading.Lock()


def temp_path_for(path: Path) -> Path:
    """A fresh temporary name beside `path`, carrying this process's id."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def process_gone(pid: int) -> bool:
    """True only when no process `pid` runs on this machine (POSIX); False when unsure."""
    if os.name != "posix" or pid <= 0 or pid == os.getpid():
        return False  # Windows' os.kill would terminate the process, not probe it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it exists, under another user
        return False
    return False


def _is_stale(name: str, mtime: float, now: float) -> bool:
    match = _TEMP_NAME.match(name)
    if match is None:
        return False  # not pixup's: never touched
    age = now - mtime
    if age > STALE_TEMP_S:
        return True
    pid = match.group("pid")
    return pid is not None and age > DEAD_WRITER_GRACE_S and process_gone(int(pid))


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete pixup's leftover temporary files in `folder` (not its sub-folders): names matching
    ".NAME[.PID].RANDOM.pixup-tmp" whose writer is gone or that are older than STALE_TEMP_S.
    Returns what was removed; errors are ignored (a leftover is untidy, not harmful)."""
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and _is_stale(entry.name, entry.stat().st_mtime, now):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    if removed:
        log.info("removed %d leftover temporary file(s) in %s", len(removed), folder)
    return removed


def _sweep_once(folder: Path) -> None:
    key = os.path.normcase(os.path.abspath(folder))
    with _swept_lock:
        if key in _swept:
            return
        _swept.add(key)
    remove_stale_temps(folder)


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
    raise OSError(errno.EIO, "could not create a unique temporary file", str(path.parent))


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
            raise FileExistsError(errno.EEXIST, "File exists", str(path)) from None
        os.rename(temp, path)
        return
    os.unlink(temp)


def atomic_write(path: Path, writer: Callable[[BinaryIO], None], *, overwrite: bool = True) -> Path:
    """Run `writer` on a temporary file beside `path`, then move it to `path` in one step.

    Without `overwrite` an existing `path` raises FileExistsError and is left as it was. A folder at
    `path` raises IsADirectoryError. OS errors and anything `writer` raises propagate, after the
    temporary file is removed. Returns `path`.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    if not overwrite and path.exists():
        raise FileExistsError(errno.EEXIST, "File exists", str(path))
    _sweep_once(path.parent)
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
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def atomic_write_bytes(path: Path, data: bytes, *, overwrite: bool = True) -> Path:
    """atomic_write of a bytes object."""

    def write(f: BinaryIO) -> None:
        f.write(data)

    return atomic_write(path, write, overwrite=overwrite)
