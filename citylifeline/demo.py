"""``citylifeline demo``: the platform on the embedded store, the demo city, and a live twin feed.

The digital twin runs the "city day" scenario for every lifeline — water, drainage, gas,
heating, bridges, the utility tunnel — placed so that its first hours are already past when
the demo starts.  Before them come ``DEMO_WATER_HISTORY`` of the water network's quiet days (the
same twin, in one run with the scenario's water: no seam), as a utility's SCADA history: the water
analyst calibrates on them and watches the scenario with every window, slow leaks included; and
``DEMO_BRIDGE_HISTORY`` of the bridges' identified frequencies and deck temperatures, from which the
bridge analyst learns each bridge's temperature-compensated normal before the day's damage.  The
feed sends that history at once, so within a minute or two the incidents of the morning (a gas
leak by a school, a burst main, an overloaded bridge, a flooding tunnel, a frozen transmitter …)
are on the platform, then streams the rest live as it happens.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np

from .auth.model import new_token
from .server import make_server
from .settings import Config
from .twin.realism import Readings
from .twin.scenario import Scenario, load_scenario, parse_duration

log = logging.getLogger("citylifeline.demo")
DEMO_SCENARIO = "city_day"
DEMO_HISTORY = "8h30min"
"""How much of the scenario has already happened when the demo starts: the morning's incidents, and the
radar has seen the late-morning storm coming (its nowcasts from about 8:06): the underpass is warned,
with the forecast on the map, half an hour before the water is on the road."""
DEMO_ANALYSTS = "gas,water,bridge,drainage"
"""The water and bridge analysts learn from the feed (the overview shows how far)."""
DEMO_WATER_HISTORY = "22d"  # the water network's days before the scenario: the analyst's calibration (20 days
# for its day window, ``leaks.MIN_HISTORY_DAYS``), with two nights to spare for its first night-flow judgements
DEMO_BRIDGE_HISTORY = "8d"  # the bridges' frequencies and deck temperatures before the scenario: the bridge
# analyst learns each bridge's normal from its first week (``modal.LEARN_DAYS``) and watches the day


def run_demo(config: Config, feed: bool = True, scenario: str = DEMO_SCENARIO, history: str = DEMO_HISTORY,
             water_history: str = DEMO_WATER_HISTORY) -> None:
    """Serve the demo city with a fresh store and (unless ``feed`` is False) the twin feed: the
    scenario with ``history`` of it already past, after ``water_history`` of the water network's."""
    db = Path(config.db)
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)  # a demo starts from scratch
    if not config.admin_token:
        config = config.with_(admin_token=new_token())
    engine, server = make_server(config)
    base = f"http://{config.host}:{config.port}"
    now_ms = int(time.time() * 1000)
    scn = load_scenario(scenario)
    scn = scn.shifted((now_ms - round(parse_duration(history, "history") * 1000)) // 60_000 * 60_000)
    water_s = parse_duration(water_history, "water history")
    print(_banner(engine.city.name, int(engine.registry.active.sum()), base, scn, now_ms, engine.city.timezone,
                  config.admin_token, water_s), flush=True)
    stop = threading.Event()
    thread = None
    if feed:
        thread = threading.Thread(target=_feed, args=(base, scn, stop, config.admin_token, water_s),
                                  name="twin-feed", daemon=True)
        thread.start()
    try:
        server.run()
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)


def _banner(city: str, sensors: int, base: str, scn: Scenario, now_ms: int, tz: str, token: str,
            water_s: float) -> str:
    zone = ZoneInfo(tz)

    def hhmm(offset_s: float) -> str:
        return datetime.fromtimestamp(scn.start_ms / 1000 + offset_s, zone).strftime("%H:%M")

    happenings = sorted([(i.start_s, f"{i.type.replace('_', ' '):<16} {i.place}") for i in scn.incidents]
                        + [(r.start_s, f"storm, {r.peak_mm_h:.0f} mm/h at its peak") for r in scn.weather.rain]
                        + [(f.start_s, f"sensor {f.sensor} {f.type}") for f in scn.faults])
    now_s = (now_ms - scn.start_ms) / 1000
    lines = [f"  {hhmm(at)}  {what}" for at, what in happenings if at <= now_s]
    soon = [f"  {hhmm(at)}  {what}" for at, what in happenings if at > now_s]
    return "\n".join([
        "",
        f"CityLifeline demo — {city}: {sensors} sensors on water, drainage, gas, heating, bridges and the tunnel",
        f"  {base}/                  the dashboard: the one map, live incidents, overview, sensor health",
        f"  {base}/docs              the REST API (OpenAPI); WebSocket at {base.replace('http', 'ws')}/api/v1/ws",
        f"  admin token (log in with it; API: 'Authorization: Bearer …'):  {token}",
        f"The twin plays the scenario '{scn.name}' ({scn.description.strip()})",
        *([f"First, the water network's last {water_s / 86400:g} days (the water analyst calibrates on them; "
           "the overview shows how far it is)"] if water_s > 0 else []),
        "… and the meteorological service's radar nowcasts of the storm, as it would issue them (every 6 minutes)",
        f"… and the bridges' frequencies and deck temperatures of the {DEMO_BRIDGE_HISTORY} before (the bridge analyst "
        "learns each bridge's temperature-compensated normal)",
        f"… and a construction site on the register: {DEMO_SITE['name']} (the risk map's 'construction' reason)",
        "Already happened (on the platform within a minute or two):", *lines,
        "Still to come, live:", *soon,
        "Then every sensor keeps reporting at its own rate.  The store is fresh each run.  Ctrl-C stops.", ""])


def _feed(base: str, scn: Scenario, stop: threading.Event, token: str, water_s: float = 0.0) -> None:
    from .city.bundle import load_city
    from .twin.feed import bearer, feed, feed_forecasts
    from .twin.rainforecast import rain_forecasts

    try:
        readings = demo_readings(scn, water_s, parse_duration(DEMO_BRIDGE_HISTORY, "bridge history"))
        deadline = time.time() + 60
        while not stop.is_set() and time.time() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/api/v1/status", timeout=2, headers=bearer(token)).status_code == 200:
                    break
            stop.wait(0.2)
        bundle = load_city(scn.city)
        _register_site(base, token, bundle.city)
        rain = [s.id for s in bundle.sensors.specs if s.kind == "rainfall"]  # the met service's nowcasts
        threading.Thread(target=feed_forecasts, args=(rain_forecasts(scn, rain), base, stop, token),
                         name="twin-rain-forecasts", daemon=True).start()
        stats = feed(readings, base, history_until_ms=int(time.time() * 1000), stop=stop, token=token)
        log.info("twin feed finished: %d readings", stats.sent)
    except Exception:  # the server keeps running for the user even if the feed fails
        log.exception("the twin feed failed")


DEMO_SITE = {"name": "地铁8号线金寨路站基坑 Metro Line 8, Jinzhai Rd station pit", "kind": "excavation",
             "contractor": "中铁十四局 CRCC 14th Bureau", "permit": "HF-JK-2026-118", "radius_m": 25.0}
DEMO_SITE_XY = (521200.0, 3520450.0)  # on Jinzhai Rd between Nanyi Rd and Nan'er Rd, over its mains


def _register_site(base: str, token: str, city: Any) -> None:
    """The demo's construction site, dug since five days ago for two months more (``risk.sites``)."""
    from .twin.feed import bearer

    lon, lat = city.to_wgs84(*DEMO_SITE_XY)
    now = time.time()
    body = DEMO_SITE | {"geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
                        "start": now - 5 * 86400, "end": now + 60 * 86400}
    r = httpx.post(f"{base}/api/v1/construction-sites", json=body, headers=bearer(token), timeout=30)
    r.raise_for_status()


def demo_readings(scn: Scenario, water_s: float, bridge_s: float = 0.0) -> Readings:
    """The scenario's readings, the water network's from a run that began ``water_s`` earlier, after
    ``bridge_s`` of the bridges' frequencies and deck temperatures."""
    from .city import load_city
    from .twin.runner import simulate

    bundle = load_city(scn.city)
    run = simulate(scn, bundle).readings
    if bridge_s > 0:
        run = _with_bridge_history(run, scn, bundle, bridge_s)
    if water_s <= 0:
        return run
    water = simulate(scn.preceded_by(water_s), bundle, lifelines=("water",)).readings
    mine = {s.id for s in bundle.sensors.specs if s.layer == "water"}
    keep = np.array([s not in mine for s in run.sensor_id], dtype=bool)
    return water.then(run.take(keep), [f for f in water.faults if f["sensor"] in mine]
                      + [f for f in run.faults if f["sensor"] not in mine])


def _with_bridge_history(run: Readings, scn: Scenario, bundle: Any, bridge_s: float) -> Readings:
    """``run`` after the bridges' frequencies and deck temperatures of the ``bridge_s`` before it (the
    same twin run longer; its strain and deflection are not sent: a gateway's history is its indices)."""
    import copy
    from dataclasses import replace

    from .city.sensors import SensorRegistry
    from .twin.runner import simulate

    sub = copy.copy(bundle)
    sub.sensors = SensorRegistry([s for s in bundle.sensors.specs
                                  if s.layer == "bridge" and s.kind in ("frequency", "temperature")])
    if not len(sub.sensors):
        return run
    hist = simulate(replace(scn.preceded_by(bridge_s), faults=()), sub, lifelines=("bridge",)).readings
    return hist.take(hist.t_ms < scn.start_ms).then(run, run.faults)
