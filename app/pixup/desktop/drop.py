"""Drag & drop: from pywebview's DOM drop event to full paths, and from paths to a page event.

Browsers never reveal where a dropped file lives; pywebview's Qt backend reads the paths from the
Qt drop event and adds them to the DOM event it hands Python as `pywebviewFullPath`, one per dropped
item, folders included. These helpers are pure so they are tested without a window.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence

log = logging.getLogger("pixup.desktop")

PATHS_EVENT = "pixup:paths"
"""The page listens for `window.addEventListener('pixup:paths', e => e.detail.paths)`."""

DRAG_GUARD_JS = """
(function () {
  if (window.__pixupDragGuard) return;
  window.__pixupDragGuard = true;
  // Without preventDefault on dragover Chromium never fires `drop`, and a file dropped outside the
  // drop zone would replace the page with the image.
  const guard = (e) => { if (e.dataTransfer && e.dataTransfer.types.includes('Files')) e.preventDefault(); };
  document.addEventListener('dragenter', guard);
  document.addEventListener('dragover', guard);
})();
"""


def paths_from_drop_event(event: object) -> list[str]:
    """Full paths of the items in a pywebview drop event, in drop order, without duplicates.

    Items without a full path (dragged from a web page, or not matched to a Qt drop URL) are skipped:
    they have no file behind them that the engine could read.
    """
    if not isinstance(event, Mapping):
        return []
    transfer = event.get("dataTransfer")
    files = transfer.get("files") if isinstance(transfer, Mapping) else None
    if not isinstance(files, Sequence) or isinstance(files, str | bytes):
        return []
    paths: list[str] = []
    skipped = 0
    for item in files:
        path = item.get("pywebviewFullPath") if isinstance(item, Mapping) else None
        if isinstance(path, str) and path and "\x00" not in path:
            # Qt gives folder URLs with a trailing slash on some file managers; "dir/" and "dir" are one.
            trimmed = path[:-1] if len(path) > 1 and path.endswith("/") else path
            if trimmed not in paths:
                paths.append(trimmed)
        else:
            skipped += 1
    if skipped:
        log.info("drop: %d item(s) without a file path ignored", skipped)
    return paths


def paths_event_script(paths: Sequence[str]) -> str:
    """JavaScript that dispatches `pixup:paths` with `paths` on the page's window.

    json.dumps with ensure_ascii escapes quotes, backslashes, control characters and every non-ASCII
    character (U+2028 included), so any file name is a safe JavaScript literal.
    """
    detail = json.dumps({"paths": list(paths)}, ensure_ascii=True)
    return f"window.dispatchEvent(new CustomEvent({json.dumps(PATHS_EVENT)}, {{detail: {detail}}}));"
