"""The bridge's method table: name → (request model, reply model). The one list the Api class, the
HTTP server and the generated TypeScript (`ui/src/lib/bridge.ts`) all follow."""

from __future__ import annotations

from pydantic import BaseModel

from pixup.api import schema as s

METHODS: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "system_info": (s.Empty, s.SystemInfo),
    "capabilities": (s.Empty, s.Capabilities),
    "list_models": (s.Empty, s.ModelList),
    "select_model": (s.SelectModelRequest, s.SelectModelResult),
    "start_job": (s.StartJobRequest, s.JobSnapshot),
    "cancel_job": (s.JobRef, s.JobSnapshot),
    "cancel_file": (s.FileRef, s.JobSnapshot),
    "job_status": (s.JobRef, s.JobSnapshot),
    "list_jobs": (s.Empty, s.JobList),
    "get_settings": (s.Empty, s.Settings),
    "set_settings": (s.Settings, s.Settings),
    "edit_model": (s.EditModelRequest, s.ModelInfo),
    "import_model": (s.PathRequest, s.ImportResult),
    "pick_files": (s.PickRequest, s.PathList),
    "pick_folder": (s.Empty, s.PathList),
    "pick_output": (s.Empty, s.PathList),
    "open_output": (s.PathRequest, s.Ok),
}

POLLED = frozenset({"job_status", "list_jobs"})
"""Methods a page calls several times a second while jobs run, each a snapshot built under a short
lock: logged at DEBUG (at INFO, four lines a second per open page filled the log), and answered on
`pixup serve`'s event loop rather than through its thread pool, whose hand-off and return cost more
than the call (benchmarks/bench_serve_load.py)."""
