"""Whole-process peak memory of a big upscale in every output format, against pixup's previous path.

    cd /work/main && PIXUP_HOME=/tmp/pixup-speed-home PYTHONPATH=app \\
        .venv/bin/python benchmarks/bench_memory.py [--formats png,jpg,tiff,webp] [--size 2000x1500]
        [--encode-only [--rounds 3]]

The issue's case: a 2000×1500 JPEG photo (samples/astronaut-512.png resized with Lanczos, quality
95) → 8000×6000 with the bundled default model (realesr-animevideov3 ×4), `pixup upscale` as a
fresh process per run, PNG level 1. Peak RSS from `/usr/bin/time -f %M` (the whole process: runtime,
model, decode, tiles, output, encode). Target: 1.5 × the output's uint8 size + 400 MB (616 MB here).

Per format, two processes, in the same run:
- **now**: pixup as it is (tiles sized by `hardware.openvino_memory_tile`, big JPEGs in strips,
  big lossy WebPs in bands through libwebp's API).
- **before**: the same code with the previous choices patched back in: tile 448 (the former cap,
  512² tiles), JPEG through Pillow's whole-image encode with optimised tables and WebP through
  Pillow's whole-image encode.
Reported: peak MB, wall s, output size, and now ÷ before.

`--encode-only`: just `write_image` of a stand-in output (the photo resized ×4 with Lanczos), now and
before, in fresh processes taking turns: peak RSS over the process's RSS before the write (VmHWM
reset through /proc/self/clear_refs), seconds, file size; medians over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from _common import ROOT, SAMPLES, load_average, table

MODEL_ID = "realesr-animevideov3-x4"
TARGET_OVERHEAD_MB = 400

# Runs `pixup upscale` in this process after patching in the previous encoder choice.
BEFORE = r"""
import sys
import pixup.imaging.encode as encode
encode.WHOLE_IMAGE_MAX_PIXELS = 10**15
from pixup.cli import main
sys.exit(main(sys.argv[1:]))
"""

# One write_image in this process: argv = source, output, format, "now"|"before"; prints MiB over
# the RSS before the write, seconds, bytes.
ENCODE = r"""
import sys, time
from pathlib import Path
import numpy as np
from PIL import Image
import pixup.imaging.encode as encode
from pixup.imaging.encode import EncodeOptions, write_image
source, out, fmt, arm = sys.argv[1:5]
if arm == "before":
    encode.WHOLE_IMAGE_MAX_PIXELS = 10**15
with Image.open(source) as im:
    pixels = np.asarray(im.convert("RGB").resize((im.width * 4, im.height * 4), Image.Resampling.LANCZOS))
def kib(key):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(key))
encode._webp_in_bands(fmt, pixels[:1, :1], EncodeOptions())  # load libwebp before the baseline
open("/proc/self/clear_refs", "w").write("5")
base = kib("VmRSS")
start = time.perf_counter()
write_image(pixels, Path(out), fmt=fmt, options=EncodeOptions(png_compress_level=1), metadata=None,
            overwrite=True)
print((kib("VmHWM") - base) / 1024, time.perf_counter() - start, Path(out).stat().st_size)
"""


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak MB, wall s) of one process, from /usr/bin/time."""
    timed = subprocess.run(
        ["/usr/bin/time", "-f", "%M %e", *argv], capture_output=True, text=True, check=False, env=env
    )
    if timed.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{timed.stderr[-2000:]}")
    kb, wall = timed.stderr.strip().splitlines()[-1].split()
    return int(kb) / 1024, float(wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default="png,jpg,tiff,webp")
    parser.add_argument("--size", default="2000x1500")
    parser.add_argument("--encode-only", action="store_true", help="time and measure write_image alone")
    parser.add_argument("--rounds", type=int, default=3, help="with --encode-only")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    if not Path("/usr/bin/time").exists():
        raise SystemExit("needs /usr/bin/time (apt-get install time)")
    python = sys.executable
    env = {**os.environ, "PYTHONPATH": str(ROOT / "app")}
    output_mb = width * 4 * height * 4 * 3 / 1024**2
    target = 1.5 * output_mb + TARGET_OVERHEAD_MB
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="pixup-mem-") as tmp:
        folder = Path(tmp)
        source = folder / "photo.jpg"
        with Image.open(SAMPLES / "astronaut-512.png") as im:
            im.convert("RGB").resize((width, height), Image.Resampling.LANCZOS).save(source, quality=95)
        if args.encode_only:
            return encode_only(folder, source, args.formats.split(","), args.rounds, env, width, height)
        common = [str(source), "--model", MODEL_ID, "--overwrite", "--png-compression", "1"]
        for fmt in args.formats.split(","):
            figures: dict[str, tuple[float, float, int]] = {}
            for name in ("now", "before"):
                out = folder / name
                if name == "now":
                    argv = [python, "-m", "pixup", "upscale", *common, "-o", str(out), "--format", fmt]
                else:
                    argv = [python, "-c", BEFORE, "upscale", *common, "-o", str(out), "--format", fmt,
                            "--tile", "448"]
                peak, wall = run(argv, env)
                written = next(out.iterdir())
                figures[name] = (peak, wall, written.stat().st_size)
                written.unlink()
                print(f"{fmt} {name}: {peak:.0f} MB, {wall:.1f} s", file=sys.stderr, flush=True)
            now, before = figures["now"], figures["before"]
            rows.append([
                fmt, f"{now[0]:.0f}", f"{before[0]:.0f}", f"{now[0] / before[0]:.2f}",
                "yes" if now[0] <= target else "no", f"{now[1]:.1f}", f"{before[1]:.1f}",
                f"{now[2] / 1e6:.1f}", f"{before[2] / 1e6:.1f}",
            ])
    print(f"{width}×{height} → {width * 4}×{height * 4}, target {target:.0f} MB, load {load_average():.1f}")
    print(table(["format", "now MB", "before MB", "÷ before", "≤ target", "now s", "before s",
                 "now file MB", "before file MB"], rows))
    return 0


def encode_only(folder: Path, source: Path, formats: list[str], rounds: int, env: dict[str, str],
                width: int, height: int) -> int:
    rows: list[list[str]] = []
    for fmt in formats:
        runs: dict[str, list[tuple[float, float, int]]] = {"now": [], "before": []}
        for _ in range(rounds):
            for arm in ("now", "before"):
                out = folder / f"{arm}.{fmt}"
                done = subprocess.run([sys.executable, "-c", ENCODE, str(source), str(out), fmt, arm],
                                      capture_output=True, text=True, check=False, env=env)
                if done.returncode != 0:
                    raise SystemExit(f"failed: {fmt} {arm}\n{done.stderr[-2000:]}")
                mib, seconds, size = done.stdout.split()
                runs[arm].append((float(mib), float(seconds), int(size)))
                print(f"{fmt} {arm}: +{float(mib):.0f} MiB, {float(seconds):.2f} s", file=sys.stderr,
                      flush=True)
        now, before = ([statistics.median(v[i] for v in runs[arm]) for i in range(3)]
                       for arm in ("now", "before"))
        rows.append([fmt, f"{now[0]:.0f}", f"{before[0]:.0f}", f"{now[1]:.2f}", f"{before[1]:.2f}",
                     f"{now[1] / before[1]:.2f}", f"{now[2] / 1e6:.2f}", f"{before[2] / 1e6:.2f}"])
    print(f"write_image of {width * 4}×{height * 4} RGB, median of {rounds}, load {load_average():.1f}")
    print(table(["format", "now +MiB", "before +MiB", "now s", "before s", "÷ before", "now file MB",
                 "before file MB"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
