"""The HTTP side of `pixup serve` as a Starlette app: two guards in front of four small endpoints.

A request passes `HostCheck` (a Host header other than the served address: 403, against DNS
rebinding), then `TokenCheck` (any `/api/` path without the run's token: 401, nothing runs), then
the router: `POST /api/upload`, `GET /api/file`, `POST /api/<method>`, and the built UI for the rest.
Every refusal is an `ApiError` as JSON. Bodies are read as they arrive and counted against a limit
(the declared Content-Length is checked first; chunked bodies are counted), so an oversized body is
answered 413 without being held in memory. The app is async: a slow client costs one idle coroutine,
not a thread. Bridge methods (plain blocking Python) run on Starlette's thread pool, except the
polled ones (`methods.POLLED`), which are cheaper than the hand-off.

`pixup.api.http.ApiServer` owns the policy these routes ask (token, roots, uploads folder) and runs
the app on uvicorn.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from pixup.api import schema as s
from pixup.api.methods import POLLED

if TYPE_CHECKING:
    from pixup.api.bridge import Api

log = logging.getLogger("pixup.api.http")

HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff"}
"""On every answer: nothing pixup serves is cached, and no content type is guessed by the browser."""

WRITE_CHUNK = 1 << 20
"""Upload bytes are gathered to this size before each (threaded) write to disk."""


@dataclass(frozen=True)
class Limits:
    """How much a request may send."""

    json_bytes: int = 1 << 20
    """A bridge call's JSON body."""
    upload_bytes: int = 2 << 30
    """One uploaded file."""
    drain_bytes: int = 256 << 20
    """After a refusal, the rest of the body is read and dropped up to this much, so that a client
    that sends its whole body before reading (most do) gets the answer instead of a reset."""
    drain_s: float = 10.0
    """... and for at most this long (a client dribbling an endless body is cut off)."""


class Policy(Protocol):
    """What the routes ask the server (`ApiServer`)."""

    api: Api
    uploads: Path
    ui_dir: Path
    limits: Limits
    allowed_hosts: frozenset[str]

    def token_ok(self, header: str | None, query_token: str | None) -> bool: ...
    def servable(self, raw: str) -> Path | None: ...


# ---------------------------------------------------------------------------------- bodies


class BodyTooLarge(Exception):
    """The request body is over its limit (declared or counted)."""


def body_expected(scope: Scope) -> bool:
    """True when the request announces a body (chunked, or a Content-Length above 0)."""
    headers = Headers(scope=scope)
    return "transfer-encoding" in headers or headers.get("content-length", "0").strip() not in ("", "0")


class Body:
    """A request body read as it arrives and counted against `limit`. `done` tells whether all of it
    was read (an error answer drains only what is left)."""

    def __init__(self, request: Request, limit: int) -> None:
        self._receive = request.receive
        self._declared = request.headers.get("content-length")
        self.limit = limit
        self.done = not body_expected(request.scope)

    async def chunks(self) -> AsyncIterator[bytes]:
        # The declared length first: refused before a byte is read. (uvicorn's parser answers 400
        # to a Content-Length that is not a number; the bytes are counted below in any case.)
        declared = (self._declared or "").strip()
        if declared.isdigit() and int(declared) > self.limit:
            raise BodyTooLarge
        total = 0
        while not self.done:
            message = await self._receive()
            if message["type"] != "http.request":  # http.disconnect
                raise ClientDisconnect
            self.done = not message.get("more_body", False)
            chunk: bytes = message.get("body", b"")
            total += len(chunk)
            if total > self.limit:
                raise BodyTooLarge
            if chunk:
                yield chunk

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])


async def drain(receive: Receive, limits: Limits) -> None:
    """Read and drop what is left of a refused request's body, within the limits."""
    left = limits.drain_bytes
    try:
        async with asyncio.timeout(limits.drain_s):
            while left > 0:
                message = await receive()
                if message["type"] != "http.request":
                    return
                left -= len(message.get("body", b""))
                if not message.get("more_body", False):
                    return
    except TimeoutError:
        log.info("stopped draining a refused request body after %.0f s", limits.drain_s)


# ---------------------------------------------------------------------------------- answers


class ErrorResponse(Response):
    """An `ApiError` as JSON. With `drain`, the request body has not all been read: the answer goes
    out first, then the rest of the body is dropped (bounded by `Limits`), then the connection
    closes (what a client sent after the limits is not read as a next request)."""

    media_type = "application/json"

    def __init__(self, status: int, code: s.ErrorCode, message: str, *, drain: bool = False,
                 limits: Limits | None = None) -> None:
        self.drain = drain
        self.limits = limits or Limits()
        headers = {**HEADERS, "connection": "close"} if drain else HEADERS
        super().__init__(s.ApiError(code=code, message=message).model_dump_json(), status, headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.drain:
            await super().__call__(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        # A client waiting for "100 Continue" sends nothing more: there is nothing to drain.
        if Headers(scope=scope).get("expect", "").lower() != "100-continue":
            await drain(receive, self.limits)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def too_large(body: Body, limits: Limits) -> ErrorResponse:
    return ErrorResponse(413, "invalid_request", f"request body too large (limit {body.limit} bytes)",
                         drain=not body.done, limits=limits)


# ---------------------------------------------------------------------------------- guards


class HostCheck:
    """403 unless the Host header names the served address: a page on another site that rebinds its
    own name to 127.0.0.1 cannot reach the API (the token is also needed, this is a second wall)."""

    def __init__(self, app: ASGIApp, policy: Policy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and Headers(scope=scope).get("host", "") not in self.policy.allowed_hosts:
            refused = ErrorResponse(403, "invalid_request", "unexpected Host header",
                                    drain=body_expected(scope), limits=self.policy.limits)
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)


class TokenCheck:
    """401 for an `/api/` request without the run's token; nothing behind it runs. `?token=` counts
    only on `GET /api/file` (an `<img src>` cannot send a header)."""

    def __init__(self, app: ASGIApp, policy: Policy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/") and not self.authorised(scope):
            refused = ErrorResponse(401, "invalid_request", "missing or wrong token",
                                    drain=body_expected(scope), limits=self.policy.limits)
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def authorised(self, scope: Scope) -> bool:
        query_token = None
        if scope["method"] == "GET" and scope["path"] == "/api/file":
            query_token = QueryParams(scope["query_string"]).get("token")
        return self.policy.token_ok(Headers(scope=scope).get("authorization"), query_token)


# ---------------------------------------------------------------------------------- endpoints


def upload_name(raw: str) -> str:
    """The file name part of what the browser sent, never a path."""
    name = Path(raw).name.strip()
    return "upload" if name in ("", ".", "..") else name


async def save_upload(uploads: Path, name: str, body: Body) -> Path:
    """Stream `body` into a fresh folder under `uploads` (one per upload: equal names never
    collide). A failed upload leaves nothing behind."""
    folder = Path(await run_in_threadpool(tempfile.mkdtemp, dir=uploads))
    target = folder / upload_name(name)
    try:
        with open(target, "wb") as out:
            pending: list[bytes] = []
            size = 0
            async for chunk in body.chunks():
                pending.append(chunk)
                size += len(chunk)
                if size >= WRITE_CHUNK:
                    await run_in_threadpool(out.write, b"".join(pending))
                    pending, size = [], 0
            await run_in_threadpool(out.write, b"".join(pending))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return target


def media_type(path: Path) -> str:
    if path.suffix == ".js":  # some systems map .js to text/plain or application/x-javascript
        return "text/javascript"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class Endpoints:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.limits = policy.limits

    async def call_method(self, request: Request) -> Response:
        """`POST /api/<method>`: the request model as JSON through the bridge's method table."""
        body = Body(request, self.limits.json_bytes)
        try:
            data = await body.read()
        except BodyTooLarge:
            return too_large(body, self.limits)
        except ClientDisconnect:
            return ErrorResponse(400, "invalid_request", "the request ended early")
        method = request.path_params["method"]
        if method in POLLED:  # cheaper than the hand-off to a worker thread and back (GIL waits)
            status, reply = self.policy.api.handle(method, data)
        else:
            status, reply = await run_in_threadpool(self.policy.api.handle, method, data)
        return Response(reply, status, HEADERS, media_type="application/json")

    async def upload(self, request: Request) -> Response:
        """`POST /api/upload?name=`: a dropped file's bytes, saved under the run's uploads folder."""
        body = Body(request, self.limits.upload_bytes)
        try:
            path = await save_upload(self.policy.uploads, request.query_params.get("name", "upload"), body)
        except BodyTooLarge:
            return too_large(body, self.limits)
        except ClientDisconnect:
            return ErrorResponse(400, "invalid_request", "upload failed: upload ended early")
        except OSError as err:
            log.warning("upload failed: %s", err)
            return ErrorResponse(400, "invalid_request", f"upload failed: {err.strerror or err}",
                                 drain=not body.done, limits=self.limits)
        return Response(json.dumps({"path": str(path)}), 200, HEADERS, media_type="application/json")

    async def file(self, request: Request) -> Response:
        """`GET /api/file?path=`: a preview or result, only from the roots or this session's jobs."""
        raw = request.query_params.get("path", "")
        path = await run_in_threadpool(self.policy.servable, raw) if raw else None  # touches the disk
        if path is None:
            return ErrorResponse(404, "not_found", "no such file, or not one pixup may show")
        return FileResponse(path, headers=HEADERS, media_type=media_type(path))

    async def static(self, request: Request) -> Response:
        """The built UI (`index.html` for `/`); nothing outside its folder, symlinks resolved."""
        if request.method not in ("GET", "HEAD"):
            return ErrorResponse(404, "not_found", "no such page", drain=body_expected(request.scope),
                                 limits=self.limits)
        relative = request.path_params["path"].lstrip("/") or "index.html"
        ui_dir = self.policy.ui_dir
        try:
            path: Path | None = (ui_dir / relative).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            path = None
        if path is None or not path.is_file() or not path.is_relative_to(ui_dir):
            if relative == "index.html":
                return Response("The UI is not built: run scripts/install.sh (npm ci && npm run build).",
                                500, HEADERS, media_type="text/plain; charset=utf-8")
            return ErrorResponse(404, "not_found", "no such page")
        return FileResponse(path, headers=HEADERS, media_type=media_type(path))

    async def bridge_takes_post(self, _: Request) -> Response:
        return ErrorResponse(405, "invalid_request", "bridge methods take POST")

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """The router's own 404 / 405, as ApiErrors like every other refusal."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code: s.ErrorCode = "not_found" if status == 404 else "invalid_request"
        return ErrorResponse(status, code, "not found" if status == 404 else "method not allowed",
                             drain=body_expected(request.scope), limits=self.limits)


def build_app(policy: Policy) -> Starlette:
    """The Starlette app for one server: the guards, then the routes (first match wins)."""
    endpoints = Endpoints(policy)
    return Starlette(
        routes=[
            Route("/api/upload", endpoints.upload, methods=["POST"]),
            Route("/api/file", endpoints.file, methods=["GET"]),
            Route("/api/{method:path}", endpoints.call_method, methods=["POST"]),
            Route("/api/{rest:path}", endpoints.bridge_takes_post, methods=["GET"]),
            Route("/{path:path}", endpoints.static, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        ],
        middleware=[Middleware(HostCheck, policy=policy), Middleware(TokenCheck, policy=policy)],
        exception_handlers={HTTPException: endpoints.http_error},
    )
