"""The live demo end to end, and replay giving the live run's incidents."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from citylifeline.api import create_app
from citylifeline.city import load_city
from citylifeline.engine import Engine
from citylifeline.offline import replay
from citylifeline.settings import Config
from citylifeline.store import EmbeddedStore, IncidentFilter
from citylifeline.twin.water import DEMO_STUCK_SENSOR, demo_scenario, simulate
from tests.conftest import free_port


def test_make_demo_shows_the_burst_and_the_stuck_sensor_within_a_minute(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "citylifeline.cli", "demo", "--port", str(port), "--db",
                             str(tmp_path / "demo.duckdb")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    started = time.time()
    incidents: list[dict[str, object]] = []
    tickets: list[dict[str, object]] = []
    try:
        while time.time() - started < 60 and not (incidents and tickets):
            time.sleep(1)
            try:
                incidents = [i for i in httpx.get(f"{base}/api/v1/incidents").json() if i["level"] in ("I", "II")]
                tickets = httpx.get(f"{base}/api/v1/tickets", params={"state": "open"}).json()
            except httpx.TransportError:
                continue
        assert incidents, "no red or orange incident within a minute"
        assert [t["sensor_id"] for t in tickets] == [DEMO_STUCK_SENSOR] and tickets[0]["fault"] == "stuck"
        burst = incidents[0]
        assert "P-13" in burst["sensors"] and "F-04" in burst["sensors"]  # the sensors next to junction 213
        assert DEMO_STUCK_SENSOR not in burst["sensors"]
        assert httpx.get(f"{base}/").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    text = out.decode()
    assert f"http://127.0.0.1:{port}/" in text and "What to look at" in text
    assert "Traceback" not in text


def test_replay_of_a_stored_day_gives_the_live_incidents(tmp_path: Path) -> None:
    bundle = load_city("demo")
    start_ms = int((time.time() - 2 * 86400) // 60 * 60_000)
    day = simulate(demo_scenario(start_ms, 86400.0, burst_at_s=15 * 3600.0, stuck_at_s=3 * 3600.0, seed=3))
    config = Config.load(environ={}, db=str(tmp_path / "live.duckdb"), city="demo")
    engine = Engine(config, bundle)
    with TestClient(create_app(engine)) as client:  # live: one request per minute, as the loggers send
        steps = sorted(set(day.t_ms.tolist()))
        for t in steps:
            m = day.t_ms == t
            rows = [{"sensor": s, "t": t / 1000, "value": v} for s, v in zip(day.sensor_id[m], day.value[m],
                                                                           strict=True)]
            assert client.post("/api/v1/readings", json={"readings": rows}).status_code == 200
    live_store = EmbeddedStore(config.db)
    live = [i.to_dict() for i in live_store.incidents(IncidentFilter())]
    live_tickets = [t.to_dict() for t in live_store.tickets()]
    result = replay(bundle, config, source=live_store)
    live_store.close()
    assert result.report.received == len(day)
    keys = ("lifeline", "level", "sensors", "assets", "t_first_ms", "t_last_ms", "event_count", "title",
            "cleared_t_ms")
    assert [{k: i[k] for k in keys} for i in result.incidents] == [{k: i[k] for k in keys} for i in live]
    tkeys = ("sensor_id", "fault", "state", "t_opened_ms", "t_closed_ms", "event_count")
    assert [{k: t[k] for k in tkeys} for t in result.tickets] == [{k: t[k] for k in tkeys} for t in live_tickets]
    assert any(i["level"] in ("I", "II") for i in live)
    assert [t["sensor_id"] for t in live_tickets] == [DEMO_STUCK_SENSOR]


@pytest.mark.parametrize("bad", ["nowhere"])
def test_demo_refuses_a_missing_city_clearly(bad: str, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "citylifeline.cli", "demo", "--city", str(tmp_path / bad), "--db",
                          str(tmp_path / "d.duckdb"), "--port", str(free_port())], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "city bundle" in out.stderr and "Traceback" not in out.stderr
