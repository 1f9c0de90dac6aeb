"""Cancel an inference while it runs, and time how soon its caller gets control back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pixup.engine.cancel import Cancelled, CancelToken


def cancel_while_running(run: Callable[[CancelToken], object], after_s: float = 0.2) -> tuple[str, float]:
    """Call `run(token)` on a thread and cancel the token `after_s` seconds in: ("cancelled" or
    "finished", seconds from the cancel until `run` returned)."""
    token = CancelToken()
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            run(token)
            outcome["result"] = "finished"
        except Cancelled:
            outcome["result"] = "cancelled"
        outcome["returned"] = time.perf_counter()

    thread = threading.Thread(target=work)
    thread.start()
    time.sleep(after_s)
    cancelled_at = time.perf_counter()
    token.cancel()
    thread.join(timeout=30)
    return str(outcome["result"]), float(outcome["returned"]) - cancelled_at  # type: ignore[arg-type]
