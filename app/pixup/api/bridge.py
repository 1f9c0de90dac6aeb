"""The bridge: the one door between a front end and pixup. Every method takes one pydantic request
and returns one pydantic reply (the table is `pixup.api.methods`); a failure is an `ApiError` with
one line for a toast, never a traceback.

The desktop window exposes `Api.call` to JavaScript through pywebview; `pixup serve` maps
`POST /api/<method>` onto `Api.handle`. Both go through `Api.dispatch`.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ValidationError

from pixup import __version__
from pixup.api import schema as s
from pixup.api.dialogs import Dialogs
from pixup.api.mapping import job_snapshot
from pixup.api.methods import METHODS, POLLED
from pixup.errors import ConflictError, NotFoundError, PixupError, RequestError, UnavailableError
from pixup.imaging.atomic import atomic_write
from pixup.jobs.plan import chosen_model
from pixup.jobs.service import JobService, faces_unavailable
from pixup.jobs.state import JobView
from pixup.models.bundled import SCENARIO_MODELS, bundled_model
from pixup.models.config import ModelOverride
from pixup.models.face_models import face_models
from pixup.paths import user_paths

log = logging.getLogger("pixup.api")

SETTINGS_NAME = "settings.json"

HTTP_STATUS: dict[s.ErrorCode, int] = {
    "invalid_request": 400, "not_found": 404, "conflict": 409, "unavailable": 422, "internal": 500,
    "starting": 503, "closed": 503,
}

NO_DIALOGS = "No native dialogs here: drop files on the window or type a folder path."

SCENARIO_DESCRIPTIONS: dict[s.Scenario, str] = {
    "Universal Fast": "Photos and pictures, quickly",
    "Universal Balanced": "Photos: a little sharper, a little slower",
    "Universal Quality": "Photos: the best measured result, slowest",
    "Digital Art": "Drawings, anime, line art",
}


class ApiFailure(Exception):
    """Carries the ApiError a method ends with."""

    def __init__(self, error: s.ApiError) -> None:
        super().__init__(error.message)
        self.error = error


class Api:
    """The bridge methods. Thread-safe: front ends may call from several threads at once."""

    def __init__(
        self,
        service: JobService | None = None,
        dialogs: Dialogs | None = None,
        *,
        output_dir: str | None = None,
        uploads: bool = False,
        settings_path: Path | None = None,
    ) -> None:
        """`output_dir`: default output folder (`pixup serve --output`); `uploads`: the front end
        uploads dropped files (a browser) rather than handing over paths (the window)."""
        self.service = service or JobService()
        self.dialogs = dialogs
        self.default_output = output_dir
        self.uploads = uploads
        self._settings_path = settings_path or user_paths().config / SETTINGS_NAME
        self._settings_lock = threading.Lock()
        self._files_lock = threading.Lock()
        self._files: set[Path] = set()
        self._seen: set[str] = set()
        self.service.subscribe(self._remember_files)

    # ------------------------------------------------------------------ transport entry points

    def call(self, method: str, payload: object = None) -> dict[str, Any]:
        """pywebview's entry: `{"ok": true, "result": ...}` or `{"ok": false, "error": ApiError}`."""
        try:
            return {"ok": True, "result": self.dispatch(method, payload).model_dump(mode="json")}
        except ApiFailure as failure:
            return {"ok": False, "error": failure.error.model_dump(mode="json")}

    def handle(self, method: str, body: bytes) -> tuple[int, bytes]:
        """HTTP's entry: (status, JSON body) for `POST /api/<method>`."""
        try:
            payload = json.loads(body) if body.strip() else {}
            reply = self.dispatch(method, payload)
            return 200, reply.model_dump_json().encode()
        except json.JSONDecodeError:
            error = s.ApiError(code="invalid_request", message="the request body is not JSON")
        except ApiFailure as failure:
            error = failure.error
        return HTTP_STATUS[error.code], error.model_dump_json().encode()

    def dispatch(self, method: str, payload: object) -> BaseModel:
        """Validate `payload` against the method's request model, run it, return its reply."""
        if method not in METHODS:
            raise ApiFailure(s.ApiError(code="not_found", message=f"no bridge method {method!r}"))
        log.log(logging.DEBUG if method in POLLED else logging.INFO, "bridge call %s", method)
        request_type, reply_type = METHODS[method]
        try:
            request = request_type.model_validate(payload if payload is not None else {})
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "request"
            raise ApiFailure(s.ApiError(code="invalid_request", message=f"{where}: {first['msg']}")) from None
        handler: Callable[[BaseModel], BaseModel] = getattr(self, method)
        try:
            reply = handler(request)
        except ApiFailure:
            raise
        except (NotFoundError, ConflictError, UnavailableError, RequestError, PixupError) as err:
            raise ApiFailure(s.ApiError(code=_code(err), message=str(err), kind=err.code)) from None
        except Exception as err:  # a bug: log the trace, give the UI one line
            log.exception("bridge method %s failed", method)
            raise ApiFailure(s.ApiError(code="internal", message=f"internal error: {err}")) from None
        return reply_type.model_validate(reply)

    def close(self) -> None:
        self.service.shutdown()

    # ------------------------------------------------------------------ files the session may show

    def may_serve(self, path: Path) -> bool:
        """True for an input or output of one of this session's jobs (previews, results)."""
        with self._files_lock:
            return path in self._files

    def _remember_files(self, snapshot: JobView) -> None:
        # Called up to 10×/s per job with every file: resolve only paths not seen before. A failed
        # file's output names where it would have gone (a file that may be someone else's): only
        # outputs of done files are this session's.
        with self._files_lock:
            new = {p for f in snapshot.files for p in (f.input, f.output if f.status == "done" else None)
                   if p and p not in self._seen}
            self._seen.update(new)
        resolved = {Path(p).resolve() for p in new}
        with self._files_lock:
            self._files.update(resolved)

    # ------------------------------------------------------------------ methods (see METHODS)

    def system_info(self, _: s.Empty) -> s.SystemInfo:
        from pixup.engine import hardware
        from pixup.engine.providers import device_name, provider_plan

        system = hardware.system_info()
        session = self.service.slot.loaded_session
        loaded = self.service.slot.loaded
        if session is not None:
            choice, precision = session.choice, session.precision_label
        else:
            choice = provider_plan("fast")[0]
            precision = choice.precision_label
        device, provider = device_name(choice), choice.name  # short enough for the panel
        return s.SystemInfo(
            version=__version__,
            device=device,
            provider=provider,
            precision=precision,
            providers=list(system.providers),
            cpu=system.cpu_name,
            ram_total=system.ram_total,
            ram_used=system.ram_total - system.ram_free,
            gpus=[s.GpuInfo(name=g.name, vram_total=g.total_vram, vram_used=g.total_vram - g.free_vram)
                  for g in system.gpus],
            eco_mode=system.eco,
            loaded_model=loaded.id if loaded is not None else None,
        )

    def capabilities(self, _: s.Empty) -> s.Capabilities:
        return s.Capabilities(native_dialogs=self.dialogs is not None, uploads=self.uploads,
                              faces=faces_unavailable())

    def list_models(self, _: s.Empty) -> s.ModelList:
        from pixup.models.catalogue import list_models

        config = self.service.config
        config.load()
        models = [self._model_info(entry.id, entry.display_name, entry.source, entry.scenario,
                                   entry.description, entry.nominal_scale)
                  for entry in list_models()]
        scenarios = [s.ScenarioInfo(name=name, model_id=model_id, description=SCENARIO_DESCRIPTIONS[name])
                     for name, model_id in SCENARIO_MODELS.items()]
        return s.ModelList(models=models, scenarios=scenarios, config_error=config.error,
                           face_models=[p.stem for p in face_models()])

    def select_model(self, request: s.SelectModelRequest) -> s.SelectModelResult:
        ref = chosen_model(request.model, request.scenario)
        preloading = self.service.slot.preload(ref, request.precision)
        return s.SelectModelResult(model_id=ref, preloading=preloading)

    def start_job(self, request: s.StartJobRequest) -> s.JobSnapshot:
        options = request.options
        if options.output_dir is None and self.default_output:
            options = options.model_copy(update={"output_dir": self.default_output})
        return job_snapshot(self.service.submit(request.job_id, [Path(p) for p in request.inputs], options))

    def cancel_job(self, request: s.JobRef) -> s.JobSnapshot:
        return job_snapshot(self.service.cancel(request.job_id))

    def cancel_file(self, request: s.FileRef) -> s.JobSnapshot:
        return job_snapshot(self.service.cancel_file(request.job_id, request.file))

    def job_status(self, request: s.JobRef) -> s.JobSnapshot:
        return job_snapshot(self.service.status(request.job_id))

    def list_jobs(self, _: s.Empty) -> s.JobList:
        return s.JobList(jobs=[job_snapshot(view) for view in self.service.list()])

    def get_settings(self, _: s.Empty) -> s.Settings:
        with self._settings_lock:
            try:
                settings = s.Settings.model_validate_json(self._settings_path.read_bytes())
            except FileNotFoundError:
                settings = s.Settings()
            except (OSError, ValidationError) as err:
                log.warning("ignoring unreadable settings %s: %s", self._settings_path, err)
                settings = s.Settings()
        if settings.output_dir is None and self.default_output:
            settings = settings.model_copy(update={"output_dir": self.default_output})
        return settings

    def set_settings(self, settings: s.Settings) -> s.Settings:
        data = (settings.model_dump_json(indent=2) + "\n").encode()
        with self._settings_lock:
            self._settings_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self._settings_path, functools.partial(_write_all, data), overwrite=True)
        return settings

    def edit_model(self, request: s.EditModelRequest) -> s.ModelInfo:
        from pixup.models.catalogue import list_models

        entry = next((e for e in list_models() if e.id == request.model_id), None)
        if entry is None:
            raise NotFoundError(f"no model {request.model_id}")
        changes = {name: getattr(request, name) for name in request.model_fields_set if name != "model_id"}
        current = self.service.config.override_for(request.model_id)
        override = ModelOverride.model_validate({**current.model_dump(), **changes})
        self.service.config.set_override(request.model_id, override)
        return self._model_info(entry.id, entry.display_name, entry.source, entry.scenario,
                                entry.description, entry.nominal_scale)

    def import_model(self, request: s.PathRequest) -> s.ImportResult:
        from pixup.models.importing import import_models

        outcomes = import_models(Path(request.path))
        return s.ImportResult(outcomes=[
            s.ImportOutcomeInfo(source=str(o.source), model_id=o.model.id if o.model else None, error=o.error,
                                face=bool(o.model and o.model.face),
                                notes=list(o.model.notes) if o.model else [])
            for o in outcomes
        ])

    def pick_files(self, request: s.PickRequest) -> s.PathList:
        return s.PathList(paths=self._dialogs().pick_files(request.multiple))

    def pick_folder(self, _: s.Empty) -> s.PathList:
        return s.PathList(paths=self._dialogs().pick_folder())

    def pick_output(self, _: s.Empty) -> s.PathList:
        return s.PathList(paths=self._dialogs().pick_output())

    def open_output(self, request: s.PathRequest) -> s.Ok:
        path = Path(request.path)
        if not path.exists():
            raise NotFoundError(f"{path} does not exist")
        self._dialogs().open_path(str(path))
        return s.Ok()

    # ------------------------------------------------------------------ helpers

    def _dialogs(self) -> Dialogs:
        if self.dialogs is None:
            raise UnavailableError(NO_DIALOGS)
        return self.dialogs

    def _model_info(self, model_id: str, display_name: str, source: str, scenario: str | None,
                    description: str, nominal_scale: int | None) -> s.ModelInfo:
        override = self.service.config.override_for(model_id)
        loaded, session = self.service.slot.loaded, self.service.slot.loaded_session
        fixed = session.spec.static_batch if loaded is not None and session is not None and \
            loaded.id == model_id else None
        bundled = bundled_model(model_id)
        return s.ModelInfo(
            id=model_id,
            display_name=override.display_name or display_name,
            source=source,
            scenario=override.scenario or scenario or (None if bundled else "Custom"),
            description=description,
            nominal_scale=nominal_scale,
            batch_size=override.batch_size,
            tile_size=override.tile_size,
            fixed_batch=fixed,
        )


def _write_all(data: bytes, out: BinaryIO) -> None:
    out.write(data)


def _code(err: PixupError) -> s.ErrorCode:
    if isinstance(err, NotFoundError):
        return "not_found"
    if isinstance(err, ConflictError):
        return "conflict"
    if isinstance(err, UnavailableError):
        return "unavailable"
    return "invalid_request"

