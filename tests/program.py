"""Which pixup the end-to-end tests run: the source tree (`python -m pixup` with app/ on the path), or
an installed build named by `PIXUP_PROGRAM` (e.g. `PIXUP_PROGRAM=/opt/pixup/pixup`), so the same test
files check the standalone app and the .deb as they check the source (build/check_app.py does that)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

PROGRAM_ENV = "PIXUP_PROGRAM"
REPO = Path(__file__).resolve().parents[1]


def pixup_command() -> list[str]:
    """argv[0:n] that runs pixup: the program under test."""
    program = os.environ.get(PROGRAM_ENV)
    return shlex.split(program) if program else [sys.executable, "-m", "pixup"]


SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""What an installed app gets on PATH here: no venv, no Node.js from a version manager."""


def pixup_env(**overrides: str) -> dict[str, str]:
    """The environment for it: the source tree's app/ first on the path; for a built app, none of
    the test runner's Python (no venv on PATH, no PYTHONPATH/PYTHONHOME), as a user would run it."""
    env = dict(os.environ)
    if os.environ.get(PROGRAM_ENV):
        for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        env["PATH"] = SYSTEM_PATH
    else:
        env["PYTHONPATH"] = str(REPO / "app") + os.pathsep + env.get("PYTHONPATH", "")
    env.update(overrides)
    return env
