"""Which execution providers to try, in which order, with which options (SPEC §3 "Hardware abstraction").

Order: NPU (OpenVINO NPU, CoreML) → discrete GPU (TensorRT, CUDA, DirectML, ROCm, MIGraphX) → integrated
GPU (OpenVINO GPU) → OpenVINO CPU → the default CPU provider. Only what the installed runtime offers is
planned; `session.ModelSession.open` walks the plan and falls back on failure.

Precision: "fast" (default) = bf16 on CPUs with AMX (OpenVINO), fp16 where a GPU provider has a
switch for it, and on other CPUs OpenVINO first tries the model's int8 variant (a choice with
`variant="int8"`: `ModelSession.open` skips it for a model without one, see `models.int8`), then fp32;
"exact" = fp32 everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import onnxruntime as ort

# Defined once, at the bottom (pixup.choices); re-exported because the engine's callers name it from here.
from pixup.choices import Precision as Precision
from pixup.engine import hardware

OPENVINO = "OpenVINOExecutionProvider"
CPU = "CPUExecutionProvider"

PROVIDER_ORDER: tuple[str, ...] = (
    "CoreMLExecutionProvider",
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "DmlExecutionProvider",
    "ROCMExecutionProvider",
    "MIGraphXExecutionProvider",
    OPENVINO,
    CPU,
)
"""Provider names best first. OpenVINO sits after the dGPU providers: it is expanded per device
(NPU first, GPU, then CPU) by `provider_plan`."""

_SHORT_NAMES = {
    "CoreMLExecutionProvider": "CoreML",
    "TensorrtExecutionProvider": "TensorRT",
    "CUDAExecutionProvider": "CUDA",
    "DmlExecutionProvider": "DirectML",
    "ROCMExecutionProvider": "ROCm",
    "MIGraphXExecutionProvider": "MIGraphX",
    OPENVINO: "OpenVINO",
    CPU: "CPU",
}


@dataclass(frozen=True)
class ProviderChoice:
    """One way to run a model: a provider, its options and the precision it runs at."""

    name: str
    """ONNX Runtime provider name, e.g. "OpenVINOExecutionProvider"."""
    options: dict[str, str] = field(default_factory=dict)
    """Provider options, all strings (what ONNX Runtime's Python API passes through)."""
    precision_label: str = "fp32"
    """Arithmetic the provider will use: "bf16", "fp16", "fp32", "int8" or "auto" (the runtime decides)."""
    description: str = ""
    """One human line, e.g. "OpenVINO CPU, bf16"."""
    variant: str | None = None
    """A variant of the model this choice loads instead of the model itself ("int8"); None = the model."""

    @property
    def device(self) -> str:
        """OpenVINO's device ("CPU", "GPU", "NPU"); "" for other providers."""
        return self.options.get("device_type", "")


def short_name(provider: str) -> str:
    """ "CUDAExecutionProvider" → "CUDA" (unknown names are returned unchanged)."""
    return _SHORT_NAMES.get(provider, provider)


def device_name(choice: ProviderChoice) -> str:
    """ "OpenVINO NPU", "CUDA", "CPU": where a choice runs, in the words user messages use."""
    name = short_name(choice.name)
    return f"{name} {choice.device}" if choice.device else name


def rank_providers(available: Sequence[str]) -> list[str]:
    """The known local providers among `available`, best first (unknown/remote ones are dropped)."""
    present = set(available)
    return [name for name in PROVIDER_ORDER if name in present]


def _openvino_choices(
    precision: Precision, devices: Sequence[str], threads: int, cpu_bf16: bool | None, cache_dir: Path | None
) -> tuple[list[ProviderChoice], list[ProviderChoice], list[ProviderChoice]]:
    """OpenVINO choices split into (NPU, GPU, CPU) tiers."""
    base: dict[str, str] = {"cache_dir": str(cache_dir / "openvino")} if cache_dir is not None else {}
    npu: list[ProviderChoice] = []
    gpu: list[ProviderChoice] = []
    cpu: list[ProviderChoice] = []
    # The NPU computes in fp16 only: it has no place in an "exact" plan.
    fast = precision == "fast"
    if fast and any(d.startswith("NPU") for d in devices):
        npu.append(ProviderChoice(OPENVINO, {**base, "device_type": "NPU"}, "fp16", "OpenVINO NPU, fp16"))
    if any(d.startswith("GPU") for d in devices):
        hint = "f16" if fast else "f32"
        config = json.dumps({"GPU": {"INFERENCE_PRECISION_HINT": hint}})
        label = "fp16" if fast else "fp32"
        gpu.append(
            ProviderChoice(
                OPENVINO,
                {**base, "device_type": "GPU", "load_config": config},
                label,
                f"OpenVINO GPU, {label}",
            )
        )
    cpu_options = {**base, "device_type": "CPU", "num_of_threads": str(threads)}
    if fast and not cpu_bf16 and hardware.is_x86():
        # int8 ran 3.0-3.2× fp32 with AVX512-VNNI, 1.8-1.9× on AVX2 (benchmarks/bench_int8.py,
        # bench_precision.py); ARM was not measured. The graph's quantise/dequantise pairs set the
        # precision, so the hint keeps the rest fp32. Only models with an int8 variant take this choice.
        fp32_hint = json.dumps({"CPU": {"INFERENCE_PRECISION_HINT": "f32"}})
        int8_options = {**cpu_options, "load_config": fp32_hint}
        cpu.append(ProviderChoice(OPENVINO, int8_options, "int8", "OpenVINO CPU, int8", variant="int8"))
    if precision == "exact":
        # Explicit: OpenVINO would pick bf16 by itself on AMX/AVX512_BF16 CPUs.
        cpu_options["load_config"] = json.dumps({"CPU": {"INFERENCE_PRECISION_HINT": "f32"}})
        cpu.append(ProviderChoice(OPENVINO, cpu_options, "fp32", "OpenVINO CPU, fp32 (exact)"))
    elif cpu_bf16:
        cpu_options["load_config"] = json.dumps({"CPU": {"INFERENCE_PRECISION_HINT": "bf16"}})
        cpu.append(ProviderChoice(OPENVINO, cpu_options, "bf16", "OpenVINO CPU, bf16"))
    elif cpu_bf16 is None:
        cpu.append(
            ProviderChoice(
                OPENVINO, cpu_options, "auto", "OpenVINO CPU, bf16 where the CPU has it, else fp32"
            )
        )
    else:
        cpu_options["load_config"] = json.dumps({"CPU": {"INFERENCE_PRECISION_HINT": "f32"}})
        cpu.append(
            ProviderChoice(
                OPENVINO,
                cpu_options,
                "fp32",
                "OpenVINO CPU, fp32 (“fast” keeps fp32: bf16 is faster only with AMX)",
            )
        )
    return npu, gpu, cpu


def _gpu_choice(name: str, precision: Precision, device_id: int, cache_dir: Path | None) -> ProviderChoice:
    fast = precision == "fast"
    dev = str(device_id)
    label = "fp32"
    options: dict[str, str]
    if name == "TensorrtExecutionProvider":
        options = {"device_id": dev, "trt_fp16_enable": "1" if fast else "0"}
        if cache_dir is not None:
            options |= {"trt_engine_cache_enable": "1", "trt_engine_cache_path": str(cache_dir / "tensorrt")}
        label = "fp16" if fast else "fp32"
    elif name == "CUDAExecutionProvider":
        options = {
            "device_id": dev,
            # Tiles are all one shape, so the one-off exhaustive search per shape pays for itself.
            "cudnn_conv_algo_search": "EXHAUSTIVE",
            # Grow the arena by what is asked, not by doubling: less overshoot near the VRAM limit.
            "arena_extend_strategy": "kSameAsRequested",
            "do_copy_in_default_stream": "1",
        }
    elif name == "MIGraphXExecutionProvider":
        options = {"device_id": dev, "migraphx_fp16_enable": "1" if fast else "0"}
        label = "fp16" if fast else "fp32"
    elif name == "CoreMLExecutionProvider":
        # The Neural Engine computes in fp16; "exact" keeps CoreML to CPU and GPU in fp32.
        options = {"ModelFormat": "MLProgram", "MLComputeUnits": "ALL" if fast else "CPUAndGPU"}
        label = "fp16" if fast else "fp32"
    else:  # DirectML, ROCm: no precision switch, the model's own dtype decides
        options = {"device_id": dev}
    return ProviderChoice(name, options, label, f"{short_name(name)} (device {device_id}), {label}")


def provider_plan(
    precision: Precision = "fast",
    device_id: int = 0,
    *,
    available: Sequence[str] | None = None,
    openvino_devices: Sequence[str] | None = None,
    cpu_bf16: bool | Literal["detect"] | None = "detect",
    threads: int | None = None,
    cache_dir: Path | None = None,
) -> list[ProviderChoice]:
    """Every way this machine can run a model, best first, for `precision`.

    Defaults read the machine: `available` = the runtime's providers, `openvino_devices` = OpenVINO's
    device list, `cpu_bf16` = /proc/cpuinfo (None = unknown: OpenVINO then picks), `threads` =
    physical cores. `cache_dir` enables compiled
    model caches in its subfolders `openvino` (OpenVINO blobs) and `tensorrt` (TensorRT engines).
    The default CPU provider is always last."""
    if available is None:
        available = ort.get_available_providers()
    ranked = rank_providers(available)
    if threads is None:
        threads = hardware.default_threads()
    if OPENVINO in ranked and openvino_devices is None:
        openvino_devices = hardware.openvino_devices()
    if cpu_bf16 == "detect":
        cpu_bf16 = hardware.cpu_has_bf16() if OPENVINO in ranked else None

    npu: list[ProviderChoice] = []
    ov_gpu: list[ProviderChoice] = []
    ov_cpu: list[ProviderChoice] = []
    if OPENVINO in ranked:
        npu, ov_gpu, ov_cpu = _openvino_choices(
            precision, openvino_devices or ("CPU",), threads, cpu_bf16, cache_dir
        )

    plan: list[ProviderChoice] = list(npu)
    plan += [_gpu_choice(n, precision, device_id, cache_dir) for n in ranked if n not in (OPENVINO, CPU)]
    plan += ov_gpu + ov_cpu
    plan.append(ProviderChoice(CPU, {}, "fp32", "CPU (ONNX Runtime default), fp32"))
    return plan


def plan_for(
    names: Sequence[str],
    precision: Precision = "fast",
    device_id: int = 0,
    *,
    openvino_devices: Sequence[str] | None = None,
    cpu_bf16: bool | Literal["detect"] | None = "detect",
    threads: int | None = None,
    cache_dir: Path | None = None,
) -> list[ProviderChoice]:
    """A plan restricted to `names`, in the caller's order (a user's or a test's explicit choice).

    Known names get their planned options (OpenVINO expands to its devices); unknown names get a bare
    choice, which fails at session creation and so falls back like any broken provider."""
    plan: list[ProviderChoice] = []
    for name in names:
        if name in PROVIDER_ORDER:
            full = provider_plan(
                precision,
                device_id,
                available=[name],
                openvino_devices=openvino_devices,
                cpu_bf16=cpu_bf16,
                threads=threads,
                cache_dir=cache_dir,
            )
            plan += [choice for choice in full if choice.name == name]
        else:
            plan.append(ProviderChoice(name, {}, "fp32", name))
    return plan


def session_options(choice: ProviderChoice, threads: int | None = None) -> ort.SessionOptions:
    """Session options for `choice`: full graph optimisation, `threads` intra-op threads, quiet logs."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or hardware.default_threads()
    options.log_severity_level = 3  # errors only; we report failures ourselves
    if choice.name == "DmlExecutionProvider":
        # DirectML does not support memory patterns or parallel execution.
        options.enable_mem_pattern = False
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options
