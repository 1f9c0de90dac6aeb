"""Errors that reach the user as one clear line. Anything else is a bug and is logged with its trace."""

from __future__ import annotations


class PixupError(Exception):
    """Base: `str(err)` is the one line the user sees."""


class ImageReadError(PixupError):
    """The input is not a readable image (missing, empty, truncated, not an image, too big...)."""


class ImageWriteError(PixupError):
    """The output could not be written (folder missing or read-only, disk full, format limits...)."""


class ModelError(PixupError):
    """The model cannot be used: not ONNX, not image-to-image, unknown op, broken file."""


class EngineError(PixupError):
    """Inference failed on every provider and tile size we could try."""


class RequestError(PixupError):
    """A caller asked for something that cannot be done as asked (bad value, unknown id)."""


class NotFoundError(RequestError):
    """No such job, file or model."""


class ConflictError(RequestError):
    """The request clashes with the current state (a job id already in use)."""


class UnavailableError(RequestError):
    """A feature this build or front end does not offer (yet); the message says why."""
