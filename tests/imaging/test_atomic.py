"""atomic_write: complete file or none, existing files never damaged, errors as one clear line."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from pixup.errors import ImageWriteError, OutputExistsError
from pixup.imaging.atomic import TEMP_SUFFIX, atomic_write
from tests.imaging.helpers import public_folder, run_unprivileged


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(TEMP_SUFFIX))


def write_bytes(data: bytes) -> Callable[[BinaryIO], None]:
    def writer(f: BinaryIO) -> None:
        f.write(data)

    return writer


def test_writes_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    assert atomic_write(target, write_bytes(b"hello"), overwrite=False) == target
    assert target.read_bytes() == b"hello"
    assert leftovers(tmp_path) == []
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # like any new file, not mkstemp's 0600


def test_existing_file_needs_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(OutputExistsError) as info:
        atomic_write(target, write_bytes(b"new"), overwrite=False)
    assert str(info.value) == f"{target} already exists"  # the CLI adds "use --overwrite"
    assert info.value.path == target and isinstance(info.value, ImageWriteError)
    assert target.read_bytes() == b"old"
    atomic_write(target, write_bytes(b"new"), overwrite=True)
    assert target.read_bytes() == b"new"
    assert leftovers(tmp_path) == []


def test_file_appearing_during_the_write_is_not_clobbered(tmp_path: Path) -> None:
    """Another process creates the target while we encode: os.link refuses, their file stays."""
    target = tmp_path / "race.png"

    def writer(f: BinaryIO) -> None:
        f.write(b"ours")
        target.write_bytes(b"theirs")

    with pytest.raises(OutputExistsError) as info:
        atomic_write(target, writer, overwrite=False)
    assert info.value.path == target
    assert target.read_bytes() == b"theirs"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", ["write-error", "bug", "interrupt"])
def test_failed_write_removes_temp_and_keeps_old_file(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "keep.png"
    target.write_bytes(b"precious")
    raised: type[BaseException] = {
        "write-error": ImageWriteError,
        "bug": ZeroDivisionError,
        "interrupt": KeyboardInterrupt,
    }[kind]

    def writer(f: BinaryIO) -> None:
        f.write(b"x" * 100_000)
        raise raised("boom")

    with pytest.raises(raised):
        atomic_write(target, writer, overwrite=True)
    assert target.read_bytes() == b"precious"
    assert leftovers(tmp_path) == []


def test_disk_full_from_the_writer(tmp_path: Path) -> None:
    """The write call failing with ENOSPC, as a full disk makes it."""
    target = tmp_path / "big.png"
    target.write_bytes(b"precious")

    def writer(f: BinaryIO) -> None:
        f.write(b"x" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(ImageWriteError) as info:
        atomic_write(target, writer, overwrite=True)
    assert str(info.value) == f"cannot write {target}: disk full"
    assert (info.value.code, info.value.reason, info.value.path) == ("disk_full", "disk full", target)
    assert target.read_bytes() == b"precious" and leftovers(tmp_path) == []


@contextlib.contextmanager
def tiny_disk(folder: Path) -> Iterator[bool]:
    """A 1 MB tmpfs mounted on `folder` when this process may mount (root on Linux); yields
    whether it is mounted."""
    folder.mkdir()
    mounted = False
    if os.geteuid() == 0:
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True
        )
        mounted = result.returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


def test_disk_full_for_real(tmp_path: Path) -> None:
    """A real full disk (1 MB tmpfs); where mounting is not allowed, the same check with the
    write made to fail as a full disk fails."""
    disk = tmp_path / "disk"
    with tiny_disk(disk) as mounted:
        target = disk / "big.png"
        target.write_bytes(b"o" * 300_000)

        def writer(f: BinaryIO) -> None:
            for _ in range(32):
                f.write(b"n" * 65536)  # 2 MB: does not fit beside the old file
            if not mounted:
                raise OSError(errno.ENOSPC, "No space left on device")

        with pytest.raises(ImageWriteError) as info:
            atomic_write(target, writer, overwrite=True)
        assert str(info.value) == f"cannot write {target}: disk full"
        assert (info.value.code, info.value.reason, info.value.path) == ("disk_full", "disk full", target)
        assert target.read_bytes() == b"o" * 300_000
        assert leftovers(disk) == []


def test_missing_folder(tmp_path: Path) -> None:
    target = tmp_path / "nope" / "out.png"
    with pytest.raises(ImageWriteError) as info:
        atomic_write(target, write_bytes(b"x"), overwrite=False)
    assert str(info.value) == f"cannot write {target}: folder {target.parent} does not exist"
    assert info.value.code == "unwritable" and info.value.path == target


def test_target_is_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.mkdir()
    with pytest.raises(ImageWriteError) as info:
        atomic_write(target, write_bytes(b"x"), overwrite=True)
    assert str(info.value) == f"cannot write {target}: it is a folder"


def test_read_only_folder() -> None:
    with public_folder() as folder:
        locked = folder / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        target = locked / "out.png"

        def attempt() -> str:
            try:
                atomic_write(target, write_bytes(b"x"), overwrite=False)
            except ImageWriteError as err:
                return str(err)
            return "written"

        assert run_unprivileged(attempt) == f"cannot write {target}: no permission to write in {locked}"
        assert list(locked.iterdir()) == []


# ------------------------------------------------------------------------------------- SIGKILL


def _payload(version: int) -> bytes:
    """~3 MB whose last 32 bytes are the SHA-256 of the rest: a torn file cannot pass."""
    body = version.to_bytes(8, "big") + bytes([version % 251]) * (3 << 20)
    return body + hashlib.sha256(body).digest()


def _complete(data: bytes) -> bool:
    return len(data) > 40 and hashlib.sha256(data[:-32]).digest() == data[-32:]


def _writer_loop(folder: Path, overwrite: bool) -> None:
    """Child: write files forever (one name with overwrite, new names without), in 64 KB steps."""
    version = 0
    while True:
        version += 1
        data = _payload(version)
        target = folder / ("same.bin" if overwrite else f"file{os.getpid()}-{version}.bin")

        def writer(f: BinaryIO, data: bytes = data) -> None:
            for i in range(0, len(data), 65536):
                f.write(data[i : i + 65536])

        atomic_write(target, writer, overwrite=overwrite)


@pytest.mark.parametrize("overwrite", [True, False])
def test_sigkill_never_leaves_a_torn_file(tmp_path: Path, overwrite: bool) -> None:
    """Kill a writing process at random moments, 10 times per mode: every file present is
    complete; the only debris is hidden temporary files."""
    rng = random.Random(1234 + overwrite)
    kills = 0
    checked: set[str] = set()  # files are never changed in place, so each needs one look
    for _ in range(10):
        pid = os.fork()
        if pid == 0:  # child: imports are already loaded, so it starts writing at once
            try:
                _writer_loop(tmp_path, overwrite)
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0.005, 0.12))
        if kills == 9:
            # On a loaded machine every window can be too short for one write; let the last child
            # finish at least one so the check below has complete files to look at.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(
                not p.name.endswith(TEMP_SUFFIX) for p in tmp_path.iterdir()
            ):
                time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        kills += 1
        for path in tmp_path.iterdir():
            if path.name.endswith(TEMP_SUFFIX):
                assert path.name.startswith(".")
                continue
            if overwrite or path.name not in checked:
                assert _complete(path.read_bytes()), f"torn file {path.name} after kill {kills}"
                checked.add(path.name)
    finals = [p for p in tmp_path.iterdir() if not p.name.endswith(TEMP_SUFFIX)]
    assert kills == 10 and finals  # the writers did get files out between kills
