"""The views behind the dashboard: sensor states, the city overview, sensor health, the page itself."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citylifeline.api import create_app
from citylifeline.city import load_city
from citylifeline.engine import Engine
from citylifeline.errors import ConfigError
from citylifeline.settings import Config
from tests.conftest import ADMIN_TOKEN, AUTH

NOW = time.time()
DEVICE_CHANNELS = """P-FAR.battery,ratio,water/junction/10,west,battery of P-FAR,3600,%,,,,,,,,,,,,
P-FAR.signal,signal,water/junction/10,west,signal of P-FAR,3600,dBm,,,,,,,,,,,,
"""


@pytest.fixture
def engine(tmp_path: Path, city_dir: Path) -> Iterator[Engine]:
    """The test city plus a battery and a signal channel for P-FAR."""
    d = tmp_path / "city"
    shutil.copytree(city_dir, d)
    with (d / "sensors.csv").open("a", encoding="utf-8") as f:
        f.write(DEVICE_CHANNELS)
    cfg = Config.load(environ={}, db=str(tmp_path / "s.duckdb"), city=str(d), memory_limit="512MB",
                      admin_token=ADMIN_TOKEN, rate_limit_per_s=0.0)
    e = Engine(cfg, load_city(d))
    e.start()
    yield e
    e.stop()


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, manage_engine=False), headers=AUTH) as c:
        yield c


def series(sensor: str, values: list[float], unit: str, end: float = NOW, step_s: float = 60) -> list[dict[str, Any]]:
    start = end - step_s * (len(values) - 1)
    return [{"sensor": sensor, "t": start + step_s * k, "value": v, "unit": unit} for k, v in enumerate(values)]


def feed(client: TestClient) -> None:
    """Readings for every case; returns once the writer has also run the detectors over them."""
    rows = [*series("P-1", [0.30 + 0.002 * (k % 4) for k in range(30)], "MPa"),          # normal
            *series("P-2", [0.30] * 5 + [0.17 + 0.001 * (k % 3) for k in range(25)], "MPa"),  # below III
            *series("P-3", [0.31] * 30, "MPa"),                                          # stuck: a fault
            *series("F-1", [300, 310, 305, 300, 302], "m3/h", end=NOW - 3600),            # silent an hour
            *series("P-FAR", [0.3 + 0.002 * (k % 4) for k in range(30)], "MPa"),
            *series("P-FAR.battery", [18], "%"), *series("P-FAR.signal", [-112], "dBm")]
    r = client.post("/api/v1/readings", json={"readings": rows})
    assert r.status_code == 200, r.text
    client.app.state.engine.flush(10)  # type: ignore[attr-defined]


def states_by_sensor(client: TestClient) -> dict[str, int]:
    s = client.get("/api/v1/sensor-states").json()
    assert len(s["sensor"]) == len(s["state"]) == len(s["t"]) == len(s["value"])
    return dict(zip(s["sensor"], s["state"], strict=True))


def test_each_sensor_gets_the_worst_state_that_applies(client: TestClient) -> None:
    assert set(states_by_sensor(client).values()) == {6}  # nothing reported yet: all offline
    feed(client)
    st = states_by_sensor(client)
    legend = client.get("/api/v1/sensor-states").json()["legend"]
    assert legend["0"] == "normal" and legend["2"] == "III" and legend["5"] == "fault" and legend["6"] == "offline"
    assert st["P-1"] == 0
    assert st["P-2"] == 2  # 0.17 MPa is below the level III limit 0.20 MPa (severity 2)
    assert st["P-3"] == 5  # stuck for 30 readings: a maintenance ticket
    assert st["F-1"] == 6  # silent for an hour, 60 of its intervals
    assert st["L-1"] == 6  # never reported


def test_overview_counts_incidents_sensors_and_response_times(client: TestClient) -> None:
    feed(client)
    o = client.get("/api/v1/overview").json()
    assert o["active_total"] == 1 and o["active_by_lifeline"]["water"] == {"I": 0, "II": 0, "III": 1, "IV": 0}
    assert o["sensors"] == {"total": 8, "normal": 4, "warning": 1, "fault": 1, "offline": 2, "online": 6}
    assert o["today"]["incidents"] == 1 and o["today"]["by_level"]["III"] == 1
    assert o["response"] == {"mean_to_acknowledge_min": None, "acknowledged": 0, "mean_to_resolve_min": None,
                             "resolved": 0}
    assert sum(o["trend"]["by_level"]["III"]) == 1 and len(o["trend"]["hour_ms"]) == 24
    inc = client.get("/api/v1/incidents").json()[0]
    for action, extra in (("acknowledge", {}), ("false_alarm", {"text": "pressure test by the utility"})):
        r = client.post(f"/api/v1/incidents/{inc['id']}/actions", json={"action": action, "actor": "li", **extra})
        assert r.status_code == 200, r.text
    o = client.get("/api/v1/overview").json()
    assert o["active_total"] == 0 and o["today"]["false_alarms"] == 1
    assert o["response"]["acknowledged"] == 1 and o["response"]["resolved"] == 1
    assert 0 <= o["response"]["mean_to_acknowledge_min"] <= o["response"]["mean_to_resolve_min"] < 1


def test_sensor_health_lists_faults_silence_battery_and_signal(client: TestClient) -> None:
    feed(client)
    rows = {r["sensor"]: r for r in client.get("/api/v1/sensor-health").json()}
    assert set(rows) == {"P-3", "F-1", "L-1", "P-FAR"}  # the device channels are not rows of their own
    assert rows["P-3"]["problems"] == ["stuck"] and rows["P-3"]["tickets"][0]["fault"] == "stuck"
    assert rows["F-1"]["problems"] == ["no_data"]  # the no-data detector already opened a ticket
    assert rows["F-1"]["silent_s"] == pytest.approx(3600, abs=1)
    assert rows["L-1"]["problems"] == ["never_reported"] and rows["L-1"]["last_t"] is None
    assert rows["P-FAR"]["problems"] == ["battery_low", "signal_weak"]
    assert rows["P-FAR"]["battery"] == pytest.approx(0.18) and rows["P-FAR"]["signal_dbm"] == -112


def test_ui_gives_display_units_and_the_optional_base_map(client: TestClient, engine: Engine) -> None:
    ui = client.get("/api/v1/ui").json()
    assert ui["tiles"] is None  # offline by default: no tile server
    p = ui["kinds"]["pressure"]
    assert p["unit"] == "Pa" and p["display"] == "MPa" and (312_000 - p["offset"]) / p["scale"] == pytest.approx(0.312)
    t = ui["kinds"]["temperature"]
    assert (t["display"], t["scale"], t["offset"]) == ("degC", 1.0, 0.0)
    assert ui["actions"]["dispatch"]["needs"] == "assignee" and "water" in ui["lifelines"]
    assert ui["active_states"] == ["new", "acknowledged", "dispatched", "handling"]
    tiled = engine.config.with_(map_tile_url="http://tiles.local/{z}/{x}/{y}.png")
    engine.config = tiled
    with TestClient(create_app(engine, manage_engine=False), headers=AUTH) as c2:
        assert c2.get("/api/v1/ui").json()["tiles"]["url"] == "http://tiles.local/{z}/{x}/{y}.png"


def test_the_page_says_how_to_install_missing_front_end_libraries(engine: Engine, tmp_path: Path) -> None:
    engine.config = engine.config.with_(web_vendor_dir="")
    import citylifeline.api.dashboard as dash

    real = dash.WEB
    fake = tmp_path / "web"
    shutil.copytree(real, fake, ignore=shutil.ignore_patterns("node_modules"))
    dash.WEB = fake
    try:
        with TestClient(create_app(engine, manage_engine=False), headers=AUTH) as c:
            r = c.get("/")
            assert r.status_code == 503 and "make setup" in r.text and "leaflet" in r.text
            assert c.get("/plain").status_code == 200  # the script-free page still works
    finally:
        dash.WEB = real
    engine.config = engine.config.with_(web_vendor_dir=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="npm ci"):
        create_app(engine, manage_engine=False)
