"""Fit an image's channels to a model's: which source channels feed each model input channel, and how
the model's output channels come back into the image.

Grey into an RGB model: replicated, the result's mean is kept. RGB into a grey model: one run per
channel. Alpha that is not uniform goes through the model as a grey image; uniform alpha does not go
through the model at all (the caller fills it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from pixup.errors import EngineError

OPAQUE = -1
"""Source index meaning "a constant full-scale channel" (alpha for a 4-channel model given no alpha)."""


@dataclass(frozen=True)
class Feed:
    """One run of the model over the whole image."""

    src: tuple[int, ...]
    """Image channel for each model input channel (`OPAQUE` = constant 1.0)."""
    dst: tuple[int, ...]
    """Image channels the result is written to."""
    reduce: Literal["take", "mean"]
    """"take": output channel i → dst[i]; "mean": the mean of the colour outputs → dst[0]."""


def colour_channels(channels: int) -> tuple[int, ...]:
    """Colour channel indices of an H×W×C image (C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA)."""
    if channels not in (1, 2, 3, 4):
        raise EngineError(f"Images with {channels} channels are not supported.")
    return (0,) if channels <= 2 else (0, 1, 2)


def alpha_channel(channels: int) -> int | None:
    """Index of the alpha channel, or None."""
    return channels - 1 if channels in (2, 4) else None


def _grey_feed(channel: int, model_channels: int) -> Feed:
    if model_channels == 1:
        return Feed((channel,), (channel,), "take")
    src = (channel,) * 3 + ((OPAQUE,) if model_channels == 4 else ())
    return Feed(src, (channel,), "mean")


def plan_feeds(image_channels: int, model_channels: int, *, alpha_uniform: bool) -> list[Feed]:
    """The model runs needed to upscale an image with `image_channels` through a model that takes
    `model_channels` (1, 3 or 4). Uniform alpha gets no run (the caller fills it)."""
    if model_channels not in (1, 3, 4):
        raise EngineError(f"Models with {model_channels} input channels are not supported.")
    colours = colour_channels(image_channels)
    alpha = alpha_channel(image_channels)
    if model_channels == 4 and image_channels == 4:
        return [Feed((0, 1, 2, 3), (0, 1, 2, 3), "take")]
    if len(colours) == 1 or model_channels == 1:
        feeds = [_grey_feed(c, model_channels) for c in colours]
    else:
        src = colours + ((OPAQUE,) if model_channels == 4 else ())
        feeds = [Feed(src, colours, "take")]
    if alpha is not None and not alpha_uniform:
        feeds.append(_grey_feed(alpha, model_channels))
    return feeds


def reduce_output(values: np.ndarray, feed: Feed) -> np.ndarray:
    """Model output for one tile (C×h×w float32) → the feed's channels (len(dst)×h×w)."""
    have = values.shape[0]
    want = len(feed.dst)
    if feed.reduce == "mean":
        mean: np.ndarray = values[: min(have, 3)].mean(axis=0, keepdims=True, dtype=np.float32)
        return mean
    if have >= want:
        return values[:want]
    if have == 1:
        return np.broadcast_to(values, (want, *values.shape[1:]))
    raise EngineError(f"The model returned {have} channels where {want} were expected.")


def fill_planes(dst: np.ndarray, tile: np.ndarray, src: Sequence[int], top: float) -> None:
    """Normalise `tile` (h×w×C uint) into `dst` (len(src)×h×w float32, values in [0, 1])."""
    for plane, channel in zip(dst, src, strict=True):
        if channel == OPAQUE:
            plane.fill(1.0)
        else:
            np.divide(tile[:, :, channel], np.float32(top), out=plane, dtype=np.float32)
