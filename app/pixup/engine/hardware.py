"""System facts (CPU, RAM, GPUs, battery, runtime providers) and the tile/batch defaults derived from them.

Everything here is best effort: a fact that cannot be read is reported as unknown (None / empty), never
raised, so `pixup info` and the engine work on any machine.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

GiB = 1024**3

CPU_FLAGS_OF_INTEREST = frozenset(
    {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"}
)
"""The /proc/cpuinfo flags the engine (or `pixup info`) cares about."""

BF16_FLAGS = frozenset({"amx_bf16"})
"""The flag that makes bf16 worth choosing on OpenVINO CPU: AMX. AVX512_BF16 alone (Zen 4/5, Cooper
Lake, Xeons without AMX) runs pixup's models in bf16 at 0.51-0.71× the speed of fp32
(benchmarks/bench_engine.py --parts precision), so "fast" keeps fp32 there."""

GPU_PROVIDERS = frozenset(
    {
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "DmlExecutionProvider",
        "ROCMExecutionProvider",
        "MIGraphXExecutionProvider",
        "CoreMLExecutionProvider",
    }
)
"""Providers that run on a GPU (or Apple's unified memory) and are sized from VRAM."""

_INTEGRATED_GPU_MARKERS = ("uhd", "iris", "hd graphics", "radeon graphics", "radeon(tm) graphics", "vega")


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as seen by NVML."""

    index: int
    """NVML device index (the CUDA device_id in the default ordering)."""
    name: str
    """Marketing name, e.g. "NVIDIA GeForce RTX 3060"."""
    total_vram: int
    """Total memory in bytes."""
    free_vram: int
    """Free memory in bytes when the facts were read."""


@dataclass(frozen=True)
class SystemInfo:
    """A snapshot of the machine, for provider choice, tile/batch defaults and `pixup info`."""

    cpu_name: str
    """CPU model name, or the platform's processor string when unknown."""
    cpu_flags: frozenset[str]
    """The flags of `CPU_FLAGS_OF_INTEREST` the CPU has (empty when they cannot be read)."""
    cpu_bf16: bool | None
    """True when bf16 is faster than fp32 on this CPU (AMX, `BF16_FLAGS`); None when the flags are
    unreadable."""
    logical_cores: int
    """Logical CPUs (hardware threads)."""
    physical_cores: int | None
    """Physical cores, None when unknown."""
    ram_total: int
    """Total RAM in bytes."""
    ram_free: int
    """RAM available to a new allocation without swapping, in bytes."""
    gpus: tuple[GpuInfo, ...]
    """NVIDIA GPUs via NVML; empty without an NVIDIA driver."""
    on_battery: bool | None
    """True when running on battery, False on mains, None when unknown (no battery or no sensor)."""
    providers: tuple[str, ...]
    """Execution providers the installed ONNX Runtime offers."""
    openvino_devices: tuple[str, ...]
    """OpenVINO devices ("CPU", "GPU", "NPU", ...); empty when OpenVINO is not installed."""

    @property
    def eco(self) -> bool:
        """Eco mode: on battery, or the only GPU we know of is an integrated one."""
        return bool(self.on_battery) or any(is_integrated_gpu(g.name) for g in self.gpus)


def is_integrated_gpu(name: str) -> bool:
    """Whether a GPU name is an integrated GPU (Intel UHD/Iris/HD, AMD "Radeon Graphics" APUs)."""
    lowered = name.lower()
    return any(marker in lowered for marker in _INTEGRATED_GPU_MARKERS)


def read_cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, frozenset[str] | None]:
    """(model name, flags of interest) from /proc/cpuinfo; flags None when the file is unreadable."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or platform.machine(), None
    name = ""
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not name:
            name = value.strip()
        elif key in ("flags", "Features") and not flags:  # "Features" on ARM
            flags = set(value.split())
    return name or platform.processor() or platform.machine(), frozenset(flags & CPU_FLAGS_OF_INTEREST)


def is_x86() -> bool:
    """Whether this is an x86-64 CPU (where int8 was measured faster; ARM was not measured)."""
    return platform.machine().lower() in ("x86_64", "amd64", "x64")


def cpu_has_bf16() -> bool | None:
    """Whether bf16 beats fp32 on this CPU (AMX; Linux: from /proc/cpuinfo); None when it cannot be told."""
    _, flags = read_cpu_flags()
    return None if flags is None else bool(flags & BF16_FLAGS)


def _nvidia_gpus() -> tuple[GpuInfo, ...]:
    try:
        import pynvml  # nvidia-ml-py
    except ImportError:
        return ()
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver / no library: the usual case on CPU machines
        return ()
    gpus: list[GpuInfo] = []
    try:
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(
                GpuInfo(
                    index=index,
                    name=name.decode() if isinstance(name, bytes) else str(name),
                    total_vram=int(memory.total),
                    free_vram=int(memory.free),
                )
            )
    except Exception as err:
        log.warning("NVML query failed: %s", err)
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()
    return tuple(gpus)


def _on_battery() -> bool | None:
    try:
        battery = psutil.sensors_battery()
    except Exception:  # not implemented on this platform
        return None
    if battery is None or battery.power_plugged is None:
        return None
    return not battery.power_plugged


def openvino_devices() -> tuple[str, ...]:
    """OpenVINO's devices ("CPU", "GPU.0", "NPU", ...); empty when the runtime has no OpenVINO."""
    import onnxruntime as ort

    if "OpenVINOExecutionProvider" not in ort.get_available_providers():
        return ()
    try:
        from onnxruntime.capi import _pybind_state

        return tuple(_pybind_state.get_available_openvino_device_ids())
    except Exception as err:  # older wheels lack the call
        log.debug("cannot list OpenVINO devices: %s", err)
        return ("CPU",)


def system_info() -> SystemInfo:
    """Read the machine's facts now (cheap: a few files and library calls, no inference)."""
    cpu_name, flags = read_cpu_flags()
    memory = psutil.virtual_memory()
    import onnxruntime as ort

    return SystemInfo(
        cpu_name=cpu_name,
        cpu_flags=flags or frozenset(),
        cpu_bf16=None if flags is None else bool(flags & BF16_FLAGS),
        logical_cores=os.cpu_count() or 1,
        physical_cores=psutil.cpu_count(logical=False),
        ram_total=int(memory.total),
        ram_free=int(memory.available),
        gpus=_nvidia_gpus(),
        on_battery=_on_battery(),
        providers=tuple(ort.get_available_providers()),
        openvino_devices=openvino_devices(),
    )


def default_threads() -> int:
    """Inference threads: one per physical core (hyper-threads slow convolutions down)."""
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


# ---------------------------------------------------------------- tile and batch defaults

CPU_TILE_MIN = 128
CPU_TILE_MAX = 512
_TILE_STEP = 64
_TILE_PAD = 32  # the pipeline's minimum pad; memory is sized for tile + 2·pad
_CPU_FEATURES = 64  # feature channels of a typical SR body (Compact, ESRGAN)
_ACTIVATION_COPIES = 8  # live feature maps at once, generous for dense blocks


def _round_down(value: float, step: int) -> int:
    return int(value // step) * step


def _gpu_tile(free_vram: int | None) -> int:
    if free_vram is None:
        return 192  # unknown VRAM (DirectML, ROCm without NVML): the small-GPU size, OOM retry shrinks it
    if free_vram < 4 * GiB:
        return 192
    if free_vram >= 8 * GiB:
        return 1024
    # 4-8 GB: linear from 256 to 768
    return max(256, _round_down(256 + (free_vram - 4 * GiB) / (4 * GiB) * 512, _TILE_STEP))


def _cpu_tile(free_ram: int, scale: float, channels: int, batch: int) -> int:
    # Budget a quarter of free RAM for one batch: activations at input size + the float output tile.
    budget = free_ram / 4
    for tile in range(CPU_TILE_MAX, CPU_TILE_MIN - 1, -_TILE_STEP):
        side = tile + 2 * _TILE_PAD
        per_image = side * side * (_CPU_FEATURES * _ACTIVATION_COPIES + scale * scale * channels) * 4
        if per_image * batch <= budget:
            return tile
    return CPU_TILE_MIN


def auto_tile_size(
    provider: str,
    free_vram_bytes: int | None,
    free_ram_bytes: int,
    scale: float,
    channels: int,
    *,
    batch: int = 1,
    output_bytes: int = 0,
) -> int:
    """Default tile side (px, before padding) for `provider`; a tile holds up to (side + 64)² pixels.

    GPU providers size from free VRAM: < 4 GB → 192, ≥ 8 GB → 1024, linear 256-768 in between.
    CPU providers (OpenVINO CPU, default CPU) size from free RAM, between 128 and 512 (bigger tiles
    waste less on overlap; beyond 512 throughput no longer improves on CPU). On OpenVINO CPU the
    tile's working set and the output image (`output_bytes`, the job's largest pass) share a fixed
    budget (`openvino_memory_tile`): a big output gets smaller tiles, a small one keeps the cap."""
    if provider in GPU_PROVIDERS:
        return _gpu_tile(free_vram_bytes)
    tile = _cpu_tile(free_ram_bytes, scale, channels, max(1, batch))
    if provider == "OpenVINOExecutionProvider":
        # Throughput favours big tiles (512 was 1.36× faster than 256 in paired runs), memory small
        # ones: the largest tile that keeps working set + output within the budget, up to the cap.
        memory_tile = openvino_memory_tile(output_bytes, scale, channels, max(1, batch))
        tile = min(tile, OPENVINO_CPU_TILE_MAX, memory_tile)
    return tile


OPENVINO_CPU_TILE_MAX = 448
"""Cap: tiles of at most 512² input pixels (throughput no longer improves beyond)."""
OPENVINO_CPU_MEMORY_BUDGET = 450 * 1024**2
"""Bytes for one tile's working set plus the output image. With ~165 MB of runtime, model and
source image besides, a 2000×1500 → 8000×6000 job stays within the 616 MB whole-process target
(benchmarks/bench_e2e.py --formats measures it)."""
OPENVINO_CPU_MIN_WORKING = 200 * 1024**2
"""The working set tiles keep however big the output (320 px tiles at ×4)."""
OPENVINO_CPU_BYTES_PER_PIXEL = 1100
"""OpenVINO CPU's working set per input pixel of a tile, measured on SRVGGNetCompact (64
features): 290 MB at 512², 225 MB at 448², 168 MB at 384². Dense-block models need more; their
out-of-memory retry halves the tile."""


def openvino_memory_tile(output_bytes: int, scale: float, channels: int, batch: int = 1) -> int:
    """The largest tile side (multiple of 16, at least CPU_TILE_MIN) whose working set — OpenVINO's
    activations plus two float result tiles in flight (one stitching, one arriving) — fits in
    `OPENVINO_CPU_MEMORY_BUDGET` next to an output image of `output_bytes`."""
    per_pixel = OPENVINO_CPU_BYTES_PER_PIXEL + 2 * 4 * channels * scale * scale
    # An output that leaves less than the floor cannot meet the budget anyway: do not also make
    # every tile tiny (the overlap would cost more time than the memory it saves).
    room = max(OPENVINO_CPU_MIN_WORKING, OPENVINO_CPU_MEMORY_BUDGET - output_bytes) / max(1, batch)
    side = math.isqrt(int(room / per_pixel)) - 2 * _TILE_PAD
    return max(CPU_TILE_MIN, side // 16 * 16)


ECO_BATCH = 2
MAX_BATCH = 6
CPU_BATCH = 1


def auto_batch(eco: bool, provider: str, free_vram_bytes: int | None = None) -> int:
    """Default batch: CPU providers → 1; eco (GPU) → 2 (batching does not speed up CPU inference);
    GPUs → up to 6, by free VRAM (< 4 GB → 2, 4-8 GB → 4, ≥ 8 GB → 6)."""
    if provider not in GPU_PROVIDERS:
        return CPU_BATCH
    if eco or free_vram_bytes is None or free_vram_bytes < 4 * GiB:
        return ECO_BATCH  # eco lowers the batch; it never raises it above the CPU's 1
    if free_vram_bytes < 8 * GiB:
        return 4
    return MAX_BATCH
