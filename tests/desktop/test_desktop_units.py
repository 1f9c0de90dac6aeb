"""The desktop pieces that need no window: drop paths, the page event, flags, the bridge adapter,
start-up and shut-down order, dialogs and the file manager."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pixup.desktop import dialogs as dialogs_mod
from pixup.desktop.dialogs import NativeDialogs, file_manager_command, image_file_types
from pixup.desktop.drop import PATHS_EVENT, paths_event_script, paths_from_drop_event
from pixup.desktop.window import (
    DEFAULT_CHROMIUM_FLAGS,
    DesktopApp,
    JsApi,
    chromium_flags,
    has_display,
    webview_gui,
)
from pixup.errors import PixupError


def _drop(*items: object) -> dict[str, Any]:
    """The shape pywebview hands a DOM drop handler (Qt backend)."""
    return {"type": "drop", "dataTransfer": {"files": list(items)}}


def test_drop_gives_full_paths_of_files_and_folders_in_order(tmp_path: Path) -> None:
    folder = tmp_path / "holiday photos"
    folder.mkdir()
    event = _drop(
        {"name": "a.png", "size": 10, "type": "image/png", "pywebviewFullPath": str(tmp_path / "a.png")},
        {"name": "holiday photos", "size": 0, "type": "", "pywebviewFullPath": str(folder)},
        {"name": "b c ü.jpg", "pywebviewFullPath": str(tmp_path / "b c ü.jpg")},
    )
    assert paths_from_drop_event(event) == [str(tmp_path / "a.png"), str(folder), str(tmp_path / "b c ü.jpg")]


def test_drop_skips_items_without_a_path_and_duplicates() -> None:
    event = _drop(
        {"name": "from-a-web-page.png"},  # dragged from a browser: no file behind it
        {"name": "x", "pywebviewFullPath": ""},
        {"name": "dir", "pywebviewFullPath": "/data/dir/"},  # some file managers add a slash to folders
        {"name": "dir", "pywebviewFullPath": "/data/dir"},
        {"name": "bad", "pywebviewFullPath": "/data/a\x00b"},
        "not a dict",
        {"name": "root", "pywebviewFullPath": "/"},
    )
    assert paths_from_drop_event(event) == ["/data/dir", "/"]


@pytest.mark.parametrize("event", [None, {}, {"dataTransfer": None}, {"dataTransfer": {"files": "a.png"}},
                                   {"dataTransfer": {}}, [1, 2]])
def test_drop_of_nothing_usable_is_empty(event: object) -> None:
    assert paths_from_drop_event(event) == []


def test_paths_event_script_is_a_safe_literal() -> None:
    nasty = ["/tmp/a'b\"c\\d.png", "/tmp/</script><script>alert(1)</script>.png",
             "/tmp/\u2028line\nbreak.png", "/tmp/日本.png"]
    script = paths_event_script(nasty)
    assert script.isascii()
    assert "\n" not in script  # evaluated as code, not HTML: only quoting and line breaks matter
    prefix = f"window.dispatchEvent(new CustomEvent({json.dumps(PATHS_EVENT)}, {{detail: "
    assert script.startswith(prefix) and script.endswith("}));")
    assert json.loads(script[len(prefix):-len("}));")]) == {"paths": nasty}


def test_no_display_detection() -> None:
    assert not has_display({}, "linux")
    assert has_display({"DISPLAY": ":0"}, "linux")
    assert has_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not has_display({"DISPLAY": ""}, "freebsd14")
    assert has_display({}, "win32") and has_display({}, "darwin")


def test_chromium_flags() -> None:
    defaults = " ".join(DEFAULT_CHROMIUM_FLAGS)
    assert chromium_flags({}, is_root=False) == defaults
    assert chromium_flags({}, is_root=True) == f"{defaults} --no-sandbox".strip()
    # The user's own flags come last (they win) and are not dropped; no second --no-sandbox.
    env = {"QTWEBENGINE_CHROMIUM_FLAGS": "--no-sandbox --lang=de"}
    assert chromium_flags(env, is_root=True) == f"{defaults} --no-sandbox --lang=de".strip()
    assert chromium_flags({"PIXUP_CHROMIUM_FLAGS": ""}, is_root=False) == ""
    assert chromium_flags({"PIXUP_CHROMIUM_FLAGS": "--single-process"}, is_root=True) == \
        "--single-process --no-sandbox"
    assert "--disable-gpu" not in chromium_flags({}, is_root=False, gpu=True)


def test_webview_gui_is_qt_unless_gtk_is_asked_for(caplog: pytest.LogCaptureFixture) -> None:
    assert webview_gui({}, "linux") == "qt"
    assert webview_gui({"PIXUP_WEBVIEW": "gtk"}, "linux") == "gtk"
    assert webview_gui({"PIXUP_WEBVIEW": " GTK "}, "linux") == "gtk"
    assert webview_gui({"PIXUP_WEBVIEW": "qt"}, "linux") == "qt"
    assert webview_gui({"PIXUP_WEBVIEW": "cef"}, "linux") == "qt"
    assert "PIXUP_WEBVIEW=cef" in caplog.text
    # Windows and macOS have one system web view; pywebview picks it.
    assert webview_gui({"PIXUP_WEBVIEW": "gtk"}, "win32") is None
    assert webview_gui({}, "darwin") is None


def test_js_api_exposes_only_call() -> None:
    seen: list[tuple[str, object]] = []

    def call(method: str, payload: object) -> dict[str, Any]:
        seen.append((method, payload))
        return {"ok": True, "result": {}}

    js_api = JsApi(call)
    # pywebview walks dir() and exposes every public name (see webview.util.inject_pywebview).
    assert [name for name in dir(js_api) if not name.startswith("_")] == ["call"]
    assert js_api.call("system_info", {}) == {"ok": True, "result": {}}
    assert seen == [("system_info", {})]


# ------------------------------------------------------------------------------ DesktopApp with fakes

class _Event:
    def __init__(self) -> None:
        self._set = threading.Event()

    def is_set(self) -> bool:
        return self._set.is_set()


class _Document:
    def __init__(self) -> None:
        self.handlers: list[object] = []

    def on(self, name: str, handler: object) -> None:
        assert name == "drop"
        self.handlers.append(handler)


class _Dom:
    def __init__(self) -> None:
        self.document = _Document()


class _Events:
    def __init__(self) -> None:
        self.shown = _Event()


class FakeWindow:
    def __init__(self) -> None:
        self.url = "about:blank"
        self.scripts: list[str] = []
        self.loaded_urls: list[str] = []
        self.html: list[str] = []
        self.dom = _Dom()
        self.events = _Events()
        self.destroyed = False

    def get_current_url(self) -> str:
        return self.url

    def run_js(self, script: str) -> None:
        self.scripts.append(script)

    def load_url(self, url: str) -> None:
        self.loaded_urls.append(url)

    def load_html(self, content: str) -> None:
        self.html.append(content)

    def destroy(self) -> None:
        self.destroyed = True


class FakeApi:
    def __init__(self) -> None:
        self.closed = False
        self.calls: list[str] = []

    def call(self, method: str, payload: object) -> dict[str, Any]:
        self.calls.append(method)
        return {"ok": True, "result": {"method": method}}

    def close(self) -> None:
        self.closed = True


class FakeServer:
    url = "http://127.0.0.1:5555/?token=t"

    def __init__(self) -> None:
        self.stopped = False

    def shutdown(self) -> None:
        self.stopped = True


def _ready_app(tmp_path: Path) -> tuple[DesktopApp, FakeWindow, FakeApi, FakeServer]:
    window = FakeWindow()
    app = DesktopApp(window, tmp_path)  # type: ignore[arg-type]
    api, server = FakeApi(), FakeServer()
    # What boot() does once the engine has loaded (boot itself is covered by the window test).
    app._api, app._server, app._ui_base = api, server, server.url.split("?")[0]  # type: ignore[assignment]
    app._ready.set()
    return app, window, api, server


def test_drops_during_start_up_reach_the_ui_once_it_loads(tmp_path: Path) -> None:
    app, window, _, server = _ready_app(tmp_path)
    window.url = "data:text/html,loading"
    app.on_loaded()  # the loading page: drop handler registered, nothing sent
    app.on_drop(_drop({"name": "a.png", "pywebviewFullPath": "/p/a.png"}))
    assert not any(PATHS_EVENT in s for s in window.scripts)
    window.url = server.url
    app.on_loaded()  # the UI: handler registered again (a new page), pending paths delivered
    assert len(window.dom.document.handlers) == 2
    sent = [s for s in window.scripts if PATHS_EVENT in s]
    assert len(sent) == 1 and '"/p/a.png"' in sent[0]
    app.on_drop(_drop({"name": "dir", "pywebviewFullPath": "/p/dir"}))
    assert '"/p/dir"' in window.scripts[-1]


def test_bridge_calls_wait_for_the_engine_and_shutdown_closes_it(tmp_path: Path) -> None:
    window = FakeWindow()
    app = DesktopApp(window, tmp_path)  # type: ignore[arg-type]
    replies: list[dict[str, Any]] = []
    early = threading.Thread(target=lambda: replies.append(app.call("system_info", {})))
    early.start()
    api, server = FakeApi(), FakeServer()
    app._api, app._server = api, server  # type: ignore[assignment]
    app._ready.set()
    early.join(5)
    assert replies == [{"ok": True, "result": {"method": "system_info"}}]
    app.shutdown()
    assert server.stopped and api.closed
    assert app.call("list_jobs", {})["error"]["code"] == "closed"


def test_missing_ui_shows_a_page_not_a_dead_window(tmp_path: Path) -> None:
    window = FakeWindow()
    app = DesktopApp(window, tmp_path / "no-ui")  # type: ignore[arg-type]
    app.boot()
    assert window.loaded_urls == [] and "not built" in window.html[0]


def test_sigterm_before_the_window_shows_closes_it_when_it_does(tmp_path: Path) -> None:
    window = FakeWindow()
    app = DesktopApp(window, tmp_path)  # type: ignore[arg-type]
    app.request_close()
    assert not window.destroyed
    app.on_shown()
    assert window.destroyed


# ------------------------------------------------------------------------------ dialogs

class DialogWindow:
    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.asked: list[tuple[Any, ...]] = []

    def create_file_dialog(self, dialog_type: int, directory: str = "", allow_multiple: bool = False,
                           save_filename: str = "", file_types: tuple[str, ...] = ()) -> object:
        self.asked.append((dialog_type, allow_multiple, file_types))
        return self.answer


def test_native_dialogs_map_pywebview_answers() -> None:
    import webview
    from webview.util import parse_file_type

    window = DialogWindow(("/a.png", "/b.jpg"))
    assert NativeDialogs(window).pick_files(True) == ["/a.png", "/b.jpg"]  # type: ignore[arg-type]
    kind, multiple, types = window.asked[0]
    assert kind == webview.FileDialog.OPEN and multiple
    for file_type in types:
        parse_file_type(file_type)  # pywebview rejects a malformed filter at call time
    assert "*.png" in types[0] and "*.JPG" in types[0] and "*.heic" in types[0]
    assert NativeDialogs(DialogWindow(None)).pick_folder() == []  # type: ignore[arg-type]
    folder = DialogWindow(("/out",))
    assert NativeDialogs(folder).pick_output() == ["/out"]  # type: ignore[arg-type]
    assert folder.asked[0][0] == webview.FileDialog.FOLDER
    assert image_file_types()[-1] == "All files (*.*)"


def test_file_manager_command(tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(b"x")
    assert file_manager_command(image, "linux") == ["xdg-open", str(tmp_path)]
    assert file_manager_command(tmp_path, "linux") == ["xdg-open", str(tmp_path)]
    assert file_manager_command(image, "darwin") == ["open", "-R", str(image)]
    assert file_manager_command(tmp_path, "win32") is None


def test_open_path_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PixupError, match="does not exist"):
        dialogs_mod.open_in_file_manager(str(tmp_path / "missing"))
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PixupError) as info:
        dialogs_mod.open_in_file_manager(str(tmp_path))
    assert "xdg-open" in str(info.value) and "\n" not in str(info.value)


def test_open_path_does_not_wait_for_the_file_manager(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "opened"
    fake = bin_dir / "xdg-open"
    fake.write_text(f"#!/bin/sh\necho \"$1\" > {marker}\nsleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    waited = _timed(lambda: dialogs_mod.open_in_file_manager(str(tmp_path)))
    assert waited < 5
    for _ in range(100):
        if marker.exists() and marker.read_text().strip():
            break
        threading.Event().wait(0.05)
    assert marker.read_text().strip() == str(tmp_path)


def _timed(fn: Callable[[], None]) -> float:
    import time

    start = time.monotonic()
    fn()
    return time.monotonic() - start
