"""The desktop window: time to first paint, time until the UI is live, idle memory of the process tree.

Every run is a fresh process on its own Xvfb server (`-fbdir`, so the screen is read from a file
without X round-trips). Figures, all from the parent's `Popen` call:

- **paint s**: the loading page is on screen: the framebuffer shows ≥ 150 pixels of the page's accent
  colour (the "pix" of the logo and the progress bar; the window's own background has the page's
  background colour, so that cannot be the signal). Polled every 20 ms.
- **UI s** (pixup only): the UI has called the bridge (`bridge call` in PIXUP_HOME/logs/pixup.log).
- **PSS MB**: /proc/<pid>/smaps_rollup `Pss` summed over the process and every descendant
  (QtWebEngine's zygotes and renderer, WebKitGTK's web and network processes), median of 3 samples
  taken 1 s apart after `--idle` seconds of idling. PSS splits shared pages between the processes
  that map them, so the sum counts each page once.
- **close s / rc**: SIGTERM → exit, and the exit code (pixup closes its window on SIGTERM; the bare
  windows here do the same), and whether any process of the tree outlived it.

Variants: bare pywebview windows showing pixup's own loading page (Qt with several Chromium flag
sets, GTK/WebKitGTK), and pixup itself (`python -m pixup`) with its default flags and with none.
The ratio column compares with "qt default" (bare pywebview + Qt, default flags) of the same run.

    PYTHONPATH=app .venv/bin/python benchmarks/bench_window.py              # 2 rounds, all variants
    PYTHONPATH=app .venv/bin/python benchmarks/bench_window.py --rounds 1 --variants "qt default,pixup"

GTK needs Debian's `python3-gi gir1.2-webkit2-4.1` (PyGObject does not build in the venv): its child
runs on /usr/bin/python3 with the venv's site-packages on PYTHONPATH. Needs Xvfb (scripts/system-deps.sh).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VENV_PY = ROOT / ".venv" / "bin" / "python"
SYSTEM_PY = Path("/usr/bin/python3")
ACCENT = (0x4F, 0x46, 0xE5)  # pages.py light accent (Tailwind indigo-600); Xvfb has no dark scheme
ACCENT_DARK = (0x63, 0x66, 0xF1)
PAINT_PIXELS = 150
SOFTWARE = (("QT_QUICK_BACKEND", "software"),)
SCREEN = (1280, 900)

STANDIN_UI = """<!doctype html><html><head><meta charset="utf-8"><title>pixup</title></head>
<body style="background:#fafafa"><h1>stand-in UI (ui/dist is not built)</h1><script>
function go() { window.pywebview.api.call('system_info', {}); }
if (window.pywebview && window.pywebview.api && window.pywebview.api.call) go();
else window.addEventListener('pywebviewready', go);
</script></body></html>"""


@dataclass(frozen=True)
class Variant:
    name: str
    kind: str  # "bare" or "pixup"
    gui: str = "qt"
    flags: str = ""
    env: tuple[tuple[str, str], ...] = ()


def _variants() -> list[Variant]:
    from pixup.desktop.window import DEFAULT_CHROMIUM_FLAGS, SOFTWARE_RENDERING_ENV

    ours = " ".join(DEFAULT_CHROMIUM_FLAGS)
    return [
        Variant("qt default", "bare"),
        Variant("qt single-process", "bare", flags="--single-process"),
        Variant("qt renderer-limit", "bare", flags="--renderer-process-limit=1 --process-per-site"),
        Variant("qt no-zygote", "bare", flags="--no-zygote"),
        Variant("qt disable-gpu", "bare", flags="--disable-gpu --disable-gpu-compositing"),
        Variant("qt small-heap", "bare", flags="--js-flags=--max-old-space-size=96 --disk-cache-size=1"),
        Variant("qt sw-quick", "bare", flags="--disable-gpu", env=SOFTWARE),
        Variant("qt sw-quick no-zygote", "bare", flags="--disable-gpu --no-zygote", env=SOFTWARE),
        Variant("qt sw-quick single", "bare", flags="--disable-gpu --single-process", env=SOFTWARE),
        Variant("qt pixup default", "bare", flags=ours, env=SOFTWARE_RENDERING_ENV),
        Variant("gtk webkit2gtk", "bare", gui="gtk"),
        Variant("pixup gpu", "pixup", flags="", env=(("PIXUP_WINDOW_GPU", "1"),)),
        Variant("pixup default", "pixup", flags=ours, env=SOFTWARE_RENDERING_ENV),
    ]


@dataclass
class Result:
    variant: str
    round: int
    paint_s: float | None = None
    ui_s: float | None = None
    pss_mb: float | None = None
    rss_mb: float | None = None
    processes: int = 0
    close_s: float | None = None
    rc: int | None = None
    leftover: int = 0
    error: str = ""
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- child: a bare window

def child_bare(gui: str) -> int:
    """A bare pywebview window showing pixup's loading page; SIGTERM closes it."""
    sys.path.insert(0, str(ROOT / "app"))
    import webview

    from pixup.desktop.pages import BACKGROUND_LIGHT, LOADING_HTML

    window = webview.create_window("bare", html=LOADING_HTML, width=1200, height=800,
                                   background_color=BACKGROUND_LIGHT)
    assert window is not None
    signal.signal(signal.SIGTERM, lambda *_: window.destroy())
    webview.start(gui=gui)  # type: ignore[arg-type]
    return 0


# ---------------------------------------------------------------------------- parent: measuring

class Xvfb:
    def __init__(self, fbdir: Path) -> None:
        read_fd, write_fd = os.pipe()
        self.fbdir = fbdir
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
             "-fbdir", str(fbdir), "-nolisten", "tcp"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            self.display = ":" + pipe.readline().strip()
        self.fb = fbdir / "Xvfb_screen0"

    def frame(self) -> np.ndarray:
        """The screen now, as H×W×3 uint8 RGB (read from the framebuffer file, no X round-trip)."""
        import numpy as np

        data = self.fb.read_bytes()
        fields = struct.unpack_from(">25I", data)
        header, height, order, bpp, stride, ncolors = (fields[0], fields[5], fields[7], fields[11],
                                                       fields[12], fields[19])
        start = header + ncolors * 12
        px = bpp // 8
        rows = np.frombuffer(data, np.uint8, stride * height, start).reshape(height, stride)
        pixels = rows[:, : (stride // px) * px].reshape(height, -1, px)
        # LSBFirst (0): B, G, R[, X]
        channels = [2, 1, 0] if order == 0 else [px - 3, px - 2, px - 1]
        return pixels[..., channels]

    def accent_pixels(self) -> int:
        import numpy as np

        rgb = self.frame()
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        count = 0
        for cr, cg, cb in (ACCENT, ACCENT_DARK):
            near = ((np.abs(r.astype(np.int16) - cr) < 10) & (np.abs(g.astype(np.int16) - cg) < 10)
                    & (np.abs(b.astype(np.int16) - cb) < 10))
            count = max(count, int(near.sum()))
        return count

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc, so no psutil needed in the parent)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_memory(pid: int) -> tuple[float, float, int]:
    """(PSS MB, RSS MB, process count) summed over the tree."""
    pss = rss = 0
    count = 0
    for member in tree(pid):
        try:
            text = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:
            continue
        count += 1
        pss += int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))  # type: ignore[union-attr]
        rss += int(re.search(r"^Rss:\s+(\d+)", text, re.M).group(1))  # type: ignore[union-attr]
    return pss / 1024, rss / 1024, count


def run_once(variant: Variant, round_no: int, idle: float, timeout: float, ui_dir: Path | None) -> Result:
    result = Result(variant.name, round_no)
    with tempfile.TemporaryDirectory(prefix="pixup-benchwin-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "fb").mkdir()
        xvfb = Xvfb(tmp / "fb")
        env = dict(os.environ, DISPLAY=xvfb.display, PIXUP_HOME=str(tmp / "home"))
        env.pop("WAYLAND_DISPLAY", None)
        env.pop("QTWEBENGINE_CHROMIUM_FLAGS", None)
        env.update(variant.env)
        log_path = tmp / "home" / "logs" / "pixup.log"
        if variant.kind == "pixup":
            env["PIXUP_CHROMIUM_FLAGS"] = variant.flags
            env["PYTHONPATH"] = str(ROOT / "app")
            if ui_dir is not None:
                env["PIXUP_UI_DIR"] = str(ui_dir)
            cmd = [str(VENV_PY), "-m", "pixup"]
        else:
            flags = shlex.split(variant.flags)
            if os.geteuid() == 0:
                flags.append("--no-sandbox")
            env["QTWEBENGINE_CHROMIUM_FLAGS"] = " ".join(flags)
            env["QT_API"] = "pyside6"
            python = VENV_PY
            if variant.gui == "gtk":
                if not SYSTEM_PY.exists():
                    result.error = "no /usr/bin/python3 for PyGObject"
                    xvfb.close()
                    return result
                python = SYSTEM_PY
                site = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"))
                env["PYTHONPATH"] = f"{site}:{ROOT / 'app'}"
            cmd = [str(python), str(Path(__file__).resolve()), "--child-bare", variant.gui]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            deadline = t0 + timeout
            while time.monotonic() < deadline and proc.poll() is None:
                now = time.monotonic() - t0
                if result.paint_s is None:
                    try:
                        if xvfb.accent_pixels() >= PAINT_PIXELS:
                            result.paint_s = now
                    except (OSError, struct.error, ValueError):
                        pass
                if (variant.kind == "pixup" and result.ui_s is None and log_path.exists()
                        and "bridge call" in log_path.read_text(errors="replace")):
                    result.ui_s = now
                if result.paint_s is not None and (variant.kind == "bare" or result.ui_s is not None):
                    break
                time.sleep(0.02)
            if proc.poll() is not None:
                result.error = f"exited early rc={proc.returncode}: " + _tail(proc)
                return result
            if result.paint_s is None or (variant.kind == "pixup" and result.ui_s is None):
                result.error = f"not ready after {timeout:.0f} s"
            time.sleep(idle)
            samples = []
            for _ in range(3):
                samples.append(tree_memory(proc.pid))
                time.sleep(1.0)
            result.pss_mb = statistics.median(s[0] for s in samples)
            result.rss_mb = statistics.median(s[1] for s in samples)
            result.processes = max(s[2] for s in samples)
            members = tree(proc.pid)
            t1 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                result.rc = proc.wait(30)
                result.close_s = time.monotonic() - t1
            except subprocess.TimeoutExpired:
                result.error = "did not exit within 30 s of SIGTERM"
            time.sleep(0.3)
            result.leftover = sum(1 for m in members if Path(f"/proc/{m}").exists()
                                  and "zombie" not in _state(m))
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            else:
                with contextlib.suppress(ProcessLookupError):  # anything left in its session
                    os.killpg(proc.pid, signal.SIGKILL)
            xvfb.close()
    return result


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0]
    except (OSError, IndexError):
        return "zombie"


def _tail(proc: subprocess.Popen[bytes]) -> str:
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "—" if value is None else format(value, spec)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before memory is read")
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--variants", help="comma-separated names (default: all)")
    parser.add_argument("--json", action="store_true", help="one JSON line with every run")
    parser.add_argument("--child-bare", metavar="GUI", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_bare:
        return child_bare(args.child_bare)

    sys.path.insert(0, str(ROOT / "app"))
    variants = _variants()
    if args.variants:
        wanted = [v.strip() for v in args.variants.split(",")]
        variants = [v for v in variants if v.name in wanted]
    ui_dir: Path | None = None
    notes = []
    if not (ROOT / "ui" / "dist" / "index.html").is_file():
        standin = Path(tempfile.mkdtemp(prefix="pixup-standin-ui-"))
        (standin / "index.html").write_text(STANDIN_UI)
        ui_dir = standin
        notes.append("ui/dist is not built: pixup variants load a stand-in page that calls system_info")
    results: list[Result] = []
    for round_no in range(1, args.rounds + 1):  # interleaved: slow spells hit every variant alike
        for variant in variants:
            print(f"round {round_no}: {variant.name} …", file=sys.stderr, flush=True)
            result = run_once(variant, round_no, args.idle, args.timeout, ui_dir)
            if result.error:
                print(f"  {result.error}", file=sys.stderr)
            results.append(result)

    by_name: dict[str, list[Result]] = {}
    for r in results:
        by_name.setdefault(r.variant, []).append(r)

    def med(rs: list[Result], key: str) -> float | None:
        values = [getattr(r, key) for r in rs if getattr(r, key) is not None and not r.error]
        return statistics.median(values) if values else None

    base = med(by_name.get("qt default", []), "pss_mb")
    print(f"\nload average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, Xvfb {SCREEN[0]}x{SCREEN[1]}x24, "
          f"{args.rounds} round(s), median shown; idle {args.idle:.0f} s before memory")
    header = (f"{'variant':<20} {'paint s':>8} {'UI s':>6} {'PSS MB':>7} {'×base':>6} {'RSS MB':>7} "
              f"{'procs':>5} {'close s':>7} {'rc':>3} {'left':>4}  flags")
    print(header)
    print("-" * len(header))
    for variant in variants:
        rs = by_name.get(variant.name, [])
        pss = med(rs, "pss_mb")
        ratio = f"{pss / base:.2f}" if pss is not None and base else "—"
        rcs = {r.rc for r in rs}
        rc = str(rcs.pop()) if len(rcs) == 1 else ",".join(str(x) for x in sorted(rcs, key=str))
        errors = sorted({r.error for r in rs if r.error})
        flags = variant.flags or ("(gtk)" if variant.gui == "gtk" else "(none)")
        flags += "".join(f" {k}={v}" for k, v in variant.env)
        print(f"{variant.name:<20} {_fmt(med(rs, 'paint_s')):>8} {_fmt(med(rs, 'ui_s')):>6} "
              f"{_fmt(pss, '.0f'):>7} {ratio:>6} {_fmt(med(rs, 'rss_mb'), '.0f'):>7} "
              f"{max((r.processes for r in rs), default=0):>5} {_fmt(med(rs, 'close_s')):>7} {rc:>3} "
              f"{max((r.leftover for r in rs), default=0):>4}  {flags}")
        for error in errors:
            print(f"{'':<20} error: {error}")
    for note in notes:
        print(f"note: {note}")
    if args.json:
        print(json.dumps({"runs": [asdict(r) for r in results], "notes": notes}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
