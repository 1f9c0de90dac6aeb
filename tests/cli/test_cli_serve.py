"""`pixup serve` as a process: prints its URL with the token, answers with it, refuses without it."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from tests.cli.conftest import cli_env


def _start(home: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "pixup", "serve", "--no-browser", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(home))
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def test_serve_prints_url_and_needs_its_token(tmp_path: Path) -> None:
    proc, url = _start(tmp_path, "--port", "0", "--output", str(tmp_path / "out"))
    try:
        parts = urlsplit(url)
        assert parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.port
        token = parts.query.removeprefix("token=")
        conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=60)
        conn.request("POST", "/api/get_settings", body=b"{}")
        response = conn.getresponse()
        assert response.status == 401
        response.read()
        conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=60)
        conn.request("POST", "/api/get_settings", body=b"{}", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["output_dir"] == str((tmp_path / "out").resolve())
    finally:
        proc.terminate()
        proc.wait(30)


def test_serve_warns_off_loopback(tmp_path: Path) -> None:
    proc, url = _start(tmp_path, "--host", "0.0.0.0", "--port", "0")
    try:
        assert url.startswith("http://0.0.0.0:")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "warning" in err and "other machines" in err


def test_sigterm_stops_it_like_ctrl_c_and_removes_uploads(tmp_path: Path) -> None:
    proc, url = _start(tmp_path, "--port", "0")
    parts = urlsplit(url)
    token = parts.query.removeprefix("token=")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=60)
        conn.request("POST", "/api/upload?name=photo.png", body=b"bytes",
                     headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        assert response.status == 200
        uploads = Path(json.loads(response.read())["path"]).parents[1]
        assert uploads.is_dir() and uploads.name.startswith("pixup-uploads-")
    finally:
        proc.terminate()
        code = proc.wait(30)
    assert code == 0
    assert not uploads.exists()
