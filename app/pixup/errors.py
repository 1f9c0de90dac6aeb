"""Errors that reach the user as one clear line. Anything else is a bug and is logged with its trace.

Every error carries a `code` from one closed set (`FailureCode`): front ends word a failure, and add
the remedy their own options offer, from the code, never by reading the message. `reason` is the
line without the file it is about (`path`), so a front end can name that file its own way (a CLI
prints the path, the UI the file's name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

FailureCode = Literal[
    # the input file
    "not_found",
    "unreadable",
    "not_an_image",
    "empty",
    "truncated",
    "damaged",
    "unsupported",
    "too_large",
    # the output file
    "output_exists",
    "output_is_input",
    "unwritable",
    "disk_full",
    "format_limit",
    "encode_failed",
    # the model and the engine
    "unknown_model",
    "bad_model",
    "name_taken",
    "engine_failed",
    "out_of_memory",
    # the request
    "invalid_request",
    "bad_template",
    "no_images",
    "no_face_model",
    "unavailable",
    "conflict",
    # how a file ended otherwise
    "cancelled",
    "internal",
]
"""Why a file, a job or a request failed. Derived from what pixup raises: each error class below has
its code, and the raise sites that know better (decoding, writing) give a narrower one. `not_found`
is anything named that does not exist (an input, a job, a face model); `internal` is a bug."""


class PixupError(Exception):
    """Base: `str(err)` is the one line the user sees; `code` says which failure it is."""

    code: FailureCode = "invalid_request"

    def __init__(
        self, reason: str, *, path: Path | str | None = None, code: FailureCode | None = None
    ) -> None:
        # args stay (reason,): the error pickles (path and code travel in its __dict__) and compares as built
        super().__init__(reason)
        self.reason = reason
        """The line without `path`."""
        self.path = Path(path) if path is not None else None
        """The file the error is about, when it is about one."""
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.reason if self.path is None else f"{self.path}: {self.reason}"


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

    code: FailureCode = "damaged"


class ImageWriteError(PixupError):
    """The output could not be written (folder missing or read-only, disk full, format limits...);
    `path`, when set, is the output file."""

    code: FailureCode = "unwritable"

    def __str__(self) -> str:
        return self.reason if self.path is None else f"cannot write {self.path}: {self.reason}"


class ModelError(PixupError):
    """The model cannot be used: not ONNX, not image-to-image, unknown op, broken file."""

    code: FailureCode = "bad_model"


class EngineError(PixupError):
    """Inference failed on every provider and tile size we could try."""

    code: FailureCode = "engine_failed"


class RequestError(PixupError):
    """A caller asked for something that cannot be done as asked (bad value, unknown id)."""


class NotFoundError(RequestError):
    """No such job, file or model."""

    code: FailureCode = "not_found"


class ConflictError(RequestError):
    """The request clashes with the current state (a job id already in use)."""

    code: FailureCode = "conflict"


class UnavailableError(RequestError):
    """A feature this build or front end does not offer (yet); the message says why."""

    code: FailureCode = "unavailable"


# Typed errors whose remedy is an option of the front end: their lines say what is wrong, never
# which flag or button fixes it; the CLI and the UI add their own advice, by `code`.


class OutputExistsError(ImageWriteError):
    """The output file exists and replacing it was not asked for; `path` is that file."""

    code: FailureCode = "output_exists"

    def __init__(self, path: Path | str) -> None:
        super().__init__("the output file already exists", path=path)
        self.args = (str(path),)  # so that unpickling rebuilds it from its path

    def __str__(self) -> str:
        return f"{self.path} already exists"


class ImageTooLargeError(ImageReadError):
    """The image has more pixels than the limit that guards against decompression bombs."""

    code: FailureCode = "too_large"


class ModelNameTakenError(ModelError):
    """An import would store a model under an id already in use: a bundled model's (`bundled`), or a
    user model's that replacing was not asked for."""

    code: FailureCode = "name_taken"

    def __init__(self, model_id: str, *, bundled: bool) -> None:
        super().__init__(f"{model_id!r} is the id of a bundled model" if bundled
                         else f"a model named {model_id} already exists")
        self.model_id = model_id
        self.bundled = bundled

    def __reduce__(self) -> tuple[object, ...]:
        return _rebuild_name_taken, (self.model_id, self.bundled)


def _rebuild_name_taken(model_id: str, bundled: bool) -> ModelNameTakenError:
    return ModelNameTakenError(model_id, bundled=bundled)


class UnknownModelError(ModelError):
    """No model has this id or path; the line lists close matches."""

    code: FailureCode = "unknown_model"
