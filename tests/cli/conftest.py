from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]

RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def pixup_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PIXUP_HOME for the CLI tests, so the default model is converted once."""
    return tmp_path_factory.mktemp("pixup-home")


def cli_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PIXUP_HOME"] = str(home)
    env["PYTHONPATH"] = str(REPO / "app") + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture()
def run_cli(pixup_home: Path) -> RunCli:
    def run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pixup", *map(str, args)],
            capture_output=True,
            text=True,
            env=cli_env(pixup_home),
            timeout=timeout,
        )

    return run


def photo(path: Path, size: tuple[int, int] = (24, 20), mode: str = "RGB", seed: int = 0) -> Path:
    """A small smooth-ish test image (noise alone is a poor stand-in for a photo)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / max(w - 1, 1), yy * 255 / max(h - 1, 1), (xx + yy) % 64 * 4], axis=-1)
    noisy = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(noisy, "RGB").convert(mode).save(path)
    return path
