"""Jobs: caller-made ids, cancel flags, and the file → imaging → engine → imaging → file flow.

The CLI and the desktop bridge both drive upscales only through `JobRunner`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pixup.api.schema import FileResult, JobProgress, UpscaleOptions
from pixup.engine import hardware
from pixup.engine.cancel import Cancelled, CancelToken
from pixup.engine.progress import Progress
from pixup.engine.scaling import plan_scale
from pixup.engine.upscale import upscale_array
from pixup.errors import ImageWriteError, PixupError
from pixup.imaging.decode import DEFAULT_MAX_PIXELS, read_image
from pixup.imaging.encode import EncodeOptions, write_image
from pixup.imaging.limits import Format, check_output_fits
from pixup.imaging.naming import InputItem, check_template, collect_inputs, output_path_for
from pixup.models.bundled import DEFAULT_MODEL_ID
from pixup.models.config import ConfigStore
from pixup.models.slot import ModelSlot
from pixup.paths import user_paths

log = logging.getLogger(__name__)

ProgressCallback = Callable[[JobProgress], None]
ResultCallback = Callable[[FileResult], None]

WRITABLE_FORMATS: dict[str, Format] = {
    "PNG": "png", "WEBP": "webp", "JPEG": "jpg", "MPO": "jpg", "TIFF": "tiff"
}
"""Input formats pixup can write back as they are; others (BMP, GIF, AVIF...) become PNG."""


class JobRegistry:
    """Cancel tokens by job id. Ids are made by the caller (UI: a UUID) before the request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, CancelToken] = {}

    @contextmanager
    def register(self, job_id: str) -> Iterator[CancelToken]:
        token = CancelToken()
        with self._lock:
            if job_id in self._tokens:
                raise ValueError(f"job id {job_id!r} is already running")
            self._tokens[job_id] = token
        try:
            yield token
        finally:
            with self._lock:
                self._tokens.pop(job_id, None)

    def cancel(self, job_id: str) -> bool:
        """Cancel a running job; False when no such job runs (already done, or never started)."""
        with self._lock:
            token = self._tokens.get(job_id)
        if token is None:
            return False
        token.cancel()
        return True

    def cancel_all(self) -> None:
        with self._lock:
            tokens = list(self._tokens.values())
        for token in tokens:
            token.cancel()


class JobRunner:
    """Runs upscale jobs through one model slot (one session in memory; switching drops the old)."""

    def __init__(self, slot: ModelSlot | None = None, config: ConfigStore | None = None) -> None:
        self.registry = JobRegistry()
        self.slot = slot or ModelSlot()
        if config is None:
            config = ConfigStore(user_paths().models)
            config.load()
        self.config = config

    def run(
        self,
        job_id: str,
        inputs: list[Path],
        options: UpscaleOptions,
        *,
        on_progress: ProgressCallback | None = None,
        on_result: ResultCallback | None = None,
    ) -> list[FileResult]:
        """Upscale every input; one FileResult per file, in order. Never raises for a bad file.

        A cancel stops the file in flight (nothing written) and marks the rest cancelled.
        """
        with self.registry.register(job_id) as token:
            results: list[FileResult] = []

            def emit(result: FileResult) -> None:
                results.append(result)
                if on_result:
                    on_result(result)

            out_dir = Path(options.output_dir) if options.output_dir else None
            try:
                check_template(options.name_template)
                items = collect_inputs(
                    inputs, recursive=options.recursive, exclude=[out_dir] if out_dir else []
                )
            except PixupError as err:
                emit(FileResult(input=", ".join(map(str, inputs)), status="failed", error=str(err)))
                return results
            if not items:
                emit(FileResult(input=", ".join(map(str, inputs)), status="failed",
                                error="no image files found"))
                return results
            try:
                # Load once, up front: a bad model is one error for the job, not one per file.
                self.slot.get(options.model or DEFAULT_MODEL_ID, options.precision)
            except PixupError as err:
                emit(FileResult(input=", ".join(map(str, inputs)), status="failed", error=str(err)))
                return results
            used: set[Path] = set()
            for index, item in enumerate(items):
                if token.cancelled:
                    emit(FileResult(input=str(item.source), status="cancelled"))
                    continue
                emit(self._run_one(job_id, item, index, len(items), options, token, on_progress, used))
            return results

    def _run_one(
        self,
        job_id: str,
        item: InputItem,
        index: int,
        total: int,
        options: UpscaleOptions,
        token: CancelToken,
        on_progress: ProgressCallback | None,
        used: set[Path],
    ) -> FileResult:
        started = time.perf_counter()
        source = item.source
        try:
            model, session = self.slot.get(options.model or DEFAULT_MODEL_ID, options.precision)
            override = self.config.override_for(model.id)
            image = read_image(source, max_pixels=None if options.allow_large else DEFAULT_MAX_PIXELS)
            scale = options.scale or session.spec.scale
            plan = plan_scale(session.spec.scale, options.scale)
            out_h, out_w = plan.output_size(image.height, image.width)
            fmt: Format = options.format or WRITABLE_FORMATS.get(image.format.upper(), "png")
            # Refuse before minutes of inference: size limits of the format, an existing output.
            check_output_fits(out_w, out_h, fmt, channels=image.channels, bit_depth=image.bit_depth)
            out_dir = Path(options.output_dir) if options.output_dir else None
            target = output_path_for(item, out_dir, options.name_template, scale, fmt, model=model.id)
            if target in used:  # "a.png" and "a.jpg" in one folder: keep both outputs
                target = target.with_name(f"{target.stem}_{source.suffix.lstrip('.').lower()}{target.suffix}")
            if target.exists() and not options.overwrite:
                raise ImageWriteError(f"{target} exists; use --overwrite to replace it")
            _make_folder(target.parent)

            notices: list[str] = [*session.notices, *image.notes]
            requested_batch = options.batch or override.batch_size
            if requested_batch:  # only a batch the user chose is worth a message when overridden
                message = session.batch_override_message(requested_batch)
                if message:
                    notices.append(message)
            else:
                requested_batch = _auto_batch(session.provider)

            def report(progress: Progress) -> None:
                if on_progress:
                    on_progress(
                        JobProgress(
                            job_id=job_id,
                            file=str(source),
                            file_index=index,
                            files_total=total,
                            tiles_done=progress.tiles_done,
                            tiles_total=progress.tiles_total,
                        )
                    )

            pixels = upscale_array(
                image.pixels,
                session,
                target_scale=options.scale,
                tile=options.tile or override.tile_size,
                batch=requested_batch or 1,
                token=token,
                progress=report,
                notices=notices,
            )
            token.raise_if_cancelled()
            written = write_image(
                pixels,
                target,
                fmt=fmt,
                options=_encode_options(options),
                metadata=image.metadata,
                overwrite=options.overwrite,
            )
            used.add(written)
            return FileResult(
                input=str(source),
                output=str(written),
                status="done",
                width=image.width,
                height=image.height,
                out_width=int(pixels.shape[1]),
                out_height=int(pixels.shape[0]),
                seconds=round(time.perf_counter() - started, 3),
                model=model.id,
                provider=session.provider,
                notices=list(dict.fromkeys(notices)),
            )
        except Cancelled:
            return FileResult(input=str(source), status="cancelled")
        except PixupError as err:
            return FileResult(input=str(source), status="failed", error=_with_file(str(err), source))
        except MemoryError:
            return FileResult(input=str(source), status="failed", error="not enough memory for this image")
        except Exception as err:  # a bug: keep the batch going, log the trace, show one line
            log.exception("unexpected failure on %s", source)
            return FileResult(input=str(source), status="failed", error=f"internal error: {err}")


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
