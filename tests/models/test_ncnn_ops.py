"""Each ncnn op on its own: tiny hand-written .param/.bin nets, converted by pixup and compared with
the reference ncnn runtime (fp32, CPU) on random inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from pixup.errors import ModelError
from pixup.models.importers.ncnn import convert_ncnn
from pixup.models.importers.ncnn.param import parse_param_text
from pixup.models.importers.ncnn.weights import WeightReader
from tests.models.conftest import NetChecker
from tests.models.reference import BinWriter, random_image, write_param


def rand(n: int, seed: int = 1, scale: float = 0.3) -> npt.NDArray[np.float32]:
    return (np.random.default_rng(seed).standard_normal(n) * scale).astype(np.float32)


# -- Convolution ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "n_weights", "bias"),
    [
        ("0=4 1=3 4=1 5=1", 4 * 3 * 9, True),  # 3×3, pad 1, bias
        ("0=5 1=3 3=2 2=2", 5 * 3 * 9, False),  # stride 2, dilation 2, no pad, no bias
        ("0=4 1=3 11=1 4=1 15=2 14=0 16=1 5=1", 4 * 3 * 3, True),  # 1×3 kernel, uneven pads
        ("0=4 1=3 3=2 4=-233 5=1", 4 * 3 * 9, True),  # SAME_UPPER, stride 2
        ("0=4 1=4 3=2 4=-234 5=1", 4 * 3 * 16, True),  # SAME_LOWER, even kernel
        ("0=4 1=3 4=1 18=0.5 5=1", 4 * 3 * 9, True),  # non-zero pad value
        ("0=2 1=1 5=1", 2 * 3, True),  # 1×1
    ],
)
def test_convolution_geometry(check_net: NetChecker, params: str, n_weights: int, bias: bool) -> None:
    weights = BinWriter().tagged_fp32(rand(n_weights))
    if bias:
        weights.raw(rand(int(params.split()[0][2:]), seed=2))
    check_net([f"Convolution conv 1 1 data out {params} 6={n_weights}"], weights)


@pytest.mark.parametrize(
    ("act", "act_params"),
    [
        (1, ""),
        (2, "-23310=1,1.000000e-01"),
        (3, "-23310=2,-0.2,0.3"),
        (4, ""),
        (5, ""),
        (6, "-23310=2,0.2,0.5"),
    ],
    ids=["relu", "leaky", "clip", "sigmoid", "mish", "hardswish"],
)
def test_convolution_fused_activation(check_net: NetChecker, act: int, act_params: str) -> None:
    weights = BinWriter().tagged_fp32(rand(4 * 27)).raw(rand(4, seed=2))
    check_net([f"Convolution conv 1 1 data out 0=4 1=3 4=1 5=1 6=108 9={act} {act_params}"], weights)


@pytest.mark.parametrize("storage", ["fp16", "raw", "table"])
def test_weight_storage_formats(check_net: NetChecker, storage: str) -> None:
    values = rand(4 * 27)
    writer = BinWriter()
    if storage == "fp16":
        writer.tagged_fp16(values)
    elif storage == "raw":
        writer.tagged_fp32(values, tag=0)
    else:
        table = np.linspace(-1, 1, 256, dtype=np.float32)
        writer.tagged_table(table, np.random.default_rng(3).integers(0, 256, values.size))
    writer.raw(rand(4, seed=2))
    # 4×27 = 108 fp16 values is 216 bytes: already 4-aligned, so also test an odd count below.
    check_net(["Convolution conv 1 1 data out 0=4 1=3 4=1 5=1 6=108"], writer)


def test_fp16_weights_with_alignment_padding(check_net: NetChecker) -> None:
    # 1×3×3×3 = 27 fp16 values = 54 bytes, padded to 56: the next array must start after the padding.
    writer = BinWriter().tagged_fp16(rand(27)).raw(rand(1, seed=2))
    writer.tagged_fp16(rand(27, seed=4)).raw(rand(3, seed=5))
    check_net(
        [
            "Convolution c1 1 1 data a 0=1 1=3 4=1 5=1 6=27",
            "Convolution c2 1 1 a out 0=3 1=3 4=1 5=1 6=27",
        ],
        writer,
    )


@pytest.mark.parametrize(("group", "out_ch"), [(3, 6), (3, 3), (1, 4)])
def test_convolution_depthwise(check_net: NetChecker, group: int, out_ch: int) -> None:
    n = out_ch * (3 // group) * 9
    weights = BinWriter().tagged_fp32(rand(n)).raw(rand(out_ch, seed=2))
    check_net([f"ConvolutionDepthWise dw 1 1 data out 0={out_ch} 1=3 4=1 5=1 6={n} 7={group} 9=1"], weights)


# -- Deconvolution -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "n_weights"),
    [
        ("0=3 1=4 3=2 4=3 5=1", 3 * 3 * 16),  # waifu2x's final upsampler
        ("0=4 1=2 3=2 5=1 9=2 -23310=1,0.1", 4 * 3 * 4),  # cunet's 2× up
        ("0=2 1=3 3=2 4=1 18=1 5=1", 2 * 3 * 9),  # output padding
        ("0=2 1=3 2=2 3=1 5=1", 2 * 3 * 9),  # dilation
        ("0=2 1=3 11=2 3=2 13=1 4=1 14=0 5=1", 2 * 3 * 6),  # rectangular kernel and stride
    ],
)
def test_deconvolution(check_net: NetChecker, params: str, n_weights: int) -> None:
    out_ch = int(params.split()[0][2:])
    weights = BinWriter().tagged_fp16(rand(n_weights)).raw(rand(out_ch, seed=2))
    check_net([f"Deconvolution deconv 1 1 data out {params} 6={n_weights}"], weights)


def test_deconvolution_depthwise(check_net: NetChecker) -> None:
    # 3 groups, 1 input and 2 outputs each.
    weights = BinWriter().tagged_fp32(rand(6 * 1 * 9)).raw(rand(6, seed=2))
    check_net(["DeconvolutionDepthWise dd 1 1 data out 0=6 1=3 3=2 4=1 5=1 6=54 7=3"], weights)


# -- squeeze-excitation: Pooling, InnerProduct, Scale / BinaryOp with a vector --------------------


@pytest.mark.parametrize("combine", ["Scale se 2 1 data_1 g out 0=-233", "BinaryOp se 2 1 data_1 g out 0=2"])
@pytest.mark.parametrize("pool", [0, 1], ids=["max", "avg"])
def test_squeeze_excitation(check_net: NetChecker, combine: str, pool: int) -> None:
    weights = BinWriter().tagged_fp32(rand(2 * 4)).raw(rand(2, seed=2))
    weights.tagged_fp16(rand(4 * 2, seed=3)).raw(rand(4, seed=4))
    check_net(
        [
            "Split sp 1 2 data data_0 data_1",
            f"Pooling gap 1 1 data_0 p 0={pool} 4=1",
            "InnerProduct fc1 1 1 p f 0=2 1=1 2=8 9=1",
            "InnerProduct fc2 1 1 f g 0=4 1=1 2=8 9=4",
            combine,
        ],
        weights,
        shape=(4, 9, 13),
    )


def test_inner_product_on_an_image(check_net: NetChecker) -> None:
    # A 3-D input is flattened (c, h, w) before the product.
    weights = BinWriter().tagged_fp32(rand(3 * 3 * 5 * 6, scale=0.05)).raw(rand(3, seed=2))
    check_net(
        [
            "Split sp 1 2 data a b",
            "InnerProduct fc 1 1 a v 0=3 1=1 2=270",
            "BinaryOp add 2 1 b v out 0=0",
        ],
        weights,
        shape=(3, 5, 6),
    )


@pytest.mark.parametrize(
    "params",
    [
        "0=0 1=2 2=2",  # max 2×2 / 2
        "0=1 1=3 2=1 3=1 6=0",  # avg 3×3, pad 1, pads not counted
        "0=1 1=3 2=1 3=1 6=1",  # avg 3×3, pad 1, pads counted
        "0=0 1=3 2=2",  # max, full padding with a tail (11 and 14 are not on the grid)
        "0=1 1=3 2=2 6=0",  # avg, full padding with a tail
        "0=0 1=3 2=2 5=1",  # valid padding
        "0=0 1=3 2=2 5=2",  # SAME_UPPER
        "0=1 1=2 11=3 2=2 12=1 5=1",  # rectangular, valid
    ],
)
def test_pooling(check_net: NetChecker, params: str) -> None:
    check_net([f"Pooling pool 1 1 data out {params}"], shape=(3, 11, 14))


# -- activations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer",
    [
        "ReLU r 1 1 data out",
        "ReLU r 1 1 data out 0=1.000000e-01",
        "Sigmoid s 1 1 data out",
        "TanH t 1 1 data out",
        "Clip c 1 1 data out 0=-2.000000e-01 1=3.000000e-01",
        "Mish m 1 1 data out",
        "Swish s 1 1 data out",
        "HardSigmoid h 1 1 data out 0=0.3 1=0.4",
        "HardSwish h 1 1 data out",
        "ELU e 1 1 data out 0=0.5",
        "AbsVal a 1 1 data out",
        "Dropout d 1 1 data out 0=0.5",
        "Noop n 1 1 data out",
    ],
)
def test_unary(check_net: NetChecker, layer: str) -> None:
    image = random_image(3, 7, 9) * 4 - 2  # negatives too
    check_net([layer], image=image)


@pytest.mark.parametrize("num_slope", [3, 1])
def test_prelu(check_net: NetChecker, num_slope: int) -> None:
    image = random_image(3, 7, 9) * 2 - 1
    check_net([f"PReLU p 1 1 data out 0={num_slope}"], BinWriter().raw(rand(num_slope)), image=image)


# -- element-wise --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op", range(10), ids=["add", "sub", "mul", "div", "max", "min", "pow", "rsub", "rdiv", "rpow"]
)
def test_binary_op(check_net: NetChecker, op: int) -> None:
    # Two different images (via a convolution) so the operand order matters.
    weights = BinWriter().tagged_fp32(np.abs(rand(9, scale=0.2))).raw([0.5, 0.6, 0.7])
    image = random_image(3, 7, 9) + 0.5
    check_net(
        [
            "Split sp 1 2 data a b",
            "ConvolutionDepthWise dw 1 1 b c 0=3 1=1 5=1 6=3 7=3",
            f"BinaryOp op 2 1 a c out 0={op}",
        ],
        weights,
        image=image,
        atol=1e-4,
    )


@pytest.mark.parametrize("op", range(10))
def test_binary_op_with_scalar(check_net: NetChecker, op: int) -> None:
    image = random_image(3, 7, 9) + 0.5
    check_net([f"BinaryOp op 1 1 data out 0={op} 1=1 2=1.500000e+00"], image=image)


@pytest.mark.parametrize(
    "params", ["0=0", "0=1", "0=1 -23301=3,0.5,-1.0,2.0", "0=2"], ids=["prod", "sum", "sum-coeffs", "max"]
)
def test_eltwise_three_inputs(check_net: NetChecker, params: str) -> None:
    weights = BinWriter().tagged_fp32(rand(3)).raw(rand(3, seed=2))
    check_net(
        [
            "Split sp 1 3 data a b c",
            "ConvolutionDepthWise dw 1 1 b d 0=3 1=1 5=1 6=3 7=3",
            "Sigmoid s 1 1 c e",
            f"Eltwise el 3 1 a d e out {params}",
        ],
        weights,
    )


def test_scale_bias_batchnorm(check_net: NetChecker) -> None:
    weights = BinWriter().raw(rand(3)).raw(rand(3, seed=2))  # Scale: scale, bias
    weights.raw(rand(3, seed=3))  # Bias
    weights.raw(rand(3, seed=4)).raw(rand(3, seed=5)).raw(np.abs(rand(3, seed=6)) + 0.5).raw(rand(3, seed=7))
    check_net(
        [
            "Scale sc 1 1 data a 0=3 1=1",
            "Bias bi 1 1 a b 0=3",
            "BatchNorm bn 1 1 b out 0=3 1=1.000000e-05",
        ],
        weights,
    )


@pytest.mark.parametrize(
    ("memory", "n"),
    [("0=3", 3), ("0=1 1=1 2=3", 3), ("0=14 1=11 2=3", 3 * 11 * 14)],
    ids=["1d", "3d-1x1", "3d"],
)
def test_memory_data(check_net: NetChecker, memory: str, n: int) -> None:
    check_net([f"MemoryData md 0 1 m {memory}", "BinaryOp add 2 1 data m out 0=1"], BinWriter().raw(rand(n)))


# -- layout --------------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", ["", "0=0", "0=-3"])
def test_concat_channels(check_net: NetChecker, axis: str) -> None:
    check_net(["Split sp 1 2 data a b", "Sigmoid s 1 1 b c", f"Concat cat 2 1 a c out {axis}"])


@pytest.mark.parametrize(("factor", "mode"), [(2, 0), (2, 1), (3, 0)])
def test_pixel_shuffle(check_net: NetChecker, factor: int, mode: int) -> None:
    check_net([f"PixelShuffle ps 1 1 data out 0={factor} 1={mode}"], shape=(2 * factor * factor, 5, 7))


@pytest.mark.parametrize(
    "crop",
    [
        "Crop cr 1 1 data out -23309=2,4,4 -23310=2,-4,-4 -23311=2,-2,-1",  # realcugan's border trim
        "Crop cr 1 1 data out -23309=1,1 -23310=1,3 -23311=1,0",  # channel slice
        "Crop cr 1 1 data out -23309=3,0,2,1 -23310=3,-233,8,0",  # all axes, "to the end" forms
        "Crop cr 1 1 data out 0=2 1=3 3=5 4=4 5=-233",  # offsets and sizes
        "Crop cr 1 1 data out 0=2 1=1 3=-233 4=-233 5=-233 6=3 7=2",  # offsets and far margins
    ],
)
def test_crop(check_net: NetChecker, crop: str) -> None:
    check_net([crop], shape=(4, 11, 14))


def test_crop_to_reference(check_net: NetChecker) -> None:
    # waifu2x cunet: crop a skip connection to the size of the upsampled branch.
    weights = BinWriter().tagged_fp32(rand(3 * 3 * 9)).raw(rand(3, seed=2))
    check_net(
        [
            "Split sp 1 2 data a b",
            "Convolution c 1 1 b c 0=3 1=3 5=1 6=81",  # unpadded: 2 pixels smaller
            "Split sp2 1 2 c d e",
            "Crop cr 2 1 a d f 0=1 1=1",
            "Eltwise add 2 1 f e out 0=1",
        ],
        weights,
    )


@pytest.mark.parametrize(
    "params",
    [
        "0=1 1=2 2=3 3=1 4=0 5=0.25",
        "0=2 1=2 2=1 3=3 4=1",
        "0=2 1=1 2=3 3=2 4=2",
        "0=1 1=1 2=1 3=1 7=1 8=2 5=-1.0",  # channel padding (constant)
    ],
    ids=["constant", "replicate", "reflect", "channels"],
)
def test_padding(check_net: NetChecker, params: str) -> None:
    check_net([f"Padding pad 1 1 data out {params}"])


@pytest.mark.parametrize(
    "params",
    [
        "0=1 1=2.000000e+00 2=2.000000e+00",
        "0=1 1=1.500000e+00 2=2.500000e+00",
        "0=1 3=17 4=9",
        "0=2 1=2.000000e+00 2=2.000000e+00",
        "0=2 1=5.000000e-01 2=5.000000e-01",
        "0=2 1=1.500000e+00 2=7.500000e-01",
        "0=2 3=20 4=31",
        "0=2 1=2.000000e+00 2=2.000000e+00 6=1",
        "0=3 1=2.000000e+00 2=2.000000e+00",
        "0=3 1=5.000000e-01 2=5.000000e-01",
        "0=3 1=7.500000e-01 2=7.500000e-01",
        "0=3 1=1.500000e+00 2=3.000000e+00",
        "0=3 3=6 4=29",
        "0=3 1=2.000000e+00 2=2.000000e+00 6=1",
    ],
)
def test_interp(check_net: NetChecker, params: str) -> None:
    check_net([f"Interp up 1 1 data out {params}"], shape=(3, 11, 13))


# -- errors --------------------------------------------------------------------------------------


def _net(tmp_path: Path, layers: list[str], weights: BinWriter | None = None) -> tuple[Path, Path]:
    param = write_param(tmp_path / "bad.param", ["Input data 0 1 data", *layers])
    return param, (weights or BinWriter()).write(tmp_path / "bad.bin")


def test_unknown_op_names_the_op_and_the_layer(tmp_path: Path) -> None:
    param, bin_path = _net(tmp_path, ["ReLU r 1 1 data a", "FancyWarp warp_7 1 1 a out 0=1"])
    with pytest.raises(ModelError) as err:
        convert_ncnn(param, bin_path)
    assert "'FancyWarp'" in str(err.value)
    assert "'warp_7'" in str(err.value)


def test_short_bin_is_a_model_error(tmp_path: Path) -> None:
    param, bin_path = _net(
        tmp_path, ["Convolution c 1 1 data out 0=4 1=3 5=1 6=108"], BinWriter().tagged_fp32(rand(100))
    )
    with pytest.raises(ModelError, match="too short"):
        convert_ncnn(param, bin_path)


def test_int8_weights_are_refused(tmp_path: Path) -> None:
    param, bin_path = _net(
        tmp_path,
        ["Convolution c 1 1 data out 0=1 1=1 6=3"],
        BinWriter().tagged_fp32([0, 0, 0], tag=0x000D4B38),
    )
    with pytest.raises(ModelError, match="int8"):
        convert_ncnn(param, bin_path)


def test_not_a_param_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.param"
    bad.write_text("hello\n1 1\n")
    with pytest.raises(ModelError, match="7767517"):
        convert_ncnn(bad, tmp_path / "x.bin")


def test_param_parsing_types_and_arrays() -> None:
    text = "7767517\n2 2\nInput in 0 1 a 0=4 1=4 2=3\nInterp up 1 1 a b 0=2 1=2.5e+00 -23310=3,1,2.0,3\n"
    param = parse_param_text(text)
    interp = param.layers[1]
    assert interp.params == {0: 2, 1: 2.5, 10: (1.0, 2.0, 3.0)}
    assert isinstance(interp.params[0], int)
    assert interp.get_array(10) == (1.0, 2.0, 3.0)
    assert interp.bottoms == ("a",) and interp.tops == ("b",)
    with pytest.raises(ModelError, match="declares 3 values"):
        parse_param_text("7767517\n1 1\nReLU r 1 1 a b -23301=3,1,2\n")


def test_weight_reader_reads_in_order() -> None:
    data = BinWriter().tagged_fp16([1.5, -2.0, 0.25]).raw([7.0]).tagged_fp32([3.0], tag=0)
    reader = WeightReader(b"".join(data.chunks))
    assert reader.read_tagged(3).tolist() == [1.5, -2.0, 0.25]
    assert reader.read_raw(1).tolist() == [7.0]
    assert reader.read_tagged(1).tolist() == [3.0]
    assert reader.remaining == 0
