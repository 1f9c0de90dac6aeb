"""`pixup serve`: the bridge over HTTP on loopback, and the built UI, for a browser (and the window).

Contract: every bridge method is `POST /api/<method>` with its request model as JSON; `/api/upload`
takes a dropped file's bytes; `GET /api/file?path=` serves previews and results, only from the roots
(uploads, output folder, `--root` folders) or files this session's jobs read or wrote. Every `/api/`
call needs the per-run token (`Authorization: Bearer`, or `?token=` for `<img src>`), compared in
constant time. A Host header other than the served address is refused (DNS rebinding); no CORS.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import mimetypes
import os
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pixup.api.bridge import Api
from pixup.fileio import process_gone
from pixup.paths import ui_dir

log = logging.getLogger("pixup.api.http")

MAX_JSON_BYTES = 1 << 20
MAX_UPLOAD_BYTES = 2 << 30
CHUNK = 1 << 20


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
    """Serves one Api. `start()` runs it on a daemon thread; `url` carries the token."""

    def __init__(
        self,
        api: Api,
        host: str = "127.0.0.1",
        port: int = 0,
        roots: Sequence[Path] = (),
        ui_dir: Path | str | None = None,
    ) -> None:
        self.api = api
        self.token = secrets.token_urlsafe(24)
        self.ui_dir = Path(ui_dir or default_ui_dir()).resolve()
        remove_stale_uploads(Path(tempfile.gettempdir()))
        self.uploads = Path(tempfile.mkdtemp(prefix=f"{UPLOADS_PREFIX}{os.getpid()}-")).resolve()
        extra = [Path(api.default_output)] if api.default_output else []
        self.roots = [self.uploads, *(Path(r).resolve() for r in [*extra, *roots])]
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._thread: threading.Thread | None = None
        if not is_loopback(host):
            log.warning("serving on %s: other machines on the network can reach pixup (token required)", host)

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/?token={self.token}"

    def allowed_hosts(self) -> set[str]:
        names = {self.host, f"[{self.host}]"}
        if is_loopback(self.host):
            names |= {"127.0.0.1", "localhost", "[::1]"}
        return {f"{name}:{self.port}" for name in names}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="pixup-http", daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def shutdown(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        shutil.rmtree(self.uploads, ignore_errors=True)

    # ------------------------------------------------------------------ policy

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

    def save_upload(self, name: str, length: int, stream: object) -> Path:
        safe = Path(name).name.strip() or "upload"
        if safe in (".", ".."):
            safe = "upload"
        folder = Path(tempfile.mkdtemp(dir=self.uploads))
        target = folder / safe
        remaining = length
        with open(target, "wb") as out:
            while remaining > 0:
                chunk = stream.read(min(CHUNK, remaining))  # type: ignore[attr-defined]
                if not chunk:
                    raise ConnectionError("upload ended early")
                out.write(chunk)
                remaining -= len(chunk)
        return target


def _handler_for(server: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "pixup"

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        # -------------------------------------------------------------- plumbing

        def _send(self, status: int, body: bytes, content_type: str = "application/json",
                  close: bool = False) -> None:
            self.send_response(status)
            if close:
                self.send_header("Connection", "close")
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, code: str, message: str) -> None:
            import json

            # The request body may be unread: close rather than parse it as the next request.
            self.close_connection = True
            self._send(status, json.dumps({"code": code, "message": message}).encode(), close=True)

        def _host_ok(self) -> bool:
            if self.headers.get("Host", "") in server.allowed_hosts():
                return True
            self._error(403, "invalid_request", "unexpected Host header")
            return False

        def _authorised(self, query: dict[str, list[str]]) -> bool:
            query_token = query.get("token", [None])[0] if self.command == "GET" else None
            if server.token_ok(self.headers.get("Authorization"), query_token):
                return True
            self._error(401, "invalid_request", "missing or wrong token")
            return False

        def _length(self, limit: int) -> int | None:
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if length < 0 or length > limit:
                self._error(413, "invalid_request", "request body too large")
                self.close_connection = True
                return None
            return length

        # -------------------------------------------------------------- verbs

        def do_GET(self) -> None:
            if not self._host_ok():
                return
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path.startswith("/api/"):
                if not self._authorised(query):
                    return
                if parts.path != "/api/file":
                    self._error(405, "invalid_request", "bridge methods take POST")
                    return
                self._file(query.get("path", [""])[0])
                return
            self._static(parts.path)

        def do_POST(self) -> None:
            if not self._host_ok():
                return
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if not parts.path.startswith("/api/"):
                self._error(404, "not_found", "no such page")
                return
            if not self._authorised(query):
                return
            method = parts.path[len("/api/"):]
            if method == "upload":
                self._upload(query.get("name", ["upload"])[0])
                return
            length = self._length(MAX_JSON_BYTES)
            if length is None:
                return
            status, body = server.api.handle(method, self.rfile.read(length))
            self._send(status, body)

        # -------------------------------------------------------------- endpoints

        def _file(self, raw: str) -> None:
            path = server.servable(raw) if raw else None
            if path is None:
                self._error(404, "not_found", "no such file, or not one pixup may show")
                return
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            try:
                size = path.stat().st_size
                with open(path, "rb") as handle:
                    self.send_response(200)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(size))
                    self.send_header("Cache-Control", "no-store")
                    self.send_header("X-Content-Type-Options", "nosniff")
                    self.end_headers()
                    shutil.copyfileobj(handle, self.wfile, CHUNK)
            except OSError as err:
                log.info("could not serve %s: %s", path, err)
                self.close_connection = True

        def _upload(self, name: str) -> None:
            import json

            length = self._length(MAX_UPLOAD_BYTES)
            if length is None:
                return
            try:
                target = server.save_upload(name, length, self.rfile)
            except (OSError, ConnectionError) as err:
                self.close_connection = True
                self._error(400, "invalid_request", f"upload failed: {err}")
                return
            self._send(200, json.dumps({"path": str(target)}).encode())

        def _static(self, raw_path: str) -> None:
            relative = raw_path.lstrip("/") or "index.html"
            try:
                path = (server.ui_dir / relative).resolve(strict=True)
            except (OSError, RuntimeError):
                path = None
            if path is None or not path.is_file() or not path.is_relative_to(server.ui_dir):
                if relative == "index.html":
                    self._send(500, b"The UI is not built: run scripts/install.sh (npm ci && npm run build).",
                               "text/plain; charset=utf-8")
                else:
                    self._error(404, "not_found", "no such page")
                return
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if path.suffix == ".js":
                content_type = "text/javascript"
            self._send(200, path.read_bytes(), content_type)

    return Handler
