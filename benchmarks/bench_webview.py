"""Linux web view: pixup's real window on Qt WebEngine against WebKitGTK (issue 14, "installers").

Every run is `python -m pixup` (the real UI, a fresh PIXUP_HOME) on its own Xvfb server (`-fbdir`,
1280×900×24), backends alternating round by round. Times are from the parent's `Popen`:

- **paint s**: the loading page is on screen (≥ 150 pixels of its accent colour; bench_window.py).
- **UI live s**: the UI has called the bridge (`bridge call` in PIXUP_HOME/logs/pixup.log).
- **UI drawn s**: the UI is on screen: the window's left column (the UI's settings sidebar; the loading
  page is plain background there) holds ≥ 2000 pixels away from its main colour.
- **PSS MB**: /proc/PID/smaps_rollup `Pss` summed over the process tree (QtWebEngine's zygotes and
  renderer; WebKitGTK's web and network processes), median of samples at 20, 21 and 22 s after start,
  window open and idle. PSS splits a shared page among every process on the machine that maps it, so
  another program using the same libraries (a second pixup, a test) lowers it: **USS MB** (the
  tree's private pages) does not move with that; RSS counts a page once per process that maps it.
  **idle CPU %**: the tree's CPU time over those 2 s (the UI polls the system panel every 2 s).
- **close s / rc / left**: SIGTERM → exit, exit code, processes of the tree that outlived it.

Variants: `qt` and `gtk` with pixup's defaults (software rendering: no GL in Qt, no GL compositor in
WebKitGTK), `qt gpu` and `gtk gpu` with PIXUP_WINDOW_GPU=1 (each engine's own defaults). The log's
renderer line is checked: pywebview falls back to the other backend when one cannot load.

Disk: what each backend needs on top of the rest of pixup. Qt: the PySide6 and shiboken6 wheels (and
QtPy) in the Qt interpreter's environment, from their RECORD files, with the Qt WebEngine part on its
own line. WebKitGTK: the installed size (dpkg `Installed-Size`) of the Debian packages that webkit2gtk,
GTK 3 and their typelibs pull in (Depends and Pre-Depends, recursively) and that neither Debian's
required/important packages nor the Qt window's own system libraries (scripts/system-deps.sh, test
tools left out) already bring; python3-gi (PyGObject for Debian's Python) on its own line. "mapped"
is the size of those files the running window actually mapped (shared libraries, Chromium's .pak and
ICU data): roughly what a standalone build must carry.

    PYTHONPATH=app PIXUP_UI_DIR=ui/dist .venv/bin/python benchmarks/bench_webview.py --drop   # 3 rounds
    ... bench_webview.py --variants qt --program build/out/linux/pixup/pixup.bin   # + the built app

`--program` adds the variant `app`: the Nuitka-built program (build/build.py) on Qt WebEngine with its
own UI, PATH=/usr/bin:/bin and no Python variables, against `qt` (the source tree) in the same run.
    ... bench_webview.py --rounds 2 --variants qt,gtk --json

`--drop` then drags an image and a folder from a GTK drag source onto each backend's window with
xdotool (`apt-get install xdotool`) and says whether pixup got the paths and the UI stayed.

The GTK runs need an interpreter with PyGObject: Debian's python3-gi is built for /usr/bin/python3, so
`/usr/bin/python3 -m venv --system-site-packages .venv-gtk && .venv-gtk/bin/pip install -e .` (with
`apt-get install python3-gi gir1.2-webkit2-4.1 python3-venv`); `--gtk-python` names another one.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench_window import SCREEN, Xvfb, tree

ROOT = Path(__file__).resolve().parents[1]
IDLE_AT = (20.0, 21.0, 22.0)  # seconds after start at which memory is sampled
PAINT_PIXELS = 150
UI_PIXELS = 2000
SIDEBAR = (slice(120, 780), slice(48, 330))  # rows, columns of the UI's left column on a 1280×900 screen
RENDERERS = {"qt": "qtwebengine", "gtk": "gtkwebkit2"}
CLK_TCK = os.sysconf("SC_CLK_TCK")

QT_DISTS = ("pyside6", "pyside6-essentials", "pyside6-addons", "pyside6-webengine", "pyside6-pdf",
            "shiboken6", "qtpy")
GTK_ROOTS = ("libwebkit2gtk-4.1-0", "gir1.2-webkit2-4.1", "gir1.2-gtk-3.0", "libgirepository-1.0-1")
PYGOBJECT_ROOTS = ("python3-gi",)
TEST_TOOLS = {"xvfb", "xauth", "x11-apps", "chromium", "nsis"}  # system-deps.sh installs them for tests


@dataclass(frozen=True)
class Variant:
    name: str
    backend: str  # PIXUP_WEBVIEW
    env: tuple[tuple[str, str], ...] = ()
    built: bool = False  # the standalone program given by --program, not `python -m pixup`


VARIANTS = (
    Variant("qt", "qt"),
    Variant("gtk", "gtk"),
    Variant("qt gpu", "qt", (("PIXUP_WINDOW_GPU", "1"),)),
    Variant("gtk gpu", "gtk", (("PIXUP_WINDOW_GPU", "1"),)),
)


@dataclass
class Run:
    variant: str
    round: int
    paint_s: float | None = None
    ui_live_s: float | None = None
    ui_drawn_s: float | None = None
    pss_mb: float | None = None
    rss_mb: float | None = None
    uss_mb: float | None = None
    idle_cpu_pct: float | None = None
    processes: int = 0
    close_s: float | None = None
    rc: int | None = None
    left: int = 0
    renderer: str = ""
    error: str = ""
    mapped: list[str] = field(default_factory=list, repr=False)


# ------------------------------------------------------------------------------------------ one run

def ui_pixels(xvfb: Xvfb) -> int:
    """Pixels of the UI's left column that differ from its main colour (0 for the loading page)."""
    import numpy as np

    region = xvfb.frame()[SIDEBAR].reshape(-1, 3).astype(np.int32)
    packed = region[:, 0] << 16 | region[:, 1] << 8 | region[:, 2]
    values, counts = np.unique(packed, return_counts=True)
    main = values[counts.argmax()]
    main_rgb = np.array([main >> 16, (main >> 8) & 0xFF, main & 0xFF])
    return int((np.abs(region - main_rgb).max(axis=1) > 24).sum())


def tree_memory(pid: int) -> tuple[float, float, float, int]:
    """(PSS, RSS, USS) in MB summed over the process tree, and its process count."""
    totals = {"Pss": 0, "Rss": 0, "Private_Clean": 0, "Private_Dirty": 0}
    count = 0
    for member in tree(pid):
        try:
            text = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:
            continue
        count += 1
        for key in totals:
            found = re.search(rf"^{key}:\s+(\d+)", text, re.M)
            totals[key] += int(found.group(1)) if found else 0
    uss = totals["Private_Clean"] + totals["Private_Dirty"]
    return totals["Pss"] / 1024, totals["Rss"] / 1024, uss / 1024, count


def tree_cpu_s(pids: Iterable[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def mapped_files(pids: Iterable[int]) -> set[str]:
    found: set[str] = set()
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].startswith("/") and not parts[5].endswith("(deleted)"):
                found.add(os.path.realpath(parts[5]))
    return found


def run_once(variant: Variant, round_no: int, python: Path, ui: Path, timeout: float,
             program: Path | None = None) -> Run:
    run = Run(variant.name, round_no)
    with tempfile.TemporaryDirectory(prefix="pixup-benchwv-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "fb").mkdir()
        xvfb = Xvfb(tmp / "fb")
        env = dict(os.environ, DISPLAY=xvfb.display, PIXUP_HOME=str(tmp / "home"), PIXUP_UI_DIR=str(ui),
                   PIXUP_WEBVIEW=variant.backend, PYTHONPATH=str(ROOT / "app"))
        for name in ("WAYLAND_DISPLAY", "PIXUP_WINDOW_GPU", "QTWEBENGINE_CHROMIUM_FLAGS"):
            env.pop(name, None)
        env.update(variant.env)
        cmd = [str(python), "-m", "pixup"]
        if variant.built and program is not None:
            # As a user runs it: its own UI and libraries, nothing of the venv.
            for name in ("PYTHONPATH", "PIXUP_UI_DIR", "VIRTUAL_ENV", "PYTHONHOME"):
                env.pop(name, None)
            env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
            cmd = [str(program)]
        log_path = tmp / "home" / "logs" / "pixup.log"
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            while time.monotonic() < t0 + timeout and proc.poll() is None:
                now = time.monotonic() - t0
                with contextlib.suppress(OSError, struct.error, ValueError):
                    if run.paint_s is None and xvfb.accent_pixels() >= PAINT_PIXELS:
                        run.paint_s = now
                    if (run.ui_live_s is None and log_path.exists()
                            and "bridge call" in log_path.read_text(errors="replace")):
                        run.ui_live_s = now
                    if run.ui_live_s is not None and ui_pixels(xvfb) >= UI_PIXELS:
                        run.ui_drawn_s = now
                        break
                time.sleep(0.03)
            if proc.poll() is not None:
                run.error = f"exited early rc={proc.returncode}: {_last_line(proc)}"
                return run
            if run.ui_drawn_s is None:
                run.error = f"UI not on screen after {timeout:.0f} s"
            samples = []
            cpu: list[float] = []
            for at in IDLE_AT:
                time.sleep(max(0.0, t0 + at - time.monotonic()))
                members = tree(proc.pid)
                samples.append(tree_memory(proc.pid))
                cpu.append(tree_cpu_s(members))
                if not run.mapped:
                    run.mapped = sorted(mapped_files(members))
            run.pss_mb = statistics.median(s[0] for s in samples)
            run.rss_mb = statistics.median(s[1] for s in samples)
            run.uss_mb = statistics.median(s[2] for s in samples)
            run.processes = max(s[3] for s in samples)
            run.idle_cpu_pct = 100 * (cpu[-1] - cpu[0]) / (IDLE_AT[-1] - IDLE_AT[0])
            log_text = log_path.read_text(errors="replace") if log_path.exists() else ""
            shown = re.search(r"window shown after [\d.]+ s \((\w+)\)", log_text)
            run.renderer = shown.group(1) if shown else "?"
            if run.renderer != RENDERERS[variant.backend]:
                run.error = f"asked for {variant.backend}, ran on {run.renderer}"
            members = tree(proc.pid)
            t1 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                run.rc = proc.wait(30)
                run.close_s = time.monotonic() - t1
            except subprocess.TimeoutExpired:
                run.error = "did not exit within 30 s of SIGTERM"
            time.sleep(0.3)
            run.left = sum(1 for m in members if _alive(m))
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            else:
                with contextlib.suppress(ProcessLookupError):  # anything left in its session
                    os.killpg(proc.pid, signal.SIGKILL)
            xvfb.close()
    return run


def _alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _last_line(proc: subprocess.Popen[bytes]) -> str:
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


# ------------------------------------------------------------------------------------------ drop

# A GTK 3 drag source that offers files as file managers do over XDND (text/uri-list), top-left of the
# screen, clear of the pixup window.
DRAG_SOURCE = """
import sys
from pathlib import Path
import gi
gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, Gtk
uris = [Path(p).resolve().as_uri() for p in sys.argv[1:]]
win = Gtk.Window(type=Gtk.WindowType.POPUP)
win.move(0, 0)
box = Gtk.EventBox()
box.add(Gtk.Label(label="drag"))
win.add(box)
box.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [Gtk.TargetEntry.new("text/uri-list", 0, 0)],
                    Gdk.DragAction.COPY)
box.connect("drag-data-get", lambda w, c, data, i, t: data.set_uris(uris))
box.connect("drag-end", lambda *args: print("drag-end", flush=True))
win.show_all()
Gtk.main()
"""
# xdotool steps: press on the source, move in small steps (GTK starts a drag after 8 px), release on
# the UI's drop zone.
DRAG_PATH = ("mousemove 15 10 mousedown 1 sleep 0.2 mousemove 25 20 sleep 0.2 mousemove 300 150 sleep 0.2 "
             "mousemove 790 185 sleep 0.4 mousemove 800 190 sleep 0.4 mouseup 1")


def drop_check(backend: str, python: Path, gtk_python: Path, ui: Path, timeout: float) -> str:
    """Drag an image and a folder from another X client onto the window: did pixup get both paths, and
    is the UI still on screen (a drop the page does not cancel makes the web view open the file)?"""
    with tempfile.TemporaryDirectory(prefix="pixup-benchdrop-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "fb").mkdir()
        (tmp / "in" / "a folder").mkdir(parents=True)
        image = tmp / "in" / "b c ü.png"
        image.write_bytes((ROOT / "samples" / "astronaut-256.png").read_bytes())
        xvfb = Xvfb(tmp / "fb")
        env = dict(os.environ, DISPLAY=xvfb.display, PIXUP_HOME=str(tmp / "home"), PIXUP_UI_DIR=str(ui),
                   PIXUP_WEBVIEW=backend, PYTHONPATH=str(ROOT / "app"))
        env.pop("WAYLAND_DISPLAY", None)
        log_path = tmp / "home" / "logs" / "pixup.log"
        procs = [subprocess.Popen([str(python), "-m", "pixup"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)]
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and procs[0].poll() is None:
                with contextlib.suppress(OSError, struct.error, ValueError):
                    if ui_pixels(xvfb) >= UI_PIXELS:
                        break
                time.sleep(0.2)
            else:
                return "UI never on screen"
            time.sleep(1.0)
            source = [str(gtk_python), "-c", DRAG_SOURCE, str(image), str(tmp / "in" / "a folder")]
            source_out = tmp / "source.out"
            with source_out.open("w") as out:
                procs.append(subprocess.Popen(source, env=env, stdout=out, stderr=subprocess.DEVNULL))
            time.sleep(2.0)
            subprocess.run(["xdotool", *DRAG_PATH.split()], env=env, check=True, timeout=30)
            found = None
            gone = False
            deadline = time.monotonic() + 8.0  # pixup logs the drop, or the web view opens the file
            while time.monotonic() < deadline and not (found or gone):
                time.sleep(0.25)
                text = log_path.read_text(errors="replace") if log_path.exists() else ""
                found = re.search(r"drop: (\d+) path", text)
                with contextlib.suppress(OSError, struct.error, ValueError):
                    gone = ui_pixels(xvfb) < UI_PIXELS
            paths = f"{found.group(1)} path(s)" if found else "no paths"
            kept = "UI gone (the web view opened the file)" if gone else "UI kept"
            ended = "" if "drag-end" in source_out.read_text() else " (the drag never ended: retry)"
            return f"{paths}, {kept}{ended}"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(procs[0].pid, signal.SIGKILL)  # pixup and its web engine processes
            for proc in procs:
                proc.kill()
                proc.wait()
            xvfb.close()


# ------------------------------------------------------------------------------------------ disk

@dataclass
class DiskPart:
    label: str
    mb: float
    mapped_mb: float | None = None
    detail: str = ""


def site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True, timeout=60)
    return Path(out.stdout.strip())


def qt_files(python: Path) -> tuple[dict[str, list[Path]], list[str]]:
    """Files of the Qt wheels in `python`'s environment, by distribution (from each RECORD)."""
    site = site_packages(python)
    by_dist: dict[str, list[Path]] = {}
    versions = []
    for info in site.glob("*.dist-info"):
        name_version = info.name.removesuffix(".dist-info")
        name = re.sub(r"[-_.]+", "-", name_version.rsplit("-", 1)[0]).lower()
        if name not in QT_DISTS or not (info / "RECORD").is_file():
            continue
        versions.append(name_version)
        with (info / "RECORD").open(newline="") as record:
            by_dist[name] = [(site / row[0]).resolve() for row in csv.reader(record) if row]
    return by_dist, sorted(versions)


def _size(paths: Iterable[Path | str]) -> int:
    total = 0
    for path in set(map(str, paths)):
        with contextlib.suppress(OSError):
            total += os.stat(path).st_size
    return total


@dataclass
class DebPackage:
    name: str
    kib: int
    depends: list[list[str]]  # alternatives


def installed_packages() -> tuple[dict[str, DebPackage], dict[str, str]]:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\t${Installed-Size}\t${Provides}\t"
         "${Pre-Depends}\t${Depends}\n"],
        capture_output=True, text=True, check=True, timeout=60).stdout
    packages: dict[str, DebPackage] = {}
    provides: dict[str, str] = {}
    for line in out.splitlines():
        name, status, size, provided, pre, dep = (line.split("\t") + [""] * 6)[:6]
        if not status.startswith("ii"):
            continue
        alternatives = []
        for clause in f"{pre},{dep}".split(","):
            names = [_dep_name(alt) for alt in clause.split("|") if alt.strip()]
            if names:
                alternatives.append(names)
        packages[name] = DebPackage(name, int(size or 0), alternatives)
        for item in provided.split(","):
            if item.strip():
                provides.setdefault(_dep_name(item), name)
    return packages, provides


def _dep_name(text: str) -> str:
    return text.strip().split(" ", 1)[0].split("(", 1)[0].split(":", 1)[0].strip()


def closure(roots: Iterable[str], packages: dict[str, DebPackage], provides: dict[str, str]) -> set[str]:
    """Installed packages that `roots` need through Depends/Pre-Depends (first installed alternative)."""
    found: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        name = name if name in packages else provides.get(name, "")
        if not name or name in found:
            continue
        found.add(name)
        for alternatives in packages[name].depends:
            chosen = next((a for a in alternatives if a in packages or a in provides), None)
            if chosen:
                todo.append(chosen)
    return found


def system_deps_packages() -> list[str]:
    """The packages scripts/system-deps.sh lists (the Qt window's system libraries and test tools)."""
    text = (ROOT / "scripts" / "system-deps.sh").read_text()
    body = re.search(r"PACKAGES=\((.*?)\n\)", text, re.S)
    if body is None:
        return []
    return [word for line in body.group(1).splitlines() for word in line.split("#", 1)[0].split()]


def package_files(names: Iterable[str]) -> set[str]:
    info = Path("/var/lib/dpkg/info")
    files: set[str] = set()
    for name in names:
        for listing in [*info.glob(f"{name}.list"), *info.glob(f"{name}:*.list")]:
            files.update(os.path.realpath(line) for line in listing.read_text().splitlines() if line)
    return files


def disk_table(qt_python: Path, mapped: dict[str, set[str]]) -> tuple[list[DiskPart], list[str]]:
    notes: list[str] = []
    parts: list[DiskPart] = []
    by_dist, versions = qt_files(qt_python)
    qt_all = [p for files in by_dist.values() for p in files]
    webengine = [p for p in qt_all if "webengine" in str(p).lower()]
    qt_set = {str(p) for p in qt_all}
    qt_mapped = mapped.get("qt", set()) & qt_set
    seen = "qt" in mapped  # mapped sizes only where a window of that backend ran
    parts.append(DiskPart("qt: PySide6 + shiboken6 + QtPy wheels", _size(qt_all) / 2**20,
                          _size(qt_mapped) / 2**20 if seen else None, ", ".join(versions)))
    parts.append(DiskPart("qt:   of which Qt WebEngine files", _size(webengine) / 2**20,
                          _size(qt_mapped & {str(p) for p in webengine}) / 2**20 if seen else None))
    if not Path("/usr/bin/dpkg-query").exists():
        notes.append("no dpkg-query: the WebKitGTK sizes need Debian")
        return parts, notes
    packages, provides = installed_packages()
    missing = [name for name in (*GTK_ROOTS, *PYGOBJECT_ROOTS) if name not in packages]
    if missing:
        notes.append(f"not installed: {' '.join(missing)} (apt-get install python3-gi gir1.2-webkit2-4.1)")
    priority = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Priority}\n"], capture_output=True,
                              text=True, check=True, timeout=60).stdout
    base_roots = [line.split("\t")[0] for line in priority.splitlines()
                  if line.endswith(("\trequired", "\timportant"))]
    base_roots += [name for name in system_deps_packages() if name not in TEST_TOOLS]
    base = closure(base_roots, packages, provides)
    gtk = closure(GTK_ROOTS, packages, provides) - base
    gi = closure(PYGOBJECT_ROOTS, packages, provides) - base - gtk
    gtk_mapped = mapped.get("gtk", set()) & package_files(gtk)
    biggest = sorted(gtk, key=lambda n: -packages[n].kib)[:4]
    parts.append(DiskPart(f"gtk: webkit2gtk + GTK 3 + typelibs ({len(gtk)} .debs)",
                          sum(packages[n].kib for n in gtk) / 1024,
                          _size(gtk_mapped) / 2**20 if "gtk" in mapped else None,
                          ", ".join(f"{n} {packages[n].kib / 1024:.0f}" for n in biggest)))
    parts.append(DiskPart(f"gtk: + python3-gi for Debian's Python ({len(gi)} .debs)",
                          sum(packages[n].kib for n in gi) / 1024, None,
                          ", ".join(sorted(gi, key=lambda n: -packages[n].kib)[:4])))
    return parts, notes


# ------------------------------------------------------------------------------------------ report

def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "—" if value is None else format(value, spec)


def _med(runs: list[Run], key: str) -> float | None:
    values = [getattr(r, key) for r in runs if getattr(r, key) is not None and not r.error]
    return statistics.median(values) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(v.name for v in VARIANTS),
                        help="comma-separated, of: " + ", ".join(v.name for v in VARIANTS))
    default_qt = ROOT / ".venv" / "bin" / "python"
    parser.add_argument("--qt-python", type=Path,
                        default=default_qt if default_qt.exists() else Path(sys.executable))
    parser.add_argument("--gtk-python", type=Path, default=ROOT / ".venv-gtk" / "bin" / "python")
    parser.add_argument("--ui", type=Path, default=Path(os.environ.get("PIXUP_UI_DIR", ROOT / "ui" / "dist")))
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--drop", action="store_true",
                        help="also drop a file and a folder on each backend's window (needs xdotool)")
    parser.add_argument("--json", action="store_true", help="also one JSON line with every run")
    parser.add_argument("--program", type=Path, help="also run this built pixup (variant 'app')")
    args = parser.parse_args()
    if not (args.ui / "index.html").is_file():
        parser.error(f"the UI is not built: {args.ui / 'index.html'} is missing (npm run build in ui/)")
    wanted = [v.strip() for v in args.variants.split(",") if v.strip()]
    variants = [v for v in VARIANTS if v.name in wanted]
    program = args.program.absolute() if args.program else None
    if program is not None:
        variants.append(Variant("app", "qt", built=True))
    pythons = {"qt": args.qt_python.absolute(), "gtk": args.gtk_python.absolute()}

    runs: list[Run] = []
    for round_no in range(1, args.rounds + 1):
        # Alternate the order too: a slow spell on this shared machine should not always hit one backend.
        for variant in variants if round_no % 2 else variants[::-1]:
            print(f"round {round_no}: {variant.name} …", file=sys.stderr, flush=True)
            run = run_once(variant, round_no, pythons[variant.backend], args.ui.resolve(), args.timeout,
                           program)
            if run.error:
                print(f"  {run.error}", file=sys.stderr)
            runs.append(run)

    by_name = {v.name: [r for r in runs if r.variant == v.name] for v in variants}
    print(f"\nload average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, Xvfb {SCREEN[0]}x{SCREEN[1]}x24, "
          f"{args.rounds} round(s), medians; memory at {IDLE_AT[0]:.0f}-{IDLE_AT[-1]:.0f} s after start")
    header = (f"{'variant':<8} {'paint s':>7} {'UI live s':>9} {'UI drawn s':>10} {'PSS MB':>7} "
              f"{'USS MB':>7} {'RSS MB':>7} {'idle CPU %':>10} {'procs':>5} {'close s':>7} {'rc':>3} "
              f"{'left':>4}  renderer")
    print(header)
    print("-" * len(header))
    for variant in variants:
        rs = by_name[variant.name]
        rcs = sorted({str(r.rc) for r in rs})
        print(f"{variant.name:<8} {_fmt(_med(rs, 'paint_s')):>7} {_fmt(_med(rs, 'ui_live_s')):>9} "
              f"{_fmt(_med(rs, 'ui_drawn_s')):>10} {_fmt(_med(rs, 'pss_mb'), '.0f'):>7} "
              f"{_fmt(_med(rs, 'uss_mb'), '.0f'):>7} {_fmt(_med(rs, 'rss_mb'), '.0f'):>7} "
              f"{_fmt(_med(rs, 'idle_cpu_pct'), '.1f'):>10} "
              f"{max((r.processes for r in rs), default=0):>5} {_fmt(_med(rs, 'close_s')):>7} "
              f"{','.join(rcs):>3} {max((r.left for r in rs), default=0):>4}  "
              f"{','.join(sorted({r.renderer for r in rs}))}")
        for error in sorted({r.error for r in rs if r.error}):
            print(f"{'':<8} error: {error}")
        spread = " / ".join(f"{_fmt(r.ui_drawn_s)} s, {_fmt(r.pss_mb, '.0f')} MB" for r in rs)
        print(f"{'':<8} rounds: {spread}")

    print("\nratios (medians of the same run)")
    for qt_name, gtk_name in (("qt", "gtk"), ("qt gpu", "gtk gpu"), ("qt", "app")):
        if qt_name not in by_name or gtk_name not in by_name:
            continue
        cells = []
        for key, label in (("paint_s", "paint"), ("ui_live_s", "UI live"), ("ui_drawn_s", "UI drawn"),
                           ("pss_mb", "PSS"), ("uss_mb", "USS")):
            q, g = _med(by_name[qt_name], key), _med(by_name[gtk_name], key)
            cells.append(f"{label} {g / q:.2f}" if q and g is not None else f"{label} —")
        print(f"  {gtk_name} / {qt_name}: " + ", ".join(cells))

    mapped: dict[str, set[str]] = {}
    for variant in variants:
        for r in by_name[variant.name]:
            if not r.error and not variant.built:  # the disk table is about the venv's backends
                mapped.setdefault(variant.backend, set()).update(r.mapped)
    parts, notes = disk_table(pythons["qt"], mapped)
    print("\ndisk: what each backend adds (MB = MiB; mapped = files of that set the running window mapped)")
    for part in parts:
        print(f"  {part.label:<48} {part.mb:>7.0f} MB  mapped {_fmt(part.mapped_mb, '.0f'):>4} MB  "
              f"{part.detail}")
    qt_mb = next((p.mb for p in parts if p.label.startswith("qt: PySide6")), None)
    gtk_mb = next((p.mb for p in parts if p.label.startswith("gtk: webkit2gtk")), None)
    if qt_mb and gtk_mb is not None:
        print(f"  ratio GTK / Qt: {gtk_mb / qt_mb:.2f}")
    drops: dict[str, str] = {}
    if args.drop and not (shutil.which("xdotool") and pythons["gtk"].exists()):
        notes.append("drop check skipped: it needs xdotool and the GTK interpreter (for its drag source)")
    elif args.drop:
        print("\ndrop: an image and a folder dragged over XDND (text/uri-list) onto the drop zone")
        for backend in dict.fromkeys(v.backend for v in variants):
            drops[backend] = drop_check(backend, pythons[backend], pythons["gtk"], args.ui.resolve(),
                                        args.timeout)
            print(f"  {backend}: {drops[backend]}")
    for note in notes:
        print(f"note: {note}")
    if args.json:
        print(json.dumps({"runs": [{k: v for k, v in asdict(r).items() if k != "mapped"} for r in runs],
                          "disk": [asdict(p) for p in parts], "drop": drops, "notes": notes}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
