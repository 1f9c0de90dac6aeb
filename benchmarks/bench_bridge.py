"""Bridge call latency while a job runs: a status poll must answer in < 50 ms during inference.

Starts the real Api behind the real HTTP server (as `pixup serve` does), measures `job_status` over
HTTP with nothing running (the baseline), then again while the bundled default model upscales a
photo, and prints the percentiles and their ratio to the idle figures, measured in the same run.

    PIXUP_HOME=/tmp/pixup-bench .venv/bin/python benchmarks/bench_bridge.py [--size 1024] [--polls 200]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

from pixup.api.bridge import Api
from pixup.api.http import ApiServer
from pixup.jobs.options import UpscaleOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, table


def poll(server: ApiServer, job_id: str, count: int, interval: float, while_running: bool) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Authorization": f"Bearer {server.token}", "Host": f"127.0.0.1:{server.port}"}
    body = json.dumps({"job_id": job_id}).encode()
    times: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        conn.request("POST", "/api/job_status", body=body, headers=headers)
        response = conn.getresponse()
        reply = json.loads(response.read())
        times.append((time.perf_counter() - started) * 1000)
        if while_running and reply["status"] in ("done", "failed", "cancelled"):
            break
        time.sleep(interval)
    return times


def summary(times: list[float]) -> list[str]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return [str(len(times)), f"{statistics.median(times):.2f}", f"{p95:.2f}", f"{max(times):.2f}"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1024, help="photo side in pixels")
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between polls")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pixup-bench-bridge-"))
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:args.size, 0:args.size]
    pixels = np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=-1)
    pixels = pixels + rng.normal(0, 8, pixels.shape)
    src = work / "photo.png"
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(src)

    api = Api(output_dir=str(work / "out"))
    server = ApiServer(api, ui_dir=work)
    server.start()
    try:
        # Warm up: load the model once so the measured job is inference, not conversion.
        warm = str(uuid.uuid4())
        small = work / "small.png"
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(small)
        api.service.submit(warm, [small], UpscaleOptions(output_dir=str(work / "warm")))
        api.service.wait(warm, 600)
        idle = poll(server, warm, args.polls, args.interval, while_running=False)

        job = str(uuid.uuid4())
        api.service.submit(job, [src], UpscaleOptions(output_dir=str(work / "out")))
        while api.service.status(job).files[0].tiles_done == 0 and api.service.status(job).status != "done":
            time.sleep(0.01)
        busy = poll(server, job, args.polls, args.interval, while_running=True)
        api.service.wait(job, 600)
        final = api.service.status(job)
    finally:
        server.shutdown()
        api.close()

    print(f"job_status over HTTP, {args.size}² photo, bundled default model; "
          f"load average {load_average():.2f}")
    print(table(["state", "calls", "median ms", "p95 ms", "max ms"],
                [["idle", *summary(idle)], ["during inference", *summary(busy)]]))
    ratio = statistics.median(busy) / statistics.median(idle)
    print(f"median ratio busy/idle: {ratio:.2f}×; target: every call < 50 ms "
          f"({'met' if max(busy) < 50 else 'NOT met'}: max {max(busy):.1f} ms); job {final.status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
