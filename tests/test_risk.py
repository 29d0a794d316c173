"""The four-colour risk map (issue 29): asset attributes from GIS files, likelihood × consequence on the
5 × 5 matrix, history, works and live incidents, the construction-site register over the API, and the
sensors beside a site watched more closely."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import LineString, Point, box

from citylifeline.api import create_app
from citylifeline.cascade.coupling import couple
from citylifeline.city import load_city
from citylifeline.city.model import City, Layer
from citylifeline.city.sensors import SensorRegistry, SensorSpec
from citylifeline.engine import Engine
from citylifeline.risk import factors as fx
from citylifeline.risk.riskmap import RiskBase, RiskInputs, Site, assess
from citylifeline.risk.sites import ConstructionSite
from citylifeline.settings import Config
from citylifeline.store import open_store
from citylifeline.warn.correlate import Correlator
from citylifeline.warn.model import Event
from tests.conftest import AUTH, city_copy, refused


def _city() -> City:
    """An old cast-iron water main beside a school and a new PE one far from anyone, each 500 m."""
    city = City("t", "EPSG:32650")
    water, places = Layer("water"), Layer("places")
    for name, y, props in (("OLD", 0.0, {"material": "grey_cast_iron", "install_year": 1978, "soil": "corrosive"}),
                           ("NEW", 2000.0, {"material": "pe", "install_year": 2016, "soil": "normal"})):
        water.add_node("junction", f"{name}-a", Point(0, y))
        water.add_node("junction", f"{name}-b", Point(500, y))
        water.add_link("pipe", name, f"water/junction/{name}-a", f"water/junction/{name}-b",
                       LineString([(0, y), (500, y)]), length_m=500.0, diameter_m=0.3, **props)
    places.add_feature("school", "S1", box(200, 20, 300, 80), pupils=2400, label="No. 8 Middle School")
    city.add_layer(water)
    city.add_layer(places)
    return city


def test_an_old_cast_iron_main_by_a_school_is_orange_and_a_new_pe_one_far_from_people_blue() -> None:
    city = _city()
    base = RiskBase(city, couple(city))
    m = assess(base)
    old, new = base.index["water/pipe/OLD"], base.index["water/pipe/NEW"]
    # per km a year: 0.21 × e^(0.03 × 18) × 2 (corrosive) ≈ 0.72 → L4; severity 2 + school + 2,400 people = 4
    age = date.today().year - 1978
    assert m.f_per_year[old] == pytest.approx(0.21 * np.exp(0.03 * (age - 30)) * 2)
    assert (m.likelihood[old], m.severity[old], m.risk[old], m.level[old]) == (4, 4, 16, 3)  # orange
    assert (m.likelihood[new], m.severity[new], m.level[new]) == (1, 2, 1)  # blue
    words = [en for _, en in m.reasons(old)]
    assert f"grey cast iron, laid 1978 ({age} years)" in words[0] and "a metal pipe in corrosive soil" in words
    assert any("school" in w for w in words) and any("2400 people" in w for w in words)
    assert m.top(1) == [old]
    cells = m.grid()
    assert [c["level"] for c in cells if c["assets"]["orange"]] == [3]  # the old main, in the cell of its middle
    assert sum(sum(c["assets"].values()) for c in cells) == len(base)


def test_incidents_alarms_faults_works_and_an_open_incident_raise_the_likelihood() -> None:
    city = _city()
    base = RiskBase(city, couple(city))
    new = base.index["water/pipe/NEW"]
    quiet = assess(base).f_per_year[new]
    history = assess(base, RiskInputs(incidents={"water/pipe/NEW": 2}, alarms={"water/pipe/NEW": 5}))
    # as a gamma-Poisson update with the rate worth 5 years: (2 + 0.2 × 5) failures of 0.5 km over 5 years more
    assert history.f_per_year[new] == pytest.approx(quiet + 3.0 / 0.5 / 5)
    assert history.likelihood[new] == 5 and "2 incidents and 5 alarms lately" in [e for _, e in history.reasons(new)]
    site = Site(1, "Metro Line 8 shaft", box(240, 1990, 260, 2010).buffer(0))
    works = assess(base, RiskInputs(sites=[site], faulty={"water/pipe/NEW"}))
    assert works.f_per_year[new] == pytest.approx(quiet * fx.WORKS_FACTOR["water"] * fx.BLIND_FACTOR)
    assert works.site_of[base.index["water/pipe/OLD"]] == -1  # 2 km away
    assert any("Metro Line 8 shaft" in e for _, e in works.reasons(new))
    failing = assess(base, RiskInputs(failing={"water/pipe/NEW": 3}))
    assert failing.likelihood[new] == 5 and failing.risk[new] == 5 * failing.severity[new]


def test_asset_attributes_come_from_a_geopackage_or_a_shapefile_and_a_wrong_value_is_refused(tmp_path: Path) -> None:
    d, yaml = city_copy(tmp_path)
    geometry = [shapely.to_wkb(LineString([(526600, 3526090), (526640, 3526100)]))] * 3

    def write(name: str, years: list[int], driver: str) -> None:
        table = pa.table({"GIS_ID": ["20", "101", "NOT-IN-MODEL"], "YEAR": years, "MAT": ["grey_cast_iron", "pe", "pe"],
                          "geometry": pa.array(geometry, pa.binary())})
        pyogrio.write_arrow(table, d / name, driver=driver, geometry_name="geometry", geometry_type="LineString",
                            crs="EPSG:4548")

    write("mains.gpkg", [1975, 2012, 2000], "GPKG")
    write("mains.shp", [1975, 2012, 2000], "ESRI Shapefile")
    for f in ("mains.gpkg", "mains.shp"):
        spec = (f"attributes:\n  - {{file: {f}, key: GIS_ID, prefix: water/pipe/, "
                "rename: {YEAR: install_year, MAT: material}}\n")
        (d / "city.yaml").write_text(yaml + spec, encoding="utf-8")
        city = load_city(d).city
        assert city.asset("water/pipe/20").props["install_year"] == 1975, f
        assert city.asset("water/pipe/101").props["material"] == "pe", f
    write("bad.gpkg", [1975, 3026, 2000], "GPKG")
    refused(d, yaml, "attributes:\n  - {file: bad.gpkg, key: GIS_ID, prefix: water/pipe/, "
                     "rename: {YEAR: install_year}}\n",
            r"bad\.gpkg, water/pipe/101: install_year = 3026 is not a whole year")
    refused(d, yaml, "attributes:\n  - {file: mains.gpkg, key: GIS_ID}\n",
            r"none of the 3 features of mains\.gpkg is an asset of the city")
    refused(d, yaml, "attributes:\n  - {file: mains.gpkg, key: ID}\n",
            "has no column 'ID'; its columns are GIS_ID, YEAR, MAT")


def test_a_construction_site_over_the_api_raises_the_risk_within_reach_until_it_is_finished(engine: Engine) -> None:
    with TestClient(create_app(engine, manage_engine=False), headers=AUTH) as c:
        before = c.get("/api/v1/risk/assets/water/pipe/20").json()
        lon, lat = before["lon"], before["lat"]
        body = {"name": "地铁8号线竖井 Metro Line 8 shaft", "kind": "excavation", "radius_m": 15.0,
                "geometry": {"type": "Point", "coordinates": [lon, lat]}, "contractor": "CR 14th Bureau",
                "permit": "HF-2026-118", "start": time.time() - 3600}
        r = c.post("/api/v1/construction-sites", json=body)
        assert r.status_code == 201, r.text
        site = r.json()
        assert site["state"] == "open" and site["geometry"]["type"] == "Polygon"
        during = c.get("/api/v1/risk/assets/water/pipe/20").json()
        assert during["f_per_year"] == pytest.approx(before["f_per_year"] * fx.WORKS_FACTOR["water"], rel=1e-3)
        assert any("Metro Line 8 shaft" in x["en"] for x in during["reasons"])
        assert c.get("/api/v1/construction-sites", params={"state": "open"}).json()[0]["id"] == site["id"]
        assert c.post(f"/api/v1/construction-sites/{site['id']}/finish").json()["state"] == "finished"
        after = c.get("/api/v1/risk/assets/water/pipe/20").json()
        assert after["f_per_year"] == pytest.approx(before["f_per_year"])
        assert c.post(f"/api/v1/construction-sites/{site['id']}/cancel").status_code == 400  # already finished
        bad = c.post("/api/v1/construction-sites",
                     json=body | {"geometry": {"type": "Point", "coordinates": [lat, 400]}})
        assert bad.status_code == 400 and bad.json()["field"] == "geometry"
        assert "longitude first" in bad.json()["detail"]
        bad = c.post("/api/v1/construction-sites", json=body | {"radius_m": None})
        assert bad.status_code == 400 and bad.json()["field"] == "radius_m"
        audit = [a["action"] for a in c.get("/api/v1/audit").json()]
        assert "site.create" in audit and "site.finish" in audit
        summary = c.get("/api/v1/risk").json()
        assert sum(summary["by_colour"].values()) == summary["assets"] > 0
        assert summary["cells"]["features"] and summary["cells"]["features"][0]["geometry"]["type"] == "Polygon"
        top = c.get("/api/v1/risk/top", params={"n": 5}).json()
        assert len(top) == 5 and top[0]["risk"] >= top[-1]["risk"] and top[0]["reasons"]
        assert all(t["sensors"] or t["watch"]["en"].startswith("no sensor watches it") for t in top)


def test_a_sensor_beside_a_site_in_force_opens_an_incident_on_one_ai_sign(tmp_path: Path) -> None:
    city = _city()
    reg = SensorRegistry([SensorSpec("P-OLD", "pressure", "water/pipe/OLD", "water", x=250.0, y=0.0),
                          SensorSpec("P-NEW", "pressure", "water/pipe/NEW", "water", x=250.0, y=2000.0)])
    config = Config.load(environ={}, db=str(tmp_path / "s.duckdb"))
    store = open_store(config.db)
    t0 = 1_767_225_600_000

    def sign(sensor_id: str, t_ms: int) -> Event:
        return Event(sensor=reg.idx(sensor_id), sensor_id=sensor_id, t_ms=t_ms, kind="anomaly", level=1, active=True,
                     value=1.0, ref=0.0, message=f"{sensor_id} unusual", detail=6.0)

    site = ConstructionSite(1, "Metro Line 8 shaft", "excavation", box(240, 10, 260, 30).wkt, "", "", t0,
                            t0 + 3_600_000, "open", t0, "test", t0)
    try:
        corr = Correlator(city, reg, config, store)
        corr.sites([site])
        ch = corr.process([sign("P-OLD", t0 + 60_000), sign("P-NEW", t0 + 60_000)], t0, t0)
        assert [i.sensors for i in ch.incidents.values()] == [["P-OLD"]]  # beside the dig: one sign is enough
        assert "beside construction site Metro Line 8 shaft" in ch.events[0].message
        late = corr.process([sign("P-OLD", t0 + 7_200_000)], t0, t0)  # the works are over
        assert [i.event_count for i in late.incidents.values()] in ([], [2])  # joins it or nothing: opens none
    finally:
        store.close()
