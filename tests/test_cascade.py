"""What an incident threatens next (issue 29): chains along the coupling, the level raised when one
reaches people through another lifeline, declared links in city.yaml, and the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import LineString, Point, box

from citylifeline.api import create_app
from citylifeline.cascade.chains import Cascader
from citylifeline.city import load_city
from citylifeline.city.model import City, Layer
from citylifeline.city.sensors import SensorRegistry, SensorSpec
from citylifeline.engine import Engine
from citylifeline.settings import Config
from citylifeline.store import open_store
from citylifeline.warn.correlate import Correlator
from citylifeline.warn.model import Event, Incident
from tests.conftest import ADMIN_TOKEN, AUTH, city_copy, refused


def _line(layer: Layer, kind: str, name: str, a: tuple[float, float], b: tuple[float, float]) -> None:
    layer.add_node("junction", f"{name}-a", Point(a))
    layer.add_node("junction", f"{name}-b", Point(b))
    layer.add_link(kind, name, f"{layer.name}/junction/{name}-a", f"{layer.name}/junction/{name}-b", LineString([a, b]))


def _city() -> tuple[City, SensorRegistry]:
    """A gas main east-west with a cable well 3 m from it and a school beyond; a water main crossing it
    under a street; a tunnel compartment far off that feeds a pumping station."""
    city = City("t", "EPSG:32650")
    water, gas, tunnel, places, base = (Layer(n) for n in ("water", "gas", "tunnel", "places", "base"))
    _line(gas, "pipe", "G1", (-100, 0), (100, 0))
    _line(water, "pipe", "W1", (0, -100), (0, 100))
    _line(water, "pipe", "W2", (-300, -100), (-300, 100))
    water.add_node("pump", "PU1", Point(500, 500))
    tunnel.add_node("cable_well", "CW1", Point(50, 3))
    tunnel.add_feature("compartment", "TC1", LineString([(400, 0), (400, 300)]))
    places.add_feature("school", "S1", box(40, 20, 80, 50), label="No. 1 School")
    base.add_feature("street", "ST1", LineString([(-5, -300), (-5, 300)]), label="Jinzhai Rd")
    for layer in (water, gas, tunnel, places, base):
        city.add_layer(layer)
    city.links = [("water/pump/PU1", "tunnel/compartment/TC1")]
    specs = [SensorSpec("GP-1", "pressure", "gas/pipe/G1", "gas"),
             SensorSpec("WP-1", "pressure", "water/pipe/W1", "water"),
             SensorSpec("CW1-CH4", "methane", "tunnel/cable_well/CW1", "tunnel"),
             SensorSpec("TC1-L", "level", "tunnel/compartment/TC1", "tunnel")]
    return city, SensorRegistry(specs)


def _incident(lifeline: str, sensor: str, registry: SensorRegistry, level: int = 2) -> Incident:
    return Incident(1, lifeline, level, "new", "t", 0, 0, 0, 0, 0.0, 0.0, sensors=[sensor],
                    assets=[registry.asset[registry.index[sensor]]])


def _chain(cascade, *effects: tuple[str, str]) -> list:  # type: ignore[no-untyped-def]
    """The listed chain whose steps begin with ``effects`` (effect, asset); fails naming those listed."""
    for c in cascade.chains:
        if [(s.effect, s.asset) for s in c[:len(effects)]] == list(effects):
            return c
    raise AssertionError([[(s.effect, s.asset) for s in c] for c in cascade.chains])


def test_a_gas_leak_beside_a_cable_well_threatens_the_well_then_ignition_then_the_school() -> None:
    city, reg = _city()
    c = Cascader(city, reg).analyse(_incident("gas", "GP-1", reg), showing={"CW1-CH4"})
    assert [(s.effect, s.asset) for s in c.origin] == [("gas_leak", "gas/pipe/G1")]
    chain = _chain(c, ("gas_in_space", "tunnel/cable_well/CW1"), ("explosion", "tunnel/cable_well/CW1"),
                   ("people", "places/school/S1"))
    well, blast, people = chain
    assert well.likelihood > blast.likelihood > people.likelihood >= 0.05  # a product along the chain
    assert well.sensors == ("CW1-CH4",) and well.showing == ("CW1-CH4",)  # the well's detector already warns
    assert well.after_s[1] <= 1800 < blast.after_s[1] and "No. 1 School" in people.reason_en
    assert "米" in people.reason_zh and "No. 1 School" in people.reason_zh  # the words in both languages
    assert c.reaches_people == people  # through the tunnel's well: another lifeline than the gas network
    far = Cascader(city, reg).analyse(_incident("water", "WP-1", reg))  # the school is 20 m from W1's end: no blast
    assert far.reaches_people is None


def test_a_burst_main_undermines_the_road_and_then_breaks_the_gas_main_it_crosses() -> None:
    city, reg = _city()
    c = Cascader(city, reg).analyse(_incident("water", "WP-1", reg))
    void, collapse, gas = _chain(c, ("void", "water/pipe/W1"), ("collapse", "water/pipe/W1"),
                                 ("gas_leak", "gas/pipe/G1"))[:3]
    assert "Jinzhai Rd" in void.reason_en and collapse.after_s[0] >= 2 * 3600  # erosion takes hours to days
    assert gas.likelihood == pytest.approx(0.3 * 0.5 * 0.4)
    assert ("traffic", "base/street/ST1") in c.effects()


def test_a_water_incident_starts_where_the_analyst_placed_the_water_escaping_not_at_its_meters() -> None:
    city, reg = _city()
    inc = _incident("water", "WP-1", reg)  # WP-1 reads on W1
    assert [(s.effect, s.asset) for s in Cascader(city, reg).analyse(inc).origin] == [("water_leak", "water/pipe/W1")]
    inc.assets.append("water/pipe/W2")  # the analyst's event placed the burst on W2, which no sensor is on
    c = Cascader(city, reg).analyse(inc)
    assert [(s.effect, s.asset) for s in c.origin] == [("water_leak", "water/pipe/W2")]
    assert not any(a == "water/pipe/W1" or a == "gas/pipe/G1" for _, a in c.effects())  # the meter's main is not it


def test_a_water_incident_no_analyst_placed_starts_where_it_was_first_seen() -> None:
    city, reg = _city()
    inc = Incident(1, "water", 2, "new", "t", 0, 0, 0, 0, 0.0, 0.0, sensors=[],
                   assets=["water/junction/W2-a", "water/junction/W1-a", "water/junction/W1-b"])  # pressures fell
    assert [(s.effect, s.asset) for s in Cascader(city, reg).analyse(inc).origin] == [
        ("water_leak", "water/junction/W2-a")]


def test_a_flooded_compartment_stops_the_pumping_station_that_depends_on_it() -> None:
    city, reg = _city()
    c = Cascader(city, reg).analyse(_incident("tunnel", "TC1-L", reg))
    assert [(s.effect, s.asset) for s in c.origin] == [("ingress", "tunnel/compartment/TC1")]
    _chain(c, ("outage", "tunnel/compartment/TC1"), ("outage", "water/pump/PU1"))  # declared in city.links
    assert c.reaches_people is None


def test_the_correlator_raises_an_incident_once_when_its_cascade_reaches_people(tmp_path: Path) -> None:
    city, reg = _city()
    config = Config.load(environ={}, db=str(tmp_path / "c.duckdb"))
    store = open_store(config.db)

    def warn(sensor_id: str, t_ms: int, level: int = 2) -> Event:
        return Event(sensor=reg.idx(sensor_id), sensor_id=sensor_id, t_ms=t_ms, kind="threshold", level=level,
                     active=True, value=1.0, ref=0.0, message=f"{sensor_id} over its limit")

    try:
        t0 = 1_767_225_600_000
        corr = Correlator(city, reg, config, store)
        ch = corr.process([warn("GP-1", t0), warn("TC1-L", t0)], t0, t0)
        store.save_warnings(ch)
        gas = next(i for i in ch.incidents.values() if i.lifeline == "gas")
        tunnel = next(i for i in ch.incidents.values() if i.lifeline == "tunnel")
        assert gas.level == 3  # yellow → orange: a blast in the well beside the school
        assert tunnel.level == 2  # the flooded compartment reaches no one
        raised = [t for t in ch.timeline if t.action == "cascade_raise"]
        assert len(raised) == 1 and raised[0].incident_id == gas.id and "No. 1 School" in raised[0].detail
        ch = Correlator(city, reg, config, store).process([warn("GP-1", t0 + 60_000, 2)], t0 + 60_000, t0 + 60_000)
        assert ch.incidents[gas.id].level == 3 and not [t for t in ch.timeline if t.action == "cascade_raise"]
    finally:
        store.close()


def test_declared_links_are_read_from_city_yaml_and_a_wrong_key_is_refused_by_name(tmp_path: Path) -> None:
    d, yaml = city_copy(tmp_path)
    (d / "city.yaml").write_text(yaml + "links:\n  - [water/pump/10, water/tank/1]\n", encoding="utf-8")
    assert load_city(d).city.links == [("water/pump/10", "water/tank/1")]
    refused(d, yaml, "links:\n  - [water/pump/10, power/substation/X]\n", r"links\[0\]: no asset 'power/substation/X'")
    refused(d, yaml, "links:\n  - water/pump/10\n", r"not a \[dependent, supplier\] pair")


def test_the_api_gives_an_assets_coupling_and_an_incidents_cascade_on_the_demo_city(tmp_path: Path) -> None:
    config = Config.load(environ={}, db=str(tmp_path / "d.duckdb"), city="demo", admin_token=ADMIN_TOKEN,
                         rate_limit_per_s=0.0)
    engine = Engine(config, load_city("demo"))
    engine.start()
    try:
        with TestClient(create_app(engine, manage_engine=False), headers=AUTH) as client:
            r = client.get("/api/v1/assets/water/pump/WPU-1/coupling").json()
            assert {"key": "tunnel/compartment/TC-1", "kind": "depends"}.items() <= r["coupled"][0].items() \
                or any(c["key"] == "tunnel/compartment/TC-1" and c["kind"] == "depends" for c in r["coupled"])
            wells = client.get("/api/v1/assets/gas/pipe/GP-N1208E/coupling").json()["coupled"]
            assert wells and all(c["layer"] != "gas" and 117 < c["lon"] < 118 for c in wells)
            missing = client.get("/api/v1/assets/gas/pipe/NOPE/coupling")
            assert missing.status_code == 404 and "gas/pipe/NOPE" in missing.text
            inc = Incident(0, "gas", 2, "new", "t", 0, 0, 0, 0, 0.0, 0.0, sensors=["GM-01"],
                           assets=["drainage/junction/S-N1209"])
            c = engine.cascade(inc)
            assert c["origin"][0]["effect"] == "gas_in_space" and c["chains"]
            step = c["chains"][0][0]
            assert step["name_zh"] and step["name_en"] and step["reason_zh"] and 31 < step["lat"] < 32
    finally:
        engine.stop()
