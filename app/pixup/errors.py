"""Errors that reach the user as one clear line. Anything else is a bug and is logged with its trace."""

from __future__ import annotations

from pathlib import Path


class PixupError(Exception):
    """Base: `str(err)` is the one line the user sees."""


def one_line(err: BaseException, *, last: bool = False, limit: int = 300) -> str:
    """One line of a foreign exception's message, for a message of pixup's own: its first non-blank
    line (the last with `last`, for libraries that put the cause at the end), at most `limit`
    characters; the exception's type name when its message is empty."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    return lines[-1 if last else 0][:limit]


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



# Typed errors whose remedy is an option of the front end: their lines say what is wrong, never
# which flag or button fixes it; the CLI and the UI add their own advice. A front end that only gets
# the line (a failed file's `error` in a job) recognises it with `describes`.


class OutputExistsError(ImageWriteError):
    """The output file exists and replacing it was not asked for; `path` is that file."""

    TAIL = " already exists"

    def __init__(self, path: Path | str) -> None:
        super().__init__(str(path))  # args stay (path,), so the error pickles and compares as built
        self.path = Path(path)

    def __str__(self) -> str:
        return f"{self.path}{self.TAIL}"

    @classmethod
    def describes(cls, line: str) -> bool:
        return line.endswith(cls.TAIL)


class ImageTooLargeError(ImageReadError):
    """The image has more pixels than the limit that guards against decompression bombs."""

    TAIL = "safety limit against decompression bombs"

    @classmethod
    def describes(cls, line: str) -> bool:
        return line.endswith(cls.TAIL)


class ModelNameTakenError(ModelError):
    """An import would store a model under an id already in use: a bundled model's (`bundled`), or a
    user model's that replacing was not asked for."""

    def __init__(self, model_id: str, *, bundled: bool) -> None:
        super().__init__(model_id)
        self.model_id = model_id
        self.bundled = bundled

    def __reduce__(self) -> tuple[object, ...]:
        return _rebuild_name_taken, (self.model_id, self.bundled)

    def __str__(self) -> str:
        if self.bundled:
            return f"{self.model_id!r} is the id of a bundled model"
        return f"a model named {self.model_id} already exists"


def _rebuild_name_taken(model_id: str, bundled: bool) -> ModelNameTakenError:
    return ModelNameTakenError(model_id, bundled=bundled)


class UnknownModelError(ModelError):
    """No model has this id or path; the line lists close matches."""

    HEAD = "unknown model "

    @classmethod
    def describes(cls, line: str) -> bool:
        return line.startswith(cls.HEAD)
