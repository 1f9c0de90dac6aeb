"""Which models exist and where their ONNX file is: bundled packs, and `.onnx` / ncnn `.param`+`.bin`
files, either given as a path or placed in the user models folder.

`resolve_model(ref)` is what `--model NAME|PATH` and the UI's model choice go through; ncnn models
are converted (once, then cached) on the way.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pixup.errors import ModelError, UnknownModelError
from pixup.models.bundled import BundledModel, available_bundled, bundled_model
from pixup.models.cache import converted_model, derived_model, is_cached
from pixup.models.suffixes import BIN_SUFFIX, MODEL_SUFFIXES, ONNX_SUFFIX, PARAM_SUFFIX
from pixup.paths import user_paths

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)

Source = Literal["bundled", "onnx", "ncnn"]


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready for the engine."""

    id: str
    """Bundled id, or the file stem of a user model."""
    display_name: str
    """Human name."""
    onnx_path: Path
    """The ONNX file to load (converted and cached for ncnn models)."""
    source: Source
    """Where it came from."""
    scenario: str | None
    """Default UI scenario for bundled models; None for user models."""
    int8: bool = False
    """Whether precision "int8" may run this model's int8 variant on OpenVINO CPU (measured for it)."""


@dataclass(frozen=True)
class ModelEntry:
    """One line of `pixup models list`."""

    id: str
    """What to pass to `--model`."""
    display_name: str
    """Human name."""
    source: Source
    """"bundled", or the kind of user file."""
    scenario: str | None
    """Default UI scenario (bundled models only)."""
    description: str
    """What the model is for (bundled) or its file (user models)."""
    path: Path | None
    """The user's .onnx or .param file; None for bundled models."""
    converted: bool
    """Whether an ONNX file is ready without converting (always true for .onnx files)."""
    nominal_scale: int | None
    """Scale the pack names (a label; None for user models, whose scale is probed on load)."""


def _resolve_bundled(model: BundledModel) -> ResolvedModel:
    onnx_path = converted_model(*model.files())
    if model.input_residual:
        factor = model.input_residual

        def add_residual(base: onnx.ModelProto) -> onnx.ModelProto:
            # Only on a cache miss: a cached variant is found without importing onnx.
            from pixup.models.importers.ncnn.residual import add_input_residual

            return add_input_residual(base, factor)

        onnx_path = derived_model(onnx_path, f"residual{factor}", add_residual)
    return ResolvedModel(model.id, model.display_name, onnx_path, "bundled", model.scenario, model.int8)


@dataclass(frozen=True)
class FoundModel:
    """A model found by its id or path, before anything is converted or loaded: what a job plan names."""

    id: str
    """Bundled id, or the file stem of a user model."""
    bundled: BundledModel | None
    """The bundled model; None for a user file."""
    path: Path | None
    """The user's .onnx or ncnn .param file (absolute); None for a bundled model."""


def _bin_beside(param: Path) -> Path:
    weights = param.with_suffix(BIN_SUFFIX)
    if not weights.is_file():
        raise ModelError(f"ncnn model {param.name} needs its weights file {weights.name} beside it")
    return weights


def _model_file(path: Path) -> Path:
    """A user's model file (a .bin stands for its .param), checked to be there."""
    suffix = path.suffix.lower()
    if suffix == BIN_SUFFIX:
        path = path.with_suffix(PARAM_SUFFIX)
        suffix = PARAM_SUFFIX
    if suffix not in MODEL_SUFFIXES:
        raise ModelError(f"{path.name}: not a model file (pixup reads .onnx and ncnn .param + .bin)")
    if not path.is_file():
        raise ModelError(f"model file not found: {path}", code="unknown_model")
    if suffix == PARAM_SUFFIX:
        _bin_beside(path)
    return path.resolve()


def _user_model_files() -> list[Path]:
    folder = user_paths().models
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES)


def _looks_like_path(ref: str) -> bool:
    return ref.lower().endswith((*MODEL_SUFFIXES, BIN_SUFFIX)) or "/" in ref or "\\" in ref


def find_model(ref: str) -> FoundModel:
    """A bundled id, a path to a .onnx / .param file, or the name of a model in the user models
    folder → which model that is, without converting or loading anything (quick enough for a job's
    submission). Raises ModelError (UnknownModelError naming close matches) when there is none."""
    ref = ref.strip()
    if not ref:
        raise ModelError("no model given", code="unknown_model")
    bundled = bundled_model(ref)
    if bundled is not None:
        bundled.files()  # a missing pack fails here, with its name
        return FoundModel(bundled.id, bundled, None)
    if _looks_like_path(ref):
        path = _model_file(Path(ref).expanduser())
        return FoundModel(path.stem, None, path)
    for path in _user_model_files():
        if path.stem == ref:
            return FoundModel(path.stem, None, _model_file(path))
    available = [m.id for m in available_bundled()] + [p.stem for p in _user_model_files()]
    close = difflib.get_close_matches(ref, available, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UnknownModelError(f"unknown model {ref!r}{hint}")


def resolve_model(ref: str | FoundModel) -> ResolvedModel:
    """A model (as `find_model` takes or gives it) → the model ready to load: ncnn models are
    converted (once, then cached) on the way. Raises ModelError naming what is available."""
    found = find_model(ref) if isinstance(ref, str) else ref
    if found.bundled is not None:
        return _resolve_bundled(found.bundled)
    assert found.path is not None
    path = found.path
    if path.suffix.lower() == ONNX_SUFFIX:
        return ResolvedModel(path.stem, path.stem, path, "onnx", None)
    return ResolvedModel(path.stem, path.stem, converted_model(path, _bin_beside(path)), "ncnn", None)


def _user_entry(path: Path) -> ModelEntry:
    if path.suffix.lower() == ONNX_SUFFIX:
        return ModelEntry(path.stem, path.stem, "onnx", None, str(path), path, True, None)
    weights = path.with_suffix(BIN_SUFFIX)
    converted = False
    if weights.is_file():
        try:
            converted = is_cached(path, weights)
        except ModelError:
            log.warning("cannot read %s", path, exc_info=True)
    return ModelEntry(path.stem, path.stem, "ncnn", None, str(path), path, converted, None)


def list_models() -> list[ModelEntry]:
    """Bundled models whose pack is installed, then the user's models, for `pixup models list`."""
    entries: list[ModelEntry] = []
    for model in available_bundled():
        try:
            converted = is_cached(*model.files())
        except ModelError:
            log.warning("bundled model %s is unreadable", model.id, exc_info=True)
            continue
        entries.append(
            ModelEntry(
                model.id,
                model.display_name,
                "bundled",
                model.scenario,
                model.description,
                None,
                converted,
                model.nominal_scale,
            )
        )
    bundled_ids = {entry.id for entry in entries}
    for path in _user_model_files():
        if path.stem in bundled_ids:
            log.warning("user model %s has the id of a bundled model; use its path to select it", path)
        entries.append(_user_entry(path))
    return entries
