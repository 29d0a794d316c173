"""``citylifeline demo``: the platform on the embedded store, the demo city, and a live twin feed.

The digital twin simulates the demo city's water network (WNTR's Net3, placed in Hefei) with
EPANET from an hour ago until two days ahead.  A pressure transmitter freezes early in that
hour and a main bursts a few minutes before now.  The feed sends the past hour at once — so
within seconds of starting the burst is an incident and the frozen sensor a maintenance
ticket — then one reading per sensor per minute, live, as the burst goes on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from .server import make_server
from .settings import Config

log = logging.getLogger("citylifeline.demo")
HISTORY_S = 3600.0  # the twin starts this long before now; the feed sends it at once
STUCK_AT_S = 600.0  # the transmitter freezes 10 minutes into the history
BURST_BEFORE_NOW_S = 240.0  # the main bursts 4 minutes before now
LIVE_HOURS = 48.0


def run_demo(config: Config, feed: bool = True) -> None:
    """Serve the demo city with a fresh store and (unless ``feed`` is False) the twin feed."""
    db = Path(config.db)
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)  # a demo starts from scratch
    engine, server = make_server(config)
    base = f"http://{config.host}:{config.port}"
    stop = threading.Event()
    started = time.time()
    start_ms = int((started - HISTORY_S) // 60 * 60_000)  # whole minutes, like real loggers
    burst_at_s = (started - BURST_BEFORE_NOW_S) - start_ms / 1000
    tz = ZoneInfo(engine.city.timezone)

    def hhmm(offset_s: float) -> str:
        return datetime.fromtimestamp(start_ms / 1000 + offset_s, tz).strftime("%H:%M")

    from .twin.water import DEMO_BURST_JUNCTION, DEMO_STUCK_SENSOR

    print(f"""
CityLifeline demo — {engine.city.name}: {int(engine.registry.active.sum())} sensors on the water network
  {base}/                  status page: open incidents and maintenance tickets (refreshes itself)
  {base}/docs              the REST API (OpenAPI); WebSocket at {base.replace('http', 'ws')}/api/v1/ws
What to look at (within a minute):
  - water main burst at junction {DEMO_BURST_JUNCTION} (by the Riverside metro station) at {hhmm(burst_at_s)}:
    an orange (level II) / red (level I) incident      curl {base}/api/v1/incidents
  - pressure transmitter {DEMO_STUCK_SENSOR} frozen since {hhmm(STUCK_AT_S)}:
    a maintenance ticket, not an incident               curl {base}/api/v1/tickets
The digital twin then feeds one reading per sensor per minute, live. Store: {db} (fresh each run). Ctrl-C stops.
""", flush=True)
    thread = None
    if feed:
        thread = threading.Thread(target=_feed, args=(base, start_ms, burst_at_s, stop), name="twin-feed",
                                  daemon=True)
        thread.start()
    try:
        server.run()
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)


def _feed(base: str, start_ms: int, burst_at_s: float, stop: threading.Event) -> None:
    from .twin.feed import feed
    from .twin.water import demo_scenario, simulate

    try:
        out = simulate(demo_scenario(start_ms, HISTORY_S + LIVE_HOURS * 3600, burst_at_s=burst_at_s,
                                     stuck_at_s=STUCK_AT_S))
        deadline = time.time() + 60
        while not stop.is_set() and time.time() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/api/v1/status", timeout=2).status_code == 200:
                    break
            stop.wait(0.2)
        stats = feed(out, base, catch_up_until_ms=int(time.time() * 1000), stop=stop)
        log.info("twin feed finished: %d readings", stats.sent)
    except Exception:  # the server keeps running for the user even if the feed fails
        log.exception("the twin feed failed")

