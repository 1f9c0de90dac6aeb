"""The UI's TypeScript contract is generated from the pydantic models; a stale copy fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_typescript_is_up_to_date() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_types.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_bridge_table_lists_every_method() -> None:
    from pixup.api.methods import METHODS

    text = (ROOT / "ui" / "src" / "lib" / "bridge.ts").read_text()
    for name, (request, reply) in METHODS.items():
        assert f"{name}: {{ request: T.{request.__name__}; response: T.{reply.__name__} }};" in text
