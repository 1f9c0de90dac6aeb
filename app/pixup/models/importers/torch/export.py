"""Export a spandrel model to ONNX and prove the export right before anyone uses it.

The graph: one float32 NCHW input "input", one output "output", opset 17, the output clamped to
[0, 1] as spandrel's own call does. Shapes, most flexible first:

1. "dynamic": free batch, height and width;
2. "static-batch": free height and width, batch 1. Window-attention models (HAT, DAT, SwinIR) turn
   the batch into a Python int while tracing, so their graph mixes the images of a batch; it is
   still right at batch 1, the batch it was traced at, so the same graph is kept with its batch
   pinned to 1 (no second export);
3. "fixed": a fixed square input, for architectures that need square inputs and for graphs whose
   tracing froze their height or width.

Free-size graphs get a size guard (`guard.py`) for the sizes spandrel says the architecture does
not take. Nothing counts until ONNX Runtime reproduces the PyTorch model on random inputs of different
shapes: max |difference| ≤ `TOLERANCE`, and every shape other than the traced one about as close
as the traced one (a frozen size or batch can hide in small differences when part of a network
contributes little). Size multiples and minimums are not encoded: pixup's inspection measures
them from the ONNX file like for any other model.

The legacy TorchScript-based exporter (`dynamo=False`) is used: it needs no onnxscript and exports
the window-attention architectures with free sizes.
"""

from __future__ import annotations

import inspect
import logging
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
import onnxruntime as ort
import torch

from pixup.errors import ModelError, one_line
from pixup.models.importers.torch.guard import add_size_guard

log = logging.getLogger(__name__)

OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "output"
TOLERANCE = 1e-3
"""Largest accepted |ONNX − PyTorch| on outputs in [0, 1] (a quarter of an 8-bit level)."""
STRUCTURE_FLOOR = 1e-4
STRUCTURE_RATIO = 100.0
"""A checked shape other than the traced one may differ by up to max(FLOOR, RATIO × the traced
shape's difference): float noise grows a little with size, a frozen shape stands out."""
FIXED_SIDE = 256
"""Input side of a fixed-shape export (rounded up to the model's multiple and minimum)."""
PROBE_SIDE = 32
"""Side of the shapes used for tracing and checking (small: a check must stay cheap)."""

ShapeMode = Literal["dynamic", "static-batch", "fixed"]
Shape = tuple[int, int, int]
"""(batch, height, width) of an input."""


@dataclass(frozen=True)
class ExportReport:
    """What `export_onnx` produced."""

    mode: ShapeMode
    """Which shape option worked."""
    fixed_side: int | None
    """The input side of a fixed-shape export, else None."""
    max_diff: float
    """Largest |ONNX − PyTorch| seen over the checked inputs."""
    checked: tuple[Shape, ...]
    """(batch, height, width) of the inputs compared."""
    rejected: tuple[str, ...]
    """Why the more flexible options failed (empty when the first worked)."""


class _ImageModule(torch.nn.Module):
    """spandrel's call (some architectures add inputs or pick an output) plus its output clamp."""

    def __init__(self, model: torch.nn.Module, call: Callable[[torch.nn.Module, torch.Tensor], Any]) -> None:
        super().__init__()
        self.model = model
        self._call = call

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._call(self.model, x)
        if not isinstance(out, torch.Tensor):
            raise ModelError(f"the model returned {type(out).__name__}, not an image tensor")
        return out.clamp(0.0, 1.0)


def _first_line(err: BaseException) -> str:
    # torch's exporter appends a plea to file an issue: not for pixup's users.
    return one_line(err).split(" Please feel free to request support")[0][:200]


def _align_up(value: int, step: int) -> int:
    return math.ceil(value / step) * step


def _free_shapes(minimum: int, multiple: int) -> tuple[Shape, Shape, Shape]:
    """Tracing shape, a second size with other residues, and that size at batch 2."""
    base = _align_up(max(PROBE_SIDE, minimum), multiple)
    first = (1, base, base + multiple)  # not square, so height and width cannot be confused
    second = (1, _align_up(base + 13, multiple), _align_up(base + 7, multiple))
    return first, second, (2, second[1], second[2])


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Keep the TorchScript exporter from printing the whole IR graph on stdout when an export
    fails: it switches its C++ log on for every export (it tests the function
    `_jit_is_onnx_log_enabled` instead of calling it, torch 2.7-2.13). A failed export is an
    expected step here (the next shape option follows), and the log would flood the terminal."""
    c_module: Any = torch._C
    log_fn = getattr(c_module, "_jit_onnx_log", None)
    if log_fn is None:  # another torch: nothing to quieten
        yield
        return
    c_module._jit_onnx_log = _no_log
    try:
        yield
    finally:
        c_module._jit_onnx_log = log_fn
        with suppress(Exception):
            c_module._jit_set_onnx_log_enabled(False)  # the exporter leaves it on


def _no_log(*_args: object) -> None:
    return None


def _run_export(module: torch.nn.Module, example: torch.Tensor, path: Path, *, free: bool) -> None:
    in_axes: dict[int, str] = {}
    out_axes: dict[int, str] = {}
    if free:
        in_axes = {0: "batch", 2: "height", 3: "width"}
        out_axes = {0: "batch", 2: "out_height", 3: "out_width"}
    kwargs: dict[str, Any] = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # torch ≥ 2.5 defaults to the dynamo exporter (needs onnxscript)
    with warnings.catch_warnings(), torch.no_grad(), _quiet_exporter():
        # TracerWarnings about Python ints are expected; the checks below decide what they meant.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=OPSET,
            do_constant_folding=True,
            dynamic_axes={INPUT_NAME: in_axes, OUTPUT_NAME: out_axes} if in_axes else None,
            **kwargs,
        )


class _Checker:
    """Compares the ONNX file at `path` with the PyTorch module on given inputs."""

    def __init__(self, module: torch.nn.Module, path: Path) -> None:
        self.module = module
        options = ort.SessionOptions()
        options.log_severity_level = 4  # failures are reported by the caller, as one line
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:
            raise ModelError(f"ONNX Runtime cannot load the export: {_first_line(err)}") from err
        self.run_options = ort.RunOptions()
        self.run_options.log_severity_level = 4

    def differences(self, inputs: Sequence[torch.Tensor]) -> list[float]:
        """Max |ONNX − PyTorch| for each input; ModelError when either side fails or the output
        shapes differ."""
        diffs: list[float] = []
        for x in inputs:
            shape = tuple(x.shape)
            try:
                with torch.no_grad():  # a copy: some models scale their input in place (RCAN)
                    expected = self.module(x.clone()).numpy()
            except ModelError:
                raise
            except Exception as err:  # the architecture itself refuses this shape
                raise ModelError(f"PyTorch failed at {shape}: {_first_line(err)}") from err
            try:
                feed = {INPUT_NAME: x.numpy()}
                actual = self.session.run([OUTPUT_NAME], feed, self.run_options)[0]
            except Exception as err:
                raise ModelError(f"ONNX Runtime failed at {shape}: {_first_line(err)}") from err
            if actual.shape != expected.shape:
                raise ModelError(f"output {actual.shape} instead of {expected.shape} at input {shape}")
            diffs.append(float(np.max(np.abs(actual - expected))))
        return diffs


def _too_far(diffs: Sequence[float], shapes: Sequence[Shape], traced: float) -> str | None:
    """Why these differences reject the export (None: they pass). `traced` is the difference at
    the tracing shape, the yardstick for the other shapes."""
    bound = max(STRUCTURE_FLOOR, STRUCTURE_RATIO * traced)
    for diff, shape in zip(diffs, shapes, strict=True):
        if diff > TOLERANCE:
            return f"ONNX output at {shape} differs from PyTorch by {diff:.2e}"
        if diff > bound:
            return f"ONNX output at {shape} differs by {diff:.2e} (at the traced shape: {traced:.2e})"
    return None


def _pin_batch(path: Path) -> None:
    """Declare the input and output batch as 1 (the batch the graph was traced at)."""
    model = onnx.load(str(path))
    for value in (model.graph.input[0], model.graph.output[0]):
        dim = value.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_value = 1
    onnx.save(model, str(path))


def _random_inputs(channels: int, shapes: Sequence[Shape]) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.rand((b, channels, h, w), generator=generator) for b, h, w in shapes]


def _stamp(path: Path, metadata: dict[str, str]) -> None:
    """Record where the graph came from in the ONNX file's metadata."""
    model = onnx.load(str(path))
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "pixup-torch-importer"
    onnx.save(model, str(path))


def _export_free(
    module: torch.nn.Module, channels: int, path: Path, minimum: int, multiple: int
) -> ExportReport:
    """Free-size export (batch pinned to 1 when only the batch is wrong); ModelError if it fails."""
    shapes = _free_shapes(minimum, multiple)
    inputs = _random_inputs(channels, shapes)
    try:
        _run_export(module, inputs[0].clone(), path, free=True)  # tracing may scale it in place
    except Exception as err:  # tracer and exporter errors
        log.debug("free-size export failed", exc_info=True)
        raise ModelError(f"export failed: {_first_line(err)}") from err
    model = onnx.load(str(path))
    if add_size_guard(model, minimum, multiple):
        onnx.save(model, str(path))
    del model
    checker = _Checker(module, path)
    diffs = checker.differences(inputs[:2])
    reason = _too_far(diffs, shapes[:2], diffs[0])
    if reason is not None:
        raise ModelError(reason)
    try:
        batch_diff = checker.differences(inputs[2:])
        batch_reason = _too_far(batch_diff, shapes[2:], diffs[0])
    except ModelError as err:  # e.g. the PyTorch model itself takes one image at a time
        batch_reason = str(err)
    if batch_reason is None:
        return ExportReport("dynamic", None, max(diffs + batch_diff), shapes, ())
    log.info("%s: %s; pinning its batch to 1", path.name, batch_reason)
    del checker  # its session must not hold the file being rewritten
    _pin_batch(path)
    pinned = _Checker(module, path).differences(inputs[:2])
    reason = _too_far(pinned, shapes[:2], pinned[0])
    if reason is not None:
        raise ModelError(reason)
    return ExportReport("static-batch", None, max(pinned), shapes[:2], (f"batch 2: {batch_reason}",))


def _export_fixed(
    module: torch.nn.Module, channels: int, path: Path, minimum: int, multiple: int
) -> ExportReport:
    side = _align_up(max(FIXED_SIDE, minimum), multiple)
    shape = (1, side, side)
    inputs = _random_inputs(channels, [shape])
    try:
        _run_export(module, inputs[0].clone(), path, free=False)
    except Exception as err:
        log.debug("fixed-size export failed", exc_info=True)
        raise ModelError(f"export failed: {_first_line(err)}") from err
    diffs = _Checker(module, path).differences(inputs)
    reason = _too_far(diffs, [shape], diffs[0])
    if reason is not None:
        raise ModelError(reason)
    return ExportReport("fixed", side, diffs[0], (shape,), ())


def export_onnx(descriptor: Any, path: Path, metadata: dict[str, str] | None = None) -> ExportReport:
    """Write `descriptor` (a spandrel ImageModelDescriptor in float32 eval mode) to `path` as ONNX.

    Raises ModelError with the reason when no shape option reproduces the PyTorch model."""
    call = getattr(descriptor, "_call_fn", None)
    if not callable(call):
        call = _plain_call
    module = _ImageModule(descriptor.model, call).eval()
    requirements = descriptor.size_requirements
    size_args = (descriptor.input_channels, path, requirements.minimum, requirements.multiple_of)
    free_failure: str | None = None
    report: ExportReport | None = None
    if not requirements.square:
        try:
            report = _export_free(module, *size_args)
        except ModelError as err:
            log.info("free-size export of %s rejected: %s", path.name, err)
            free_failure = str(err)
    if report is None:
        try:
            report = _export_fixed(module, *size_args)
        except ModelError as err:
            reason = str(err)
            if free_failure is not None and free_failure != reason:
                reason = f"free sizes: {free_failure}; fixed size: {reason}"
            raise ModelError(f"the model could not be exported to ONNX faithfully ({reason})") from None
        rejected = () if free_failure is None else (f"free sizes: {free_failure}",)
        report = ExportReport(report.mode, report.fixed_side, report.max_diff, report.checked, rejected)
    _stamp(path, {**(metadata or {}), "pixup_export_shape": report.mode})
    log.info(
        "exported %s (%s), max diff %.2e over %s", path.name, report.mode, report.max_diff, report.checked
    )
    return report


def _plain_call(model: torch.nn.Module, x: torch.Tensor) -> Any:
    return model(x)
