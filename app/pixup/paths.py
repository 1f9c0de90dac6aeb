"""The one root under which pixup writes everything per user.

`PIXUP_HOME` overrides it (tests and portable installs); otherwise platformdirs decides, so each OS
gets its usual places.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "pixup"


@dataclass(frozen=True)
class UserPaths:
    """Folders pixup owns for the current user. Created on demand by `ensure()`."""

    models: Path
    """User models folder: imported models and `model_config.json`."""
    cache: Path
    """Converted models (ncnn → ONNX) keyed by content hash; safe to delete."""
    config: Path
    """Settings."""
    logs: Path
    """Log files."""

    def ensure(self) -> UserPaths:
        for folder in (self.models, self.cache, self.config, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    def as_dict(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in ("models", "cache", "config", "logs")}


def user_paths() -> UserPaths:
    """Resolve the folders now (reads the environment each call so tests can set PIXUP_HOME)."""
    home = os.environ.get("PIXUP_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return UserPaths(
            models=root / "models", cache=root / "cache", config=root / "config", logs=root / "logs"
        )
    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    return UserPaths(
        models=Path(dirs.user_data_dir) / "models",
        cache=Path(dirs.user_cache_dir),
        config=Path(dirs.user_config_dir),
        logs=Path(dirs.user_log_dir),
    )
