"""Load on `pixup serve` while it upscales: many clients polling `job_status`, one slow client, one
oversized body; against the server pixup had before (http.server) in the same run.

    PYTHONPATH=app .venv/bin/python benchmarks/bench_serve_load.py [--clients 50] [--polls 40]
        [--interval 0.1] [--client-procs 10] [--variants old,new,h11] [--rounds 3] [--json]

Each variant is a real `pixup serve --no-browser --port 0` process (the CLI's own code path) with an
output folder of its own, and a real job: the bundled default model on `--images` small pictures
made from samples/ (`--size` px on the long side). Set PIXUP_HOME to keep the converted model
between runs (the first run converts it before measuring). Once the first file is upscaling
(the model loaded), this process runs, all on 127.0.0.1:

1. probe: 20 sequential polls, 20 ms apart (the baseline for the slow-client check);
2. a slow client starts sending a `job_status` request one byte every 100 ms (`--slow-pause`);
   after 1 s, 20 more sequential polls ("probe while slow"): a server that waited on the slow
   client would stall them;
3. `--clients` clients start together, each making `--polls` polls `--interval` s apart, each poll
   on a fresh connection (connect, POST, read the answer, close); at the same moment one client
   POSTs a `--oversized` MiB body (Content-Length declared, sent whole before reading, as most
   clients do) and records what came back: the status line or the connection error;
4. the slow client's answer is awaited, the job cancelled, the server stopped with SIGTERM.

Variants: `new` is pixup.api.http as it is (Starlette on uvicorn, httptools parser); `h11` the same
with uvicorn's pure-Python h11 parser; `old` is app/pixup/api/http.py at OLD_REV (the last
http.server version), read with `git show` into a temporary folder and put in place of
pixup.api.http by a small launcher before the CLI runs, so it serves through the same CLI, bridge
and engine. The clients are threads with blocking sockets spread over `--client-procs` processes
(10, as independent browser tabs would be: one asyncio loop for all 50 measured its own queueing,
and 50 threads in one process their own GIL, more than the server's), alike for every variant;
they share the 2 cores with the server and the engine.

Figures: refused / reset / timeout (connections that got no answer), p50 / p95 / max poll latency
(connect to last byte of the answer, ms), polls that saw the job running, the oversized body's
result, the slow client's answer and the probe medians, the machine's load average; then old ÷ each
other server, paired by round (`--rounds` alternates the servers, the machine's load drifts).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SAMPLES, load_average, median, table

OLD_REV = "0f0a179ebc93b045290e9e1abb73c329f071c5f7"
"""The last commit whose pixup.api.http was the http.server implementation."""

LAUNCHER = """\
import importlib.util, sys
variant, old_module = sys.argv[1], sys.argv[2]
if variant == "old":  # the http.server module from git, in place of pixup.api.http
    spec = importlib.util.spec_from_file_location("pixup.api.http", old_module)
    module = importlib.util.module_from_spec(spec)
    sys.modules["pixup.api.http"] = module
    spec.loader.exec_module(module)
elif variant == "h11":  # uvicorn's pure-Python parser instead of httptools
    import pixup.api.http
    pixup.api.http.HTTP_IMPL = "h11"
from pixup.cli import main
sys.exit(main(sys.argv[3:]))
"""

LABELS = {"old": "old http.server", "new": "uvicorn (pixup)", "h11": "uvicorn h11 parser"}
PROBES = 20


@dataclass
class Result:
    variant: str
    round: int = 1
    attempts: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    running_polls: int = 0
    oversized: str = ""
    slow: str = ""
    slow_s: float = 0.0
    probe_ms: float = 0.0
    probe_slow_ms: float = 0.0
    load_s: float = 0.0
    load_avg: float = 0.0
    exit_code: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


# ---------------------------------------------------------------------------------- the client


def http_request(port: int, token: str, path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed before the answer")
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed in the middle of the answer")
        body += chunk
    return int(head.split(b" ", 2)[1]), body


def exchange(port: int, request: bytes) -> tuple[int, bytes]:
    """One request on a fresh connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        return read_response(sock)


def failure_kind(err: BaseException) -> str:
    if isinstance(err, ConnectionRefusedError):
        return "refused"
    if isinstance(err, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    if isinstance(err, TimeoutError):
        return "timeout"
    return type(err).__name__


def poll_once(port: int, request: bytes, result: Result | None) -> float | None:
    started = time.perf_counter()
    try:
        status, body = exchange(port, request)
    except OSError as err:
        if result is not None:
            with result.lock:
                result.attempts += 1
                result.failures[failure_kind(err)] = result.failures.get(failure_kind(err), 0) + 1
        return None
    elapsed = (time.perf_counter() - started) * 1000
    if result is not None:
        with result.lock:
            result.attempts += 1
            if status != 200:
                result.failures[f"HTTP {status}"] = result.failures.get(f"HTTP {status}", 0) + 1
            else:
                result.latencies_ms.append(elapsed)
                result.running_polls += json.loads(body).get("status") == "running"
    return elapsed


def poller(port: int, request: bytes, polls: int, interval: float, go: Any, result: Result) -> None:
    go.wait()
    for _ in range(polls):
        poll_once(port, request, result)
        time.sleep(interval)


def client_process(port: int, request: bytes, polls: int, interval: float, threads: int, go: Any,
                   out: Any) -> None:
    """`threads` pollers in a process of their own, started by `go` (a barrier across processes);
    puts (attempts, failures, latencies, running polls) on `out`."""
    result = Result("")
    clients = [threading.Thread(target=poller, args=(port, request, polls, interval, go, result))
               for _ in range(threads)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    out.put((result.attempts, result.failures, result.latencies_ms, result.running_polls))


def run_clients(port: int, request: bytes, token: str, args: argparse.Namespace, result: Result) -> None:
    """The clients in --client-procs processes, and the oversized body in this one, all started at
    once; fills `result`."""
    context = multiprocessing.get_context("spawn")
    processes = max(1, min(args.client_procs, args.clients))
    go = context.Barrier(args.clients + 2)  # every poller thread, the oversized body and this thread
    out = context.Queue()
    shares = [args.clients // processes + (i < args.clients % processes) for i in range(processes)]
    children = [context.Process(target=client_process,
                                args=(port, request, args.polls, args.interval, share, go, out))
                for share in shares]
    big = threading.Thread(target=lambda: (go.wait(), oversized_body(port, token, args.oversized, result)))
    for child in children:
        child.start()
    big.start()
    go.wait()
    started = time.perf_counter()
    for _ in children:
        attempts, failures, latencies, running = out.get()
        result.attempts += attempts
        result.latencies_ms += latencies
        result.running_polls += running
        for kind, count in failures.items():
            result.failures[kind] = result.failures.get(kind, 0) + count
    result.load_s = time.perf_counter() - started
    result.load_avg = load_average()
    for child in children:
        child.join()
    big.join()


def probe(port: int, request: bytes) -> float:
    times = []
    for _ in range(PROBES):
        elapsed = poll_once(port, request, None)
        if elapsed is not None:
            times.append(elapsed)
        time.sleep(0.02)
    return median(times)


def slow_client(port: int, request: bytes, pause: float, result: Result) -> None:
    started = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            for index in range(len(request)):
                sock.sendall(request[index:index + 1])
                time.sleep(pause)
            status, _ = read_response(sock)
        result.slow = f"HTTP {status}"
    except OSError as err:
        result.slow = failure_kind(err)
    result.slow_s = time.perf_counter() - started


def oversized_body(port: int, token: str, mib: int, result: Result) -> None:
    head = (f"POST /api/job_status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {mib << 20}\r\n\r\n").encode()
    chunk = b"x" * (1 << 20)
    started = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(head)
            for _ in range(mib):  # the whole body first, then read: what most clients do
                sock.sendall(chunk)
            status, body = read_response(sock)
        try:
            code = json.loads(body)["code"]
        except (ValueError, KeyError, TypeError):
            code = "not JSON"
        answer = f"{status} {code}"
    except OSError as err:
        answer = failure_kind(err)
    result.oversized = f"{answer} ({time.perf_counter() - started:.2f} s)"


# ---------------------------------------------------------------------------------- one variant


def make_images(folder: Path, count: int, size: int) -> list[str]:
    """`count` pictures from samples/, each resized (Lanczos) to `size` px on its long side."""
    names = sorted(p.name for p in SAMPLES.glob("*.png"))
    paths = []
    for index in range(count):
        with Image.open(SAMPLES / names[index % len(names)]) as opened:
            image = opened.convert("RGB")
        scale = size / max(image.size)
        shape = (round(image.width * scale), round(image.height * scale))
        image = image.resize(shape, Image.Resampling.LANCZOS)
        path = folder / f"input-{index}.png"
        image.save(path)
        paths.append(str(path))
    return paths


def start_server(variant: str, old_module: Path, out: Path) -> tuple[subprocess.Popen[str], int, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "app"))
    # Versions before pixup.paths.ui_dir looked for ui/dist beside their own file (here /tmp).
    env.setdefault("PIXUP_UI_DIR", str(ROOT / "ui" / "dist"))
    command = [sys.executable, "-c", LAUNCHER, variant, str(old_module),
               "serve", "--no-browser", "--port", "0", "--output", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise RuntimeError(f"{variant}: pixup serve did not start")
    parts = urlsplit(url)
    assert parts.port is not None
    return proc, parts.port, parts.query.removeprefix("token=")


def call(port: int, token: str, method: str, payload: dict[str, Any]) -> dict[str, Any]:
    status, body = exchange(port, http_request(port, token, f"/api/{method}", json.dumps(payload).encode()))
    if status != 200:
        raise RuntimeError(f"{method}: HTTP {status} {body[:200]!r}")
    reply: dict[str, Any] = json.loads(body)
    return reply


def run_variant(variant: str, round_: int, old_module: Path, inputs: list[str], work: Path,
                args: argparse.Namespace) -> Result:
    result = Result(LABELS[variant], round_)
    out = Path(tempfile.mkdtemp(prefix=f"out-{variant}-", dir=work))
    proc, port, token = start_server(variant, old_module, out)
    job_id = f"bench-load-{variant}"
    try:
        call(port, token, "start_job", {"job_id": job_id, "inputs": inputs})
        deadline = time.monotonic() + 600  # the first run may convert the bundled model
        while time.monotonic() < deadline:
            snapshot = call(port, token, "job_status", {"job_id": job_id})
            if snapshot["status"] not in ("queued", "running") or snapshot["files"][0]["tiles_done"] > 0:
                break
            time.sleep(0.1)
        if snapshot["status"] != "running":
            print(f"warning: {variant}: the job is {snapshot['status']} before the load", file=sys.stderr)

        poll = http_request(port, token, "/api/job_status", json.dumps({"job_id": job_id}).encode())
        result.probe_ms = probe(port, poll)
        slow = threading.Thread(target=slow_client, args=(port, poll, args.slow_pause, result))
        slow.start()
        time.sleep(1.0)
        result.probe_slow_ms = probe(port, poll)

        run_clients(port, poll, token, args, result)
        if slow.is_alive():
            print(f"{variant}: waiting for the slow client (one byte per {args.slow_pause} s)...",
                  file=sys.stderr)
        slow.join()
        with contextlib.suppress(Exception):
            call(port, token, "cancel_job", {"job_id": job_id})
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            result.exit_code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            result.exit_code = proc.wait()
    return result


# ---------------------------------------------------------------------------------- report


def figures(r: Result) -> dict[str, Any]:
    refused, reset = r.failures.get("refused", 0), r.failures.get("reset", 0)
    return {"server": r.variant, "round": r.round, "polls": r.attempts, "refused": refused, "reset": reset,
            "other_failed": r.failed - refused - reset, "unanswered": r.attempts - len(r.latencies_ms),
            "p50_ms": median(r.latencies_ms), "p95_ms": r.percentile(0.95),
            "max_ms": max(r.latencies_ms, default=float("nan")), "saw_running": r.running_polls,
            "load_s": r.load_s, "load_avg": r.load_avg, "oversized": r.oversized, "slow": r.slow,
            "slow_s": r.slow_s, "probe_ms": r.probe_ms, "probe_while_slow_ms": r.probe_slow_ms,
            "slow_delayed_others": delayed(r), "exit_code": r.exit_code}


def delayed(r: Result) -> bool:
    """The slow client delayed others when probes during it were much slower than before it, or it
    got no answer."""
    return r.probe_slow_ms > max(2 * r.probe_ms, r.probe_ms + 20) or not r.slow.startswith("HTTP")


def report(results: list[Result], args: argparse.Namespace) -> None:
    print(f"\n{args.clients} clients x {args.polls} polls ({args.interval} s apart, a fresh connection "
          f"each) of job_status while the bundled default model upscales {args.images} images of "
          f"{args.size} px (load avg: the machine's 1-minute load average after each load phase)")
    rows = [figures(r) for r in results]
    print(table(["server", "round", "polls", "refused", "reset", "other failed", "p50 ms", "p95 ms", "max ms",
                 "saw running", "load s", "load avg"],
                [[f["server"], str(f["round"]), str(f["polls"]), str(f["refused"]), str(f["reset"]),
                  str(f["other_failed"]), f"{f['p50_ms']:.1f}", f"{f['p95_ms']:.1f}", f"{f['max_ms']:.1f}",
                  str(f["saw_running"]), f"{f['load_s']:.1f}", f"{f['load_avg']:.1f}"] for f in rows]))
    print()
    print(table(["server", "round", f"{args.oversized} MiB body", "slow client", "probe p50 ms",
                 "while slow", "slow delayed others", "exit on SIGTERM"],
                [[f["server"], str(f["round"]), f["oversized"], f"{f['slow']} after {f['slow_s']:.1f} s",
                  f"{f['probe_ms']:.1f}", f"{f['probe_while_slow_ms']:.1f}",
                  "yes" if f["slow_delayed_others"] else "no", str(f["exit_code"])] for f in rows]))
    print()
    # Ratios pair each server with the old one of the same round (the machine's load drifts).
    for name in dict.fromkeys(f["server"] for f in rows if f["server"] != LABELS["old"]):
        olds = {f["round"]: f for f in rows if f["server"] == LABELS["old"]}
        pairs = [(olds[f["round"]], f) for f in rows if f["server"] == name and f["round"] in olds]
        mine = [f for f in rows if f["server"] == name]
        p95s = ", ".join(f"{f['p95_ms']:.1f}" for f in mine)
        failed = sum(f["refused"] + f["reset"] + f["other_failed"] for f in mine)
        line = f"{name}: p95 {p95s} ms; failed connections {failed}"
        if pairs:
            line += "; old ÷ this, median over rounds: " + ", ".join(
                f"{key.removesuffix('_ms')} {median([b[key] / n[key] for b, n in pairs]):.1f}×"
                for key in ("p50_ms", "p95_ms", "max_ms"))
        print(line)
        verdict = "met" if failed == 0 and max(f["p95_ms"] for f in mine) < 50 else "NOT met"
        print(f"  targets (0 refused or reset, p95 < 50 ms in every round): {verdict}")
    if args.json:
        print(json.dumps({"args": vars(args), "results": rows}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--polls", type=int, default=40, help="polls per client")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between a client's polls")
    parser.add_argument("--client-procs", type=int, default=10,
                        help="processes the clients are spread over (threads within each)")
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--size", type=int, default=768, help="long side of each input image, px")
    parser.add_argument("--oversized", type=int, default=64, help="MiB in the oversized body")
    parser.add_argument("--slow-pause", type=float, default=0.1, help="seconds between slow client bytes")
    parser.add_argument("--variants", default="old,new", help="any of old, new, h11, in order")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the variants in turn")
    parser.add_argument("--old-rev", default=OLD_REV, help="commit whose app/pixup/api/http.py is 'old'")
    parser.add_argument("--json", action="store_true", help="also print one JSON line with every figure")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pixup-bench-serve-"))
    try:
        old_module = work / "old_http.py"
        old_source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{args.old_rev}:app/pixup/api/http.py"],
            capture_output=True, text=True, check=True).stdout
        old_module.write_text(old_source)
        inputs = make_images(work, args.images, args.size)
        results: list[Result] = []
        for round_ in range(1, args.rounds + 1):
            for variant in args.variants.split(","):
                print(f"round {round_}: {LABELS[variant]}...", file=sys.stderr)
                results.append(run_variant(variant, round_, old_module, inputs, work, args))
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the upscaled outputs: ~40 MB per server and round
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
