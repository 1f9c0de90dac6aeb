"""pixup serve's HTTP rules on a real server on 127.0.0.1: token, Host header, roots, uploads, body
limits, slow and concurrent clients; the bridge behind it."""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixup.api.bridge import Api
from pixup.api.http import ApiServer
from pixup.api.routes import Limits

MAX_JSON = Limits().json_bytes


@pytest.fixture()
def server(api: Api, tmp_path: Path) -> Iterator[ApiServer]:
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "index.html").write_text("<!doctype html><title>pixup</title>")
    root = tmp_path / "root"
    root.mkdir()
    made = ApiServer(api, roots=[root], ui_dir=ui)
    made.start()
    yield made
    made.shutdown()


def request(server: ApiServer, method: str, path: str, body: bytes | None = None,
            token: str | None = "", host: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Host": host or f"127.0.0.1:{server.port}"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token or server.token}"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def test_url_carries_the_token(server: ApiServer) -> None:
    assert server.url == f"http://127.0.0.1:{server.port}/?token={server.token}"
    assert len(server.token) >= 32


def test_api_needs_the_token_and_nothing_happens_without_it(server: ApiServer, api: Api) -> None:
    body = json.dumps({"job_id": "job-000001", "inputs": ["/etc/hostname"]}).encode()
    assert request(server, "POST", "/api/start_job", body, token=None)[0] == 401
    assert request(server, "POST", "/api/start_job", body, token="wrong")[0] == 401
    assert api.service.list() == []  # nothing was started
    assert request(server, "POST", "/api/system_info", b"{}")[0] == 200


def test_other_host_headers_are_refused(server: ApiServer) -> None:
    assert request(server, "POST", "/api/system_info", b"{}", host=f"evil.example:{server.port}")[0] == 403
    assert request(server, "GET", "/", token=None, host="evil.example")[0] == 403
    assert request(server, "GET", "/", token=None, host=f"localhost:{server.port}")[0] == 200


def test_no_wildcard_cors(server: ApiServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/api/system_info", body=b"{}", headers={
        "Host": f"127.0.0.1:{server.port}", "Authorization": f"Bearer {server.token}",
        "Origin": "http://evil.example"})
    response = conn.getresponse()
    response.read()
    assert response.getheader("Access-Control-Allow-Origin") is None


def test_files_only_from_roots(server: ApiServer, tmp_path: Path) -> None:
    inside = tmp_path / "root" / "a.png"
    inside.write_bytes(b"\x89PNG fake")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (tmp_path / "root" / "link.txt").symlink_to(outside)

    def get(path: str) -> int:
        from urllib.parse import quote

        return request(server, "GET", f"/api/file?path={quote(path)}", token=None)[0]

    def get_with_token(path: str) -> tuple[int, bytes]:
        from urllib.parse import quote

        return request(server, "GET", f"/api/file?path={quote(path)}&token={server.token}", token=None)

    assert get(str(inside)) == 401  # the token is needed here too
    assert get_with_token(str(inside)) == (200, b"\x89PNG fake")
    assert get_with_token(str(outside))[0] == 404
    assert get_with_token(str(tmp_path / "root" / ".." / "secret.txt"))[0] == 404
    assert get_with_token(str(tmp_path / "root" / "link.txt"))[0] == 404  # symlink out of the root
    assert get_with_token("/etc/passwd")[0] == 404
    assert request(server, "GET", "/../../etc/passwd", token=None)[0] == 404


def test_upload_lands_in_the_uploads_root_whatever_its_name(server: ApiServer) -> None:
    status, body = request(server, "POST", "/api/upload?name=../../evil.png", b"bytes")
    assert status == 200
    path = Path(json.loads(body)["path"])
    assert path.name == "evil.png" and path.is_relative_to(server.uploads)
    assert path.read_bytes() == b"bytes"
    url = f"/api/file?path={path}&token={server.token}"
    assert request(server, "GET", url, token=None) == (200, b"bytes")


def test_shutdown_removes_uploads(api: Api, tmp_path: Path) -> None:
    made = ApiServer(api, ui_dir=tmp_path)
    made.start()
    uploads = made.uploads
    assert uploads.is_dir()
    made.shutdown()
    assert not os.path.exists(uploads)


def test_a_failed_upload_is_typed_and_its_line_names_no_temporary_folder(
    server: ApiServer, api: Api, x2_model: str
) -> None:
    """A dropped file that is not an image fails with a code and a line without its path: the UI
    names the file by the name the person dropped (`name`), never by the temporary folder the
    browser uploaded it into; `input` keeps the full path (the UI fetches previews by it)."""
    status, body = request(server, "POST", "/api/upload?name=holiday.png", b"this is not a picture")
    assert status == 200
    uploaded = json.loads(body)["path"]
    job = {"job_id": "job-upload-1", "inputs": [uploaded], "options": {"model": x2_model}}
    status, _ = request(server, "POST", "/api/start_job", json.dumps(job).encode())
    assert status == 200
    assert api.service.wait("job-upload-1", 60)
    status, body = request(server, "POST", "/api/job_status", json.dumps({"job_id": "job-upload-1"}).encode())
    assert status == 200
    state = json.loads(body)["files"][0]
    assert state["status"] == "failed"
    assert (state["error_code"], state["name"], state["input"]) == ("not_an_image", "holiday.png", uploaded)
    assert str(server.uploads) not in state["error"] and "holiday.png" not in state["error"]


def test_upload_folders_of_servers_that_are_gone_are_removed(tmp_path: Path) -> None:
    import subprocess
    import sys

    from pixup.api.http import UPLOADS_PREFIX, remove_stale_uploads

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    dead = tmp_path / f"{UPLOADS_PREFIX}{int(finished.stdout)}-abc"  # its server was killed
    alive = tmp_path / f"{UPLOADS_PREFIX}{os.getpid()}-def"  # a server still running
    old_style = tmp_path / f"{UPLOADS_PREFIX}ghi"  # no pid: cannot tell, never touched
    other = tmp_path / "not-pixups"
    for folder in (dead, alive, old_style, other):
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "photo.png").write_bytes(b"x")
    assert remove_stale_uploads(tmp_path) == [dead]
    assert not dead.exists()
    assert alive.is_dir() and old_style.is_dir() and other.is_dir()


def test_failures_reach_the_http_reply_typed(
    server: ApiServer, api: Api, x2_model: str, tmp_path: Path
) -> None:
    """Each failed file's reply carries its code and a line without its path; a request that cannot
    be planned is refused with its kind, and starts nothing."""
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("RGB", (16, 16), (20, 90, 160)).save(folder / "good.png")
    (folder / "text.png").write_text("not a picture\n")
    Image.new("RGB", (64, 64), (200, 10, 10)).save(folder / "full.png")
    data = (folder / "full.png").read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "good_pixup_2x.png").write_bytes(b"precious")  # the output exists already
    inputs = [str(folder / n) for n in ("missing.png", "text.png", "cut.png", "good.png")]
    job = {"job_id": "job-codes-1", "inputs": inputs, "options": {"model": x2_model}}
    assert request(server, "POST", "/api/start_job", json.dumps(job).encode())[0] == 200
    assert api.service.wait("job-codes-1", 60)
    status, body = request(server, "POST", "/api/job_status", json.dumps({"job_id": "job-codes-1"}).encode())
    assert status == 200
    files = json.loads(body)["files"]
    assert [f["error_code"] for f in files] == ["not_found", "not_an_image", "truncated", "output_exists"]
    assert all(f["status"] == "failed" and f["input"] not in f["error"] for f in files)
    assert files[3]["output"] == str(tmp_path / "out" / "good_pixup_2x.png")
    assert (tmp_path / "out" / "good_pixup_2x.png").read_bytes() == b"precious"

    refused = {"job_id": "job-codes-2", "inputs": inputs, "options": {"model": "no-such-model"}}
    status, body = request(server, "POST", "/api/start_job", json.dumps(refused).encode())
    assert status == 400
    assert json.loads(body)["kind"] == "unknown_model"
    assert [job.job_id for job in api.service.list()] == ["job-codes-1"]


# ---------------------------------------------------------------------------------- bodies, load


def raw_exchange(server: ApiServer, data: bytes, pause: float = 0.0,
                 before_last: threading.Event | None = None) -> bytes:
    """Send `data` on a fresh connection, one byte per `pause` seconds when pause > 0 (and the last
    byte only once `before_last` is set), then read the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        if pause:
            for byte in data[:-1]:
                sock.sendall(bytes([byte]))
                time.sleep(pause)
            if before_last is not None:
                before_last.wait(60)
            sock.sendall(data[-1:])
        else:
            sock.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < _length(received):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def _length(received: bytes) -> int:
    for line in received.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def raw_request(server: ApiServer, path: str, body: bytes, extra: str = "") -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Authorization: Bearer {server.token}\r\nContent-Length: {len(body)}\r\n{extra}\r\n")
    return head.encode() + body


def test_an_oversized_body_gets_413_json_not_a_reset(server: ApiServer) -> None:
    big = b"x" * (MAX_JSON + (8 << 20))
    status, body = request(server, "POST", "/api/job_status", big)  # sent whole before reading
    assert status == 413
    assert json.loads(body)["code"] == "invalid_request" and "too large" in json.loads(body)["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(8):
            yield b"x" * (1 << 20)

    status, body = request(server, "POST", "/api/job_status", chunks())  # type: ignore[arg-type]
    assert status == 413 and json.loads(body)["code"] == "invalid_request"

    # Refused on the declared length alone: the answer comes before any of the body is sent.
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(raw_request(server, "/api/job_status", b"").replace(
            b"Content-Length: 0", b"Content-Length: 100000000000"))
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 413 ") and b"application/json" in head
    assert request(server, "POST", "/api/list_jobs", b"{}")[0] == 200  # and the server is fine


def test_refusals_with_a_body_are_answered_too(server: ApiServer, api: Api) -> None:
    big = b"x" * (4 << 20)
    assert request(server, "POST", "/api/start_job", big, token="wrong")[0] == 401
    assert request(server, "POST", "/api/upload?name=a.png", big, token=None)[0] == 401
    assert request(server, "POST", "/api/system_info", big, host="evil.example")[0] == 403
    assert list(server.uploads.iterdir()) == []  # nothing was written for the refused upload
    assert api.service.list() == []


def test_upload_limit_and_chunked_uploads(api: Api, tmp_path: Path) -> None:
    made = ApiServer(api, ui_dir=tmp_path, limits=Limits(upload_bytes=1000))
    made.start()
    try:
        status, body = request(made, "POST", "/api/upload?name=big.png", b"x" * 5000)
        assert status == 413 and json.loads(body)["code"] == "invalid_request"

        def parts(count: int) -> Iterator[bytes]:
            for _ in range(count):
                yield b"y" * 300

        status, body = request(made, "POST", "/api/upload?name=big.png", parts(4))  # type: ignore[arg-type]
        assert status == 413
        assert list(made.uploads.iterdir()) == []  # a refused upload leaves no partial file
        status, body = request(made, "POST", "/api/upload?name=ok.png", parts(3))  # type: ignore[arg-type]
        assert status == 200
        assert Path(json.loads(body)["path"]).read_bytes() == b"y" * 900
    finally:
        made.shutdown()


def test_a_slow_client_does_not_hold_up_others(server: ApiServer) -> None:
    """A request dribbled one byte every 20 ms, its last byte held back, is still arriving while
    other clients are answered; then it is answered too."""
    slow_reply: list[bytes] = []
    others_done = threading.Event()
    data = raw_request(server, "/api/list_jobs", b"{}")
    slow = threading.Thread(target=lambda: slow_reply.append(
        raw_exchange(server, data, pause=0.02, before_last=others_done)))
    slow.start()
    time.sleep(0.3)
    try:
        for _ in range(10):
            assert request(server, "POST", "/api/list_jobs", b"{}")[0] == 200
    finally:
        others_done.set()
    slow.join(60)
    assert slow_reply and slow_reply[0].startswith(b"HTTP/1.1 200 ")


def test_twenty_concurrent_clients_all_get_answers(server: ApiServer) -> None:
    errors: list[BaseException] = []
    statuses: list[int] = []
    start = threading.Barrier(20)

    def client() -> None:
        start.wait()
        for _ in range(10):  # a fresh connection each time, as a polling browser tab may
            try:
                statuses.append(request(server, "POST", "/api/list_jobs", b"{}")[0])
            except OSError as err:
                errors.append(err)

    threads = [threading.Thread(target=client) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert statuses == [200] * 200


def test_method_and_token_rules(server: ApiServer) -> None:
    # ?token= counts on GET /api/file only.
    assert request(server, "POST", f"/api/list_jobs?token={server.token}", b"{}", token=None)[0] == 401
    assert request(server, "GET", f"/api/list_jobs?token={server.token}", token=None)[0] == 401
    status, body = request(server, "GET", "/api/list_jobs")
    assert status == 405 and json.loads(body)["code"] == "invalid_request"
    status, body = request(server, "POST", "/api/no_such_method", b"{}")
    assert status == 404 and json.loads(body)["code"] == "not_found"
    status, body = request(server, "POST", "/api/list_jobs", b"not json")
    assert status == 400 and json.loads(body)["code"] == "invalid_request"
    assert request(server, "POST", "/index.html", b"{}", token=None)[0] == 404


def test_static_ui_stays_in_its_folder(server: ApiServer, tmp_path: Path) -> None:
    (tmp_path / "ui" / "app.js").write_text("export {};")
    (tmp_path / "ui" / "leak.txt").symlink_to(tmp_path / "root")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (tmp_path / "ui" / "secret.txt").symlink_to(secret)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "/app.js", headers={"Host": f"127.0.0.1:{server.port}"})
    response = conn.getresponse()
    assert response.status == 200 and response.read() == b"export {};"
    assert response.getheader("Content-Type", "").startswith("text/javascript")
    assert response.getheader("Cache-Control") == "no-store"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert request(server, "GET", "/secret.txt", token=None)[0] == 404
    assert request(server, "GET", "/leak.txt", token=None)[0] == 404
    assert request(server, "GET", "/%2e%2e/secret.txt", token=None)[0] == 404
