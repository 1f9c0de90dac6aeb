"""PyTorch import (`pixup[torch]`): spandrel architectures with random weights, saved as .pth and
.safetensors, imported, then run through pixup's engine and compared with PyTorch itself.

These tests need torch and spandrel (CI installs them, see README); without them this module fails
at collection with the install line, on purpose: a skipped test would hide a broken import path.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from pixup.errors import ModelError
from pixup.models.importers.torch import EXTRA_HINT
from pixup.models.importers.torch import deps as torch_deps

try:
    torch_deps.require_backend()
except ModelError as err:
    raise RuntimeError(
        "tests/models/test_torch_import.py needs torch and spandrel: "
        ".venv/bin/pip install torch==2.13.0 && "
        ".venv/bin/pip install --no-deps spandrel && .venv/bin/pip install safetensors einops"
    ) from err

import safetensors.torch
import torch
from spandrel.architectures.ATD import ATD
from spandrel.architectures.Compact import Compact
from spandrel.architectures.DAT import DAT
from spandrel.architectures.ESRGAN import ESRGAN
from spandrel.architectures.HAT import HAT
from spandrel.architectures.OmniSR import OmniSR
from spandrel.architectures.PLKSR import RealPLKSR
from spandrel.architectures.RCAN import RCAN
from spandrel.architectures.SPAN import SPAN
from spandrel.architectures.SwinIR import SwinIR

from pixup.engine.session import ModelSession
from pixup.engine.upscale import upscale_array
from pixup.models.catalogue import resolve_model
from pixup.models.importers.torch.guard import add_size_guard
from pixup.models.importing import import_model
from tests.models.reference import smooth_image

pytestmark = pytest.mark.filterwarnings("ignore:torch.meshgrid:UserWarning")  # inside spandrel's DAT

PAD = 32
IMAGE_SIZES = ((37, 29), (48, 64))  # neither a multiple of the window sizes below, then one that is


def _span() -> torch.nn.Module:
    return SPAN(num_in_ch=3, num_out_ch=3, feature_channels=16, upscale=2)


def _realplksr() -> torch.nn.Module:
    return RealPLKSR(dim=16, n_blocks=2, upscaling_factor=2, kernel_size=9)


def _compact() -> torch.nn.Module:
    return Compact(num_feat=16, num_conv=4, upscale=4)


def _compact_2x() -> torch.nn.Module:
    return Compact(num_feat=8, num_conv=2, upscale=2)


def _esrgan() -> torch.nn.Module:
    return ESRGAN(num_filters=16, num_blocks=1, scale=2)


def _rcan() -> torch.nn.Module:
    # RCAN scales its input in place: the export and its checks must not feed it a shared tensor.
    return RCAN(scale=2, n_resgroups=1, n_resblocks=2, n_feats=16)


def _omnisr() -> torch.nn.Module:
    return OmniSR(num_feat=16, up_scale=2, window_size=8)


def _dat() -> torch.nn.Module:
    return DAT(embed_dim=32, depth=[2], num_heads=[4], split_size=[4, 8], upscale=2, img_size=16)


def _hat() -> torch.nn.Module:
    return HAT(
        embed_dim=16,
        depths=(2,),
        num_heads=(2,),
        window_size=4,
        upscale=2,
        img_size=16,
        compress_ratio=2,
        squeeze_factor=4,
        overlap_ratio=0.5,
    )


def _swinir() -> torch.nn.Module:
    return SwinIR(
        embed_dim=12,
        depths=(2,),
        num_heads=(2,),
        window_size=4,
        upscale=2,
        img_size=16,
        upsampler="pixelshuffledirect",
    )


@dataclass(frozen=True)
class Arch:
    """One architecture under test."""

    id: str
    """spandrel's architecture id (what the export records)."""
    build: Callable[[], torch.nn.Module]
    """A tiny instance with random weights."""
    scale: int
    suffix: str
    """The checkpoint format it is saved in."""
    seamless: bool
    """Purely convolutional, receptive field < PAD: tiling must not change a pixel. (Window
    attention sees different windows in each tile.)"""
    free_batch: bool
    """Exports with a free batch. The window-attention models below turn the batch into a Python
    int while tracing; the batch-2 check catches it (small with random weights: only the relative
    check sees it) and pins the graph to batch 1, which the engine honours."""
    min_size: int = 1
    """Smallest input pixup's inspection finds (spandrel's minimum, enforced by the size guard)."""


ARCHS = [
    Arch("SPAN", _span, 2, ".pth", seamless=True, free_batch=True),
    Arch("PLKSR", _realplksr, 2, ".safetensors", seamless=True, free_batch=True),  # RealPLKSR
    Arch("Compact", _compact, 4, ".safetensors", seamless=True, free_batch=True),
    Arch("ESRGAN", _esrgan, 2, ".pth", seamless=True, free_batch=True, min_size=2),
    Arch("RCAN", _rcan, 2, ".safetensors", seamless=True, free_batch=True),
    Arch("OmniSR", _omnisr, 2, ".pth", seamless=False, free_batch=True, min_size=16),
    Arch("DAT", _dat, 2, ".safetensors", seamless=False, free_batch=False, min_size=16),
    Arch("HAT", _hat, 2, ".pth", seamless=False, free_batch=False, min_size=16),
    Arch("SwinIR", _swinir, 2, ".pth", seamless=False, free_batch=False, min_size=16),
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _calibrate(net: torch.nn.Module) -> None:
    """Random weights give saturated or flat outputs. The output is affine in the last convolution,
    so rescale it to make what the network adds to its input spread by about 0.12, then shift its
    bias to centre the output on 0.5: every pixel then tests something."""
    conv = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    assert conv.bias is not None
    image = torch.from_numpy(smooth_image(3, 24, 24, seed=7))[None]

    def run() -> torch.Tensor:
        return net(image.clone())  # a copy: RCAN scales its input in place

    with torch.no_grad():
        weight, bias = conv.weight.clone(), conv.bias.clone()
        conv.weight.zero_()
        conv.bias.zero_()
        base = run()
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
        k = 0.12 / float((run() - base).std())
        conv.weight.mul_(k)
        conv.bias.mul_(k)
        middle = run()
        conv.bias.add_(1.0)
        per_unit = float((run() - middle).mean())
        conv.bias.sub_(1.0)
        conv.bias.add_((0.5 - float(middle.mean())) / per_unit)
        out = run()
    assert abs(float(out.mean()) - 0.5) < 0.02 and 0.08 < float(out.std()) < 0.3
    assert float(((out < 0) | (out > 1)).float().mean()) < 0.05  # hardly anything clamped


def _save(net: torch.nn.Module, path: Path) -> Path:
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    if path.suffix == ".safetensors":
        safetensors.torch.save_file(state, str(path))
    else:
        torch.save(state, path)
    return path


def _build(builder: Callable[[], torch.nn.Module], path: Path) -> torch.nn.Module:
    torch.manual_seed(0)
    net = builder().eval()
    _calibrate(net)
    _save(net, path)
    return net


def _torch_reference(net: torch.nn.Module, image: np.ndarray, scale: int) -> np.ndarray:
    """PyTorch's output for an H×W×3 uint8 image run whole: an image that fits one tile reaches the
    model as it is (the model sees the real image edge), exactly as here."""
    x = image.astype(np.float32).transpose(2, 0, 1) / 255.0
    with torch.no_grad():
        out = net(torch.from_numpy(x.copy())[None]).clamp(0, 1)[0].numpy()
    assert out.shape[1:] == (image.shape[0] * scale, image.shape[1] * scale)
    return np.rint(out.transpose(1, 2, 0) * 255.0).astype(np.uint8)


def _test_image(height: int, width: int) -> np.ndarray:
    pixels = smooth_image(3, height, width, seed=height).transpose(1, 2, 0)
    return np.rint(pixels * 255).astype(np.uint8)


@pytest.mark.parametrize("arch", ARCHS, ids=[a.id for a in ARCHS])
def test_import_runs_like_pytorch(home: Path, tmp_path: Path, arch: Arch) -> None:
    source = tmp_path / f"4x_{arch.id.lower()}{arch.suffix}"
    net = _build(arch.build, source)
    model = import_model(source)

    assert model.id == f"4x_{arch.id.lower()}"
    assert model.kind == "torch"
    assert model.path == home / "models" / f"{model.id}.onnx" and model.path.is_file()
    assert (model.scale, model.min_size, model.multiple, model.fixed_shape) == (
        arch.scale,
        arch.min_size,
        1,
        None,
    )
    assert (model.in_channels, model.out_channels, model.dtype, model.layout) == (3, 3, "float32", "NCHW")
    assert (
        model.notes[0].startswith("PyTorch ") and " (SR) exported to ONNX; max difference " in model.notes[0]
    )
    assert resolve_model(model.id).onnx_path == model.path
    proto = onnx.load(str(model.path))
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    metadata = {p.key: p.value for p in proto.metadata_props}
    assert metadata["pixup_architecture"] == arch.id
    batch_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    if arch.free_batch:
        assert metadata["pixup_export_shape"] == "dynamic" and batch_dim.dim_param == "batch"
        assert "batch size fixed at 1" not in model.notes
    else:
        assert metadata["pixup_export_shape"] == "static-batch" and batch_dim.dim_value == 1
        assert "batch size fixed at 1" in model.notes

    if arch.min_size > 1:
        # Below spandrel's minimum, the size guard answers with an ordinary error. Without it,
        # OmniSR's traced `size // window` divides by zero inside ONNX Runtime at ≤ 8 px: a SIGFPE
        # that kills the process (pixup's inspection probes 1×1 first).
        plain = ort.InferenceSession(str(model.path), providers=["CPUExecutionProvider"])
        for side in (1, arch.min_size - 1):
            with pytest.raises(Exception, match="Reshape"):
                plain.run(None, {"input": np.full((1, 3, side, side), 0.5, np.float32)})

    session = ModelSession.open(model.path, precision="exact", providers=["CPUExecutionProvider"])
    try:
        for height, width in IMAGE_SIZES:
            image = _test_image(height, width)
            expected = _torch_reference(net, image, arch.scale)
            assert expected.std() > 10  # the comparison below has something to compare
            # One tile (tile ≥ image): exactly the input PyTorch saw above.
            actual = upscale_array(image, session, tile=256, pad=PAD)
            assert actual.shape == (height * arch.scale, width * arch.scale, 3)
            diff = np.abs(actual.astype(np.int16) - expected.astype(np.int16))
            assert diff.max() <= 2, f"{arch.id} {height}×{width}: max diff {diff.max()}"
            assert diff.mean() < 0.05
            if arch.seamless:
                tiled = upscale_array(image, session, tile=16, pad=PAD)
                tiled_diff = np.abs(tiled.astype(np.int16) - expected.astype(np.int16))
                assert tiled_diff.max() <= 2, f"{arch.id} tiled {height}×{width}: max diff {tiled_diff.max()}"
    finally:
        session.close()


def test_architecture_that_does_not_export(home: Path, tmp_path: Path) -> None:
    """ATD sorts its tokens with an op the TorchScript exporter cannot write at any shape: a clear
    error, nothing stored."""
    torch.manual_seed(0)
    net = ATD(
        embed_dim=12,
        depths=(2,),
        num_heads=(2,),
        window_size=4,
        category_size=16,
        num_tokens=8,
        upscale=2,
        upsampler="pixelshuffledirect",
        img_size=16,
    )
    _save(net, tmp_path / "atd.pth")
    with pytest.raises(ModelError) as err:
        import_model(tmp_path / "atd.pth")
    assert str(err.value) == (
        "the model could not be exported to ONNX faithfully "
        "(export failed: Unsupported: ONNX export of operator Sort, Out parameter is not supported.)"
    )
    assert not (home / "models").exists() or not any((home / "models").iterdir())


def _identity_model() -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["output"])],
        "identity",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H", "W"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_size_guard_minimum_and_step() -> None:
    model = _identity_model()
    assert add_size_guard(model, minimum=16, multiple=8)
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for height, width, ok in [
        (16, 16, True),
        (24, 40, True),
        (8, 16, False),
        (16, 20, False),
        (17, 24, False),
    ]:
        x = np.random.default_rng(0).random((2, 3, height, width), dtype=np.float32)
        if ok:
            np.testing.assert_array_equal(session.run(None, {"input": x})[0], x)
        else:
            with pytest.raises(Exception, match="Reshape"):
                session.run(None, {"input": x})
    assert not add_size_guard(_identity_model(), minimum=0, multiple=1)  # nothing to guard


def test_name_and_overwrite(home: Path, tmp_path: Path) -> None:
    _build(_compact, tmp_path / "a.pth")
    first = import_model(tmp_path / "a.pth", name="My Compact")
    assert first.path.name == "My Compact.onnx"
    before = first.path.read_bytes()
    _build(_compact_2x, tmp_path / "b.safetensors")
    with pytest.raises(ModelError, match=r"^a model named My Compact already exists$"):
        import_model(tmp_path / "b.safetensors", name="My Compact")
    assert first.path.read_bytes() == before
    second = import_model(tmp_path / "b.safetensors", name="My Compact", overwrite=True)
    assert second.path == first.path and second.scale == 2 and first.scale == 4
    assert second.path.read_bytes() != before


def test_unknown_architecture(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "mystery.pth"
    torch.save({"encoder.weight": torch.zeros(4, 4), "decoder.bias": torch.zeros(4)}, path)
    with pytest.raises(ModelError, match=r"mystery\.pth: unknown PyTorch architecture"):
        import_model(path)
    assert not (home / "models" / "mystery.onnx").exists()


def test_not_a_checkpoint(home: Path, tmp_path: Path) -> None:
    for name in ("notes.pth", "notes.safetensors", "notes.ckpt"):
        path = tmp_path / name
        path.write_text("just some text\n")
        with pytest.raises(ModelError, match=rf"{name.replace('.', '[.]')}: not a readable PyTorch model"):
            import_model(path)


class _Exploit:
    def __reduce__(self) -> tuple[Callable[..., object], tuple[str, ...]]:
        return (os.system, ("touch pwned",))


def test_checkpoint_cannot_run_code(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    with path.open("wb") as fh:
        pickle.dump({"conv.weight": _Exploit()}, fh)
    with pytest.raises(ModelError, match=r"evil\.pth: refused to load this checkpoint .*forbidden"):
        import_model(path)
    assert not (tmp_path / "pwned").exists()


def test_without_the_extra(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _build(_compact, tmp_path / "c.pth")
    monkeypatch.setattr(torch_deps, "_ready", False)
    monkeypatch.setitem(sys.modules, "torch", None)  # what `import torch` sees when it is not installed
    with pytest.raises(ModelError) as err:
        import_model(tmp_path / "c.pth")
    assert (
        str(err.value)
        == EXTRA_HINT
        == (
            "importing PyTorch models needs the optional extra: pip install 'pixup[torch]' "
            "&& pip install --no-deps spandrel (or: bash scripts/install.sh --torch)"
        )
    )
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "spandrel", None)
    with pytest.raises(ModelError, match="pip install 'pixup\\[torch\\]'"):
        import_model(tmp_path / "c.pth")
