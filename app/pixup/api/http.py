"""`pixup serve`: the bridge over HTTP on loopback, and the built UI, for a browser (and the window).

Contract: every bridge method is `POST /api/<method>` with its request model as JSON; `/api/upload`
takes a dropped file's bytes; `GET /api/file?path=` serves previews and results, only from the roots
(uploads, output folder, `--root` folders) or files this session's jobs read or wrote. Every `/api/`
call needs the per-run token (`Authorization: Bearer`, or `?token=` on `GET /api/file` for
`<img src>`), compared in constant time. A Host header other than the served address is refused
(DNS rebinding); no CORS. The routes and guards are in `pixup.api.routes` (Starlette); this module
owns the policy they ask (token, roots, uploads folder) and runs them on uvicorn, on a thread of its
own with its own event loop.

Why two transports into the same `Api`: the desktop window calls the bridge in process through
pywebview's JavaScript bridge (`Api.call`: no token or socket on the call path, and native dialogs
belong to the window), but still loads the UI and every preview/result image from this server, since
a web view shows files by URL. A browser (`pixup serve`) has only HTTP, so every call comes here
(`Api.handle`). Both end in `Api.dispatch` and the one method table (`pixup.api.methods`).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from pixup.api.bridge import Api
from pixup.api.routes import Limits, build_app
from pixup.fileio import process_gone
from pixup.paths import ui_dir

log = logging.getLogger("pixup.api.http")

BACKLOG = 1024
"""Connections the kernel queues before accept (http.server's 5 refused and reset clients under
load: benchmarks/bench_serve_load.py)."""

GRACEFUL_S = 2
"""On shutdown, requests still running get this long to finish (a slow client cannot hold exit)."""

HTTP_IMPL = "httptools"
"""uvicorn's HTTP parser: httptools (C, llhttp) took half the latency of h11 (pure Python) under
load (benchmarks/README.md, bench_serve_load.py)."""


def default_ui_dir() -> Path:
    """The built UI (pixup.paths.ui_dir)."""
    return ui_dir()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


UPLOADS_PREFIX = "pixup-uploads-"
"""A server's upload folder in the temp folder: "pixup-uploads-PID-RANDOM" (older versions: no PID)."""
_UPLOADS_NAME = re.compile(re.escape(UPLOADS_PREFIX) + r"(?P<pid>\d+)-")


def remove_stale_uploads(folder: Path) -> list[Path]:
    """Delete upload folders in `folder` left by `pixup serve` processes that are gone (killed
    before they could clean up). A folder whose server may still run is never touched."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _UPLOADS_NAME.match(entry.name)
        if match is None or not entry.is_dir(follow_symlinks=False):
            continue
        if process_gone(int(match.group("pid"))):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    if removed:
        log.info("removed %d upload folder(s) of pixup servers that are gone", len(removed))
    return removed


class ApiServer:
    """Serves one Api. `start()` runs it on a daemon thread; `url` carries the token. The socket is
    bound (and the port known) when the constructor returns; OSError if it cannot be."""

    def __init__(
        self,
        api: Api,
        host: str = "127.0.0.1",
        port: int = 0,
        roots: Sequence[Path] = (),
        ui_dir: Path | str | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.api = api
        self.limits = limits or Limits()
        self.token = secrets.token_urlsafe(24)
        self.ui_dir = Path(ui_dir or default_ui_dir()).resolve()
        self._socket = _listen(host, port)
        self.host = host
        self.port = int(self._socket.getsockname()[1])
        self.allowed_hosts = _allowed_hosts(host, self.port)
        remove_stale_uploads(Path(tempfile.gettempdir()))
        self.uploads = Path(tempfile.mkdtemp(prefix=f"{UPLOADS_PREFIX}{os.getpid()}-")).resolve()
        extra = [Path(api.default_output)] if api.default_output else []
        self.roots = [self.uploads, *(Path(r).resolve() for r in [*extra, *roots])]
        self._uvicorn = uvicorn.Server(uvicorn.Config(
            build_app(self), http=HTTP_IMPL, loop="asyncio", ws="none", lifespan="off",
            log_config=None, access_log=False, server_header=False, backlog=BACKLOG,
            proxy_headers=False,  # no proxy in front: X-Forwarded-* from a client must change nothing
            timeout_graceful_shutdown=GRACEFUL_S,
        ))
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        if not is_loopback(host):
            log.warning("serving on %s: other machines on the network can reach pixup (token required)", host)

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/?token={self.token}"

    def start(self) -> None:
        """Serve on a daemon thread; returns once requests are answered."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="pixup-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._uvicorn.started:
            if self._stopped.is_set() or time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start (see the log)")
            time.sleep(0.005)

    def _run(self) -> None:
        try:
            self._uvicorn.run(sockets=[self._socket])
        finally:
            self._stopped.set()

    def serve_forever(self) -> None:
        """Serve until `shutdown()` from another thread, or KeyboardInterrupt in this one (Ctrl-C;
        the CLI turns SIGTERM into one too). Signals stay with the caller: uvicorn runs on its own
        thread, where it installs no handlers. (An Event, not Thread.join: a join interrupted by
        KeyboardInterrupt can report the thread finished while it still runs.)"""
        self.start()
        while not self._stopped.wait(0.5):
            pass

    def shutdown(self) -> None:
        """Stop serving (requests still running get GRACEFUL_S), close the socket, remove uploads."""
        self._uvicorn.should_exit = True
        if self._thread is not None and not self._stopped.wait(GRACEFUL_S + 5):
            log.warning("the HTTP server did not stop in time; leaving its daemon thread")
        self._socket.close()
        shutil.rmtree(self.uploads, ignore_errors=True)

    # ------------------------------------------------------------------ policy (asked by the routes)

    def token_ok(self, header: str | None, query_token: str | None) -> bool:
        given = ""
        if header and header.startswith("Bearer "):
            given = header[len("Bearer "):].strip()
        elif query_token:
            given = query_token
        return hmac.compare_digest(given.encode(), self.token.encode())

    def servable(self, raw: str) -> Path | None:
        """The real file behind `raw` when it lies in a root (symlinks resolved) or is one of this
        session's job files; None otherwise."""
        try:
            path = Path(raw).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            return None
        if not path.is_file():
            return None
        if any(path.is_relative_to(root) for root in self.roots) or self.api.may_serve(path):
            return path
        return None




def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); IPv6 for an IPv6 literal."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=BACKLOG)
    sock.set_inheritable(False)
    return sock


def _allowed_hosts(host: str, port: int) -> frozenset[str]:
    """Host headers this server answers: its own address (and, on loopback, loopback's names)."""
    names = {host, f"[{host}]"}
    if is_loopback(host):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    return frozenset(f"{name}:{port}" for name in names)
