"""Fix compression (SPEC §5): which repair a job runs, and the 1× repair pre-pass itself.

The path for a (scenario, strength) was chosen by measurement (benchmarks/repair_table.py →
models/repair_table.md; the picks are `REPAIR_PATHS` / `REPAIR_ANY` in pixup.models.bundled):

- "prepass": a 1× denoise model cleans the source, the result is blended with the source by the
  band's alpha, then the job's upscaler runs as usual. The 1× model is a job-scoped auxiliary session
  (opened here, closed when the job ends), beside the one upscale session of the model slot;
- "swap": the job leases a denoising upscaler instead of the scenario's model (its plan names it);
- "none": the measurements found nothing better than the plain upscale for that band.

The pre-pass works on the colour channels only: alpha is left as it was (the upscaler treats it as
in a plain upscale), and the pixels keep their bit depth; metadata never reaches this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pixup.choices import Scenario
from pixup.engine.cancel import CancelToken
from pixup.engine.progress import Progress
from pixup.engine.providers import Precision
from pixup.engine.runner import InferenceRunner
from pixup.engine.session import ModelSession
from pixup.engine.upscale import upscale_array
from pixup.errors import ModelError
from pixup.models.bundled import REPAIR_ANY, REPAIR_PATHS, RepairKind, RepairStep, bundled_model


@dataclass(frozen=True)
class RepairPlan:
    """The repair one job runs."""

    strength: int
    """The requested strength, 1-100."""
    step: RepairStep
    """The measured band it falls in (action "prepass" or "swap")."""
    upscaler: str
    """The model the job would run without repair (the scenario's pick, or the explicit model)."""

    @property
    def model(self) -> str:
        """The 1× repair model (prepass) or the denoising upscaler (swap)."""
        assert self.step.model is not None
        return self.step.model

    def notice(self) -> str:
        """One line for the file's notices: what Fix compression did."""
        name = _display(self.model)
        if self.step.action == "swap":
            return (f"Fix compression (strength {self.strength}): upscaled with {name} instead of "
                    f"{_display(self.upscaler)}, the better measured repair for this scenario.")
        share = "" if self.step.alpha >= 1 else f", blended {round(self.step.alpha * 100)} %"
        return f"Fix compression (strength {self.strength}): {name} before the upscale{share}."


def _display(model_id: str) -> str:
    model = bundled_model(model_id)
    return model.display_name if model is not None else model_id


def repair_kind(scenario: Scenario | None) -> RepairKind:
    """The content a scenario is for: drawings for Digital Art, photos for the rest."""
    return "drawing" if scenario == "Digital Art" else "photo"


def repair_steps(upscaler: str, scenario: Scenario | None, *, explicit: bool) -> tuple[RepairStep, ...]:
    """The measured bands that apply to a job running `upscaler` for `scenario`. An `explicit` model
    is the user's choice: it is never swapped, and an upscaler the table did not measure gets the
    pre-pass measured for any model."""
    if explicit:
        return REPAIR_ANY
    return REPAIR_PATHS.get((upscaler, repair_kind(scenario)), REPAIR_ANY)


def plan_repair(
    strength: int, upscaler: str, scenario: Scenario | None = None, *, explicit: bool = False
) -> RepairPlan | None:
    """The repair a job runs at `strength` (0 = off) before or instead of `upscaler` (the model it
    would run without repair; `explicit`: the request named it), or None (off, or a band where no
    repair measured better). Part of the job's plan (pixup.jobs.plan)."""
    if strength <= 0:
        return None
    steps = repair_steps(upscaler, scenario, explicit=explicit)
    step = next((s for s in steps if s.low <= strength <= s.high), None)
    if step is None or step.action == "none" or step.model is None:
        return None
    if explicit and step.action != "prepass":  # never swap the user's model
        return None
    return RepairPlan(strength, step, upscaler)


class RepairPass:
    """A job's 1× repair model: an auxiliary session opened for the job and closed when it ends."""

    def __init__(self, plan: RepairPlan, session: InferenceRunner) -> None:
        if round(session.spec.scale, 3) != 1:
            raise ModelError(f"repair model {plan.model} is not a 1× model (scale {session.spec.scale:g})")
        self.plan = plan
        self.session = session

    @classmethod
    def open(cls, plan: RepairPlan, provider: str, precision: Precision) -> RepairPass:
        """Open the plan's 1× model on the provider the upscaler runs on (CPU as the fallback)."""
        from pixup.models.catalogue import resolve_model

        providers = list(dict.fromkeys([provider, "CPUExecutionProvider"]))
        session = ModelSession.open(resolve_model(plan.model).onnx_path, precision, providers=providers)
        try:
            return cls(plan, session)
        except ModelError:
            session.close()
            raise

    def apply(
        self,
        pixels: np.ndarray,
        *,
        tile: int | None = None,
        batch: int = 1,
        token: CancelToken | None = None,
        progress: Callable[[Progress], None] | None = None,
        notices: list[str] | None = None,
    ) -> np.ndarray:
        """`pixels` (as `upscale_array` takes them) repaired: same shape, dtype and alpha."""
        return repair_pixels(
            pixels, self.session, self.plan.step.alpha,
            tile=tile, batch=batch, token=token, progress=progress, notices=notices,
        )

    def close(self) -> None:
        close = getattr(self.session, "close", None)
        if close is not None:
            close()


def repair_pixels(
    pixels: np.ndarray,
    runner: InferenceRunner,
    alpha: float,
    *,
    tile: int | None = None,
    batch: int = 1,
    token: CancelToken | None = None,
    progress: Callable[[Progress], None] | None = None,
    notices: list[str] | None = None,
) -> np.ndarray:
    """Run a 1× repair model on the colour channels of `pixels` and blend: alpha·repaired +
    (1 − alpha)·original, rounded to the input's dtype. The alpha channel (if any) is returned as it
    came in. Raises Cancelled when `token` is cancelled."""
    image = pixels[:, :, None] if pixels.ndim == 2 else pixels
    colour_count = 3 if image.shape[2] >= 3 else 1
    colour = np.ascontiguousarray(image[:, :, :colour_count])
    repaired = upscale_array(
        colour, runner, target_scale=None, tile=tile, batch=batch, token=token, progress=progress,
        notices=notices,
    )
    if repaired.shape != colour.shape:
        raise ModelError(f"the repair model returned {repaired.shape[:2]} px for {colour.shape[:2]} px")
    if alpha < 1:
        top = float(np.iinfo(colour.dtype).max)
        mixed = alpha * repaired.astype(np.float32) + (1.0 - alpha) * colour.astype(np.float32)
        repaired = np.clip(np.rint(mixed), 0, top).astype(colour.dtype)
    out = image.copy()
    out[:, :, :colour_count] = repaired
    return out[:, :, 0] if pixels.ndim == 2 else out
