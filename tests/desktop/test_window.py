"""The real window under Xvfb (pytest-xvfb): `pixup` starts, paints, the UI calls the bridge, and the
window closes cleanly; without a display `pixup` says so in one line.

Each window runs in its own process: Qt cannot open a second QApplication in one process.
`PIXUP_WEBVIEW=gtk` runs the window on WebKitGTK instead of Qt WebEngine; that needs an interpreter with
PyGObject (Debian's python3-gi: the `.venv-gtk` of benchmarks/README.md), so run pytest from there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pixup.desktop.window import webview_gui
from tests.desktop.xwd import xwd_to_image
from tests.program import pixup_command, pixup_env

REPO = Path(__file__).resolve().parents[2]
BUILT_UI = REPO / "ui" / "dist"
START_TIMEOUT = 90.0
RENDERERS = {"qt": "qtwebengine", "gtk": "gtkwebkit2"}  # pywebview's names, which pixup logs

# Used only while ui/dist is not built: a page that calls the bridge the way the UI does.
STANDIN_UI = """<!doctype html><html><head><meta charset="utf-8"><title>pixup</title></head>
<body style="margin:0;height:100vh;background:linear-gradient(135deg,#09090b,#4f46e5 50%,#fafafa)">
<h1 style="color:#f4f4f5;font-family:sans-serif">stand-in UI</h1><script>
function go() { window.pywebview.api.call('system_info', {}); }
if (window.pywebview && window.pywebview.api && window.pywebview.api.call) go();
else window.addEventListener('pywebviewready', go);
</script></body></html>"""


def _env(home: Path, ui: Path | None) -> dict[str, str]:
    env = pixup_env(PIXUP_HOME=str(home))
    if ui is not None:
        env["PIXUP_UI_DIR"] = str(ui)
    return env


def _ui_dir(tmp_path: Path) -> Path | None:
    if (BUILT_UI / "index.html").is_file():
        return None  # the real UI, found the way pixup finds it
    standin = tmp_path / "ui"
    standin.mkdir()
    (standin / "index.html").write_text(STANDIN_UI)
    return standin


def _tree(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.usefixtures("xvfb")
def test_window_opens_paints_calls_the_bridge_and_closes_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    log = home / "logs" / "pixup.log"
    proc = subprocess.Popen(pixup_command(), env=_env(home, _ui_dir(tmp_path)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists() and "bridge call" in log.read_text(errors="replace"):
                break
            time.sleep(0.2)
        assert proc.poll() is None, f"pixup exited with {proc.returncode}: {proc.communicate()[1][-2000:]}"
        assert "bridge call" in log.read_text(errors="replace"), "the UI never called the bridge"
        time.sleep(1.0)  # let the UI's first frame reach the screen

        shot = subprocess.run(["xwd", "-root", "-silent"], capture_output=True, check=True, timeout=30)
        image = xwd_to_image(shot.stdout)
        shots = Path(__file__).resolve().parents[2] / "test-results" / "desktop"
        shots.mkdir(parents=True, exist_ok=True)
        image.save(shots / "window.png")  # for people to look at; the assertions are below
        colours = image.getcolors(maxcolors=1 << 24) or []
        # An unpainted screen is one colour (black root, or a blank window); text and controls are many.
        assert len(colours) >= 50, f"screen looks blank: {len(colours)} colours ({tmp_path / 'window.png'})"

        members = _tree(proc.pid)
        assert len(members) >= 2, "no web engine process under pixup"
        proc.send_signal(signal.SIGTERM)  # pixup closes its window as the close button does
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-2000:]
        assert "Traceback" not in err
        time.sleep(0.5)
        assert [m for m in members if _alive(m)] == []
        text = log.read_text(errors="replace")
        assert "window closed; shut down" in text
        # pywebview falls back to the other backend without failing: check the one asked for ran.
        renderer = RENDERERS[webview_gui() or "qt"]
        assert f"({renderer})" in text, f"the window did not run on {renderer}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_no_display_offers_pixup_serve(tmp_path: Path) -> None:
    env = _env(tmp_path / "home", None)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run(pixup_command(), env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pixup serve" in lines[0] and "display" in lines[0]
