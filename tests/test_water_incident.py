"""A burst in the demo city, analysed on its incident: the pipe, the valves to close, who loses water."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from citylifeline.analysis.isolation import isolation_plan
from citylifeline.analysis.water.incident import WaterIncidentAnalyst
from citylifeline.api.app import create_app
from citylifeline.batch import ReadingBatch
from citylifeline.city.bundle import load_city
from citylifeline.engine import Engine
from citylifeline.settings import Config
from citylifeline.store.base import IncidentFilter
from citylifeline.twin.runner import simulate
from citylifeline.twin.scenario import scenario_from_dict
from citylifeline.warn.model import Incident
from tests.conftest import ADMIN_TOKEN, AUTH

BURST_AT = "W-N1011"  # by Binhu Hospital, as in the shipped burst scenario


@pytest.fixture(scope="module")
def burst_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    bundle = load_city("demo")
    scenario = scenario_from_dict({
        "duration": "4h", "seed": 3, "start": "2026-03-24T04:00:00+08:00",
        "incidents": [{"type": "burst", "place": f"water/junction/{BURST_AT}", "start": "2h40min", "magnitude": 0.12}]})
    run = simulate(scenario, bundle).readings
    config = Config.load(environ={}, db=str(tmp_path_factory.mktemp("burst") / "burst.duckdb"), city="demo",
                         admin_token=ADMIN_TOKEN, rate_limit_per_s=0.0)
    engine = Engine(config, bundle)
    order = np.argsort(run.delivered_ms, kind="stable")
    idx = np.array([engine.registry.idx(s) for s in run.sensor_id[order]])
    engine.pipeline.ingest(ReadingBatch.of(idx, run.t_ms[order], run.value[order]))
    return engine


def water_incident(engine: Engine):  # type: ignore[no-untyped-def]
    found = [i for i in engine.store.incidents(IncidentFilter()) if i.lifeline == "water"]
    assert len(found) == 1
    return found[0]


def test_the_burst_is_placed_on_a_pipe_of_its_junction_with_the_valves_and_the_people(burst_engine: Engine) -> None:
    inc = water_incident(burst_engine)
    analyst = WaterIncidentAnalyst(burst_engine.city, burst_engine.registry)
    got = analyst.analyse(burst_engine.store, inc, burst_engine.clock())
    assert got is not None and got["status"] == "placed"
    wn = analyst.wn
    pipe = wn.get_link(got["localisation"]["pipe"])
    assert BURST_AT in (pipe.start_node_name, pipe.end_node_name)
    assert 0 < got["localisation"]["confidence"] <= 1 and got["localisation"]["leak_m3h"] > 50
    plan = isolation_plan(wn, analyst.valves, pipe.name)
    assert [(v["node"], v["pipe"]) for v in got["isolation"]["valves"]] == list(plan.valves) and plan.valves
    impact = got["impact"]
    assert impact["households"] > 0 and impact["population"] > impact["households"]
    assert impact["hospitals"] >= 1  # Binhu Hospital's block is served from the burst junction
    assert analyst.analyse(burst_engine.store, inc, burst_engine.clock()) is got  # cached: its first hour is in


def test_impact_counts_each_place_by_the_share_of_its_junctions_left_dry(burst_engine: Engine) -> None:
    analyst = WaterIncidentAnalyst(burst_engine.city, burst_engine.registry)
    place, serving = next((p, s) for p, s in analyst.served if p.props.get("households") and len(s) >= 2)
    half = set(serving[: len(serving) // 2])
    got = analyst.impact(half)
    others = sum(float(p.props.get("households") or 0) * sum(j in half for j in s) / len(s)
                 for p, s in analyst.served if p is not place)
    mine = float(place.props["households"]) * len(half) / len(serving)
    assert got["households"] == int(np.floor(mine + others + 0.5))
    assert analyst.impact(set())["households"] == 0 and analyst.impact(set())["places"] == []


def test_a_burst_that_warned_only_in_its_first_minutes_is_placed_on_the_hour_after(burst_engine: Engine) -> None:
    """A burst keeps the pressures down without warning again: the hour after its first warning is
    read up to now, not up to its last warning (the demo's burst once stayed 'waiting' for good)."""
    inc = replace(water_incident(burst_engine), id=999)
    inc = replace(inc, t_last_ms=inc.t_first_ms + 120_000)
    analyst = WaterIncidentAnalyst(burst_engine.city, burst_engine.registry)
    early = analyst.analyse(burst_engine.store, inc, inc.t_first_ms + 300_000)
    assert early is not None and early["status"] == "waiting"  # two five-minute steps after it: too few yet
    got = analyst.analyse(burst_engine.store, inc, burst_engine.clock())
    assert got is not None and got["status"] == "placed"
    assert got["based_on"]["to_ms"] - got["based_on"]["first_warning_ms"] == 3_600_000
    pipe = analyst.wn.get_link(got["localisation"]["pipe"])
    assert BURST_AT in (pipe.start_node_name, pipe.end_node_name)


def test_a_pipe_shut_is_placed_as_one_where_the_analyst_judged_it_a_network_change(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A valve shut by Binhu Hospital: placed as a pipe shut it is found (its segment's valves are the
    ones to check); placed as a leak, the change is spread over the whole city."""
    bundle = load_city("demo")
    scenario = scenario_from_dict({
        "duration": "4h", "seed": 3, "start": "2026-03-24T04:00:00+08:00",
        "incidents": [{"type": "valve_closure", "place": "water/pipe/WP-N1206N", "start": "2h40min"}]})
    run = simulate(scenario, bundle, lifelines=("water",)).readings
    config = Config.load(environ={}, db=str(tmp_path_factory.mktemp("shut") / "shut.duckdb"), city="demo",
                         admin_token=ADMIN_TOKEN, rate_limit_per_s=0.0)
    engine = Engine(config, bundle)
    try:
        order = np.argsort(run.delivered_ms, kind="stable")
        idx = np.array([engine.registry.idx(s) for s in run.sensor_id[order]])
        engine.pipeline.ingest(ReadingBatch.of(idx, run.t_ms[order], run.value[order]))
        analyst = WaterIncidentAnalyst(engine.city, engine.registry)
        t0 = (scenario.start_ms + 160 * 60_000) // 300_000 * 300_000 + 300_000
        shut = analyst._analyse(engine.store, t0, t0 + 3_600_000, shut=True)
        leak = analyst._analyse(engine.store, t0, t0 + 3_600_000, shut=False)
        admin = engine.access.get("admin")
        engine.start()
        engine.create_works(admin, "test", "water", "water/pipe/WP-N1206N", "close",
                            scenario.start_ms + 160 * 60_000, None, "the valve shut on purpose").result(30)
        inc = Incident(1, "water", 4, "new", "low pressure", t0, t0, t0, t0, 0.0, 0.0)  # a warning it raised
        ordered = analyst.analyse(engine.store, inc, t0 + 3_600_000)
    finally:
        engine.stop()
    assert shut["kind"] == "network_change" and leak["kind"] == "leak"
    wn = analyst.wn
    ends = {wn.get_link("WP-N1206N").start_node_name, wn.get_link("WP-N1206N").end_node_name}
    found = wn.get_link(shut["localisation"]["pipe"])
    assert ends & {found.start_node_name, found.end_node_name}
    assert shut["localisation"]["confidence"] > 0.3 > 0.05 > leak["localisation"]["confidence"]
    assert shut["isolation"]["valves"]  # the valves to check
    assert ordered is not None and ordered["localisation"]["leak_m3h"] < 0.1 * leak["localisation"]["leak_m3h"]


def test_the_incident_detail_carries_the_analysis(burst_engine: Engine) -> None:
    inc = water_incident(burst_engine)
    with TestClient(create_app(burst_engine), headers=AUTH) as client:
        d = client.get(f"/api/v1/incidents/{inc.id}").json()
    assert d["water"]["status"] == "placed"
    assert {"pipe", "lon", "lat", "radius_m", "confidence", "candidates"} <= set(d["water"]["localisation"])
    assert d["water"]["isolation"]["valves"] and all("lon" in v for v in d["water"]["isolation"]["valves"])

