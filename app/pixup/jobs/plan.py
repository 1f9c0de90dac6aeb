"""A job's plan: what it will do, decided once, when the job is submitted.

`plan_job` turns a request (the inputs and their `UpscaleOptions`; the CLI, the window and
`pixup serve` all send the same) into a `JobPlan`: the files, the model (after Fix compression may
have swapped it), the repair, the target scale, the encode options, the face model and the output
naming. A request that cannot be planned (unknown model, no face model, bad name template, no
images) raises a typed error there, before anything starts; the job service and the file runner
only carry the plan out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pixup.choices import Precision, Scenario
from pixup.engine.scaling import ScalePlan, plan_scale
from pixup.errors import PixupError, UnavailableError
from pixup.imaging.decode import DEFAULT_MAX_PIXELS
from pixup.imaging.encode import EncodeOptions
from pixup.imaging.limits import Format
from pixup.imaging.naming import InputItem, check_template, collect_inputs
from pixup.jobs.options import UpscaleOptions
from pixup.jobs.repair import RepairPlan, plan_repair
from pixup.models.bundled import DEFAULT_MODEL_ID, SCENARIO_MODELS, bundled_model
from pixup.models.catalogue import FoundModel, find_model
from pixup.models.config import ConfigStore, ModelOverride
from pixup.models.face_models import resolve_face_model


@dataclass(frozen=True)
class JobPlan:
    """Everything a job does, decided before it starts; every file of the job follows it."""

    files: tuple[InputItem, ...]
    """The input files, folders expanded, in processing order."""
    model: FoundModel
    """The model the job leases: the request's own, its scenario's measured pick or the default, or
    the denoising upscaler Fix compression swaps in for that pick."""
    precision: Precision
    """The arithmetic asked for."""
    repair: RepairPlan | None
    """Fix compression: the 1× pre-pass or the swapped upscaler; None when it is off or the
    measurements found nothing better than the plain upscale."""
    scale: float | None
    """The target scale; None: the model's own. A swapped-in upscaler keeps the scale of the model
    it stands in for (Universal Fast stays 4× when a 2× denoiser runs twice)."""
    tile: int | None
    """Tile size for the upscaler: the request's, else the model's model_config.json entry; None:
    from free memory."""
    repair_tile: int | None
    """Tile size for the Fix compression pre-pass: the request's only (model_config.json speaks for
    the upscaler)."""
    batch: int | None
    """Tiles per inference asked for (the request, else model_config.json); None: from the hardware.
    Only a batch someone chose is worth a notice when the model overrides it."""
    face_model: Path | None
    """The face model for face recovery; None: no face recovery."""
    format: Format | None
    """The output format; None: the input's own where pixup writes it, else PNG."""
    encode: EncodeOptions
    """How outputs are encoded (quality, compression, chroma, background under transparency)."""
    output_dir: Path | None
    """Where outputs go (keeping the inputs' folder tree); None: beside each input."""
    name_template: str
    """The output file name template (checked)."""
    overwrite: bool
    """Whether an existing output may be replaced."""
    max_pixels: int | None
    """The decompression-bomb guard for reading inputs; None: lifted."""

    @property
    def prepass(self) -> RepairPlan | None:
        """The 1× repair model to run before the upscaler, if Fix compression runs one."""
        return self.repair if self.repair is not None and self.repair.step.action == "prepass" else None

    def scale_steps(self, model_scale: float) -> ScalePlan:
        """The model passes and the final resize that reach `scale` with a model of `model_scale`
        (known once the model is loaded). Raises EngineError for a scale it cannot reach."""
        return plan_scale(model_scale, self.scale)


def chosen_model(model: str, scenario: Scenario | None) -> str:
    """The upscaler a request names: its explicit model, else its scenario's measured pick, else the
    default. (Fix compression may stand another in for it: `plan_job`.)"""
    if model:
        return model
    return SCENARIO_MODELS[scenario] if scenario is not None else DEFAULT_MODEL_ID


def plan_job(inputs: Sequence[Path], options: UpscaleOptions, config: ConfigStore | None = None) -> JobPlan:
    """The plan for upscaling `inputs` as `options` asks, with the model overrides of `config`.

    Raises, before anything runs: UnknownModelError / ModelError for a model that is not there,
    UnavailableError for face recovery without a face model or detector, ImageWriteError (code
    "bad_template") for a bad name template, PixupError (code "no_images") when no image is found."""
    upscaler = chosen_model(options.model, options.scenario)
    repair = plan_repair(options.repair, upscaler, options.scenario, explicit=bool(options.model))
    model = find_model(repair.model if repair is not None and repair.step.action == "swap" else upscaler)
    override = config.override_for(model.id) if config is not None else ModelOverride()
    check_template(options.name_template)
    face_model = check_faces(options.face_model) if options.faces else None
    output_dir = Path(options.output_dir) if options.output_dir else None
    files = collect_inputs(list(inputs), recursive=options.recursive,
                           exclude=[output_dir] if output_dir else [])
    if not files:
        raise PixupError("no image files found in " + ", ".join(str(p) for p in inputs), code="no_images")
    return JobPlan(
        files=tuple(files),
        model=model,
        precision=options.precision,
        repair=repair,
        scale=_target_scale(options.scale, repair),
        tile=options.tile or override.tile_size,
        repair_tile=options.tile,
        batch=options.batch or override.batch_size,
        face_model=face_model,
        format=options.format,
        encode=_encode_options(options),
        output_dir=output_dir,
        name_template=options.name_template,
        overwrite=options.overwrite,
        max_pixels=None if options.allow_large else DEFAULT_MAX_PIXELS,
    )


def check_faces(face_model: str) -> Path:
    """The face model face recovery would use; raises UnavailableError when it cannot run (no face
    model: code "no_face_model"; no detector)."""
    from pixup.faces import detector_model  # ~0.25 s: only for a job that asks for faces

    # The face model first: finding none is instant, while reading the detector out of its package
    # takes ~0.9 s (and the UI waits for this answer before its first render).
    path = resolve_face_model(face_model)
    try:
        detector_model()
    except PixupError as err:
        raise UnavailableError(str(err)) from None
    return path


def _target_scale(scale: float | None, repair: RepairPlan | None) -> float | None:
    """Without an explicit scale, a swapped-in upscaler keeps the scale of the model it replaces."""
    if scale is not None or repair is None or repair.step.action != "swap":
        return scale
    replaced = bundled_model(repair.upscaler)
    return float(replaced.nominal_scale) if replaced is not None else None


def _encode_options(options: UpscaleOptions) -> EncodeOptions:
    colour = options.background.lstrip("#")
    return EncodeOptions(
        quality=options.quality,
        webp_lossless=options.webp_lossless,
        png_compress_level=options.png_compression,
        jpeg_subsampling=options.jpeg_subsampling,
        jpeg_progressive=options.jpeg_progressive,
        background=(int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)),
    )
