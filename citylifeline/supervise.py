"""A supervisor for every background thread: a loop that dies is logged and started again.

Each long-lived thread of the platform (the engine's writer and store threads, MQTT ingestion and
its network loop) runs its loop through ``Supervised``.  The loop returning means a clean stop;
the loop raising (anything, ``RecursionError`` and ``MemoryError`` included) is logged with its
traceback, counted, and the loop is started again after a back-off that doubles up to
``MAX_BACKOFF_S``.  ``/api/v1/status`` shows each thread's state, so it never says "connected"
over a dead consumer.  The loops themselves stay responsible for not losing work: a job in flight
when its loop died is failed to its caller, never acknowledged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("citylifeline.supervise")
FIRST_BACKOFF_S = 0.1
MAX_BACKOFF_S = 5.0


class Supervised:
    """A daemon thread that runs ``loop()`` until it returns, restarting it whenever it raises."""

    def __init__(self, name: str, loop: Callable[[], None]) -> None:
        self.name = name
        self.loop = loop
        self.restarts = 0
        self.last_error = ""
        self.last_error_at_s = 0.0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the loop to return; a loop that raises meanwhile is not restarted."""
        self._stopping.set()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the thread runs."""
        return self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        """Alive, restarts and the last error (for /api/v1/status)."""
        return {"alive": self.alive, "restarts": self.restarts, "last_error": self.last_error}

    def _supervise(self) -> None:
        backoff = FIRST_BACKOFF_S
        while True:
            started = time.monotonic()
            try:
                self.loop()
                return
            except BaseException as e:  # the point of a supervisor: nothing kills the thread
                self.restarts += 1
                self.last_error = f"{type(e).__name__}: {str(e)[:300]}"
                self.last_error_at_s = time.time()
                log.critical("thread %s died (%s); restarting it in %.1f s (restart %d)", self.name,
                             self.last_error, backoff, self.restarts, exc_info=True)
                if self._stopping.is_set() and isinstance(e, SystemExit | KeyboardInterrupt):
                    return
            if time.monotonic() - started > 60:
                backoff = FIRST_BACKOFF_S  # it had run well for a while: start again quickly
            time.sleep(backoff)
            backoff = min(2 * backoff, MAX_BACKOFF_S)
