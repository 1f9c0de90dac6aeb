"""`pixup` with no arguments: the desktop window.

Order matters for how fast the window appears: the window opens at once on a tiny inline
"Starting pixup…" page; the Api (numpy, ONNX Runtime, the model catalogue) and the loopback HTTP
server are built afterwards on pywebview's start thread, and only then is the real UI loaded. The UI
calls Python through `window.pywebview.api.call(method, payload)` and reads previews and results
from the same server `pixup serve` runs.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from pixup.desktop.drop import DRAG_GUARD_JS, paths_event_script, paths_from_drop_event
from pixup.desktop.pages import BACKGROUND_LIGHT, LOADING_HTML, error_html
from pixup.errors import one_line
from pixup.paths import ui_dir

if TYPE_CHECKING:
    from webview import Window
    from webview.guilib import GUIType

    from pixup.api.schema import ErrorCode

log = logging.getLogger("pixup.desktop")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NO_DISPLAY = 2

TITLE = "pixup"
SIZE = (1200, 800)
MIN_SIZE = (760, 520)

FLAGS_ENV = "PIXUP_CHROMIUM_FLAGS"
"""Replaces pixup's default QtWebEngine (Chromium) flags; the benchmark uses it to compare sets."""

DEFAULT_CHROMIUM_FLAGS: tuple[str, ...] = ("--disable-gpu",)
"""With SOFTWARE_RENDERING_ENV: no OpenGL in the window at all. Measured by benchmarks/bench_window.py
(benchmarks/README.md): Mesa's llvmpipe alone is ~45 MB PSS under Xvfb (a desktop's GL driver costs
the like), and the UI (controls, one before/after image) draws fine in Chromium's software
compositor. Process-model flags (--single-process, --renderer-process-limit, --process-per-site,
--no-zygote) saved ≤ 20 MB and weaken isolation (a renderer crash would take the engine down)."""

SOFTWARE_RENDERING_ENV: tuple[tuple[str, str], ...] = (
    ("QT_QUICK_BACKEND", "software"),  # QtWebEngine composites through Qt Quick: raster, not GL
    ("QT_XCB_GL_INTEGRATION", "none"),  # X11: do not load libGL/GLX (and Mesa's LLVM) at all
    # WebKitGTK (PIXUP_WEBVIEW=gtk): pages drawn without its GL compositor (Mesa is still loaded, its
    # buffers are not): 410 -> 323 MB PSS for the whole app (benchmarks/bench_webview.py, "gtk gpu"/"gtk").
    ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
)

WEBVIEW_ENV = "PIXUP_WEBVIEW"
"""Linux: which web view draws the window, `qt` (QtWebEngine, the default) or `gtk` (the system's
WebKitGTK through PyGObject: Debian's python3-gi and gir1.2-webkit2-4.1). benchmarks/bench_webview.py
compares the two (benchmarks/README.md)."""

WEBVIEWS: dict[str, GUIType] = {"qt": "qt", "gtk": "gtk"}

GPU_ENV = "PIXUP_WINDOW_GPU"
"""Set to 1 to keep Qt's, Chromium's and WebKitGTK's GPU paths (more memory; smoother on very large
screens)."""

_API_WAIT_S = 120.0
"""How long a bridge call made while the engine is still loading waits for it."""


class _Bridge(Protocol):
    def call(self, method: str, payload: object) -> dict[str, Any]: ...
    def close(self) -> None: ...


class _Server(Protocol):
    @property
    def url(self) -> str: ...
    def start(self) -> None: ...
    def shutdown(self) -> None: ...


def has_display(env: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Windows and macOS always have a desktop; elsewhere X11 or Wayland must be reachable."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if platform.startswith(("win", "darwin")):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def chromium_flags(env: Mapping[str, str], is_root: bool, gpu: bool = False) -> str:
    """The QTWEBENGINE_CHROMIUM_FLAGS value: pixup's defaults (none with `gpu`; PIXUP_CHROMIUM_FLAGS
    replaces them), --no-sandbox as root (Chromium refuses to run its sandbox as root), then whatever
    the user set, last so it wins."""
    override = env.get(FLAGS_ENV)
    defaults = [] if gpu else list(DEFAULT_CHROMIUM_FLAGS)
    flags = shlex.split(override) if override is not None else defaults
    user = shlex.split(env.get("QTWEBENGINE_CHROMIUM_FLAGS", ""))
    if is_root and "--no-sandbox" not in flags + user:
        flags.append("--no-sandbox")
    return " ".join(shlex.quote(flag) for flag in flags + user)


def _since_start() -> float:
    """Seconds since this process started (what a user waits from the click), for the log."""
    try:
        import psutil

        return time.time() - float(psutil.Process().create_time())
    except Exception:  # psutil missing or /proc hidden: the figure is only informative
        return float("nan")


class JsApi:
    """The one object the page sees as `window.pywebview.api`.

    pywebview exposes every public method it finds with dir() and walks into public non-callable
    attributes, so the Api stays behind a private attribute and `call` is the only public name.
    """

    __slots__ = ("_call",)

    def __init__(self, call: Callable[[str, object], dict[str, Any]]) -> None:
        self._call = call

    def call(self, method: str, payload: object = None) -> dict[str, Any]:
        return self._call(method, payload)


class DesktopApp:
    """Owns the window's lifetime: boot the engine behind the loading page, route drops, shut down."""

    def __init__(self, window: Window, ui_path: Path, initial_paths: Sequence[str] = ()) -> None:
        self._window = window
        self._ui_path = ui_path
        self._lock = threading.Lock()
        self._api: _Bridge | None = None
        self._server: _Server | None = None
        self._closed = False
        self._ready = threading.Event()
        self._ui_base: str | None = None
        self._ui_live = False
        # Files the app was opened with ("Open with pixup"), handed over like a drop once the UI loads.
        self._pending: list[str] = list(dict.fromkeys(initial_paths))
        self._close_requested = False

    # -- the bridge --------------------------------------------------------------------------------
    def call(self, method: str, payload: object) -> dict[str, Any]:
        """What the page's `pywebview.api.call` reaches. Waits while the engine is still loading."""
        if not self._ready.wait(_API_WAIT_S):
            return _error("starting", "pixup is still starting; try again in a moment.")
        api = self._api
        if api is None:
            return _error("closed", "pixup is closing.")
        return api.call(method, payload)

    # -- start-up ----------------------------------------------------------------------------------
    def on_shown(self) -> None:
        import webview

        # The renderer actually in use: pywebview falls back to the other backend when one cannot load.
        log.info("window shown after %.2f s (%s)", _since_start(), getattr(webview, "renderer", None))
        if self._close_requested:
            self._window.destroy()

    def boot(self) -> None:
        """pywebview runs this on its own thread once the window exists: load the engine, serve the UI."""
        try:
            index = self._ui_path / "index.html"
            if not index.is_file():
                log.error("the UI is not built: %s is missing", index)
                self._window.load_html(error_html(
                    "The user interface is not built.",
                    "Run scripts/install.sh (it builds ui/dist), or use `pixup serve` after building it.",
                ))
                return
            from pixup.api.bridge import Api
            from pixup.api.http import ApiServer
            from pixup.desktop.dialogs import NativeDialogs

            _quiet_onnxruntime()
            api = Api(dialogs=NativeDialogs(self._window))
            server = ApiServer(api, ui_dir=str(self._ui_path))
            server.start()
        except Exception as err:  # any start-up failure becomes a page, not a dead window
            log.exception("the engine failed to start")
            self._window.load_html(error_html("pixup could not start its engine.", one_line(err)))
            return
        with self._lock:
            if self._closed:  # the user closed the window while we were loading
                server.shutdown()
                api.close()
                return
            self._api, self._server = api, server
            self._ui_base = server.url.split("?", 1)[0]
        self._ready.set()
        log.info("engine ready after %.2f s; loading the UI", _since_start())
        self._window.load_url(server.url)

    # -- pages and drops ---------------------------------------------------------------------------
    def on_loaded(self) -> None:
        """Every page load (the loading page, then the UI): drop handling lives in the page, so it is
        registered again each time; paths dropped during start-up are delivered to the UI."""
        from webview.dom import DOMEventHandler

        try:
            url = self._window.get_current_url() or ""
            self._window.run_js(DRAG_GUARD_JS)
            self._window.dom.document.on("drop", DOMEventHandler(self.on_drop, True, True))
        except Exception:  # the window closed under us
            log.debug("page setup skipped", exc_info=True)
            return
        base = self._ui_base
        if base is None or not url.startswith(base):
            return
        with self._lock:
            self._ui_live = True
            pending, self._pending = self._pending, []
        log.info("UI loaded after %.2f s", _since_start())
        if pending:
            self._send_paths(pending)

    def on_drop(self, event: dict[str, Any]) -> None:
        paths = paths_from_drop_event(event)
        if not paths:
            return
        log.info("drop: %d path(s)", len(paths))
        with self._lock:
            if not self._ui_live:
                self._pending.extend(p for p in paths if p not in self._pending)
                return
        self._send_paths(paths)

    def _send_paths(self, paths: Sequence[str]) -> None:
        try:
            self._window.run_js(paths_event_script(paths))
        except Exception:
            log.warning("could not hand dropped paths to the page", exc_info=True)

    # -- shut-down ---------------------------------------------------------------------------------
    def request_close(self) -> None:
        """SIGTERM: close the window the way its close button does (before it exists: as soon as it does)."""
        if self._window.events.shown.is_set():
            self._window.destroy()
        else:
            self._close_requested = True

    def shutdown(self) -> None:
        """After the GUI loop ends: stop serving, then stop the engine (cancels running jobs)."""
        with self._lock:
            self._closed = True
            api, server = self._api, self._server
            self._api = self._server = None
        self._ready.set()  # wake bridge calls still waiting: they get "closing"
        if server is not None:
            try:
                server.shutdown()
            except Exception:
                log.exception("HTTP server shutdown failed")
        if api is not None:
            try:
                api.close()
            except Exception:
                log.exception("Api close failed")
        log.info("window closed; shut down")


def _error(code: ErrorCode, message: str) -> dict[str, Any]:
    """A bridge reply the window gives itself (no engine yet, or none any more): `ApiError`'s shape."""
    return {"ok": False, "error": {"code": code, "message": message}}


def _quiet_onnxruntime() -> None:
    """ONNX Runtime and OpenVINO are chatty on stderr; the window reports through the UI and the log."""
    if os.environ.get("PIXUP_VERBOSE"):
        return
    try:
        import onnxruntime

        onnxruntime.set_default_logger_severity(3)
    except Exception:  # a nicety, never a reason to fail
        log.debug("could not quiet ONNX Runtime", exc_info=True)


def _is_root() -> bool:
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


def webview_gui(env: Mapping[str, str] | None = None, platform: str | None = None) -> GUIType | None:
    """pywebview's `gui` for this machine: on Linux PIXUP_WEBVIEW's choice, Qt by default (an unknown
    value is logged and ignored); None on Windows/macOS, whose system web view is the only one."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None
    choice = env.get(WEBVIEW_ENV, "").strip().lower()
    if choice and choice not in WEBVIEWS:
        log.warning("%s=%s is not one of %s; using qt", WEBVIEW_ENV, choice, ", ".join(WEBVIEWS))
    return WEBVIEWS.get(choice, "qt")


def run_desktop(paths: Sequence[str] = ()) -> int:
    """Open the window (with `paths` added to the queue, as if dropped) and run until it is closed.
    Returns the process exit code."""
    if not has_display():
        print("pixup: no display found (DISPLAY and WAYLAND_DISPLAY are unset); "
              "run `pixup serve` to use pixup in a browser.", file=sys.stderr)
        return EXIT_NO_DISPLAY
    if sys.platform.startswith("linux"):
        # Set even for gtk: pywebview falls back to Qt when GTK cannot load, and only Qt reads these.
        gpu = os.environ.get(GPU_ENV) == "1"
        os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = chromium_flags(os.environ, _is_root(), gpu=gpu)
        if not gpu:
            for name, value in SOFTWARE_RENDERING_ENV:
                os.environ.setdefault(name, value)  # the user's own setting wins
        # qtpy would pick PyQt5/PyQt6 first if one happens to be installed; pixup ships PySide6.
        os.environ.setdefault("QT_API", "pyside6")
    try:
        import webview
    except ImportError as err:
        print(f"pixup: the window cannot start ({one_line(err)}); run `pixup serve` instead.",
              file=sys.stderr)
        return EXIT_FAILED

    holder: list[DesktopApp] = []
    window = webview.create_window(
        TITLE,
        html=LOADING_HTML,
        js_api=JsApi(lambda method, payload: holder[0].call(method, payload)),
        width=SIZE[0],
        height=SIZE[1],
        min_size=MIN_SIZE,
        background_color=BACKGROUND_LIGHT,
        text_select=True,
    )
    if window is None:  # pragma: no cover - pywebview returns None only for a failed create
        print("pixup: the window could not be created; run `pixup serve` instead.", file=sys.stderr)
        return EXIT_FAILED
    app = DesktopApp(window, ui_dir(), [str(Path(p).resolve()) for p in paths])
    holder.append(app)
    window.events.shown += app.on_shown
    window.events.loaded += app.on_loaded

    def _on_sigterm(signum: int, frame: FrameType | None) -> None:
        app.request_close()

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    gui = webview_gui()
    log.info("opening the window (%.2f s after start; %s; flags %s)", _since_start(), gui or "system",
             os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", ""))
    try:
        webview.start(app.boot, gui=gui, private_mode=True)
    except Exception as err:  # Qt/WebEngine missing pieces: one line, the log has the rest
        log.exception("the window failed")
        print(f"pixup: the window failed ({one_line(err)}); run `pixup serve` instead.", file=sys.stderr)
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
        app.shutdown()
    return EXIT_OK
