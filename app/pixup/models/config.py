"""`model_config.json`: per-model overrides in the user models folder, validated with pydantic.

An invalid file (bad JSON, wrong types, out-of-range values) never replaces the last good config and
is never overwritten by pixup; the store keeps one clear message for the user instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pixup.choices import ModelScenario as Scenario
from pixup.errors import PixupError
from pixup.fileio import atomic_write_bytes

log = logging.getLogger(__name__)

CONFIG_NAME = "model_config.json"


class ModelOverride(BaseModel):
    """What the user changed for one model; None keeps pixup's choice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    display_name: str | None = Field(default=None, min_length=1, max_length=120)
    scenario: Scenario | None = None
    batch_size: int | None = Field(default=None, ge=1, le=8)
    tile_size: int | None = Field(default=None, ge=32, le=4096)


class ModelConfig(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    models: dict[str, ModelOverride] = Field(default_factory=dict)


class ConfigStore:
    """Loads and saves `model_config.json`, remembering pixup's own writes so a watcher can skip them."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / CONFIG_NAME
        self._lock = threading.Lock()
        self._config = ModelConfig()
        self._error: str | None = None
        self._own_digests: set[str] = set()

    @property
    def config(self) -> ModelConfig:
        """The last good config (defaults when there never was a valid file)."""
        return self._config

    @property
    def error(self) -> str | None:
        """One line about the file on disk when it is invalid; None when it is fine or absent."""
        return self._error

    def override_for(self, model_id: str) -> ModelOverride:
        return self._config.models.get(model_id, ModelOverride())

    def load(self) -> bool:
        """Read the file. True when a new valid config was taken; False when absent or invalid."""
        with self._lock:
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                self._error = None
                return False
            except OSError as err:
                self._error = f"{self.path} cannot be read ({err.strerror}); keeping the last good settings"
                log.warning(self._error)
                return False
            try:
                config = ModelConfig.model_validate_json(raw)
            except ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "file"
                self._error = (
                    f"{self.path} is invalid ({where}: {first['msg']}); keeping the last good settings"
                )
                log.warning(self._error)
                return False
            self._config = config
            self._error = None
            return True

    def is_own_write(self, content: bytes) -> bool:
        """True when `content` is exactly what pixup itself last wrote."""
        with self._lock:
            return _digest(content) in self._own_digests

    def save(self, config: ModelConfig) -> None:
        """Write atomically. Refuses to replace a file the user broke: they may be mid-edit."""
        data = (json.dumps(config.model_dump(exclude_none=True), indent=2) + "\n").encode()
        with self._lock:
            if self._error is not None and self.path.exists():
                raise PixupError(f"{self.path} is invalid; fix or delete it before pixup can save settings")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._own_digests.add(_digest(data))
            atomic_write_bytes(self.path, data)
            self._config = config

    def set_override(self, model_id: str, override: ModelOverride) -> None:
        models = dict(self._config.models)
        models[model_id] = override
        self.save(ModelConfig(models=models))


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
