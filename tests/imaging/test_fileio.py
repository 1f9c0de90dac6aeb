"""pixup.fileio: leftovers of a killed run are swept before the next write into their folder, and
nothing else is touched."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pixup import fileio
from pixup.fileio import DEAD_WRITER_GRACE_S, STALE_TEMP_S, TEMP_SUFFIX, atomic_write_bytes, temp_path_for


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _touch(path: Path, age_s: float) -> Path:
    path.write_bytes(b"partial")
    when = time.time() - age_s
    os.utime(path, (when, when))
    return path


def test_temp_names_carry_the_pid_and_match_the_sweep_pattern(tmp_path: Path) -> None:
    temp = temp_path_for(tmp_path / "a.png")
    assert temp.name.startswith(f".a.png.{os.getpid()}.") and temp.name.endswith(TEMP_SUFFIX)
    assert fileio._TEMP_NAME.match(temp.name)


def test_write_sweeps_stale_leftovers_and_keeps_the_rest(tmp_path: Path) -> None:
    dead = _dead_pid()
    minute = DEAD_WRITER_GRACE_S + 5
    stale = {
        "too old": _touch(tmp_path / f".b.png.{os.getppid()}.0123abcd{TEMP_SUFFIX}", STALE_TEMP_S + 60),
        "old, no pid (older pixup)": _touch(tmp_path / f".c.png.89abcdef{TEMP_SUFFIX}", STALE_TEMP_S + 60),
    }
    kept = {
        "dead writer, just written": _touch(tmp_path / f".d.png.{dead}.0123abcd{TEMP_SUFFIX}", 1),
        "live writer": _touch(tmp_path / f".e.png.{os.getppid()}.0123abcd{TEMP_SUFFIX}", minute),
        "not pixup's name": _touch(tmp_path / f".notes{TEMP_SUFFIX}", STALE_TEMP_S + 60),
        "not hidden": _touch(tmp_path / f"f.png.{dead}.0123abcd{TEMP_SUFFIX}", STALE_TEMP_S + 60),
        "another suffix": _touch(tmp_path / f".g.png.{dead}.0123abcd.tmp", STALE_TEMP_S + 60),
    }
    # Windows has no safe pid probe: there a dead writer's file waits for STALE_TEMP_S.
    (stale if os.name == "posix" else kept)["dead writer"] = _touch(
        tmp_path / f".a.png.{dead}.0123abcd{TEMP_SUFFIX}", minute
    )
    sub = tmp_path / "sub"
    sub.mkdir()
    kept["in a sub-folder"] = _touch(sub / f".h.png.{dead}.0123abcd{TEMP_SUFFIX}", STALE_TEMP_S + 60)

    atomic_write_bytes(tmp_path / "out.png", b"new")

    assert (tmp_path / "out.png").read_bytes() == b"new"
    assert {why for why, path in stale.items() if path.exists()} == set()
    assert {why for why, path in kept.items() if not path.exists()} == set()


@pytest.mark.skipif(os.name != "posix", reason="the pid check is POSIX-only; Windows relies on age")
def test_remove_stale_temps_reports_what_it_removed(tmp_path: Path) -> None:
    leftover = _touch(tmp_path / f".x.tif.{_dead_pid()}.fedcba98{TEMP_SUFFIX}", DEAD_WRITER_GRACE_S + 5)
    assert fileio.remove_stale_temps(tmp_path) == [leftover]
    assert fileio.remove_stale_temps(tmp_path) == []
