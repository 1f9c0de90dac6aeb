"""Inspect a loaded model: what it takes, what it gives, and its size rules (SPEC §3 "Inspect").

Graph metadata gives names, element type, layout and static dims. Everything else is *measured* by a
few probe runs on tiny inputs (never guessed from names): scale = output ÷ input size, the multiple the
input sides must respect, the smallest side that works, the border unpadded convolutions eat, and
how far beyond a cut the image still changes the output (the context the tiler must give each cut).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import onnxruntime as ort

from pixup.engine.spec import Layout, ModelSpec
from pixup.errors import EngineError, ModelError

log = logging.getLogger(__name__)

PROBE_SIZES = (1, 2, 4, 8, 16, 32, 64, 128)
"""Square input sides tried, smallest first, until the model runs."""
MULTIPLES = (1, 2, 4, 8, 16, 32, 64)
"""Candidate size multiples (powers of two, as down-sampling networks need)."""
PRECISION_PROBE = 24
"""Side of the extra probe that pins down a fractional scale (rounding hides it at tiny sizes)."""
CHANNEL_COUNTS = (1, 3, 4)
CONTEXT_PROBE = 128
"""Side (input pixels, border excluded) of the image the context radius is measured on: reaches up
to CONTEXT_PROBE − CONTEXT_CUT − CONTEXT_FAR px can be told from a global one."""
CONTEXT_CUT = 16
"""Pixels cut off the probe's right and bottom for the second run."""
CONTEXT_FAR = 16
"""A change that reaches within this many pixels of the probe's far edges has no finite reach here."""
CONTEXT_LEVEL = 0.5 / 255
"""Output change that counts (½ of an 8-bit level: below it tiled and whole-image runs round alike
or differ by one level)."""
CONTEXT_SEED = 0

_DTYPES: dict[str, Literal["float32", "float16"]] = {"tensor(float)": "float32", "tensor(float16)": "float16"}
_NUMPY = {"float32": np.float32, "float16": np.float16}


class ProbeError(ModelError):
    """The graph looks like an image model but failed every probe run. Unlike other ModelErrors this
    may be the execution provider's fault, so the session tries the next provider before giving up."""


@dataclass(frozen=True)
class _Observation:
    size: int
    """Input side (on a dynamic axis)."""
    out: int
    """Output side."""


def format_shape(shape: Sequence[object]) -> str:
    """[1, 3, 'H', None] → "[1, 3, H, ?]" (None / negative = unknown)."""
    parts = []
    for d in shape:
        if d is None or (isinstance(d, int) and d < 0):
            parts.append("?")
        else:
            parts.append(str(d))
    return "[" + ", ".join(parts) + "]"


def _static(dim: object) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ")
_SOURCE_LOCATION = re.compile(r"^\S+\.(?:cc|cpp|h|hpp):\d+:?\s*")
_EXCEPTION_FROM = re.compile(r"Exception from \S+:\d+:?")


def _skip_bracketed(text: str, open_char: str, close_char: str) -> str:
    """Drop everything up to the bracket matching the first `open_char` (C++ signatures)."""
    start = text.find(open_char)
    if start < 0:
        return text
    depth = 0
    for i in range(start, len(text)):
        if text[i] == open_char:
            depth += 1
        elif text[i] == close_char:
            depth -= 1
            if depth == 0:
                return text[i + 1 :].lstrip()
    return text


def ort_error_line(err: BaseException) -> str:
    """One readable line from an ORT error: no "[ONNXRuntimeError] : 2 : CODE :" prefix, no C++
    source location or signature, and for multi-line OpenVINO reports the last (most specific) line."""
    text = _ORT_PREFIX.sub("", str(err).strip())
    if "Status Message:" in text:
        text = text.split("Status Message:", 1)[1].strip()
    if _SOURCE_LOCATION.match(text):
        text = _skip_bracketed(_SOURCE_LOCATION.sub("", text, count=1), "(", ")")
        if text.startswith("[with"):
            text = _skip_bracketed(text, "[", "]")
    lines = [_EXCEPTION_FROM.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    line = lines[-1] if lines else type(err).__name__
    return line[:300]


class _Prober:
    """Runs the model on constant tiny inputs; a failed run is an answer ("not this size"), not a crash."""

    def __init__(
        self,
        session: ort.InferenceSession,
        input_name: str,
        output_name: str,
        dtype: str,
        layout: Layout,
        channels: int,
        batch: int,
    ) -> None:
        self.session = session
        self.input_name = input_name
        self.output_name = output_name
        self.dtype = _NUMPY[dtype]
        self.layout = layout
        self.channels = channels
        self.batch = batch
        self.runs = 0
        self.last_error = ""

    def run(self, height: int, width: int) -> tuple[int, int, int] | None:
        """(out_channels, out_height, out_width), or None when the model refuses this size."""
        if self.layout == "NCHW":
            shape = (self.batch, self.channels, height, width)
        else:
            shape = (self.batch, height, width, self.channels)
        feed = np.full(shape, 0.5, dtype=self.dtype)
        options = ort.RunOptions()
        options.log_severity_level = 4  # a refused size is expected here, keep ORT's log quiet
        self.runs += 1
        try:
            result = self.session.run([self.output_name], {self.input_name: feed}, options)[0]
        except Exception as err:  # any ORT failure (or MemoryError) means "not this size"
            self.last_error = ort_error_line(err)
            log.debug("probe %dx%d failed: %s", height, width, self.last_error)
            return None
        out = np.asarray(result)
        if out.ndim != 4:
            raise ModelError(f"not an image-to-image model: output has shape {format_shape(list(out.shape))}")
        if self.layout == "NCHW":
            c, h, w = out.shape[1], out.shape[2], out.shape[3]
        else:
            c, h, w = out.shape[3], out.shape[1], out.shape[2]
        if h == 0 or w == 0:  # some providers return an empty tensor instead of failing
            self.last_error = f"empty output at {height}×{width}"
            return None
        return int(c), int(h), int(w)

    def run_image(self, image: np.ndarray) -> np.ndarray | None:
        """The model's output (C×H×W float32) for one C×H×W image, or None when the run fails
        (a static batch gets the image in every slot)."""
        planes = image.astype(self.dtype)
        feed = planes[None] if self.layout == "NCHW" else planes.transpose(1, 2, 0)[None]
        feed = np.ascontiguousarray(np.broadcast_to(feed, (self.batch, *feed.shape[1:])))
        options = ort.RunOptions()
        options.log_severity_level = 4
        self.runs += 1
        try:
            result = np.asarray(self.session.run([self.output_name], {self.input_name: feed}, options)[0])
        except Exception as err:  # as in run(): a failure is an answer, not a crash
            self.last_error = ort_error_line(err)
            log.debug("context probe %s failed: %s", image.shape, self.last_error)
            return None
        out = result[0] if self.layout == "NCHW" else result[0].transpose(2, 0, 1)
        return np.asarray(out, dtype=np.float32)


def measure_context_radius(
    prober: _Prober, scale: float, border: int, multiple: int, min_size: int
) -> int | None:
    """How far, in input pixels beyond the border, the image beyond a cut still moves the output by
    more than CONTEXT_LEVEL; None when that reach does not end inside the probe (or the probe failed).

    What is measured is what tiling does: the model runs on a noise image and on the same image with
    its right and bottom CONTEXT_CUT px cut off, and the farthest output pixel (counted in input
    pixels from the cut) that differs by more than ½ level is the radius. A cut at distance d from a
    tile's core costs nothing when d ≥ the radius. Why a cut and not a single impulse: a cut changes
    a whole half-plane at once (content gone, the model's padding in its place), and those small
    changes add up: on the bundled models a cut reached 1-4 px farther than an impulse, on grey or on
    texture (realesr-animevideov3: 15 px against 10-14). Why uniform noise: every frequency and the
    full value range at once; on the bundled models it reached at least as far as photos, line art,
    flat grey or white. The changes far from the cut come from the cut alone (the full image's own
    edge lies ≥ CONTEXT_CUT px farther away), so the largest distance is measured cleanly.

    Models with global pooling (squeeze-and-excitation in waifu2x CUNet, Real-CUGAN) change every
    output pixel when the image changes anywhere: they get None, as does a reach longer than the
    probe can tell apart from that."""
    from pixup.engine.tiling import scale_fraction  # tiling imports the spec only; no cycle at load

    try:
        ratio = scale_fraction(scale)
    except EngineError:
        return None
    step = math.lcm(max(multiple, 1), ratio.denominator)  # both runs' sizes map onto whole output pixels
    side = max(-(-(CONTEXT_PROBE + 2 * border) // step) * step, min_size)
    cut = -(-CONTEXT_CUT // step) * step
    usable = side - cut - 2 * border  # the cut image's usable length (what has an output)
    if usable <= CONTEXT_FAR:
        return None
    image = np.random.default_rng(CONTEXT_SEED).random((prober.channels, side, side), dtype=np.float32)
    # The band that is cut away is brighter than the rest, so that cutting it changes the image's
    # mean: a model that pools globally then changes everywhere (same-statistics noise would not).
    image[:, side - cut :] = 0.5 + 0.5 * image[:, side - cut :]
    image[:, : side - cut, side - cut :] = 0.5 + 0.5 * image[:, : side - cut, side - cut :]
    full = prober.run_image(image)
    part = prober.run_image(image[:, : side - cut, : side - cut])
    if full is None or part is None:
        return None
    for out in (full, part):
        # OpenVINO can return garbage (NaN, ~1e25) after refused probe sizes: no measurement then.
        if not np.isfinite(out).all() or np.abs(out).max() > 1e3:
            log.info("context probe gave implausible values; context radius left unmeasured")
            return None
    height, width = part.shape[1:]
    if full.shape[1] < height or full.shape[2] < width:
        return None
    changed = (np.abs(np.clip(full[:, :height, :width], 0, 1) - np.clip(part, 0, 1)) > CONTEXT_LEVEL).any(0)
    if not changed.any():
        return 0
    # Output pixel o comes from usable input pixel floor(o / scale); its distance to the cut is
    # usable − that (1 for the last pixel): context d beyond a cut keeps changes up to d inside it.
    dist_y = usable - np.arange(height) * ratio.denominator // ratio.numerator
    dist_x = usable - np.arange(width) * ratio.denominator // ratio.numerator
    dist = np.minimum(dist_y[:, None], dist_x[None, :])
    radius = int(dist[changed].max())
    if radius > usable - CONTEXT_FAR:
        return None
    return radius


def _simplest_fraction(lo: float, hi: float, max_denominator: int = 64) -> float | None:
    """The fraction with the smallest denominator in [lo, hi), or None."""
    for q in range(1, max_denominator + 1):
        p = math.ceil(lo * q - 1e-9)
        if p / q < hi:
            return p / q
    return None


def _solve_scale_border(obs: Sequence[_Observation]) -> tuple[float, int] | None:
    """Exact (scale, border) when out = scale·(in − 2·border) holds for every observation
    (sorted by size)."""
    a, b = obs[0], obs[-1]
    if b.size == a.size:
        return None
    scale = (b.out - a.out) / (b.size - a.size)
    if scale <= 0:
        return None
    if all(abs(o.out - scale * o.size) < 1e-9 for o in obs):
        return scale, 0
    twice_border = a.size - a.out / scale
    border = round(twice_border / 2)
    if (
        border > 0
        and abs(twice_border - 2 * border) < 1e-9
        and all(abs(o.out - scale * (o.size - 2 * border)) < 1e-9 for o in obs)
    ):
        return scale, border
    return None


def _fractional_scale(obs: Sequence[_Observation]) -> float:
    """Scale from rounded outputs (border 0): out = floor or round(scale·in), so take the simplest
    fraction consistent with every observation."""
    lo = max((o.out - 0.5) / o.size for o in obs)
    hi = min((o.out + 1.0) / o.size for o in obs)
    best = max(obs, key=lambda o: o.size)
    if lo < hi:
        fraction = _simplest_fraction(lo, hi)
        if fraction is not None:
            return fraction
    return best.out / best.size


@dataclass(frozen=True)
class _Io:
    input_name: str
    output_name: str
    dtype: Literal["float32", "float16"]
    candidates: tuple[tuple[Layout, int], ...]
    static_batch: int | None
    fixed_height: int | None
    fixed_width: int | None


def _read_io(session: ort.InferenceSession) -> _Io:
    """Metadata checks: one float rank-4 image input, a rank-4 float output."""
    inputs = session.get_inputs()
    outputs = session.get_outputs()
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise ModelError(f"not an image-to-image model: it has {len(inputs)} inputs ({names})")
    if not outputs:
        raise ModelError("not an image-to-image model: it has no outputs")
    inp, out = inputs[0], outputs[0]
    dtype = _DTYPES.get(inp.type)
    if dtype is None:
        raise ModelError(f"unsupported input type {inp.type}: pixup feeds float32 or float16 images")
    if out.type not in _DTYPES:
        raise ModelError(f"unsupported output type {out.type}: pixup reads float32 or float16 images")
    shape = list(inp.shape)
    if len(shape) != 4:
        raise ModelError(f"not an image-to-image model: input has shape {format_shape(shape)}")
    out_shape = out.shape
    if out_shape is not None and len(out_shape) != 4:
        raise ModelError(f"not an image-to-image model: output has shape {format_shape(list(out_shape))}")

    c1, c3 = _static(shape[1]), _static(shape[3])
    candidates: tuple[tuple[Layout, int], ...]
    if c1 in CHANNEL_COUNTS:  # NCHW preferred when both axes could be channels
        candidates = (("NCHW", c1),)
    elif c3 in CHANNEL_COUNTS:
        candidates = (("NHWC", c3),)
    elif c1 is None and c3 is None:  # no static channel dim: measured by probing, RGB first
        candidates = (("NCHW", 3), ("NHWC", 3), ("NCHW", 1), ("NHWC", 1), ("NCHW", 4), ("NHWC", 4))
    else:
        raise ModelError(
            f"not an image model: input has shape {format_shape(shape)} (no 1, 3 or 4 channel axis)"
        )
    layout = candidates[0][0]
    h_dim, w_dim = (shape[2], shape[3]) if layout == "NCHW" else (shape[1], shape[2])
    if len(candidates) > 1:
        h_dim = w_dim = None  # unknown until the layout is known; both candidates are then dynamic
    return _Io(
        input_name=inp.name,
        output_name=out.name,
        dtype=dtype,
        candidates=candidates,
        static_batch=_static(shape[0]),
        fixed_height=_static(h_dim),
        fixed_width=_static(w_dim),
    )


def _probe_fixed(prober: _Prober, height: int, width: int) -> tuple[int, float, int, int, int]:
    """(out_channels, scale, multiple, min_size, border) for a fully fixed input shape."""
    result = prober.run(height, width)
    if result is None:
        raise ProbeError(f"the model failed to run at its fixed size {height}×{width}: {prober.last_error}")
    channels, oh, ow = result
    scale_h, scale_w = oh / height, ow / width
    if abs(scale_h - scale_w) > 1e-6:
        raise ModelError(f"the model scales height and width differently (×{scale_h:g} and ×{scale_w:g})")
    # One size cannot separate scale from border: a fixed-shape model is taken as padded.
    return channels, scale_h, 1, min(height, width), 0


def _probe_dynamic(
    prober: _Prober, fixed_h: int | None, fixed_w: int | None
) -> tuple[int, float, int, int, int]:
    """(out_channels, scale, multiple, min_size, border) when at least one side is dynamic."""

    def shape(side: int, other: int | None = None) -> tuple[int, int]:
        return (fixed_h or side, fixed_w or (other if other is not None else side))

    def observe(h: int, w: int, result: tuple[int, int, int]) -> list[_Observation]:
        obs = []
        if fixed_h is None:
            obs.append(_Observation(h, result[1]))
        if fixed_w is None:
            obs.append(_Observation(w, result[2]))
        return obs

    # 1. The smallest working side on the ladder.
    first: tuple[int, tuple[int, int, int]] | None = None
    for side in PROBE_SIZES:
        result = prober.run(*shape(side))
        if result is not None:
            first = (side, result)
            break
    if first is None:
        raise ProbeError(
            f"the model did not run at any size from {PROBE_SIZES[0]} to {PROBE_SIZES[-1]} px: "
            f"{prober.last_error}"
        )
    base, base_result = first
    channels = base_result[0]
    observations = observe(*shape(base), base_result)

    # 2. The multiple: the smallest m for which base + m and base + 2m also work AND the output
    # grows evenly. "Works" alone is not enough: models with pooling (waifu2x CUNet) run at any
    # size but floor inside, so off-grid sizes give a too-small output.
    multiple = 0
    base_len = _grown_length(base_result, fixed_h, fixed_w)
    for m in MULTIPLES:
        if m > base:
            break
        step1 = prober.run(*shape(base + m))
        if step1 is None:
            continue
        grow1 = _grown_length(step1, fixed_h, fixed_w) - base_len
        if grow1 <= 0:
            continue
        step2 = prober.run(*shape(base + 2 * m))
        if step2 is None:
            continue
        grow2 = _grown_length(step2, fixed_h, fixed_w) - base_len - grow1
        if abs(grow2 - grow1) <= 1:  # ±1: a fractional scale rounds
            multiple = m
            observations += observe(*shape(base + m), step1) + observe(*shape(base + 2 * m), step2)
            break
    if multiple == 0:
        raise ProbeError(f"the model ran at {base} px but at no larger size: {prober.last_error}")
    # 3. One larger probe: at tiny sizes rounding can make a fractional scale look whole (1.25 → 1).
    side = max(base, math.ceil(PRECISION_PROBE / multiple) * multiple)
    h, w = shape(side, side + multiple)
    result = prober.run(h, w)
    if result is not None:
        observations += observe(h, w, result)
    observations.sort(key=lambda o: o.size)
    solved = _solve_scale_border(observations)
    scale, border = solved if solved is not None else (_fractional_scale(observations), 0)

    # 4. The smallest side: `base` works and half of it did not; one try just above the border.
    min_size = base
    if base > 1:
        floor_side = max(2 * border + 1, base // 2 + 1)
        candidate = math.ceil(floor_side / multiple) * multiple
        if candidate < base and prober.run(*shape(candidate)) is not None:
            min_size = candidate
    return channels, scale, multiple, min_size, border


def _grown_length(result: tuple[int, int, int], fixed_h: int | None, fixed_w: int | None) -> int:
    """The output length along a probed (dynamic) side."""
    return result[1] if fixed_h is None else result[2]


def inspect_session(session: ort.InferenceSession) -> ModelSpec:
    """Inspect `session`'s model: metadata, at most a dozen tiny probe runs, then two runs of
    CONTEXT_PROBE px that measure its context radius (dynamic shapes only).

    Raises ModelError with a one-line reason for anything that is not a float image-to-image model
    (classifier, wrong rank, integer input, ...), and its subclass ProbeError when the graph looks
    right but would not run at any probe size."""
    io = _read_io(session)
    batch = io.static_batch or 1
    errors: list[ProbeError] = []
    for layout, in_channels in io.candidates:
        prober = _Prober(session, io.input_name, io.output_name, io.dtype, layout, in_channels, batch)
        try:
            if io.fixed_height is not None and io.fixed_width is not None:
                out_channels, scale, multiple, min_size, border = _probe_fixed(
                    prober, io.fixed_height, io.fixed_width
                )
            else:
                out_channels, scale, multiple, min_size, border = _probe_dynamic(
                    prober, io.fixed_height, io.fixed_width
                )
        except ProbeError as err:
            errors.append(err)
            continue
        if out_channels not in CHANNEL_COUNTS:
            raise ModelError(f"not an image-to-image model: output has {out_channels} channels")
        started = time.perf_counter()
        radius = (
            measure_context_radius(prober, scale, border, multiple, min_size)
            if io.fixed_height is None and io.fixed_width is None
            else None  # one fixed size: the tiler's context is bounded by it anyway
        )
        log.info(
            "inspected %s: %s %s %d→%d ch, scale %g, multiple %d, min %d, border %d, context %s "
            "(%d probe runs; context probe %.2f s)",
            io.input_name,
            io.dtype,
            layout,
            in_channels,
            out_channels,
            scale,
            multiple,
            min_size,
            border,
            "none" if radius is None else f"{radius} px",
            prober.runs,
            time.perf_counter() - started,
        )
        return ModelSpec(
            input_name=io.input_name,
            output_name=io.output_name,
            dtype=io.dtype,
            layout=layout,
            in_channels=in_channels,
            out_channels=out_channels,
            static_batch=io.static_batch,
            fixed_height=io.fixed_height,
            fixed_width=io.fixed_width,
            multiple=multiple,
            min_size=min_size,
            border=border,
            scale=scale,
            context_radius=radius,
        )
    raise errors[0]
