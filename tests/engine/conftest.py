"""Engine tests keep everything pixup writes per user (OpenVINO's compiled-model cache) in a
temporary PIXUP_HOME."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _pixup_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("pixup-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXUP_HOME", str(home))
        yield home
