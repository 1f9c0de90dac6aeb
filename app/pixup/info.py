"""What `pixup info` reports: runtime, providers and precision, devices, memory, pixup's folders."""

from __future__ import annotations

import platform
from typing import Any, get_args

import onnxruntime as ort

from pixup import __version__
from pixup.choices import Precision
from pixup.engine import hardware
from pixup.engine.providers import provider_plan
from pixup.paths import user_paths


def collect_info() -> dict[str, Any]:
    """A JSON-ready snapshot; the same data the desktop SystemInfo panel shows."""
    system = hardware.system_info()
    plans = {precision: provider_plan(precision) for precision in get_args(Precision)}
    return {
        "pixup": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "onnxruntime": ort.__version__,
        "providers": list(system.providers),
        "openvino_devices": list(system.openvino_devices),
        "precision": {
            name: [{"provider": c.name, "device": c.device, "precision": c.precision_label,
                    "description": c.description, "variant": c.variant} for c in plan]
            for name, plan in plans.items()
        },
        "cpu": {
            "name": system.cpu_name,
            "logical_cores": system.logical_cores,
            "physical_cores": system.physical_cores,
            "flags": sorted(system.cpu_flags),
            "bf16": system.cpu_bf16,
        },
        "memory": {"ram_total": system.ram_total, "ram_free": system.ram_free},
        "gpus": [
            {"index": g.index, "name": g.name, "vram_total": g.total_vram, "vram_free": g.free_vram}
            for g in system.gpus
        ],
        "on_battery": system.on_battery,
        "eco_mode": system.eco,
        "paths": user_paths().as_dict(),
    }
