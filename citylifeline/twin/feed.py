"""Stream a twin's readings to a running server over HTTP, as live sensors would.

Readings go in the order they are delivered (late and duplicated ones included): the history
— everything delivered before a given time — at once or ``speed`` times faster than it came,
the rest live, each when the wall clock reaches its delivery time (the server refuses readings
from the future).  A failed POST is retried with back-off: the server acknowledges only after
commit and ignores (sensor, time) duplicates, so a re-sent chunk is harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import numpy as np
import numpy.typing as npt

from ..batch import F64, I64
from ..errors import ValidationError

log = logging.getLogger(__name__)
CHUNK = 5000
"""Readings per request while catching up (the server takes up to 200 000; smaller chunks
keep each commit short and a retry cheap)."""
ACCEPTED = (200, 201, 202, 204, 422)  # 422: some readings refused one by one, the rest stored


class Readings(Protocol):
    """Aligned reading columns, as in ``citylifeline.twin.realism.Readings`` (which also has
    ``delivered_ms``, the order and time of sending)."""

    @property
    def sensor_id(self) -> npt.NDArray[np.object_]:
        """Sensor ids."""

    @property
    def t_ms(self) -> I64:
        """Epoch milliseconds."""

    @property
    def value(self) -> F64:
        """Values in the canonical unit."""


@dataclass
class FeedStats:
    """What a feed did: readings and requests sent, retries, and whether it was stopped early."""

    sent: int = 0
    posts: int = 0
    retries: int = 0
    stopped: bool = False


def feed(readings: Readings, url: str, history_until_ms: int | None = None, speed: float | None = None,
         batch_every_s: float = 1.0, stop: threading.Event | None = None, chunk: int = CHUNK,
         max_backoff_s: float = 30.0, token: str = "") -> FeedStats:
    """POST ``readings`` to ``{url}/api/v1/readings`` in the order they are delivered.

    Readings delivered up to ``history_until_ms`` are the history: sent at once, or ``speed``
    times faster than they were delivered.  The rest go live, each when the wall clock reaches
    its delivery time, gathered into one request per ``batch_every_s``.  Returns when all are
    sent or ``stop`` is set.  ``token``: a device's (or the admin's) credential."""
    if speed is not None and not speed > 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    stop = stop or threading.Event()
    send_ms = getattr(readings, "delivered_ms", readings.t_ms)
    order = np.argsort(send_ms, kind="stable")
    due_ms, t_ms, sensor, value = send_ms[order], readings.t_ms[order], readings.sensor_id[order], readings.value[order]
    stats = FeedStats()
    n, i = len(t_ms), 0
    with httpx.Client(base_url=url.rstrip("/"), timeout=60.0, headers=bearer(token)) as client:

        def send(first: int, end: int) -> bool:
            for k in range(first, end, chunk):
                stop_k = min(k + chunk, end)
                rows = zip(sensor[k:stop_k].tolist(), t_ms[k:stop_k].tolist(), value[k:stop_k].tolist(),
                           strict=True)
                body = {"readings": [{"sensor": s, "t": t / 1000, "value": v} for s, t, v in rows]}
                if not _post(client, body, stop, stats, max_backoff_s):
                    return False
                stats.sent += stop_k - k
            return True

        if history_until_ms is not None:
            j = int(np.searchsorted(due_ms, min(history_until_ms, time.time() * 1000), "right"))
            if speed is None:
                if not send(0, j):
                    return _stopped(stats)
                i = j
            else:  # replay the history speed× faster than it was delivered
                wall0, anchor = time.time(), float(due_ms[0]) if n else 0.0
                while i < j:
                    if stop.wait(max(wall0 + (due_ms[i] - anchor) / 1000 / speed - time.time(), 0.0)):
                        return _stopped(stats)
                    k = min(int(np.searchsorted(due_ms, anchor + (time.time() - wall0) * 1000 * speed, "right")), j)
                    if not send(i, max(k, i + 1)):
                        return _stopped(stats)
                    i = max(k, i + 1)
            log.info("history sent: %d readings in %d requests", stats.sent, stats.posts)
        last_post = -float("inf")
        while i < n:  # live: never before the wall clock reaches a reading's delivery time
            if stop.wait(max(due_ms[i] / 1000 - time.time(), last_post + batch_every_s - time.time(), 0.0)):
                return _stopped(stats)
            last_post = time.time()
            j = max(int(np.searchsorted(due_ms, last_post * 1000, "right")), i + 1)
            if not send(i, j):
                return _stopped(stats)
            i = j
    log.info("fed %d readings in %d requests (%d retries)", stats.sent, stats.posts, stats.retries)
    return stats


def _stopped(stats: FeedStats) -> FeedStats:
    stats.stopped = True
    log.info("feed stopped after %d readings", stats.sent)
    return stats


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of ``token`` (none for '')."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def feed_forecasts(docs: list[dict[str, Any]], url: str, stop: threading.Event | None = None, token: str = "",
                   max_backoff_s: float = 8.0) -> FeedStats:
    """Push rain forecast documents (``twin.rainforecast``) to ``POST /api/v1/rain-forecasts``, each when
    the wall clock reaches its issue time (those issued already, at once), as a meteorological service would."""
    stop = stop or threading.Event()
    stats = FeedStats()
    with httpx.Client(base_url=url, timeout=30.0, headers=bearer(token)) as client:
        for doc in sorted(docs, key=lambda d: d["issued"]):
            if stop.wait(max(0.0, doc["issued"] / 1000 - time.time())):
                return _stopped(stats)
            if not _post(client, doc, stop, stats, max_backoff_s, path="/api/v1/rain-forecasts"):
                return _stopped(stats)
            stats.sent += 1
    return stats


def _post(client: httpx.Client, body: dict[str, Any], stop: threading.Event, stats: FeedStats,
          max_backoff_s: float, path: str = "/api/v1/readings") -> bool:
    """POST until acknowledged; False if ``stop`` was set while backing off."""
    delay = 0.25
    while True:
        try:
            r = client.post(path, json=body)
            if r.status_code in ACCEPTED:
                stats.posts += 1
                return True
            if r.status_code < 500 and r.status_code not in (408, 429):
                raise ValidationError(f"the server refused a POST to {path}: HTTP {r.status_code} {r.text[:300]}")
            why = f"HTTP {r.status_code}"
        except httpx.TransportError as e:  # server restarting, network blip: try again
            why = f"{type(e).__name__}: {e}"
        stats.retries += 1
        log.warning("POST failed (%s); retrying in %.2g s", why, delay)
        if stop.wait(delay):
            return False
        delay = min(delay * 2, max_backoff_s)
