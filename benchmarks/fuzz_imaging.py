"""Fuzz read_image and graft_exif for a time budget; print what was tried and what happened.

    PYTHONPATH=app:. python benchmarks/fuzz_imaging.py [--seconds 60] [--target read|graft|both]

Uses the Hypothesis strategies and contract checks of tests/imaging/fuzzing.py (the suite runs
them for ~120 examples). A contract violation (any exception other than ImageReadError, a hang, a
malformed result) stops the run: the input is saved under --crashes and the exit status is 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "app", ROOT):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from hypothesis import HealthCheck, Phase, Verbosity, given, settings  # noqa: E402
from tests.imaging.fuzzing import check_graft, check_read, mutated_exif, mutated_images  # noqa: E402


class _BudgetSpent(BaseException):
    """Ends the Hypothesis run when the time is up (a BaseException, so it is not a failure)."""


def run(target: str, seconds: float, crashes: Path) -> bool:
    """Fuzz one target for `seconds`; print counts; return False on a contract violation."""
    counts: Counter[str] = Counter()
    slowest = (0.0, b"")
    deadline = time.monotonic() + seconds
    folder = Path(tempfile.mkdtemp(prefix="pixup-fuzz-"))
    strategy = mutated_images() if target == "read" else mutated_exif()

    @settings(
        max_examples=10**9,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # no shrinking: save the failing input as found
        verbosity=Verbosity.quiet,  # our own report says what happened
        suppress_health_check=list(HealthCheck),
    )
    @given(data=strategy)
    def fuzz(data: bytes) -> None:
        nonlocal slowest
        if time.monotonic() > deadline:
            raise _BudgetSpent
        started = time.perf_counter()
        try:
            outcome = check_read(data, folder) if target == "read" else check_graft(data)
        except BaseException:
            crashes.mkdir(parents=True, exist_ok=True)
            saved = crashes / f"{target}-{int(time.time())}-{counts.total()}.bin"
            saved.write_bytes(data)
            print(f"{target}: contract violated; input saved to {saved}", file=sys.stderr)
            raise
        took = time.perf_counter() - started
        if took > slowest[0]:
            slowest = (took, data)
        counts[outcome] += 1

    ok = True
    started = time.monotonic()
    try:
        fuzz()
    except _BudgetSpent:
        pass
    except Exception as err:  # the violation itself; Hypothesis re-raises it
        print(f"{target}: FAILED: {type(err).__name__}: {err}", file=sys.stderr)
        ok = False
    elapsed = time.monotonic() - started
    total = counts.total()
    detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(
        f"{target}: {total} inputs in {elapsed:.0f} s ({total / max(elapsed, 1e-9):.0f}/s): {detail}; "
        f"slowest {slowest[0] * 1000:.0f} ms ({len(slowest[1])} bytes)"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget per target (default 60)")
    parser.add_argument("--target", choices=["read", "graft", "both"], default="both")
    parser.add_argument("--crashes", type=Path, default=Path("fuzz-crashes"), help="where failing inputs go")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # "EXIF dropped" warnings are expected by the thousand here
    targets = ["read", "graft"] if args.target == "both" else [args.target]
    results = [run(t, args.seconds, args.crashes) for t in targets]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
