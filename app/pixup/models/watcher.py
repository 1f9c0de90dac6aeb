"""Watch the user models folder: reload `model_config.json` on outside edits, notice models added/removed.

pixup's own writes are recognised by content (ConfigStore remembers their digests) and ignored, so
saving from the UI never triggers a reload loop. Bursts of events (editors write in several steps)
are debounced.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from pixup.models.config import CONFIG_NAME, ConfigStore
from pixup.models.importers.torch import TORCH_SUFFIXES
from pixup.models.suffixes import STORED_SUFFIXES

log = logging.getLogger(__name__)

MODEL_SUFFIXES = frozenset((*STORED_SUFFIXES, *TORCH_SUFFIXES))
"""Files whose change means the model list changed."""
DEBOUNCE_S = 0.25


class ModelFolderWatcher(FileSystemEventHandler):
    """Calls `on_config` after a real outside change of the config, `on_models` after model files change."""

    def __init__(
        self,
        store: ConfigStore,
        on_config: Callable[[ConfigStore], None] | None = None,
        on_models: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.folder = store.path.parent
        self._on_config = on_config
        self._on_models = on_models
        self._lock = threading.Lock()
        self._timers: dict[str, threading.Timer] = {}
        self._last_seen = self._current_digest()
        self._observer: Observer | None = None  # type: ignore[valid-type]

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        observer = Observer()
        observer.schedule(self, str(self.folder), recursive=False)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)
            self._observer = None
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            path = Path(str(raw))
            if path.name == CONFIG_NAME:
                self._debounce("config", self._config_changed)
            elif path.suffix.lower() in MODEL_SUFFIXES and not path.name.startswith("."):
                self._debounce("models", self._models_changed)

    def _debounce(self, key: str, action: Callable[[], None]) -> None:
        with self._lock:
            old = self._timers.get(key)
            if old is not None:
                old.cancel()
            timer = threading.Timer(DEBOUNCE_S, action)
            timer.daemon = True
            self._timers[key] = timer
            timer.start()

    def _current_digest(self) -> str | None:
        try:
            return hashlib.sha256(self.store.path.read_bytes()).hexdigest()
        except OSError:
            return None

    def _config_changed(self) -> None:
        try:
            content: bytes | None = self.store.path.read_bytes()
        except OSError:
            content = None
        digest = hashlib.sha256(content).hexdigest() if content is not None else None
        if digest == self._last_seen:
            return  # a duplicate event for content we already handled
        self._last_seen = digest
        if content is not None and self.store.is_own_write(content):
            log.debug("ignoring pixup's own write of %s", self.store.path)
            return
        log.info("model_config.json changed outside pixup; reloading")
        self.store.load()
        if self._on_config:
            self._on_config(self.store)

    def _models_changed(self) -> None:
        if self._on_models:
            self._on_models()
