"""`pixup upscale --faces` end to end through the job service: the face changes, the rest does not,
and without a face model the one-line error says how to add one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tests.cli.conftest import RunCli, cli_env
from tests.engine import graphs
from tests.faces import graphs as face_graphs


def _astronaut(path: Path) -> Path:
    from skimage import data

    Image.fromarray(data.astronaut()[::2, ::2]).save(path)  # 256², the face about 48 px wide
    return path


def test_faces_without_a_face_model_says_how_to_add_one(run_cli: RunCli, tmp_path: Path) -> None:
    src = _astronaut(tmp_path / "a.png")
    proc = run_cli("upscale", src, "-o", tmp_path / "out", "--faces")
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "face model" in lines[0] and "import" in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


def test_faces_change_the_face_and_nothing_else(tmp_path: Path) -> None:
    import subprocess
    import sys

    home = tmp_path / "home"
    faces_dir = home / "models" / "faces"
    faces_dir.mkdir(parents=True)
    face_graphs.gfpgan_affine(faces_dir / "darken.onnx", scale=0.5, offset=-0.5)  # visibly darker
    model = graphs.save(graphs.pixel_shuffle_x2(), tmp_path / "x2.onnx")
    src = _astronaut(tmp_path / "astronaut.png")

    def run(out: Path, *extra: str) -> Path:
        proc = subprocess.run(
            [sys.executable, "-m", "pixup", "upscale", str(src), "-o", str(out), "--model", str(model),
             "--precision", "exact", "--json", *extra],
            capture_output=True, text=True, env=cli_env(home), timeout=300)
        assert proc.returncode == 0, proc.stderr
        return out / "astronaut_pixup_2x.png"

    plain = np.asarray(Image.open(run(tmp_path / "plain")), dtype=np.int16)
    faced = np.asarray(Image.open(run(tmp_path / "faced", "--faces")), dtype=np.int16)
    diff = np.abs(plain - faced).max(axis=2)
    changed = np.argwhere(diff > 8)
    assert len(changed) > 500  # the face was restored (darkened) ...
    y0, x0 = changed.min(axis=0)
    y1, x1 = changed.max(axis=0)
    # ... inside a face-sized box on the astronaut's face (about x 178-273, y 57-177 at 512², which
    # is also where it lands after 2× of the 256² input) ...
    assert 120 < x0 < x1 < 330 and 20 < y0 < y1 < 240, (x0, y0, x1, y1)
    # ... and everything far from it is bit-identical.
    outside = np.ones_like(diff, dtype=bool)
    outside[max(0, y0 - 4):y1 + 5, max(0, x0 - 4):x1 + 5] = False
    assert diff[outside].max() == 0
