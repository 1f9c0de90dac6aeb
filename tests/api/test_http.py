"""pixup serve's HTTP rules: token, Host header, roots, uploads; the bridge behind it."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixup.api.bridge import Api
from pixup.api.http import ApiServer


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
