"""Stream a twin's readings to a running server over HTTP, as live sensors would.

Readings at or before ``catch_up_until_ms`` (history) go at once, in chunks; later ones are
sent step by step when their time comes on a clock running ``speed`` times faster than the
wall clock from the end of the history, and never before the wall clock itself reaches their
time stamp (the server refuses readings from the future).  A failed POST is retried with
back-off: the server acknowledges only after commit and ignores (sensor, time) duplicates, so
a re-sent chunk is harmless.

    python -m citylifeline.twin.feed --url http://127.0.0.1:8000 --history-h 24 --hours 26 --burst-at-h 24.5
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Sequence
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
    """Aligned reading columns, as in ``citylifeline.twin.water.TwinOutput``."""

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


def feed(readings: Readings, url: str, speed: float = 1.0, catch_up_until_ms: int | None = None,
         batch_every_s: float = 1.0, stop: threading.Event | None = None, chunk: int = CHUNK,
         max_backoff_s: float = 30.0) -> FeedStats:
    """POST ``readings`` to ``{url}/api/v1/readings`` (see the module docstring).

    In the live part, at most one request goes every ``batch_every_s`` seconds, holding all
    the steps that came due meanwhile.  Returns when everything is sent or ``stop`` is set."""
    if not speed > 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    stop = stop or threading.Event()
    order = np.argsort(readings.t_ms, kind="stable")
    t_ms, sensor, value = readings.t_ms[order], readings.sensor_id[order], readings.value[order]
    stats = FeedStats()
    n, i = len(t_ms), 0
    with httpx.Client(base_url=url.rstrip("/"), timeout=60.0) as client:

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

        if catch_up_until_ms is not None:
            j = int(np.searchsorted(t_ms, min(catch_up_until_ms, time.time() * 1000), "right"))
            if not send(0, j):
                return _stopped(stats)
            i = j
            log.info("caught up: %d readings in %d requests", stats.sent, stats.posts)
        # the replay clock starts where the history ends (or at the first reading)
        anchor_ms = float(catch_up_until_ms if catch_up_until_ms is not None else t_ms[0] if n else 0)
        wall0, last_post = time.time(), -float("inf")
        while i < n:
            due = max(wall0 + (t_ms[i] - anchor_ms) / 1000 / speed, t_ms[i] / 1000, last_post + batch_every_s)
            if stop.wait(max(due - time.time(), 0.0)):
                return _stopped(stats)
            now = time.time()
            limit = min(anchor_ms + (now - wall0) * 1000 * speed, now * 1000)
            j = max(int(np.searchsorted(t_ms, limit, "right")), int(np.searchsorted(t_ms, t_ms[i], "right")))
            last_post = now
            if not send(i, j):
                return _stopped(stats)
            i = j
    log.info("fed %d readings in %d requests (%d retries)", stats.sent, stats.posts, stats.retries)
    return stats


def _stopped(stats: FeedStats) -> FeedStats:
    stats.stopped = True
    log.info("feed stopped after %d readings", stats.sent)
    return stats


def _post(client: httpx.Client, body: dict[str, Any], stop: threading.Event, stats: FeedStats,
          max_backoff_s: float) -> bool:
    """POST until acknowledged; False if ``stop`` was set while backing off."""
    delay = 0.25
    while True:
        try:
            r = client.post("/api/v1/readings", json=body)
            if r.status_code in ACCEPTED:
                stats.posts += 1
                return True
            if r.status_code < 500 and r.status_code not in (408, 429):
                raise ValidationError(f"the server refused a batch of readings: HTTP {r.status_code} "
                                      f"{r.text[:300]}")
            why = f"HTTP {r.status_code}"
        except httpx.TransportError as e:  # server restarting, network blip: try again
            why = f"{type(e).__name__}: {e}"
        stats.retries += 1
        log.warning("POST failed (%s); retrying in %.2g s", why, delay)
        if stop.wait(delay):
            return False
        delay = min(delay * 2, max_backoff_s)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: simulate the demo city's water network around now and feed it to a server."""
    from .water import demo_scenario, simulate

    ap = argparse.ArgumentParser(description="Feed the demo city's water twin to a running server.")
    ap.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    ap.add_argument("--history-h", type=float, default=24.0, help="hours of history before now, sent at once")
    ap.add_argument("--hours", type=float, default=26.0, help="total hours simulated from the history start")
    ap.add_argument("--speed", type=float, default=1.0, help="live replay speed (never ahead of wall time)")
    ap.add_argument("--burst-at-h", type=float, help="demo burst this many hours after the history start")
    ap.add_argument("--stuck-at-h", type=float, help="demo stuck sensor from this many hours after the start")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    now_ms = int(time.time() * 1000)
    start_ms = (now_ms - int(args.history_h * 3_600_000)) // 60_000 * 60_000  # on the minute
    hour_s = 3600.0
    scn = demo_scenario(start_ms, args.hours * hour_s,
                        None if args.burst_at_h is None else args.burst_at_h * hour_s,
                        None if args.stuck_at_h is None else args.stuck_at_h * hour_s, args.seed)
    out = simulate(scn)
    print(f"simulated {len(out)} readings in {out.sim_s:.2f} s of EPANET; ground truth: {out.ground_truth}")
    stats = feed(out, args.url, args.speed, catch_up_until_ms=now_ms)
    print(f"sent {stats.sent} readings in {stats.posts} requests, {stats.retries} retries")


if __name__ == "__main__":
    main()
