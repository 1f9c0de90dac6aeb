"""The value sets every layer shares (formats, precisions, scenarios, job and file states), without
pydantic.

They sit at the bottom so the engine, imaging, models and jobs can type their arguments with them
without importing the bridge: `pixup.api.schema` re-exports them in its wire models, the CLI builds
its parser from them, and neither pays for importing pydantic (~0.2 s) to know a list of names.
"""

from __future__ import annotations

from typing import Literal

OutputFormat = Literal["png", "webp", "jpg", "tiff"]
Precision = Literal["fast", "exact"]
""""fast": the quickest arithmetic measured close enough (fp16 on GPUs, bf16 on AMX CPUs, int8 on other
CPUs for the models measured for it, else fp32); "exact": fp32 everywhere."""
Scenario = Literal["Universal Fast", "Universal Balanced", "Universal Quality", "Digital Art"]
"""The problems the UI and `--scenario` speak in; each picks the measured model (models/scenarios.json)."""
ModelScenario = Literal[Scenario, "Fix Compression", "Custom"]
"""What model_config.json may file a model under (the scenarios, plus repair models and the user's own)."""
JpegSubsampling = Literal["4:4:4", "4:2:0"]

Stage = Literal["queued", "loading", "repair", "upscale", "faces", "write", "finished"]
"""What a file is doing now; `tiles_done`/`tiles_total` count tiles while repairing (Fix compression)
and upscaling, faces while recovering faces."""
FileStatus = Literal["queued", "running", "done", "failed", "cancelled"]
JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
