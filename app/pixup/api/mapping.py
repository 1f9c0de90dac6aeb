"""The job service's own state (`pixup.jobs.state`) → the bridge's wire models (`pixup.api.schema`).

The service keeps immutable dataclasses; front ends speak the pydantic models, whose fields mirror
them one for one, so each map is a read of attributes (and a test fails when the two drift apart).
"""

from __future__ import annotations

from pixup.api import schema as s
from pixup.jobs.state import FileOutcome, FileView, JobView


def job_snapshot(view: JobView) -> s.JobSnapshot:
    return s.JobSnapshot.model_validate(view, from_attributes=True)


def file_state(view: FileView) -> s.FileState:
    return s.FileState.model_validate(view, from_attributes=True)


def file_result(outcome: FileOutcome) -> s.FileResult:
    """A file's outcome as the CLI prints it with --json (a `FileView` gives its outcome's part)."""
    return s.FileResult.model_validate(outcome, from_attributes=True)
