"""pydantic models: the typed contract every front end speaks. TypeScript types are generated from here
(`scripts/gen_types.py` → `ui/src/lib/types.ts`; a test fails when that file is stale).

Every bridge method takes one request model and returns one response model (see `pixup.api.bridge`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Defined without pydantic at the bottom (every layer uses them); re-exported from here.
from pixup.choices import FileStatus as FileStatus
from pixup.choices import JobStatus as JobStatus
from pixup.choices import JpegSubsampling as JpegSubsampling
from pixup.choices import ModelScenario as ModelScenario
from pixup.choices import OutputFormat as OutputFormat
from pixup.choices import Precision as Precision
from pixup.choices import Scenario as Scenario
from pixup.choices import Stage as Stage
from pixup.errors import FailureCode as FailureCode

# The job's own request model (jobs/ sits below the bridge); part of the wire contract too.
from pixup.jobs.options import UpscaleOptions as UpscaleOptions
from pixup.models.config import ModelOverride

Theme = Literal["system", "dark", "light"]
ErrorCode = Literal[
    "invalid_request", "not_found", "unavailable", "conflict", "internal", "starting", "closed"
]
"""What kind of answer a bridge call got instead of its reply (the HTTP status follows from it);
"starting" and "closed": the window's engine is not there yet, or any more."""


class FileResult(BaseModel):
    """The outcome of one input file; the CLI prints it as one JSON line with --json."""

    input: str
    output: str | None = Field(
        default=None, description="The file written; after a failure once it had a name, where it would go"
    )
    status: FileStatus
    error_code: FailureCode | None = Field(default=None, description="Why it failed or was cancelled")
    error: str | None = Field(
        default=None, description="What went wrong, without the file's path (front ends name the file)"
    )
    width: int | None = None
    height: int | None = None
    out_width: int | None = None
    out_height: int | None = None
    seconds: float | None = None
    model: str | None = None
    provider: str | None = None
    notices: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------ jobs


class FileState(FileResult):
    """One file of a job as the UI shows it: a FileResult while it is still queued or running too."""

    name: str = Field(description="File name for display (the input path's last part)")
    stage: Stage = "queued"
    tiles_done: int = 0
    tiles_total: int = 0
    eta_s: float | None = Field(default=None, description="Seconds left for this file; None = unknown")


class JobSnapshot(BaseModel):
    """A job at one moment. Files are listed in processing order."""

    job_id: str
    status: JobStatus
    files: list[FileState]
    error: str | None = Field(default=None, description="Why the whole job failed (bad model, no images)")
    error_code: FailureCode | None = Field(default=None, description="Which failure `error` is")
    notices: list[str] = Field(default_factory=list)
    output_dir: str | None = None
    created: float = Field(description="Unix time of submission")


class JobList(BaseModel):
    jobs: list[JobSnapshot]


# ------------------------------------------------------------------ bridge requests and replies


class Empty(BaseModel):
    """The request of methods that take nothing."""

    model_config = ConfigDict(extra="forbid")


class Ok(BaseModel):
    ok: bool = True


class ApiError(BaseModel):
    """What every bridge method returns instead of its reply when it fails: one line for a toast."""

    code: ErrorCode
    message: str
    kind: FailureCode | None = Field(
        default=None, description="Which failure, when the request failed on what it asked (unknown model...)"
    )


class StartJobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9-]+$",
                        description="Made by the caller (a UUID) before the request")
    inputs: list[str] = Field(min_length=1, description="Files or folders")
    options: UpscaleOptions = Field(default_factory=UpscaleOptions)


class JobRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str


class FileRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str
    file: str = Field(description="The file's `input` path as the job snapshot lists it")


class GpuInfo(BaseModel):
    name: str
    vram_total: int
    vram_used: int


class SystemInfo(BaseModel):
    version: str
    device: str = Field(description="Where inference runs, e.g. 'OpenVINO CPU'")
    provider: str = Field(description="The execution provider of the loaded (or first-choice) session")
    precision: str = Field(description="Arithmetic actually used: bf16, fp16, fp32, int8")
    providers: list[str]
    cpu: str
    ram_total: int
    ram_used: int
    gpus: list[GpuInfo]
    eco_mode: bool
    loaded_model: str | None = None


class ModelInfo(BaseModel):
    id: str
    display_name: str
    source: str = Field(description="bundled, onnx, ncnn")
    scenario: str | None = Field(description="Scenario label (bundled), 'Custom' for imported models")
    description: str
    nominal_scale: int | None
    batch_size: int | None = Field(default=None, description="model_config.json override")
    tile_size: int | None = Field(default=None, description="model_config.json override")
    fixed_batch: int | None = Field(default=None, description="Batch the model itself requires, when known")


class ScenarioInfo(BaseModel):
    name: Scenario
    model_id: str
    description: str


class ModelList(BaseModel):
    models: list[ModelInfo]
    scenarios: list[ScenarioInfo]
    config_error: str | None = Field(default=None, description="model_config.json is invalid: why")
    face_models: list[str] = Field(default_factory=list, description="Imported face models, by name")


class SelectModelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(default="", description="Model id or path; empty = the scenario's model")
    scenario: Scenario | None = None
    precision: Precision = "fast"


class SelectModelResult(BaseModel):
    model_id: str
    preloading: bool = Field(description="False when skipped (little RAM): the upscale loads it instead")


class EditModelRequest(ModelOverride):
    """Fields left out keep their value; a field sent as null goes back to pixup's choice. The fields
    are model_config.json's (`ModelOverride`), for the model `model_id`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_id: str


class PathRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)


class ImportOutcomeInfo(BaseModel):
    source: str
    model_id: str | None = None
    error: str | None = None
    face: bool = Field(default=False, description="Stored as a face model for Face recovery")
    notes: list[str] = Field(default_factory=list)


class ImportResult(BaseModel):
    outcomes: list[ImportOutcomeInfo]


class PickRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    multiple: bool = True


class PathList(BaseModel):
    paths: list[str]


class Settings(BaseModel):
    """What the UI remembers between runs (config folder, settings.json)."""

    model_config = ConfigDict(extra="forbid")

    scenario: Scenario = "Universal Fast"
    model: str = Field(default="", description="Advanced: a model id that overrides the scenario")
    scale: float = Field(default=4, gt=0, le=16)
    format: OutputFormat | None = None
    quality: int = Field(default=92, ge=1, le=100)
    output_dir: str | None = None
    repair_enabled: bool = False
    repair_strength: int = Field(default=50, ge=0, le=100)
    faces: bool = False
    face_model: str = Field(default="", description="Empty = the first imported face model")
    precision: Precision = "fast"
    theme: Theme = "system"


class Capabilities(BaseModel):
    """What this build and this front end can do; the UI disables the rest and says why."""

    native_dialogs: bool = Field(description="pick_files/pick_folder/pick_output open a native dialog")
    uploads: bool = Field(description="Dropped files are uploaded (browser) instead of given as paths")
    faces: str | None = Field(description="None = available; otherwise why not")


class UploadResult(BaseModel):
    path: str = Field(description="Where the uploaded file now lies; use it as a job input")
