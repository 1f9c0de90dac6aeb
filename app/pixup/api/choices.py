"""The value sets the API schema, the CLI's `choices` and the engine share, without pydantic.

`pixup.api.schema` uses these in its models; the CLI builds its parser from them and the engine types
its arguments with them, so neither pays for importing pydantic (~0.2 s) to know a list of names.
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
