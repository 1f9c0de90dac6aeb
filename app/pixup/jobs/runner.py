"""One file through the flow: file → imaging → engine → imaging → file.

`JobService` (pixup.jobs.service) queues jobs and calls `FileRunner` for each file; the CLI and the
bridge only talk to the service.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from pixup.api.schema import FileResult, UpscaleOptions
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
from pixup.models.bundled import DEFAULT_MODEL_ID, SCENARIO_MODELS
from pixup.models.config import ConfigStore
from pixup.models.slot import Lease

log = logging.getLogger(__name__)

TileCallback = Callable[[Progress], None]

WRITABLE_FORMATS: dict[str, Format] = {
    "PNG": "png", "WEBP": "webp", "JPEG": "jpg", "MPO": "jpg", "TIFF": "tiff"
}
"""Input formats pixup can write back as they are; others (BMP, GIF, AVIF...) become PNG."""


def model_ref(options: UpscaleOptions) -> str:
    """The model a job runs: an explicit model, else the scenario's measured pick, else the default."""
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


class FileRunner:
    """Upscales single files with a leased session; never raises for a bad file."""

    def __init__(self, config: ConfigStore) -> None:
        self.config = config

    def run(
        self,
        item: InputItem,
        options: UpscaleOptions,
        lease: Lease,
        token: CancelToken,
        on_tile: TileCallback | None,
        used: set[Path],
    ) -> FileResult:
        """`used`: outputs already written by this job ("a.png" and "a.jpg" must not collide)."""
        started = time.perf_counter()
        source = item.source
        try:
            model, session = lease.model, lease.session
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
            target = output_path_for(item, out_dir, options.name_template, scale, fmt, model=model.id)
            if target in used:
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

            pixels = upscale_array(
                image.pixels,
                session,
                target_scale=options.scale,
                tile=options.tile or override.tile_size,
                batch=requested_batch or 1,
                token=token,
                progress=on_tile,
                notices=notices,
                fallback=lease.fallback,
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
                provider=lease.session.provider,
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
