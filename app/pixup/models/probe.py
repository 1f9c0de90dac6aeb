"""Inspect a user's model in a child process first, so a model that crashes ONNX Runtime cannot
take pixup down with it.

Some third-party exports divide by zero or abort natively at sizes they cannot take (seen: an
OmniSR export raises SIGFPE at ≤ 8 px), and inspection probes tiny sizes on purpose. The child
probes on the CPU provider and prints the ModelSpec as JSON; the parent caches it by the file's
content hash and hands it to ModelSession.open, which then skips its own probes. Bundled models are
converted by pixup and need no guard: they are inspected in-process on their first load and their
spec is cached the same way (`remember_spec`, `cached_spec`).

Run as a module: `python -m pixup.models.probe MODEL.onnx` (what the parent does).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import signal
import subprocess
import sys
from pathlib import Path

from pixup.engine.spec import ModelSpec
from pixup.errors import ModelError, PixupError
from pixup.fileio import atomic_write_bytes
from pixup.paths import user_paths

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 300
SPEC_CACHE_VERSION = 2
"""Part of the cache key: 2 added the measured context radius, so specs cached before it are probed again."""


SEED_FILE = Path(__file__).with_name("bundled_specs.json")
"""The specs of pixup's own conversions, measured once by scripts/make_bundled_specs.py and shipped,
keyed like the cache: a bundled model's first load skips the probe runs (x4plus's context
measurement alone takes ~30 s)."""


def content_digest(path: Path) -> str:
    """The key a spec is cached under: a hash of the file's content and SPEC_CACHE_VERSION."""
    h = hashlib.sha256(f"spec-v{SPEC_CACHE_VERSION}".encode())
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:24]


def _cache_file(digest: str) -> Path:
    return user_paths().cache / "specs" / f"{digest}.json"


@functools.cache
def _seeds() -> dict[str, dict[str, object]]:
    try:
        document = json.loads(SEED_FILE.read_text(encoding="utf-8"))
        specs = document["specs"] if document.get("version") == SPEC_CACHE_VERSION else {}
        return dict(specs)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # no seed file (or an unreadable one): bundled models are probed on first load


def _seeded(digest: str) -> ModelSpec | None:
    fields = {k: v for k, v in _seeds().get(digest, {}).items() if k != "model"}
    if not fields:
        return None
    try:
        return ModelSpec(**fields)  # type: ignore[arg-type]
    except TypeError:
        return None


def _load_cached(file: Path) -> ModelSpec | None:
    try:
        return ModelSpec(**json.loads(file.read_text()))
    except (OSError, ValueError, TypeError):
        return None  # absent or damaged: probe again


def _store(file: Path, spec: ModelSpec) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(file, json.dumps(dataclasses.asdict(spec)).encode("utf-8"))


def cached_spec(model_path: Path) -> ModelSpec | None:
    """The spec stored for this file's content (by `guarded_spec` or `remember_spec`, or shipped for
    a bundled conversion in SEED_FILE), else None. Reads the file to hash it; runs nothing."""
    try:
        digest = content_digest(Path(model_path))
    except OSError:
        return None
    return _load_cached(_cache_file(digest)) or _seeded(digest)


def remember_spec(model_path: Path, spec: ModelSpec) -> None:
    """Store a spec inspected in this process, so the next load of the same content skips the
    probe runs (for pixup's own conversions, which need no child process). Never raises."""
    try:
        _store(_cache_file(content_digest(Path(model_path))), spec)
    except OSError as err:  # a read-only cache only costs a probe next time
        log.warning("cannot cache the spec of %s: %s", Path(model_path).name, err)


def guarded_spec(model_path: Path) -> ModelSpec:
    """The ModelSpec of `model_path`, inspected in a child process (cached by content).

    Raises ModelError with one line when the model is unusable, crashed the child, or hung."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelError(f"model file not found: {model_path}")
    cache = _cache_file(content_digest(model_path))
    cached = _load_cached(cache)
    if cached is not None:
        return cached
    try:
        proc = subprocess.run(
            [*child_command(), str(model_path)],
            capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ModelError(f"{model_path.name}: inspecting the model took over {PROBE_TIMEOUT_S} s") from None
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        raise ModelError(
            f"{model_path.name} crashed ONNX Runtime while pixup inspected it ({name}); it cannot be used"
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        errors = [line for line in proc.stderr.splitlines() if line.strip()]
        raise ModelError(errors[-1] if errors else f"{model_path.name}: inspection failed")
    spec = ModelSpec(**json.loads(lines[-1]))
    try:
        _store(cache, spec)
    except OSError as err:  # a read-only cache only costs a probe next time
        log.warning("cannot cache the spec of %s: %s", model_path.name, err)
    return spec


CHILD_FLAG = "--inspect-model-child"
"""The hidden first argument that makes a compiled pixup (the standalone app, one binary with no
`python -m`) run the inspection child instead of its command line (see pixup.cli.main)."""


def child_command() -> list[str]:
    """argv (less the model path) that runs the inspection child of this installation."""
    if "__compiled__" in globals():  # Nuitka sets it in every module it compiles
        return [sys.executable, CHILD_FLAG]
    return [sys.executable, "-m", "pixup.models.probe"]


def child_main(path: str) -> int:
    """The inspection child: print the spec as one JSON line, or one error line (exit code 3)."""
    from pixup.engine.session import ModelSession

    try:
        import onnxruntime

        onnxruntime.set_default_logger_severity(4)
        with ModelSession.open(Path(path), precision="exact", providers=["CPUExecutionProvider"]) as session:
            print(json.dumps(dataclasses.asdict(session.spec)), flush=True)
    except PixupError as err:
        print(str(err), file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1]))
