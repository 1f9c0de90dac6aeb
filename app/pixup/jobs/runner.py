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
from pixup.engine.scaling import ScalePlan
from pixup.engine.upscale import upscale_array
from pixup.errors import ImageWriteError, OutputExistsError, PixupError, one_line
from pixup.imaging.decode import read_image
from pixup.imaging.encode import write_image
from pixup.imaging.limits import Format, check_output_fits
from pixup.imaging.naming import InputItem, output_path_for
from pixup.jobs.plan import JobPlan
from pixup.jobs.repair import RepairPass
from pixup.jobs.state import FileOutcome
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


@dataclass(frozen=True)
class JobTools:
    """What every file of a running job works with: the job's plan, and what the job loaded for it
    once it started."""

    plan: JobPlan
    """What the job does (pixup.jobs.plan), decided when it was submitted."""
    lease: Lease
    """The job's hold on the plan's model session."""
    steps: ScalePlan
    """The model passes and the final resize to the plan's scale, for the loaded model's real scale."""
    faces: FaceTools | None = None
    """Face recovery's detector and face model, when the plan asks for faces."""
    repair: RepairPass | None = None
    """The Fix compression pre-pass's 1× model, when the plan runs one."""


WRITABLE_FORMATS: dict[str, Format] = {
    "PNG": "png", "WEBP": "webp", "JPEG": "jpg", "MPO": "jpg", "TIFF": "tiff"
}
"""Input formats pixup can write back as they are; others (BMP, GIF, AVIF...) become PNG."""


@dataclass
class Inferred:
    """A file between its inference and its write (`FileRunner.infer` → `FileRunner.write`): the
    output pixels and what the write and the file's result need. Holds one output image."""

    source: Path
    target: Path
    """The output path reserved for this file."""
    pixels: np.ndarray
    result: FileOutcome
    """The file's result once written (status "done"); `seconds` is set by the write."""
    encode: Callable[[np.ndarray], Path]
    """Encodes pixels into `target`, atomically; returns the path."""
    started: float
    """perf_counter() when the file started (its result's `seconds` run to the end of the write)."""


class FileRunner:
    """Upscales single files of a job as its plan says; never raises for a bad file.

    A file goes in two steps so that a job can write file N while file N+1 decodes and infers:
    `infer` (decode, checks, output name, repair, upscale, faces) on the job's thread, then `write`
    (encode and atomic write) on any thread. `run` does both, one after the other."""

    def run(
        self, item: InputItem, tools: JobTools, token: CancelToken, on_stage: StageCallback, used: set[Path]
    ) -> FileOutcome:
        """`infer`, then `write`: the file's result."""
        outcome = self.infer(item, tools, token, on_stage, used)
        return outcome if isinstance(outcome, FileOutcome) else self.write(outcome, token, on_stage)

    def infer(
        self, item: InputItem, tools: JobTools, token: CancelToken, on_stage: StageCallback, used: set[Path]
    ) -> Inferred | FileOutcome:
        """Everything up to the write. A FileOutcome when the file failed or was cancelled first.

        `used`: output paths this job has already given out ("a.png" and "a.jpg" must not collide);
        this file's output is added to it, so call this in input order."""
        started = time.perf_counter()
        source = item.source
        plan, lease, steps = tools.plan, tools.lease, tools.steps
        target: Path | None = None
        try:
            model, session = lease.model, lease.session
            image = read_image(source, max_pixels=plan.max_pixels)
            token.raise_if_cancelled()
            out_h, out_w = steps.output_size(image.height, image.width)
            fmt: Format = plan.format or WRITABLE_FORMATS.get(image.format.upper(), "png")
            # Refuse before minutes of inference: size limits of the format, an existing output.
            check_output_fits(out_w, out_h, fmt, channels=image.channels, bit_depth=image.bit_depth)
            scale = steps.target_scale or steps.model_scale
            target = output_path_for(
                item, plan.output_dir, plan.name_template, scale, fmt, model=model.id, taken=used
            )
            # Reserved even if this file fails below: a rerun then gives every file the same name.
            used.add(target)
            if target.exists() and not plan.overwrite:
                raise OutputExistsError(target)
            _make_folder(target)

            notices: list[str] = [*session.notices, *image.notes]
            requested_batch = plan.batch
            if requested_batch:  # only a batch the user chose is worth a message when overridden
                message = session.batch_override_message(requested_batch)
                if message:
                    notices.append(message)
            else:
                requested_batch = _auto_batch(session.provider)

            source_pixels = image.pixels
            if tools.repair is not None:  # its own stage, with its own tiles
                source_pixels = _repair(image.pixels, tools.repair, plan.repair_tile, requested_batch or 1,
                                        token, on_stage, notices)
            elif plan.repair is not None:  # the swap: the leased model is the repair's upscaler
                notices.append(plan.repair.notice())
            pixels = upscale_array(
                source_pixels,
                session,
                target_scale=steps.target_scale,
                tile=plan.tile,
                batch=requested_batch or 1,
                token=token,
                progress=lambda p: on_stage("upscale", p.tiles_done, p.tiles_total),
                notices=notices,
                fallback=lease.fallback,
            )
            token.raise_if_cancelled()
            if tools.faces is not None:
                pixels = _recover_faces(image.pixels, pixels, tools.faces, token, on_stage, notices)
            # The write needs the metadata, not the source pixels: those are freed with `image`.
            metadata, encode_options, overwrite = image.metadata, plan.encode, plan.overwrite
            written_to = target

            def encode(out: np.ndarray) -> Path:
                return write_image(out, written_to, fmt=fmt, options=encode_options, metadata=metadata,
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
            return Inferred(source, target, pixels, result, encode, started)
        except Exception as err:
            return _failure(source, err, target)

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
            return _failure(inferred.source, err, inferred.target)


def _failure(source: Path, err: Exception, target: Path | None) -> FileOutcome:
    """A file's result for what stopped it: cancelled, or failed with its code and one line that does
    not name the file (front ends do); `target`: its output path, when it had been given one."""
    if isinstance(err, Cancelled):
        return FileOutcome(input=str(source), status="cancelled", error_code="cancelled")
    output = str(target) if target is not None else None
    if isinstance(err, PixupError):
        # An error about another file (a model, a folder) keeps its path in the line.
        reason = err.reason if err.path in (None, source, target) else str(err)
        return FileOutcome(input=str(source), output=output, status="failed", error_code=err.code,
                           error=reason)
    if isinstance(err, MemoryError):
        return FileOutcome(input=str(source), output=output, status="failed", error_code="out_of_memory",
                          error="not enough memory for this image")
    # A bug: keep the batch going, log the trace, show one line.
    log.error("unexpected failure on %s", source, exc_info=err)
    return FileOutcome(input=str(source), output=output, status="failed", error_code="internal",
                      error=one_line(err))


def _repair(
    pixels: np.ndarray,
    repair: RepairPass,
    tile: int | None,
    batch: int,
    token: CancelToken,
    on_stage: StageCallback,
    notices: list[str],
) -> np.ndarray:
    """The Fix compression pre-pass (the "repair" stage)."""
    repaired = repair.apply(pixels, tile=tile, batch=batch, token=token,
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


def _make_folder(target: Path) -> None:
    """The output's folder (and the sub-tree of a recursive job) is created; failing that, one line."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ImageWriteError("its folder cannot be created: a file is in the way", path=target) from None
    except PermissionError:
        raise ImageWriteError("its folder cannot be created: permission denied", path=target) from None
    except OSError as err:
        raise ImageWriteError(f"its folder cannot be created: {err.strerror}", path=target) from None


def _auto_batch(provider: str) -> int:
    """Batch from the hardware: eco mode (battery, integrated GPU) lowers it."""
    system = hardware.system_info()
    free_vram = system.gpus[0].free_vram if system.gpus else None
    return hardware.auto_batch(system.eco, provider, free_vram)
