"""Bring your own model: `pixup models import PATH` and drag & drop into the user models folder.

Every model is proven usable before it is stored: it is opened like the engine opens it (ONNX
Runtime's CPU provider, exact precision), which inspects it and refuses anything that is not an
image-to-image model. Then it is placed atomically in `user_paths().models` under its id:

- `.onnx`: copied as `<id>.onnx` (external weight files are merged into that one file);
- ncnn `.param` + `.bin`: converted once to check it (the result stays in the converted-model
  cache, so the first use is instant), stored as the pair `<id>.param` + `<id>.bin`;
- PyTorch `.pth` / `.safetensors` / `.ckpt` (the `pixup[torch]` extra): exported to ONNX, checked
  against PyTorch, stored as `<id>.onnx`.

A folder (Upscayl's custom-models folder: `.param`/`.bin` pairs) imports each model in it and
reports each result. An existing model of the same id is replaced only with `overwrite=True`.
"""

from __future__ import annotations

import dataclasses
import filecmp
import itertools
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import onnx
from onnx.external_data_helper import uses_external_data

from pixup.engine.session import ModelSession
from pixup.engine.spec import ModelSpec
from pixup.errors import ImageWriteError, ModelError, ModelNameTakenError, OutputExistsError, PixupError
from pixup.faces.align import CROP_SIZE
from pixup.faces.restore import check_face_model, face_model_kind
from pixup.imaging.atomic import atomic_write
from pixup.models.bundled import BundledModel, bundled_model
from pixup.models.cache import converted_model
from pixup.models.catalogue import resolve_model
from pixup.models.face_models import face_models_folder
from pixup.models.importers.torch import TORCH_SUFFIXES, convert_torch
from pixup.models.probe import guarded_spec
from pixup.models.suffixes import BIN_SUFFIX, ONNX_SUFFIX, PARAM_SUFFIX, STORED_SUFFIXES
from pixup.paths import user_paths

log = logging.getLogger(__name__)

ModelKind = Literal["onnx", "ncnn", "torch"]

IMPORTABLE_SUFFIXES = (*STORED_SUFFIXES, *TORCH_SUFFIXES)
"""What `import_model` accepts (a `.bin` stands for the ncnn pair it belongs to)."""
_MAX_NAME = 100
_NAME = re.compile(r"^\w[\w .+()\[\]-]*$")
_BAD_NAME_CHARS = re.compile(r"[^\w .+()\[\]-]+")
_UPSCAYL_SUBFOLDER = "models"


@dataclass(frozen=True)
class ImportedModel:
    """A model now stored in the user models folder, and what inspection found."""

    id: str
    """What to pass to `--model` (the stored file's stem)."""
    kind: ModelKind
    """The format it came in."""
    path: Path
    """The stored `.onnx` (onnx, torch) or `.param` (ncnn; its `.bin` lies beside it)."""
    source: Path
    """The file it was imported from."""
    scale: float
    """Output size ÷ input size, measured by a probe run."""
    in_channels: int
    """Channels the model reads (1, 3 or 4)."""
    out_channels: int
    """Channels the model writes."""
    dtype: str
    """"float32" or "float16"."""
    layout: str
    """"NCHW" or "NHWC"."""
    fixed_shape: tuple[int, int] | None
    """(height, width) the model's input is fixed to, or None when its size is free."""
    multiple: int
    """Input sides must be multiples of this (1: any size)."""
    min_size: int
    """Smallest input side the model accepts."""
    notes: tuple[str, ...]
    """One-line remarks for the user (how it was converted, constraints the engine adapts to)."""
    already_bundled: bool = False
    """True when the file holds a bundled model's own weights: nothing was stored, and `id` and
    `path` are the bundled model's."""
    face: bool = False
    """A face model (GFPGAN/CodeFormer-style), stored for Face recovery rather than as an upscaler."""


@dataclass(frozen=True)
class ImportOutcome:
    """The result for one model of an import (a folder gives one per model file)."""

    source: Path
    """The file imported (or tried)."""
    model: ImportedModel | None
    """The stored model, or None when it failed."""
    error: str | None
    """The one-line reason it failed, or None."""
    failure: PixupError | None = None
    """The error itself, for a front end that adds its own advice (ModelNameTakenError...)."""

    @property
    def ok(self) -> bool:
        return self.model is not None


# ---------------------------------------------------------------- names


def _strip_model_suffixes(stem: str) -> str:
    # "x.onnx.onnx" or "x.pth.onnx": an id ending like a file name would read as a path.
    while Path(stem).suffix.lower() in IMPORTABLE_SUFFIXES and Path(stem).stem:
        stem = Path(stem).stem
    return stem


def _default_name(source: Path) -> str:
    name = _BAD_NAME_CHARS.sub("_", _strip_model_suffixes(source.stem)).strip(" .")
    name = name.lstrip("._-+()[] ")[:_MAX_NAME].rstrip(" .")
    return name or "model"


def _check_name(name: str) -> str:
    """The id for an explicit name, or ModelError saying what is wrong with it."""
    name = name.strip()
    if not name:
        raise ModelError("the model name is empty")
    if len(name) > _MAX_NAME:
        raise ModelError(f"the model name is longer than {_MAX_NAME} characters")
    if not _NAME.fullmatch(name) or name.endswith("."):
        raise ModelError(
            f"the model name {name!r} may hold letters, digits, spaces and . + - ( ) [ ] _ only, "
            "starting with a letter or digit"
        )
    if Path(name).suffix.lower() in IMPORTABLE_SUFFIXES:
        raise ModelError(f"the model name {name!r} must not end like a file name ({Path(name).suffix})")
    return name


def _existing(folder: Path, model_id: str) -> list[Path]:
    """Files in the models folder that belong to a model of this id (any case: some file systems
    do not tell "Foo" from "foo")."""
    if not folder.is_dir():
        return []
    key = model_id.casefold()
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in STORED_SUFFIXES and p.stem.casefold() == key
    )


def _same_content(ours: Sequence[Path], theirs: Sequence[Path]) -> bool:
    """Whether two file lists hold the same bytes, pairwise (sizes first: most differ there)."""
    try:
        if [p.stat().st_size for p in ours] != [p.stat().st_size for p in theirs]:
            return False
        return all(filecmp.cmp(a, b, shallow=False) for a, b in zip(ours, theirs, strict=True))
    except OSError:
        return False


def _stored_files(folder: Path, model_id: str, kind: ModelKind) -> list[Path]:
    """The files a model of `kind` is stored as under `model_id` (ncnn: .param then .bin)."""
    if kind == "ncnn":
        return [folder / f"{model_id}{PARAM_SUFFIX}", folder / f"{model_id}{BIN_SUFFIX}"]
    return [folder / f"{model_id}{ONNX_SUFFIX}"]


def _source_files(source: Path, kind: ModelKind) -> list[Path]:
    return [source, source.with_suffix(BIN_SUFFIX)] if kind == "ncnn" else [source]


def _id_beside_bundled(source: Path, kind: ModelKind, model_id: str, folder: Path, overwrite: bool) -> str:
    """A free id for a file named like a bundled model but holding other weights (Upscayl names its
    models after the same upstream files): "realesrgan-x4plus-2", "-3"... A user model of such an
    id holding these very files is this model imported before: its id is taken as the normal clash
    (ModelNameTakenError unless `overwrite`), so importing a folder twice adds nothing."""
    ours = _source_files(source, kind)
    for n in itertools.count(2):
        candidate = f"{model_id}-{n}"
        if bundled_model(candidate) is not None:
            continue
        if not _existing(folder, candidate):
            return candidate
        if _same_content(ours, _stored_files(folder, candidate, kind)):
            _check_free(folder, candidate, overwrite)
            return candidate
    raise AssertionError("unreachable")


def _check_free(folder: Path, model_id: str, overwrite: bool) -> list[Path]:
    """The files a successful import replaces; ModelError when the id is taken and not `overwrite`."""
    if bundled_model(model_id) is not None:
        raise ModelNameTakenError(model_id, bundled=True)
    existing = _existing(folder, model_id)
    models = [p for p in existing if p.suffix.lower() != BIN_SUFFIX]
    if models and not overwrite:
        raise ModelNameTakenError(model_id, bundled=False)
    return existing


# ---------------------------------------------------------------- storing


def _copy_into(source: Path, dest: Path, overwrite: bool) -> None:
    def write(out: BinaryIO) -> None:
        with source.open("rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)

    try:
        atomic_write(dest, write, overwrite=overwrite)
    except OutputExistsError:  # appeared since _check_free looked
        raise ModelNameTakenError(dest.stem, bundled=False) from None
    except ImageWriteError as err:  # same one line, as the error kind of this operation
        raise ModelError(str(err)) from None
    except OSError as err:  # reading the source
        raise ModelError(f"cannot read {source}: {err.strerror or err}") from None


def _store(pairs: list[tuple[Path, Path]], replaced: list[Path], overwrite: bool) -> None:
    """Copy each (source, dest) into place, in order (an ncnn `.bin` before its `.param`, so the
    model never shows up without its weights), then drop replaced files of the same id that were
    not rewritten (e.g. `X.param`/`X.bin` when `X.onnx` replaces them)."""
    written: list[Path] = []
    try:
        for source, dest in pairs:
            # A stray weights file of this id is not a model: replacing it needs no `overwrite`.
            clobber = overwrite or (dest.suffix == BIN_SUFFIX and dest.exists())
            _copy_into(source, dest, clobber)
            written.append(dest)
    except BaseException:
        if not overwrite:  # nothing of ours may be left half-imported
            for path in written:
                with suppress(OSError):
                    path.unlink()
        raise
    for old in replaced:
        with suppress(FileNotFoundError):
            # samefile, not names: on a case-insensitive disk "Foo.onnx" may be the file just written.
            if any(os.path.samefile(old, new) for new in written):
                continue
            old.unlink()
            log.info("removed %s (replaced by the imported model)", old)


@contextmanager
def _staging() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pixup-import-") as folder:
        yield Path(folder)


# ---------------------------------------------------------------- inspection


def _inspect(model_path: Path) -> ModelSpec:
    """Open the model as the engine would (CPU provider, exact precision): ModelError when it is
    not a usable image-to-image model."""
    try:
        # In a child process: a model that crashes ONNX Runtime must not take pixup down.
        spec = guarded_spec(model_path)
        session = ModelSession.open(
            model_path, precision="exact", providers=["CPUExecutionProvider"], spec=spec
        )
    except ModelError:
        raise
    except PixupError as err:  # EngineError: nothing could run it
        raise ModelError(f"cannot load {model_path.name}: {err}") from None
    try:
        return session.spec
    finally:
        session.close()


def _spec_notes(spec: ModelSpec) -> list[str]:
    notes: list[str] = []
    if spec.fixed_shape:
        notes.append(f"fixed input {spec.fixed_height}×{spec.fixed_width}: tiles are exactly this size")
    elif spec.fixed_height is not None or spec.fixed_width is not None:
        notes.append(f"one input side is fixed ({spec.fixed_height or 'free'}×{spec.fixed_width or 'free'})")
    if spec.static_batch is not None:
        notes.append(f"batch size fixed at {spec.static_batch}")
    if spec.multiple > 1:
        notes.append(f"input sides must be multiples of {spec.multiple}")
    if spec.border > 0:
        notes.append(f"unpadded model: loses {spec.border} px on each side of a tile")
    if spec.dtype == "float16":
        notes.append("float16 model: fed float16 tensors")
    if spec.int_scale is None:
        notes.append(f"fractional scale ×{spec.scale:g}")
    if spec.in_channels != spec.out_channels:
        notes.append(f"reads {spec.in_channels} channels, writes {spec.out_channels}")
    return notes


def _result(
    model_id: str, kind: ModelKind, stored: Path, source: Path, spec: ModelSpec, notes: list[str]
) -> ImportedModel:
    fixed = None
    if spec.fixed_height is not None and spec.fixed_width is not None:
        fixed = (spec.fixed_height, spec.fixed_width)
    return ImportedModel(
        id=model_id,
        kind=kind,
        path=stored,
        source=source,
        scale=spec.scale,
        in_channels=spec.in_channels,
        out_channels=spec.out_channels,
        dtype=spec.dtype,
        layout=spec.layout,
        fixed_shape=fixed,
        multiple=spec.multiple,
        min_size=spec.min_size,
        notes=tuple(notes + _spec_notes(spec)),
    )


# ---------------------------------------------------------------- one model per kind


def _import_onnx(source: Path, model_id: str, folder: Path, overwrite: bool) -> ImportedModel:
    try:
        proto = onnx.load(str(source), load_external_data=False)
    except Exception as err:  # protobuf DecodeError and friends: not an ONNX file at all
        log.debug("onnx.load(%s) failed", source, exc_info=True)
        raise ModelError(f"not an ONNX model: {source.name} could not be parsed") from err
    external = any(uses_external_data(t) for t in proto.graph.initializer)
    del proto
    _check_free(folder, model_id, overwrite)  # fail before the inspection
    notes: list[str] = []
    with _staging() as staging:
        candidate = source
        if external:
            # Weights in side files would be left behind by a copy: store one self-contained file.
            try:
                merged = onnx.load(str(source))
                candidate = staging / f"{model_id}{ONNX_SUFFIX}"
                onnx.save(merged, str(candidate))
            except (OSError, ValueError) as err:
                raise ModelError(f"{source.name}: its external weight files cannot be read ({err})") from None
            notes.append("external weight files merged into the stored .onnx")
        spec = _inspect(candidate)
        replaced = _check_free(folder, model_id, overwrite)
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / f"{model_id}{ONNX_SUFFIX}"
        _store([(candidate, dest)], replaced, overwrite)
    return _result(model_id, "onnx", dest, source, spec, notes)


def _import_ncnn(param: Path, model_id: str, folder: Path, overwrite: bool) -> ImportedModel:
    weights = param.with_suffix(BIN_SUFFIX)
    if not weights.is_file():
        raise ModelError(f"ncnn model {param.name} needs its weights file {weights.name} beside it")
    _check_free(folder, model_id, overwrite)
    # Converting proves the pair converts (an unknown op is named) and leaves the result in the
    # content-keyed cache, where the stored copy will find it.
    onnx_path = converted_model(param, weights)
    spec = _inspect(onnx_path)
    replaced = _check_free(folder, model_id, overwrite)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{model_id}{PARAM_SUFFIX}"
    _store([(weights, dest.with_suffix(BIN_SUFFIX)), (param, dest)], replaced, overwrite)
    notes = ["ncnn model: converted to ONNX (kept in pixup's cache)"]
    return _result(model_id, "ncnn", dest, param, spec, notes)


def _import_torch(source: Path, model_id: str, folder: Path, overwrite: bool) -> ImportedModel:
    _check_free(folder, model_id, overwrite)  # fail before a long export
    with _staging() as staging:
        exported = staging / f"{model_id}{ONNX_SUFFIX}"
        conversion = convert_torch(source, exported)
        spec = _inspect(exported)
        replaced = _check_free(folder, model_id, overwrite)
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / f"{model_id}{ONNX_SUFFIX}"
        _store([(exported, dest)], replaced, overwrite)
    return _result(model_id, "torch", dest, source, spec, list(conversion.notes))


_IMPORTERS: dict[ModelKind, Callable[[Path, str, Path, bool], ImportedModel]] = {
    "onnx": _import_onnx,
    "ncnn": _import_ncnn,
    "torch": _import_torch,
}


def _kind_of(path: Path) -> tuple[ModelKind, Path]:
    """(kind, the file to import) for a model file; a `.bin` stands for its `.param`."""
    suffix = path.suffix.lower()
    if suffix == ONNX_SUFFIX:
        return "onnx", path
    if suffix == PARAM_SUFFIX:
        return "ncnn", path
    if suffix == BIN_SUFFIX:
        param = path.with_suffix(PARAM_SUFFIX)
        if not param.is_file():
            raise ModelError(f"{path.name} is ncnn weights without its {param.name} beside it")
        return "ncnn", param
    if suffix in TORCH_SUFFIXES:
        return "torch", path
    accepted = ", ".join(IMPORTABLE_SUFFIXES)
    raise ModelError(f"{path.name}: not a model file pixup can import ({accepted})")


# ---------------------------------------------------------------- public API


def import_model(path: Path, *, name: str | None = None, overwrite: bool = False) -> ImportedModel:
    """Import one model file (`.onnx`, ncnn `.param` with its `.bin`, or a PyTorch checkpoint) into
    the user models folder under `name` (default: the file's stem) and return what was stored.

    Raises ModelError: not a model, not image-to-image, unconvertible, the PyTorch extra missing,
    or a model of that name exists and `overwrite` is False (the existing files stay untouched)."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise ModelError(f"{path} is a folder: import_models imports every model in it")
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    kind, source = _kind_of(path)
    model_id = _check_name(name) if name is not None else _default_name(source)
    if kind == "onnx" and face_model_kind(source) is not None:
        return _import_face(source.resolve(), model_id, overwrite)
    folder = user_paths().models
    if source.resolve().parent == folder.resolve() and source.stem == model_id:
        raise ModelError(f"{source.name} is already in the user models folder")
    notes: list[str] = []
    bundled = bundled_model(model_id)
    if name is None and bundled is not None:
        # Named like a bundled model (as Upscayl's own folder is): the same weights need no copy;
        # other weights go under a free id. A name the user chose is theirs to change instead.
        comparable = kind == "ncnn" and bundled.available
        if comparable and _same_content(_source_files(source, kind), bundled.files()):
            return _already_bundled(bundled, source)
        model_id = _id_beside_bundled(source, kind, model_id, folder, overwrite)
        notes.append(f"{bundled.id} is the id of a bundled model with other weights; stored as {model_id}")
    log.info("importing %s (%s) as %r", source, kind, model_id)
    model = _IMPORTERS[kind](source.resolve(), model_id, folder, overwrite)
    if notes:
        model = dataclasses.replace(model, notes=(*notes, *model.notes))
    log.info("imported %s: ×%g, %s", model.id, model.scale, "; ".join(model.notes))
    return model


def _import_face(source: Path, model_id: str, overwrite: bool) -> ImportedModel:
    """A GFPGAN/CodeFormer-style model (recognised by its signature): stored with the face models,
    where Face recovery finds it, not in the upscale model list."""
    signature = check_face_model(source)
    folder = face_models_folder()
    dest = folder / f"{model_id}{ONNX_SUFFIX}"
    if dest.exists() and not overwrite:
        raise ModelNameTakenError(model_id, bundled=False)
    folder.mkdir(parents=True, exist_ok=True)
    _store([(source, dest)], [], overwrite)
    dtype = "float16" if signature.image_dtype is np.float16 else "float32"
    style = "CodeFormer" if signature.kind == "codeformer" else "GFPGAN"
    note = f"face model ({style}-style): used by Face recovery"
    return ImportedModel(
        id=model_id, kind="onnx", path=dest, source=source, scale=1.0, in_channels=3, out_channels=3,
        dtype=dtype, layout="NCHW", fixed_shape=(CROP_SIZE, CROP_SIZE), multiple=1, min_size=CROP_SIZE,
        notes=(note,), face=True,
    )


def _already_bundled(bundled: BundledModel, source: Path) -> ImportedModel:
    """The outcome for a file that is a bundled model's own: that model, inspected like an import
    (its converted form is what `--model ID` runs, so the conversion is not wasted)."""
    onnx_path = resolve_model(bundled.id).onnx_path
    spec = _inspect(onnx_path)
    param, _ = bundled.files()
    log.info("%s holds the bundled model %s: nothing stored", source, bundled.id)
    note = f"same weights as the bundled model {bundled.id}: nothing copied"
    return dataclasses.replace(
        _result(bundled.id, "ncnn", param, source, spec, [note]), already_bundled=True
    )


def model_files(folder: Path) -> list[Path]:
    """The model files of a folder, one per model (an ncnn pair is listed once, by its `.param`;
    a `.bin` alone is listed so its missing `.param` gets reported). An Upscayl install's folder
    holding a `models/` subfolder stands for that subfolder."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMPORTABLE_SUFFIXES)
    picked = [p for p in files if p.suffix.lower() != BIN_SUFFIX or not p.with_suffix(PARAM_SUFFIX).is_file()]
    nested = folder / _UPSCAYL_SUBFOLDER
    if not picked and nested.is_dir():
        return model_files(nested)
    return picked


def import_models(path: Path, *, name: str | None = None, overwrite: bool = False) -> list[ImportOutcome]:
    """Import a model file or every model in a folder (Upscayl's custom-models folders). Each model's
    failure is reported in its outcome, not raised; ModelError only when there is nothing to import
    (missing path, empty folder) or `name` is given for a folder of several models."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelError(f"not found: {path}")
    if path.is_dir():
        sources = model_files(path)
        if not sources:
            accepted = ", ".join(IMPORTABLE_SUFFIXES)
            raise ModelError(f"no model files ({accepted}) in {path}")
        if name is not None and len(sources) > 1:
            raise ModelError(f"one name cannot be given to the {len(sources)} models in {path}")
    else:
        sources = [path]
    outcomes: list[ImportOutcome] = []
    for source in sources:
        try:
            model = import_model(source, name=name, overwrite=overwrite)
        except PixupError as err:
            log.warning("import of %s failed: %s", source, err)
            outcomes.append(ImportOutcome(source, None, str(err), err))
        else:
            outcomes.append(ImportOutcome(source, model, None))
    return outcomes
