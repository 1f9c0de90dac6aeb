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
PACKAGE_DIR = Path(__file__).resolve().parent
"""The installed package: read-only data the app ships (the built UI, prebuilt models)."""
UI_DIR_ENV = "PIXUP_UI_DIR"
"""Overrides where the built UI (index.html and assets) is read from."""


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


def ui_dir() -> Path:
    """The built UI: `PIXUP_UI_DIR`, else the source checkout's `ui/dist` (pixup runs from a clone),
    else the copy an installed pixup carries (`pixup/webui`, made by build/vendor.py)."""
    override = os.environ.get(UI_DIR_ENV)
    if override:
        return Path(override)
    checkout = PACKAGE_DIR.parents[1] / "ui" / "dist"
    if (checkout / "index.html").is_file():
        return checkout
    return PACKAGE_DIR / "webui"
