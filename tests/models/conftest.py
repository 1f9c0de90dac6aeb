"""Fixtures for the model tests: a checker that runs a hand-written ncnn net through both the
reference ncnn runtime and pixup's ONNX conversion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pixup.models.importers.ncnn import convert_ncnn
from tests.models.reference import F32, BinWriter, random_image, run_ncnn, run_onnx, write_param

NetChecker = Callable[..., F32]


@pytest.fixture
def check_net(tmp_path: Path) -> NetChecker:
    """check_net(layers, weights=None, shape=(3, 11, 14), atol=1e-4, image=None) → ncnn's output.

    Writes `layers` (after an Input layer producing blob "data") and `weights` as a .param/.bin
    pair, converts it, and asserts the ONNX output equals ncnn's output within `atol`.
    """

    def check(
        layers: list[str],
        weights: BinWriter | None = None,
        shape: tuple[int, int, int] = (3, 11, 14),
        atol: float = 1e-4,
        image: F32 | None = None,
    ) -> F32:
        x = random_image(*shape) if image is None else image
        header = f"Input data 0 1 data 0={x.shape[2]} 1={x.shape[1]} 2={x.shape[0]}"
        param = write_param(tmp_path / "net.param", [header, *layers])
        bin_path = (weights or BinWriter()).write(tmp_path / "net.bin")
        expected = run_ncnn(param, bin_path, x)
        actual = run_onnx(convert_ncnn(param, bin_path), x)
        assert actual.shape == expected.shape
        np.testing.assert_allclose(actual, expected, rtol=0, atol=atol)
        return expected

    return check
