"""End to end in Debian's chromium, driven by Playwright, against `pixup serve` with the real engine
and the bundled default model: add two images, start, watch progress, cancel one, see the other
finish, compare and zoom, find the file on disk; the token and root rules hold for the browser too.

Screenshots go to `test-results/e2e/` (looked at by people; the assertions are on the DOM and disk).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.program import pixup_command, pixup_env

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-results" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def photo(path: Path, width: int, height: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 / width, yy * 255 / height, (xx // 16 + yy // 16) % 2 * 200], axis=-1)
    Image.fromarray(np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp("home")
    out = tmp_path_factory.mktemp("out")
    uploads_before = set(Path(tempfile.gettempdir()).glob("pixup-uploads-*"))
    env = pixup_env(PIXUP_HOME=str(home))
    proc = subprocess.Popen(
        [*pixup_command(), "serve", "--no-browser", "--port", "0", "--output", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else url
    yield url, out
    proc.terminate()
    assert proc.wait(30) == 0  # SIGTERM stops the server like Ctrl-C
    left = set(Path(tempfile.gettempdir()).glob("pixup-uploads-*")) - uploads_before
    left = {folder for folder in left if not _owner_alive(folder)}  # another pixup on this machine
    assert left == set(), "the uploaded copies outlived the server"


def _owner_alive(folder: Path) -> bool:
    """True when the folder ("pixup-uploads-PID-...") belongs to a process still running: not the
    server under test, which has exited, but another pixup started meanwhile on a shared machine."""
    import psutil

    pid = folder.name.removeprefix("pixup-uploads-").split("-", 1)[0]
    return pid.isdigit() and psutil.pid_exists(int(pid))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        made = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield made
        made.close()


def test_two_images_progress_cancel_one_compare_and_zoom(
    served: tuple[str, Path], browser: object, tmp_path: Path
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    url, out = served
    big = photo(tmp_path / "big.png", 1024, 768, seed=1)  # several tiles: long enough to cancel
    small = photo(tmp_path / "small.png", 96, 80, seed=2)
    SHOTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    page = browser.new_page(viewport={"width": 1280, "height": 860})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(url)
    expect(page.get_by_test_id("dropzone")).to_be_visible(timeout=30_000)
    page.get_by_test_id("file-input").set_input_files([str(big), str(small)])
    start = page.get_by_test_id("start")
    expect(start).to_be_enabled(timeout=30_000)
    page.screenshot(path=str(SHOTS / "1-added.png"))
    start.click()

    rows = page.get_by_test_id("file-row")
    expect(rows).to_have_count(2, timeout=30_000)
    first, second = rows.nth(0), rows.nth(1)
    expect(first).to_contain_text("big.png")
    # Progress advances on the big file: its bar moves above zero while it runs.
    expect(first).to_have_attribute("data-status", "running", timeout=120_000)
    bar = first.get_by_test_id("progress")
    page.wait_for_function(
        "el => Number(el.getAttribute('aria-valuenow')) > 0", arg=bar.element_handle(), timeout=120_000
    )
    page.wait_for_timeout(300)  # the bar's width transition, so the screenshot shows the progress reported
    page.screenshot(path=str(SHOTS / "2-running.png"))
    first.get_by_test_id("cancel-file").click()
    expect(first).to_have_attribute("data-status", "cancelled", timeout=10_000)
    expect(second).to_have_attribute("data-status", "done", timeout=180_000)
    page.wait_for_timeout(400)  # the bar's 200 ms width transition, so the screenshot shows it full
    page.screenshot(path=str(SHOTS / "3-done.png"))

    # On disk: the small one, 4× by the bundled default model; nothing of the cancelled one.
    names = sorted(p.name for p in out.iterdir())
    assert names == ["small_pixup_4x.png"], names
    assert Image.open(out / "small_pixup_4x.png").size == (384, 320)

    # Compare before/after, then zoom with the wheel over the image.
    second.click()
    compare = page.get_by_test_id("compare")
    expect(compare).to_be_visible(timeout=10_000)
    after = page.get_by_test_id("compare-after")
    expect(after).to_be_visible()
    page.wait_for_function("el => el.naturalWidth === 384", arg=after.element_handle(), timeout=30_000)
    zoom = page.get_by_test_id("zoom-level")
    before_zoom = zoom.inner_text()
    box = compare.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    expect(zoom).not_to_have_text(before_zoom, timeout=5_000)
    page.screenshot(path=str(SHOTS / "4-compare-zoomed.png"))
    assert errors == []
    print(f"e2e run: {time.monotonic() - started:.1f} s")


def test_a_broken_file_fails_alone_with_one_line_in_a_narrow_window(
    served: tuple[str, Path], browser: object, tmp_path: Path
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    url, out = served
    broken = tmp_path / "holiday.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8)  # a PNG signature, then junk
    good = photo(tmp_path / "fine.png", 64, 48, seed=3)
    SHOTS.mkdir(parents=True, exist_ok=True)

    page = browser.new_page(viewport={"width": 640, "height": 860})
    page.goto(url)
    expect(page.get_by_test_id("dropzone")).to_be_visible(timeout=30_000)
    page.get_by_test_id("file-input").set_input_files([str(broken), str(good)])
    start = page.get_by_test_id("start")
    expect(start).to_be_enabled(timeout=30_000)
    start.click()
    rows = page.get_by_test_id("file-row")
    failed = rows.filter(has_text="holiday.png")
    done = rows.filter(has_text="fine.png")
    expect(failed).to_have_attribute("data-status", "failed", timeout=120_000)
    expect(done).to_have_attribute("data-status", "done", timeout=120_000)
    error = failed.get_by_test_id("file-error")
    expect(error).to_contain_text("damaged")  # the row names the file; its error line does not
    text = error.inner_text()
    assert "\n" not in text.strip() and "Traceback" not in text and "pixup-uploads" not in text
    assert "holiday.png" not in text
    toast = page.get_by_test_id("toast").filter(has_text="damaged")
    expect(toast).to_be_visible(timeout=10_000)
    assert toast.inner_text().count("holiday.png") == 1  # not "holiday.png: holiday.png: ..."
    # At 640 px the queue keeps the file names readable (the settings stack above it).
    name = failed.get_by_test_id("file-name")
    assert name.bounding_box() is not None and name.bounding_box()["width"] > 40  # type: ignore[index]
    page.wait_for_timeout(400)
    page.screenshot(path=str(SHOTS / "5-narrow-failed.png"), full_page=True)
    assert not any(p.name.startswith("holiday") for p in out.rglob("*"))  # nothing partial for it
    page.close()


def test_browser_cannot_skip_the_token_or_leave_the_roots(served: tuple[str, Path], browser: object) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    url, _ = served
    base, token = url.split("/?token=")
    context = browser.new_context()
    try:
        anonymous = context.request.post(f"{base}/api/list_jobs", data="{}")
        assert anonymous.status == 401
        authorised = context.request.post(f"{base}/api/list_jobs", data="{}",
                                          headers={"Authorization": f"Bearer {token}"})
        assert authorised.status == 200
        outside = context.request.get(f"{base}/api/file?path=/etc/passwd&token={token}")
        assert outside.status == 404
        sneaky = context.request.get(f"{base}/api/file?path=/tmp/../etc/passwd&token={token}")
        assert sneaky.status == 404
    finally:
        context.close()
