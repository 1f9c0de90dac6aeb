"""One file through the flow: file → imaging → engine → imaging → file.

`JobService` (pixup.jobs.service) queues jobs and calls `FileRunner` for each file; the CLI and the
bridge only talk to the service.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pixup.choices import Stage
from pixup.engine import hardware
from pixup.engine.cancel import Cancelled, CancelToken
from pixup.engine.scaling import plan_scale
from pixup.engine.upscale import upscale_array
from pixup.errors import ImageWriteError, OutputExistsError, PixupError
from pixup.imaging.decode import DEFAULT_MAX_PIXELS, read_image
from pixup.imaging.encode import EncodeOptions, write_image
from pixup.imaging.limits import Format, check_output_fits
from pixup.imaging.naming import InputItem, check_template, collect_inputs, output_path_for
from pixup.jobs.options import UpscaleOptions
from pixup.jobs.repair import RepairPass, plan_repair, swap_options
from pixup.jobs.state import FileOutcome
from pixup.models.bundled import DEFAULT_MODEL_ID, SCENARIO_MODELS
from pixup.models.config import ConfigStore
from pixup.models.slot import Lease

if TYPE_CHECKING:  # face recovery loads (~0.25 s) only for a job that asks for it
    from pixup.faces import FaceDetector, FaceModel

log = logging.getLogger(__name__)

StageCallback = Callable[[Stage, int, int], None]
"""(stage, done, total): tiles while upscaling, faces while recovering faces."""


@dataclass(frozen=True)
class FaceTools:
    """What face recovery needs, loaded once per job."""

    detector: FaceDetector
    """Finds faces and their landmarks on the source image."""
    model: FaceModel
    """The user's GFPGAN- or CodeFormer-style restorer."""

WRITABLE_FORMATS: dict[str, Format] = {
    "PNG": "png", "WEBP": "webp", "JPEG": "jpg", "MPO": "jpg", "TIFF": "tiff"
}
"""Input formats pixup can write back as they are; others (BMP, GIF, AVIF...) become PNG."""


def model_ref(options: UpscaleOptions) -> str:
    """The model a job runs: an explicit model, else the scenario's measured pick, else the default;
    Fix compression may swap the pick for a denoising upscaler (pixup.jobs.repair)."""
    repair = plan_repair(options)
    if repair is not None and repair.step.action == "swap":
        return repair.model
    if options.model:
        return options.model
    if options.scenario:
        return SCENARIO_MODELS[options.scenario]
    return DEFAULT_MODEL_ID


def expand_inputs(inputs: list[Path], options: UpscaleOptions) -> list[InputItem]:
    """Files and folders → the files of the job, in order. Raises PixupError (bad template...)."""
    out_dir = Path(options.output_dir) if options.output_dir else None
    check_template(options.name_template)
    return collect_inputs(inputs, recursive=options.recursive, exclude=[out_dir] if out_dir else [])


@dataclass
class Inferred:
    """A file between its inference and its write (`FileRunner.infer` → `FileRunner.write`): the
    output pixels and what the write and the file's result need. Holds one output image."""

    source: Path
    pixels: np.ndarray
    result: FileOutcome
    """The file's result once written (status "done"); `seconds` is set by the write."""
    encode: Callable[[np.ndarray], Path]
    """Encodes pixels into the output path reserved for this file, atomically; returns the path."""
    started: float
    """perf_counter() when the file started (its result's `seconds` run to the end of the write)."""


class FileRunner:
    """Upscales single files with a leased session; never raises for a bad file.

    A file goes in two steps so that a job can write file N while file N+1 decodes and infers:
    `infer` (decode, checks, output name, repair, upscale, faces) on the job's thread, then `write`
    (encode and atomic write) on any thread. `run` does both, one after the other."""

    def __init__(self, config: ConfigStore) -> None:
        self.config = config

    def run(
        self,
        item: InputItem,
        options: UpscaleOptions,
        lease: Lease,
        token: CancelToken,
        on_stage: StageCallback,
        used: set[Path],
        faces: FaceTools | None = None,
        repair: RepairPass | None = None,
    ) -> FileOutcome:
        """`infer`, then `write`: the file's result."""
        outcome = self.infer(item, options, lease, token, on_stage, used, faces, repair)
        return outcome if isinstance(outcome, FileOutcome) else self.write(outcome, token, on_stage)

    def infer(
        self,
        item: InputItem,
        options: UpscaleOptions,
        lease: Lease,
        token: CancelToken,
        on_stage: StageCallback,
        used: set[Path],
        faces: FaceTools | None = None,
        repair: RepairPass | None = None,
    ) -> Inferred | FileOutcome:
        """Everything up to the write. A FileOutcome when the file failed or was cancelled first.

        `used`: output paths this job has already given out ("a.png" and "a.jpg" must not collide);
        this file's output is added to it, so call this in input order. `repair`: the job's 1× Fix
        compression pre-pass."""
        started = time.perf_counter()
        source = item.source
        try:
            model, session = lease.model, lease.session
            options = swap_options(options, model.id)
            override = self.config.override_for(model.id)
            image = read_image(source, max_pixels=None if options.allow_large else DEFAULT_MAX_PIXELS)
            token.raise_if_cancelled()
            scale = options.scale or session.spec.scale
            plan = plan_scale(session.spec.scale, options.scale)
            out_h, out_w = plan.output_size(image.height, image.width)
            fmt: Format = options.format or WRITABLE_FORMATS.get(image.format.upper(), "png")
            # Refuse before minutes of inference: size limits of the format, an existing output.
            check_output_fits(out_w, out_h, fmt, channels=image.channels, bit_depth=image.bit_depth)
            out_dir = Path(options.output_dir) if options.output_dir else None
            target = output_path_for(
                item, out_dir, options.name_template, scale, fmt, model=model.id, taken=used
            )
            # Reserved even if this file fails below: a rerun then gives every file the same name.
            used.add(target)
            if target.exists() and not options.overwrite:
                raise OutputExistsError(target)
            _make_folder(target.parent)

            notices: list[str] = [*session.notices, *image.notes]
            requested_batch = options.batch or override.batch_size
            if requested_batch:  # only a batch the user chose is worth a message when overridden
                message = session.batch_override_message(requested_batch)
                if message:
                    notices.append(message)
            else:
                requested_batch = _auto_batch(session.provider)

            source_pixels = image.pixels
            if repair is not None:  # its own stage, with its own tiles
                source_pixels = _repair(image.pixels, repair, options, requested_batch or 1,
                                        token, on_stage, notices)
            else:
                swap = plan_repair(options)
                if swap is not None and swap.step.action == "swap" and swap.model == model.id:
                    notices.append(swap.notice())
            pixels = upscale_array(
                source_pixels,
                session,
                target_scale=options.scale,
                tile=options.tile or override.tile_size,
                batch=requested_batch or 1,
                token=token,
                progress=lambda p: on_stage("upscale", p.tiles_done, p.tiles_total),
                notices=notices,
                fallback=lease.fallback,
            )
            token.raise_if_cancelled()
            if faces is not None:
                pixels = _recover_faces(image.pixels, pixels, faces, token, on_stage, notices)
            # The write needs the metadata, not the source pixels: those are freed with `image`.
            metadata, encode_options, overwrite = image.metadata, _encode_options(options), options.overwrite

            def encode(out: np.ndarray) -> Path:
                return write_image(out, target, fmt=fmt, options=encode_options, metadata=metadata,
                                   overwrite=overwrite)

            result = FileOutcome(
                input=str(source),
                output=str(target),
                status="done",
                width=image.width,
                height=image.height,
                out_width=int(pixels.shape[1]),
                out_height=int(pixels.shape[0]),
                model=model.id,
                provider=session.provider,
                notices=tuple(dict.fromkeys(notices)),
            )
            return Inferred(source, pixels, result, encode, started)
        except Exception as err:
            return _failure(source, err)

    def write(self, inferred: Inferred, token: CancelToken, on_stage: StageCallback) -> FileOutcome:
        """Encode and write the file (the "write" stage); its result. A file cancelled before its
        write began gets no output; a write once begun completes (atomically: all or nothing)."""
        try:
            token.raise_if_cancelled()
            on_stage("write", 0, 0)
            written = inferred.encode(inferred.pixels)
            seconds = round(time.perf_counter() - inferred.started, 3)
            return replace(inferred.result, output=str(written), seconds=seconds)
        except Exception as err:
            return _failure(inferred.source, err)


def _failure(source: Path, err: Exception) -> FileOutcome:
    """A file's result for what stopped it: cancelled, or failed with one line."""
    if isinstance(err, Cancelled):
        return FileOutcome(input=str(source), status="cancelled")
    if isinstance(err, PixupError):
        return FileOutcome(input=str(source), status="failed", error=_with_file(str(err), source))
    if isinstance(err, MemoryError):
        return FileOutcome(input=str(source), status="failed", error="not enough memory for this image")
    # A bug: keep the batch going, log the trace, show one line.
    log.error("unexpected failure on %s", source, exc_info=err)
    return FileOutcome(input=str(source), status="failed", error=f"internal error: {err}")


def _repair(
    pixels: np.ndarray,
    repair: RepairPass,
    options: UpscaleOptions,
    batch: int,
    token: CancelToken,
    on_stage: StageCallback,
    notices: list[str],
) -> np.ndarray:
    """The Fix compression pre-pass (the "repair" stage)."""
    repaired = repair.apply(pixels, tile=options.tile, batch=batch, token=token,
                            progress=lambda p: on_stage("repair", p.tiles_done, p.tiles_total),
                            notices=notices)
    token.raise_if_cancelled()
    notices.append(repair.plan.notice())
    return repaired


def _recover_faces(
    source: np.ndarray,
    upscaled: np.ndarray,
    faces: FaceTools,
    token: CancelToken,
    on_stage: StageCallback,
    notices: list[str],
) -> np.ndarray:
    if source.ndim == 3 and source.shape[2] == 2:
        notices.append("Face recovery skipped: grey images with alpha are not supported.")
        return upscaled
    from pixup.faces import recover_faces

    restored, notes = recover_faces(
        source, upscaled, faces.detector, faces.model, cancel=token,
        progress=lambda done, total: on_stage("faces", done, total),
    )
    notices.extend([*faces.detector.notices, *faces.model.notices, *notes])  # their sessions' lines too
    return restored


def _make_folder(folder: Path) -> None:
    """Output folders (and the sub-tree of a recursive job) are created; failing that, one line."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ImageWriteError(f"cannot create output folder {folder}: a file is in the way") from None
    except PermissionError:
        raise ImageWriteError(f"cannot create output folder {folder}: permission denied") from None
    except OSError as err:
        raise ImageWriteError(f"cannot create output folder {folder}: {err.strerror}") from None


def _auto_batch(provider: str) -> int:
    """Batch from the hardware: eco mode (battery, integrated GPU) lowers it."""
    system = hardware.system_info()
    free_vram = system.gpus[0].free_vram if system.gpus else None
    return hardware.auto_batch(system.eco, provider, free_vram)


def _with_file(message: str, source: Path) -> str:
    """Errors name the file they are about; model errors etc. do not know it."""
    return message if str(source) in message else f"{source}: {message}"


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
