"""The job service's own picture of its jobs: immutable values the service swaps under its lock.

A caller gets the same objects the service holds and can never change them; `pixup.api.mapping`
turns them into the bridge's wire models (`pixup.api.schema.FileResult`, `FileState`,
`JobSnapshot`), whose fields these mirror one for one (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass

from pixup.choices import FileStatus, JobStatus, Stage
from pixup.errors import FailureCode


@dataclass(frozen=True)
class FileOutcome:
    """The outcome of one input file (`FileRunner`'s answer)."""

    input: str
    status: FileStatus
    output: str | None = None
    """The file written; for a failure after its name was given, where it would have gone."""
    error_code: FailureCode | None = None
    """Why it failed or was cancelled."""
    error: str | None = None
    """What went wrong, without the file's path (front ends name the file their way)."""
    width: int | None = None
    height: int | None = None
    out_width: int | None = None
    out_height: int | None = None
    seconds: float | None = None
    model: str | None = None
    provider: str | None = None
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileView(FileOutcome):
    """One file of a job at one moment: its outcome's fields, already while queued or running."""

    name: str = ""
    """File name for display (the input path's last part)."""
    stage: Stage = "queued"
    tiles_done: int = 0
    tiles_total: int = 0
    eta_s: float | None = None
    """Seconds left for this file; None = unknown."""


@dataclass(frozen=True)
class JobView:
    """A job at one moment. Files are listed in processing order."""

    job_id: str
    status: JobStatus
    files: tuple[FileView, ...]
    created: float
    """Unix time of submission."""
    error: str | None = None
    """Why the whole job failed (bad model, no images)."""
    error_code: FailureCode | None = None
    """Which failure `error` is."""
    notices: tuple[str, ...] = ()
    output_dir: str | None = None
