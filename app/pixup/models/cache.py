"""Cache of ncnn models converted to ONNX, under `user_paths().cache / "onnx"`.

An entry is `<key>.onnx` plus a `<key>.json` sidecar holding the ONNX file's own sha256, where
`key = sha256(param bytes, bin bytes, CONVERTER_VERSION)[:16]`: a changed model or a new converter
gets a new entry. An entry whose file does not match its sidecar (truncated, corrupted, half-written
by a crash) is rebuilt. Files are written with pixup.fileio.atomic_write (temp file, fsync, rename;
a crashed run's leftovers are swept on the next write), and a per-entry lock file serialises
conversions across threads and processes, so a reader never sees a torn file and two processes
never convert the same model at once.

An installed app also ships entries made at build time (build/prebuild_models.py), laid out the same
way in the read-only `PREBUILT_DIR`: a valid entry there is used as it is, so the scenario models and
their int8 variants are never converted on first run; a damaged one is ignored (and said so in the
log) and the model is converted into the user cache as if nothing had shipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pixup.errors import ModelError
from pixup.fileio import atomic_write_bytes
from pixup.models.importers.ncnn.version import CONVERTER_VERSION
from pixup.paths import PACKAGE_DIR, user_paths

if TYPE_CHECKING:  # onnx (~0.1 s) loads only to convert: a cached model needs none of it
    import onnx

log = logging.getLogger(__name__)

CACHE_SUBDIR = "onnx"
PREBUILT_DIR = PACKAGE_DIR / "prebuilt" / CACHE_SUBDIR
"""Entries converted when the app was built (absent in a source checkout or a wheel)."""
KEY_LENGTH = 16
_CHUNK = 1 << 20

# Per-process memos keyed on (path, size, mtime_ns): hashing 30-70 MB files on every lookup is
# wasted work when nothing changed on disk.
_input_keys: dict[tuple[object, ...], str] = {}
_verified: dict[Path, tuple[int, int]] = {}
_memo_lock = threading.Lock()
_key_locks: dict[str, threading.Lock] = {}


@dataclass(frozen=True)
class CacheEntry:
    """Where the converted form of one `.param`/`.bin` pair lives."""

    key: str
    """16 hex digits of sha256(param, bin, converter version)."""
    onnx_path: Path
    """The converted model."""
    sidecar: Path
    """JSON with the ONNX file's sha256 and size."""


def _stat_id(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _hash_file(path: Path, digest: hashlib._Hash | None = None) -> hashlib._Hash:
    h = digest if digest is not None else hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h


def cache_key(param: Path, bin_path: Path) -> str:
    """The entry key of a model pair (reads both files; memoised while they are unchanged)."""
    try:
        memo_id = (
            param.resolve(),
            _stat_id(param),
            bin_path.resolve(),
            _stat_id(bin_path),
            CONVERTER_VERSION,
        )
    except OSError as exc:
        raise ModelError(f"cannot read model file {exc.filename}: {exc.strerror}") from None
    with _memo_lock:
        if memo_id in _input_keys:
            return _input_keys[memo_id]
    h = hashlib.sha256()
    for part in (param, bin_path):
        _hash_file(part, h)
        h.update(b"\0")
    h.update(CONVERTER_VERSION.encode())
    key = h.hexdigest()[:KEY_LENGTH]
    with _memo_lock:
        _input_keys[memo_id] = key
    return key


def _entry(folder: Path, key: str) -> CacheEntry:
    return CacheEntry(key, folder / f"{key}.onnx", folder / f"{key}.json")


def _user_folder() -> Path:
    return user_paths().cache / CACHE_SUBDIR


def _prebuilt(key: str) -> CacheEntry | None:
    """The shipped entry for `key` when it is there and intact."""
    entry = _entry(PREBUILT_DIR, key)
    if not entry.onnx_path.is_file():
        return None
    if _is_valid(entry):
        return entry
    log.warning("the prebuilt model %s is damaged; converting it again into the user cache", entry.onnx_path)
    return None


def cache_entry(param: Path, bin_path: Path) -> CacheEntry:
    """Where the converted pair lives: the app's prebuilt entry when valid, else the user cache."""
    key = cache_key(param, bin_path)
    return _prebuilt(key) or _entry(_user_folder(), key)


def _is_valid(entry: CacheEntry) -> bool:
    """Whether the entry's ONNX file exists and matches the sha256 its sidecar records."""
    try:
        stat_id = _stat_id(entry.onnx_path)
        with _memo_lock:
            if _verified.get(entry.onnx_path) == stat_id:
                return True
        record = json.loads(entry.sidecar.read_text(encoding="utf-8"))
        if record.get("size") != stat_id[0]:
            return False
        if _hash_file(entry.onnx_path).hexdigest() != record.get("sha256"):
            return False
    except (OSError, ValueError, AttributeError):
        return False
    with _memo_lock:
        _verified[entry.onnx_path] = stat_id
    return True


def is_cached(param: Path, bin_path: Path) -> bool:
    """Whether a valid converted model is already in the cache."""
    return _is_valid(cache_entry(param, bin_path))


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path` (threads of this process and other processes)."""
    with _memo_lock:
        thread_lock = _key_locks.setdefault(str(lock_path), threading.Lock())
    with thread_lock, lock_path.open("a+b") as fh:
        if sys.platform == "win32":
            import msvcrt

            while True:
                try:
                    fh.seek(0)
                    msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:  # LK_LOCK gives up after ~10 s; a conversion can take longer
                    continue
            try:
                yield
            finally:
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def converted_model(param: Path, bin_path: Path) -> Path:
    """The ONNX file for an ncnn pair, converting it on first use. Raises ModelError."""
    entry = cache_entry(param, bin_path)
    if _is_valid(entry):
        return entry.onnx_path
    folder = entry.onnx_path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _exclusive(folder / f"{entry.key}.lock"):
            # Another thread or process may have converted it while we waited for the lock.
            if _is_valid(entry):
                return entry.onnx_path
            from pixup.models.importers.ncnn.convert import convert_ncnn

            started = time.perf_counter()
            data = convert_ncnn(param, bin_path).SerializeToString()
            atomic_write_bytes(entry.onnx_path, data)
            record = {
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "converter_version": CONVERTER_VERSION,
                "param": str(param),
                "bin": str(bin_path),
            }
            atomic_write_bytes(entry.sidecar, json.dumps(record, indent=2).encode("utf-8"))
            with _memo_lock:
                _verified[entry.onnx_path] = _stat_id(entry.onnx_path)
            log.info(
                "converted %s to %s in %.2f s", param.name, entry.onnx_path, time.perf_counter() - started
            )
    except OSError as exc:
        raise ModelError(f"cannot write the converted model to {folder}: {exc.strerror or exc}") from None
    return entry.onnx_path


def derived_model(base: Path, tag: str, transform: Callable[[onnx.ModelProto], onnx.ModelProto]) -> Path:
    """A cached variant of a converted model (`base` with `transform` applied), stored as
    `<key>.<tag>.onnx` with the same sha256 sidecar check as the base entry: the app's prebuilt one
    when valid, else the user cache's (made there on a miss, even when `base` is prebuilt)."""
    key = f"{base.stem}.{tag}"
    shipped = _prebuilt(key)
    if shipped is not None:
        return shipped.onnx_path
    entry = _entry(_user_folder(), key)
    path = entry.onnx_path
    if _is_valid(entry):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(path.with_suffix(".lock")):
            if _is_valid(entry):
                return path
            import onnx

            data = transform(onnx.load(str(base))).SerializeToString()
            atomic_write_bytes(path, data)
            record = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "base": base.name}
            atomic_write_bytes(entry.sidecar, json.dumps(record, indent=2).encode("utf-8"))
    except OSError as exc:
        where = path.parent
        raise ModelError(f"cannot write the converted model to {where}: {exc.strerror or exc}") from None
    return path
