"""Jobs: the service that queues and runs upscales, and the per-file runner it calls."""

from pixup.jobs.runner import FileRunner, model_ref
from pixup.jobs.service import JobService

__all__ = ["FileRunner", "JobService", "model_ref"]
