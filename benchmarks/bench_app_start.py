"""The built app against running from source: time to the first finished 256² upscale, cold and warm.

A "run" is one whole `pixup upscale samples/astronaut-256.png` process (default scenario and precision,
PNG out), wall time from spawn to exit:

- **first**: in a fresh home, as a new user's first job. From source this includes converting the
  default model from its ncnn files and quantising it to int8 (where "fast" picks int8); the built app
  ships both prebuilt (build/prebuild_models.py).
- **warm**: the same home again (everything cached, the OS file cache warm).

Source runs `.venv/bin/python -m pixup` with app/ on PYTHONPATH (byte-compiled by scripts/install.sh);
the app runs PROGRAM with PATH=/usr/bin:/bin and no Python variables. Rounds alternate between the
two so load drifts hit both; medians, and the ratio app ÷ source from the same run.

    .venv/bin/python benchmarks/bench_app_start.py --program build/out/linux/pixup/pixup [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, SAMPLES, load_average, median, table

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=900, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {result.stderr.strip()[-500:]}")
    return elapsed


def one_round(program: Path, work: Path, round_no: int) -> dict[str, tuple[float, float]]:
    """{"source"|"app": (first s, warm s)} for one round, each in its own fresh home."""
    photo = SAMPLES / "astronaut-256.png"
    out: dict[str, tuple[float, float]] = {}
    for who in ("source", "app") if round_no % 2 == 0 else ("app", "source"):
        home = work / f"{who}-{round_no}"
        home.mkdir()
        if who == "source":
            env = dict(os.environ, PIXUP_HOME=str(home / "pixup"), PYTHONPATH=str(ROOT / "app"))
            cmd = [sys.executable, "-m", "pixup"]
        else:
            env = {"HOME": str(home), "PATH": SYSTEM_PATH, "LANG": os.environ.get("LANG", "C.UTF-8")}
            cmd = [str(program)]
        times = []
        for run in ("first", "warm"):
            args = [*cmd, "upscale", str(photo), "-o", str(home / f"out-{run}")]
            times.append(_timed(args, env, home))
        out[who] = (times[0], times[1])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", type=Path, required=True, help="the built pixup program")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    program = args.program.resolve()
    loads = [load_average()]
    rounds = []
    with tempfile.TemporaryDirectory(prefix="pixup-benchstart-") as tmp:
        for round_no in range(args.rounds):
            rounds.append(one_round(program, Path(tmp), round_no))
            loads.append(load_average())
            print(f"round {round_no + 1}: {rounds[-1]}", file=sys.stderr, flush=True)
    rows = []
    for column, label in ((0, "first 256² upscale, fresh home"), (1, "warm 256² upscale")):
        source = median([r["source"][column] for r in rounds])
        app = median([r["app"][column] for r in rounds])
        rows.append([label, f"{source:.2f}", f"{app:.2f}", f"{app / source:.2f}"])
    print(f"{args.rounds} rounds, medians, load average {min(loads):.1f}-{max(loads):.1f}")
    print(table(["run", "source s", "built app s", "app ÷ source"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
