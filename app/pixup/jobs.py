"""Jobs: caller-made ids, cancel flags, and the file → imaging → engine → imaging → file flow.

The CLI and the desktop bridge both drive upscales only through `JobRunner`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pixup.api.schema import FileResult, JobProgress, UpscaleOptions
from pixup.engine.cancel import Cancelled, CancelToken
from pixup.engine.progress import Progress
from pixup.engine.session import ModelSession
from pixup.engine.upscale import upscale_array
from pixup.errors import PixupError
from pixup.imaging.decode import read_image
from pixup.imaging.encode import EncodeOptions, check_output_fits, write_image
from pixup.imaging.metadata import Metadata
from pixup.imaging.naming import InputItem, collect_inputs, output_path_for
from pixup.models.bundled import DEFAULT_MODEL_ID
from pixup.models.catalogue import ResolvedModel, resolve_model

log = logging.getLogger(__name__)

ProgressCallback = Callable[[JobProgress], None]
ResultCallback = Callable[[FileResult], None]

WRITABLE_FORMATS = {"png": "png", "webp": "webp", "jpeg": "jpg", "jpg": "jpg", "tiff": "tiff"}


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


@dataclass
class _LoadedModel:
    model: ResolvedModel
    precision: str
    session: ModelSession


@dataclass
class JobRunner:
    """Runs upscale jobs. Holds one model session at a time (switching drops the old one first)."""

    registry: JobRegistry = field(default_factory=JobRegistry)
    _loaded: _LoadedModel | None = None
    _load_lock: threading.Lock = field(default_factory=threading.Lock)

    def session_for(self, options: UpscaleOptions) -> tuple[ResolvedModel, ModelSession]:
        model = resolve_model(options.model or DEFAULT_MODEL_ID)
        with self._load_lock:
            loaded = self._loaded
            if loaded and loaded.model.onnx_path == model.onnx_path and loaded.precision == options.precision:
                return model, loaded.session
            if loaded is not None:
                self._loaded = None
                loaded.session.close()
            session = ModelSession.open(model.onnx_path, precision=options.precision)
            self._loaded = _LoadedModel(model, options.precision, session)
            return model, session

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
            try:
                items = collect_inputs(inputs, recursive=options.recursive)
            except PixupError as err:
                result = FileResult(input=", ".join(map(str, inputs)), status="failed", error=str(err))
                if on_result:
                    on_result(result)
                return [result]
            for index, item in enumerate(items):
                if token.cancelled:
                    result = FileResult(input=str(item.source), status="cancelled")
                else:
                    result = self._run_one(job_id, item, index, len(items), options, token, on_progress)
                results.append(result)
                if on_result:
                    on_result(result)
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
    ) -> FileResult:
        started = time.perf_counter()
        source = item.source
        try:
            model, session = self.session_for(options)
            image = read_image(source, max_pixels=None if options.allow_large else _default_max_pixels())
            height, width = image.pixels.shape[:2]
            scale = options.scale or session.spec.scale
            out_w, out_h = round(width * scale), round(height * scale)
            fmt = options.format or WRITABLE_FORMATS.get(image.format.lower(), "png")
            # Refuse before minutes of inference: size limits of the format, an existing output.
            check_output_fits(out_w, out_h, fmt)
            out_dir = Path(options.output_dir) if options.output_dir else None
            target = output_path_for(item, out_dir, options.name_template, scale, fmt)
            if target.exists() and not options.overwrite:
                raise PixupError(f"{target} exists; use --overwrite to replace it")

            notices: list[str] = list(session.notices) + list(image.notes)
            requested_batch = options.batch
            override = session.batch_override_message(requested_batch) if requested_batch else None
            if override:
                notices.append(override)

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
                tile=options.tile,
                batch=requested_batch or 1,
                token=token,
                progress=report,
                notices=notices,
            )
            token.raise_if_cancelled()
            metadata = Metadata(exif=image.exif, icc=image.icc_profile, xmp=image.xmp)
            written = write_image(
                pixels,
                target,
                fmt=fmt,
                options=_encode_options(options),
                metadata=metadata,
                overwrite=options.overwrite,
            )
            return FileResult(
                input=str(source),
                output=str(written),
                status="done",
                width=width,
                height=height,
                out_width=int(pixels.shape[1]),
                out_height=int(pixels.shape[0]),
                seconds=round(time.perf_counter() - started, 3),
                model=model.id,
                provider=session.provider,
                notices=notices,
            )
        except Cancelled:
            return FileResult(input=str(source), status="cancelled")
        except PixupError as err:
            return FileResult(input=str(source), status="failed", error=str(err))
        except MemoryError:
            return FileResult(input=str(source), status="failed", error="not enough memory for this image")
        except Exception as err:  # a bug: keep the batch going, log the trace, show one line
            log.exception("unexpected failure on %s", source)
            return FileResult(input=str(source), status="failed", error=f"internal error: {err}")


def _encode_options(options: UpscaleOptions) -> EncodeOptions:
    if options.quality is None:
        return EncodeOptions()
    return EncodeOptions(quality=options.quality)


def _default_max_pixels() -> int:
    from pixup.imaging.decode import DEFAULT_MAX_PIXELS

    return DEFAULT_MAX_PIXELS
