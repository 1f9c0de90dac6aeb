"""`pixup upscale --repair 0-100` (Fix compression) end to end, with the real bundled models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli.conftest import RunCli, photo


def _record(stdout: str) -> dict[str, object]:
    record: dict[str, object] = json.loads(stdout.strip().splitlines()[-1])
    return record


def test_repair_zero_is_bit_identical_to_no_repair(run_cli: RunCli, tmp_path: Path) -> None:
    src = photo(tmp_path / "in.png", (24, 20))
    off = run_cli("upscale", src, "-o", tmp_path / "off", "--json")
    zero = run_cli("upscale", src, "-o", tmp_path / "zero", "--repair", "0", "--json")
    assert off.returncode == 0 and zero.returncode == 0, off.stderr + zero.stderr
    a, b = _record(off.stdout), _record(zero.stdout)
    assert Path(str(a["output"])).read_bytes() == Path(str(b["output"])).read_bytes()
    assert a["notices"] == b["notices"]


def test_repair_runs_and_says_what_it_did(run_cli: RunCli, tmp_path: Path) -> None:
    src = tmp_path / "in.jpg"
    Image.open(photo(tmp_path / "p.png", (32, 24))).save(src, quality=25)
    proc = run_cli("upscale", src, "-o", tmp_path / "out", "--repair", "80", "--json")
    assert proc.returncode == 0, proc.stderr
    record = _record(proc.stdout)
    assert record["status"] == "done"
    assert (record["out_width"], record["out_height"]) == (128, 96)
    assert any(str(n).startswith("Fix compression (strength 80)") for n in record["notices"])  # type: ignore[attr-defined]
    plain = run_cli("upscale", src, "-o", tmp_path / "plain", "--json")
    assert plain.returncode == 0, plain.stderr
    fixed_px = np.asarray(Image.open(str(record["output"])))
    plain_px = np.asarray(Image.open(str(_record(plain.stdout)["output"])))
    assert not np.array_equal(fixed_px, plain_px)


@pytest.mark.parametrize("value", ["101", "-1"])
def test_repair_out_of_range_is_one_line(run_cli: RunCli, tmp_path: Path, value: str) -> None:
    src = photo(tmp_path / "in.png", (8, 8))
    proc = run_cli("upscale", src, "-o", tmp_path / "out", "--repair", value)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pixup: invalid --repair:"), proc.stderr
    assert not (tmp_path / "out").exists()
