"""Provider ranking and plans, system facts, tile/batch defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path

import onnxruntime as ort
import psutil
import pytest

from pixup.engine import hardware
from pixup.engine.hardware import GiB, auto_batch, auto_tile_size, is_integrated_gpu, read_cpu_flags
from pixup.engine.providers import CPU, OPENVINO, plan_for, provider_plan, rank_providers, session_options

ALL = [
    CPU,
    "AzureExecutionProvider",
    OPENVINO,
    "MIGraphXExecutionProvider",
    "ROCMExecutionProvider",
    "DmlExecutionProvider",
    "CUDAExecutionProvider",
    "TensorrtExecutionProvider",
    "CoreMLExecutionProvider",
]


def test_rank_orders_npu_dgpu_igpu_cpu_and_drops_unknown() -> None:
    assert rank_providers(ALL) == [
        "CoreMLExecutionProvider",
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "DmlExecutionProvider",
        "ROCMExecutionProvider",
        "MIGraphXExecutionProvider",
        OPENVINO,
        CPU,
    ]
    assert rank_providers([CPU, OPENVINO]) == [OPENVINO, CPU]
    assert rank_providers([CPU, "CUDAExecutionProvider", "TensorrtExecutionProvider"]) == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        CPU,
    ]
    assert rank_providers(ort.get_available_providers())[-1] == CPU


def test_plan_puts_openvino_npu_first_and_its_cpu_after_gpus() -> None:
    plan = provider_plan(
        "fast", available=ALL, openvino_devices=["CPU", "GPU.0", "NPU"], cpu_bf16=True, threads=4
    )
    assert [(c.name, c.device, c.precision_label) for c in plan] == [
        (OPENVINO, "NPU", "fp16"),
        ("CoreMLExecutionProvider", "", "fp16"),
        ("TensorrtExecutionProvider", "", "fp16"),
        ("CUDAExecutionProvider", "", "fp32"),
        ("DmlExecutionProvider", "", "fp32"),
        ("ROCMExecutionProvider", "", "fp32"),
        ("MIGraphXExecutionProvider", "", "fp16"),
        (OPENVINO, "GPU", "fp16"),
        (OPENVINO, "CPU", "bf16"),
        (CPU, "", "fp32"),
    ]


def test_exact_plan_has_no_npu_and_fp32_everywhere() -> None:
    plan = provider_plan(
        "exact", available=ALL, openvino_devices=["CPU", "GPU", "NPU"], cpu_bf16=True, threads=4
    )
    assert all(c.precision_label == "fp32" for c in plan)
    assert (OPENVINO, "NPU") not in [(c.name, c.device) for c in plan]
    gpu = next(c for c in plan if c.device == "GPU")
    assert json.loads(gpu.options["load_config"]) == {"GPU": {"INFERENCE_PRECISION_HINT": "f32"}}
    trt = next(c for c in plan if c.name == "TensorrtExecutionProvider")
    assert trt.options["trt_fp16_enable"] == "0"


def test_openvino_cpu_options_by_precision_and_bf16_support() -> None:
    def ov_cpu(precision: str, bf16: bool | None) -> tuple[dict[str, str], str]:
        """The OpenVINO CPU choice a model without an int8 variant ends up on."""
        plan = provider_plan(
            precision, available=[OPENVINO, CPU], openvino_devices=["CPU"], cpu_bf16=bf16, threads=3
        )  # type: ignore[arg-type]
        choice = next(c for c in plan if c.variant is None)
        assert (choice.name, choice.device) == (OPENVINO, "CPU")
        return choice.options, choice.precision_label

    options, label = ov_cpu("fast", True)
    assert options == {
        "device_type": "CPU",
        "num_of_threads": "3",
        "load_config": '{"CPU": {"INFERENCE_PRECISION_HINT": "bf16"}}',
    }
    assert label == "bf16"
    options, label = ov_cpu("fast", False)
    assert json.loads(options["load_config"]) == {"CPU": {"INFERENCE_PRECISION_HINT": "f32"}}
    assert label == "fp32"
    options, label = ov_cpu("exact", True)
    assert json.loads(options["load_config"]) == {"CPU": {"INFERENCE_PRECISION_HINT": "f32"}}
    assert label == "fp32"
    options, label = ov_cpu("fast", None)  # flags unreadable: OpenVINO picks
    assert "load_config" not in options
    assert label == "auto"


@pytest.mark.parametrize(
    ("precision", "bf16", "machine", "int8_first"),
    [
        ("fast", False, "x86_64", True),  # AVX2 / AVX512 without AMX: int8 where the model has it
        ("fast", None, "AMD64", True),  # flags unreadable (Windows): still x86
        ("fast", True, "x86_64", False),  # AMX: bf16 stays the fast choice (int8 there not measured)
        ("exact", False, "x86_64", False),
        ("fast", False, "aarch64", False),  # ARM: int8 not measured
    ],
)
def test_int8_variant_choice_comes_before_the_same_device_without_it(
    monkeypatch: pytest.MonkeyPatch, precision: str, bf16: bool | None, machine: str, int8_first: bool
) -> None:
    monkeypatch.setattr(hardware.platform, "machine", lambda: machine)
    plan = provider_plan(
        precision, available=[OPENVINO, CPU], openvino_devices=["CPU"], cpu_bf16=bf16, threads=3
    )  # type: ignore[arg-type]
    variants = [c for c in plan if c.variant is not None]
    if not int8_first:
        assert variants == []
        return
    first, second = plan[0], plan[1]
    assert (first.name, first.device, first.variant) == (OPENVINO, "CPU", "int8")
    assert first.precision_label == "int8"
    # The quantise/dequantise pairs choose int8; the rest of the graph must not drop to bf16.
    assert json.loads(first.options["load_config"]) == {"CPU": {"INFERENCE_PRECISION_HINT": "f32"}}
    assert (second.name, second.device, second.variant) == (OPENVINO, "CPU", None)
    assert plan[-1].name == CPU and plan[-1].variant is None  # the default provider keeps fp32


def test_fast_on_this_cpu_follows_proc_cpuinfo() -> None:
    # bf16 only with AMX: AVX512_BF16 alone was measured slower than fp32 (0.51-0.71×), so "fast"
    # keeps fp32 there and says why. This project's machines vary (AVX2 EPYC, AVX512_BF16 Xeon).
    flags = Path("/proc/cpuinfo").read_text().split()
    has_bf16 = "amx_bf16" in flags
    choice = next(c for c in provider_plan("fast") if c.variant is None)
    assert choice.name == OPENVINO
    assert choice.precision_label == ("bf16" if has_bf16 else "fp32")
    if not has_bf16:
        assert "only with AMX" in choice.description


def test_cuda_options() -> None:
    plan = provider_plan("fast", 1, available=["CUDAExecutionProvider", CPU])
    assert plan[0].options == {
        "device_id": "1",
        "cudnn_conv_algo_search": "EXHAUSTIVE",
        "arena_extend_strategy": "kSameAsRequested",
        "do_copy_in_default_stream": "1",
    }
    assert [c.name for c in plan] == ["CUDAExecutionProvider", CPU]


def test_plan_for_keeps_the_callers_order() -> None:
    plan = plan_for(["NoSuchProvider", CPU, OPENVINO], "exact", openvino_devices=["CPU"], threads=2)
    assert [(c.name, c.device) for c in plan] == [("NoSuchProvider", ""), (CPU, ""), (OPENVINO, "CPU")]
    assert plan[0].options == {}


def test_session_options() -> None:
    options = session_options(provider_plan("fast", available=[CPU])[0], threads=3)
    assert options.intra_op_num_threads == 3
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL


# ---------------------------------------------------------------- hardware


def test_system_info_on_this_machine() -> None:
    info = hardware.system_info()
    assert info.logical_cores == os.cpu_count()
    assert info.ram_total == psutil.virtual_memory().total
    assert 0 < info.ram_free <= info.ram_total
    assert info.providers == tuple(ort.get_available_providers())
    assert "CPU" in info.openvino_devices
    assert info.gpus == ()  # no NVIDIA driver here; NVML failing must give "no GPUs", not an error
    assert info.cpu_flags <= hardware.CPU_FLAGS_OF_INTEREST
    flags = set(Path("/proc/cpuinfo").read_text().split())
    assert ("avx512f" in info.cpu_flags) == ("avx512f" in flags)
    assert info.cpu_bf16 == ("amx_bf16" in flags)
    assert info.cpu_name


def test_read_cpu_flags(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
        "flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile amx_bf16 amx_int8\n\n"
        "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\nflags\t\t: fpu\n"
    )
    name, flags = read_cpu_flags(cpuinfo)
    assert name == "Intel(R) Xeon(R) Platinum 8480+"
    assert flags == frozenset({"avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"})
    assert read_cpu_flags(tmp_path / "missing")[1] is None


@pytest.mark.parametrize(
    ("name", "integrated"),
    [
        ("Intel(R) UHD Graphics 620", True),
        ("Intel(R) Iris(R) Xe Graphics", True),
        ("AMD Radeon(TM) Graphics", True),
        ("NVIDIA GeForce RTX 4090", False),
        ("AMD Radeon RX 7900 XTX", False),
    ],
)
def test_integrated_gpu_names(name: str, integrated: bool) -> None:
    assert is_integrated_gpu(name) is integrated


@pytest.mark.parametrize(
    ("free_vram", "tile"),
    [(None, 192), (2 * GiB, 192), (4 * GiB, 256), (6 * GiB, 512), (8 * GiB, 1024), (24 * GiB, 1024)],
)
def test_gpu_tile_from_vram(free_vram: int | None, tile: int) -> None:
    assert auto_tile_size("CUDAExecutionProvider", free_vram, 64 * GiB, 4.0, 3) == tile


def test_cpu_tile_from_ram() -> None:
    assert auto_tile_size(CPU, None, 16 * GiB, 4.0, 3) == 512
    assert auto_tile_size(CPU, None, 16 * GiB, 4.0, 3, batch=2) == 512
    assert auto_tile_size(CPU, None, 2 * GiB, 4.0, 3) == 384
    assert auto_tile_size(CPU, None, 1 * GiB, 4.0, 3) == 256
    assert auto_tile_size(CPU, None, 256 * 1024**2, 4.0, 3) == 128  # floor, OOM retry goes lower
    # OpenVINO on CPU is capped at 448 (its working set; see hardware.py).
    assert auto_tile_size(OPENVINO, None, 16 * GiB, 4.0, 3) == 448
    assert auto_tile_size(OPENVINO, None, 256 * 1024**2, 4.0, 3) == 128
    sizes = [auto_tile_size(CPU, None, r * 1024**2, 2.0, 3) for r in (256, 512, 768, 1024, 2048)]
    assert sizes == sorted(sizes)  # more RAM never means a smaller tile
    assert all(s % 64 == 0 for s in sizes)


def test_openvino_tile_shares_a_memory_budget_with_the_output() -> None:
    """Small outputs keep the 448 cap; the issue's 2000×1500 → 8000×6000 job gets tiles whose
    working set fits beside its 144 MB output; outputs past the budget keep a floor, never 128."""
    def tile_for(width: int, height: int) -> int:
        return auto_tile_size(OPENVINO, None, 16 * GiB, 4.0, 3, output_bytes=width * height * 3)

    assert tile_for(2048, 2048) == 448  # a 512² input stays one tile
    assert tile_for(8000, 6000) == 400
    side = 400 + 64
    working = side * side * (hardware.OPENVINO_CPU_BYTES_PER_PIXEL + 2 * 4 * 3 * 16)
    assert working + 8000 * 6000 * 3 <= hardware.OPENVINO_CPU_MEMORY_BUDGET
    sizes = [tile_for(w, w * 3 // 4) for w in range(2000, 40000, 2000)]
    assert sizes == sorted(sizes, reverse=True)  # a bigger output never gets a bigger tile
    assert min(sizes) == hardware.openvino_memory_tile(10**12, 4.0, 3) >= 256
    # the default CPU provider does not share this budget (it sizes from free RAM only)
    assert auto_tile_size(CPU, None, 16 * GiB, 4.0, 3, output_bytes=8000 * 6000 * 3) == 512


def test_auto_batch() -> None:
    assert auto_batch(True, "CUDAExecutionProvider", 24 * GiB) == 2
    assert auto_batch(False, "CUDAExecutionProvider", 24 * GiB) == 6
    assert auto_batch(False, "CUDAExecutionProvider", 6 * GiB) == 4
    assert auto_batch(False, "DmlExecutionProvider", None) == 2
    assert auto_batch(False, OPENVINO) == 1
    assert auto_batch(True, CPU) == 1  # eco lowers the batch, never raises it
