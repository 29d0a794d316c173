"""The bridge analyst live, in the pipeline: a weaker bridge is one incident of its own, graded by
the drop; the frequency's fixed limits judge it only until the chart has learnt; an overload
beyond the design load is an incident, with its weight; a gauge's spike weighs nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from citylifeline.analysis.bridge.analyst import BridgeAnalyst
from citylifeline.analysis.bridge.modal import LEARN_DAYS
from citylifeline.batch import NEVER_MS, ReadingBatch
from citylifeline.city import CityBundle, load_city
from citylifeline.pipeline import Pipeline
from citylifeline.settings import Config
from citylifeline.store import IncidentFilter, open_store
from citylifeline.twin.bridgeyear import DAY_MS, BridgeYear, Damage
from citylifeline.twin.runner import simulate
from citylifeline.twin.scenario import scenario_from_dict
from citylifeline.warn.correlate import Correlator
from citylifeline.warn.model import Event
from tests.test_bridgeyear import START, bridge

CONFIG = Config.load(environ={})


def year_readings(demo: CityBundle, year: BridgeYear, days: range) -> list[ReadingBatch]:
    """The 2nd St bridge's frequency (BF-11) and deck thermometer (BT-11), a batch a day."""
    f, t = demo.sensors.index["BF-11"], demo.sensors.index["BT-11"]
    out = []
    for d in days:
        day = year.day(d, strain=False)
        n = len(day.freq_t_ms)
        sensor = np.repeat(np.array([[t, f]], np.int32), n, axis=0).ravel()
        out.append(ReadingBatch.of(sensor, np.repeat(day.freq_t_ms, 2), np.column_stack([day.deck_c, day.f1_hz])
                                   .ravel()))
    return out


def test_a_weaker_bridge_is_one_incident_of_its_own_and_the_limits_judge_only_while_the_chart_learns(
        tmp_path: Path) -> None:
    """Twelve spring days of the 2nd St bridge, which loses 10 % of its bending stiffness at once on
    the tenth (its frequency about 5 %): warned within the hour, level II, one incident on that
    bridge; its frequency's fixed limits are evidence once the chart has learnt its week."""
    demo = load_city("demo")
    b = bridge("B-1")
    at = START + 130 * DAY_MS + 11 * 3_600_000
    year = BridgeYear(b, START + 121 * DAY_MS, 12, (Damage(at, 0, 0.10, b.span_m / 2, b.span_m),), seed=41)
    config = Config.load(environ={}, db=str(tmp_path / "b.duckdb"), city="demo", analysts="bridge")
    store = open_store(config.db)
    try:
        batches = year_readings(demo, year, range(12))
        p = Pipeline(demo, store, config, clock=lambda: int(batches[-1].t_ms.max()))
        changes = [p.ingest(batch)[1] for batch in batches]
        analyst = next(a for a in p.analysts if isinstance(a, BridgeAnalyst))
        f = demo.sensors.index["BF-11"]
        first = analyst.charts[0].first_ms
        assert p.correlator.judged_from[f] == first + LEARN_DAYS * DAY_MS == START + 128 * DAY_MS
        damage = [e for ch in changes for e in ch.events if e.kind == "bridge_damage"]
        assert len(damage) == 1 and at <= damage[0].t_ms <= at + 3_600_000 and damage[0].level == 3  # II
        assert "疑似结构损伤" in damage[0].message and "suspected structural damage" in damage[0].message
        limits = [e for ch in changes for e in ch.events if e.sensor_id == "BF-11" and e.kind == "threshold"]
        assert limits and all("evidence" in e.message for e in limits if e.t_ms >= first + LEARN_DAYS * DAY_MS)
        incidents = store.incidents(IncidentFilter())
        assert [(i.lifeline, i.assets, i.level) for i in incidents] == [("bridge", ["bridge/bridge/B-1"], 3)]
        state = json.loads(json.dumps(analyst.status()))["bridges"][0]  # as the API gives it
        assert state["phase"] == "watching" and 3.5 <= state["alarm"]["drop_pct"] <= 6.5
        assert state["assessment"]["class"] == "D" and abs(state["assessment"]["drop_pct"] - damage[0].detail * 100) < 1
    finally:
        store.close()


def test_the_limits_still_open_incidents_before_the_chart_has_learnt(tmp_path: Path) -> None:
    """A frequency limit's warning opens an incident before the sensor is judged, and is evidence after."""
    demo = load_city("demo")
    config = Config.load(environ={}, db=str(tmp_path / "c.duckdb"), city="demo")
    store = open_store(config.db)
    f = demo.sensors.index["BF-11"]
    since = np.full(len(demo.sensors), NEVER_MS, np.int64)
    since[f] = 1_000_000
    try:
        c = Correlator(demo.city, demo.sensors, config, store, judged_from=since)

        def low(t_ms: int) -> Event:
            return Event(sensor=f, sensor_id="BF-11", t_ms=t_ms, kind="threshold", level=3, active=True,
                         value=2.3, ref=2.38, message="low")

        early = c.process([low(999_000)], 999_000, 999_000)
        assert len(early.incidents) == 1
        c.forget_closed()
        for inc in c.active.values():
            inc.state = "resolved"
        c.forget_closed()
        late = c.process([low(1_000_000)], 1_000_000, 1_000_000)
        assert late.incidents == {} and "evidence" in late.events[0].message
    finally:
        store.close()


def test_an_overload_beyond_the_design_load_is_an_incident_with_its_weight_and_a_spike_weighs_nothing(
        tmp_path: Path) -> None:
    """A 150 t vehicle crossing the 2nd St bridge at 8 m/s: one incident, level II, its weight within
    a sixth from the 1 Hz gauge (the demo twin crosses a point load; the analyst takes a heavy load
    for a 14 m lorry's axles, 11 % more); the strain gauge's fixed limits, which it passes, are
    evidence; spikes on the 6th St bridge's gauge, higher still, are a ticket and weigh nothing."""
    demo = load_city("demo")
    doc = {"duration": "6h", "start": "2026-05-10T00:00:00+08:00", "seed": 7,
           "weather": {"temperature_c": {"mean": 18, "swing": 8}},
           "incidents": [{"type": "bridge_overload", "place": "bridge/bridge/B-1", "start": "3h", "magnitude": 150}],
           "faults": [{"sensor": "BS-31", "type": "spike", "start": "2h", "magnitude": 30.0}]}
    r = simulate(scenario_from_dict(doc), demo, lifelines=("bridge",)).readings
    idx = np.array([demo.sensors.index[s] for s in r.sensor_id], np.int32)
    o = np.lexsort((idx, r.t_ms))
    config = Config.load(environ={}, db=str(tmp_path / "o.duckdb"), city="demo", analysts="bridge")
    store = open_store(config.db)
    try:
        p = Pipeline(demo, store, config, clock=lambda: int(r.t_ms.max()))
        changes = [p.ingest(ReadingBatch.of(idx[o][k:k + 20_000], r.t_ms[o][k:k + 20_000], r.value[o][k:k + 20_000]))[1]
                   for k in range(0, len(o), 20_000)]
        told = [e for ch in changes for e in ch.events if e.kind.startswith("bridge_")]
        assert [(e.sensor_id, e.kind, e.level) for e in told] == [("BS-11", "bridge_overload", 3)]  # II
        assert 140 <= told[0].value <= 175 and f"{told[0].value:.0f}" in told[0].message
        assert abs(told[0].t_ms - (int(r.t_ms.min()) + 3 * 3_600_000)) <= 30_000
        spikes = [t for ch in changes for t in ch.tickets.values() if t.sensor_id == "BS-31"]
        assert spikes  # the health detectors saw the spikes; the analyst weighed none of them
        strain_limits = [e for ch in changes for e in ch.events if e.sensor_id == "BS-11" and e.kind == "threshold"
                         and e.active]
        assert strain_limits and all("evidence" in e.message for e in strain_limits)
        incidents = store.incidents(IncidentFilter())
        assert [(i.lifeline, i.sensors, i.level) for i in incidents if i.lifeline == "bridge"] == [
            ("bridge", ["BS-11"], 3)]
        state = next(x for x in p.analysts[0].status()["bridges"] if x["asset"] == "bridge/bridge/B-1")
        assert state["overweight_by_day"][0]["vehicles"] == 1 and state["weighs_from_t"] is not None
    finally:
        store.close()


def test_the_bridge_benchmark_measures_the_analyst_against_the_limits() -> None:
    """``citylifeline bench bridges`` at a small size: its table, and what it measures holds — a 10 %
    loss is warned within the hour in every held-out run, the weights at 20 Hz are within 5 %
    (median), and the analyst raises fewer false damage warnings than the limit."""
    from citylifeline.bench import bridges

    r = bridges.run(load_days=2, healthy_days=20)
    r["command"] = "citylifeline bench bridges --days 2 --healthy-days 20"
    md = bridges.markdown(r)
    assert md.startswith("<!-- bridges -->") and "| 10 % at once of the bending stiffness" in md
    ten = [x for x in r["damage"] if x["damage"] == "10 % at once"]
    assert ten and all(x["analyst_h"] is not None and x["analyst_h"] <= 1.0 for x in ten)
    fast = next(x for x in r["loads"] if x["rate"] == "20 Hz")
    assert fast["weighed_alone"] > 100 and fast["median_error"] < 0.05 and fast["incidents_lawful"] == 0
    assert sum(x["analyst"] for x in r["false"]) < sum(x["limit"] for x in r["false"])


def test_fatigue_is_counted_live_as_a_whole_days_rainflow_would_and_assessed() -> None:
    """A May day of the 2nd St bridge, its midspan gauge at 20 Hz in batches of a minute: the analyst's
    Miner's sum is the whole day's rainflow count (``fatigue.damage``) within a percent, the lorries'
    cycles counted, the rate judged adequate, the life left given, and the 08:00 and 20:00 assessments
    say it in both languages; the same gauge at 1 Hz is said to be indicative only."""
    from citylifeline.analysis.bridge import fatigue

    demo = load_city("demo")
    year = BridgeYear(bridge("B-1"), START + 130 * DAY_MS, 1, seed=12)  # from midnight in Hefei
    day = year.day(0)
    g = demo.sensors.index["BS-11"]
    t = day.strain_t_ms()
    whole = fatigue.damage(day.strain_ue[0], fatigue.DETAILS[fatigue.DEFAULT_DETAIL], gate_ue=8.0)[0]
    for step, rate in ((1, "20 Hz"), (20, "1 Hz")):
        a = BridgeAnalyst(demo.city, demo.sensors, CONFIG)
        for k in range(0, len(t), 60 * 20):
            part = slice(k, k + 60 * 20, step)
            a.update(ReadingBatch.of(np.full(len(t[part]), g, np.int32), t[part], day.strain_ue[0][part] * 1e-6))
        state = json.loads(json.dumps(a.status()))["bridges"][0]
        gauge = next(x for x in state["fatigue"] if x["sensor"] == "BS-11")
        assert [x["t_ms"] % DAY_MS for x in state["assessments"]] == [0, 12 * 3_600_000]  # 08:00 and 20:00 Hefei
        reason = state["assessment"]["reasons"][-1]
        assert "Miner" in reason["zh"] and "Miner's sum" in reason["en"]
        if rate == "20 Hz":
            assert gauge["adequate"] and 19.9 < gauge["hz"] < 20.1
            assert gauge["damage"] == pytest.approx(whole, rel=0.01)  # the gate: eight of the gauge's noise, 1 µε
            assert gauge["cycles"] > (day.vehicles.gross_kg > 15_000).sum()
            assert gauge["remaining_years"] is None or gauge["remaining_years"] > 1e6  # None: no end foreseen
            assert gauge["damage_per_day"] == pytest.approx(whole, rel=0.01)
            assert state["overweight_by_day"] and max(x["heaviest_t"] for x in state["overweight_by_day"]) < 120
            assert "indicative" not in reason["en"]
        else:
            assert not gauge["adequate"] and "indicative" in reason["en"] and "仅供参考" in reason["zh"]


def test_raw_acceleration_at_100_hz_gives_the_chart_its_first_frequency_every_ten_minutes() -> None:
    """A bridge whose accelerometer sends 100 Hz samples in blocks of ten seconds (no gateway identifying
    the frequency): each ten minutes closed gives the chart one first frequency, as near the true one as
    the gateway's own identification is (``FREQ_ID_SIGMA``); a window with a third of its samples lost
    gives none; the history and the checkpoint carry it."""
    from citylifeline.city.sensors import SensorRegistry, SensorSpec
    from citylifeline.twin import bridge as twin
    from citylifeline.twin.bridgeyear import FREQ_ID_SIGMA

    demo = load_city("demo")
    key = "bridge/bridge/B-1"
    registry = SensorRegistry([SensorSpec("BA-R1", "acceleration", key, "bridge", interval_s=0.01),
                               SensorSpec("BT-R1", "temperature", key, "bridge", interval_s=600)])
    b = bridge("B-1")
    hours = 3
    y = BridgeYear(b, START, 1, seed=8)
    v = y.vehicles(0, np.random.default_rng(8))
    traffic = twin.Traffic((v.entry_ms - START) / 1000.0, v.gross_kg, v.speed_ms)
    accel = twin.vibration(traffic, hours * 3600.0, np.full(hours * 6, b.f1_hz), b.mass_kg_m,
                           np.random.default_rng(9), hz=100)
    t = START + np.arange(len(accel)) * 10
    keep = ~((t >= START + 3_600_000) & (t < START + 4_200_000) & (np.arange(len(t)) % 3 == 0))  # a third lost
    a = BridgeAnalyst(demo.city, registry, CONFIG)
    for k in range(0, len(t), 1000):  # a message every ten seconds
        part = np.flatnonzero(keep[k:k + 1000]) + k
        sensor = np.r_[np.zeros(len(part), np.int32), [1]].astype(np.int32)
        a.update(ReadingBatch.of(sensor, np.r_[t[part], t[part[-1]]], np.r_[accel[part], 15.0]))
    history = a.status()["bridges"][0]["f1_history"]
    assert [h["t_ms"] for h in history] == [START + h * 3_600_000 for h in range(hours)]
    found = np.array([f for h in history for f in [h["f_hz"]]])
    assert np.all(np.abs(found / b.f1_hz - 1) < 4 * FREQ_ID_SIGMA)
    assert a.charts[0].first_ms == START + 600_000  # the first window's end
    windows = a.charts[0].bins.sum()  # every window identified is learnt in the chart's first week
    assert windows == hours * 6 - 1 - 1  # the last still open, the one with a third lost gave nothing
    again = BridgeAnalyst(demo.city, registry, CONFIG)
    again.restore(a.checkpoint())
    assert again.windows.filled[0] == a.windows.filled[0] > 0 and again.status()["bridges"][0]["f1_history"] == history


def test_a_batch_sent_sensor_by_sensor_charts_as_one_sent_in_time_order() -> None:
    """Four days of the 2nd St bridge's thermometer and frequency, a batch a day, sent time by time or
    sensor by sensor (all the thermometer's readings first, as a file export has them): the same chart
    and history, for each frequency takes the deck's reading of its own time."""
    demo = load_city("demo")
    year = BridgeYear(bridge("B-1"), START + 130 * DAY_MS, 4, seed=5)
    batches = year_readings(demo, year, range(4))
    states = []
    for by_sensor in (False, True):
        a = BridgeAnalyst(demo.city, demo.sensors, CONFIG)
        for batch in batches:
            a.update(batch.take(np.argsort(batch.sensor, kind="stable")) if by_sensor else batch)
        states.append((a.charts[0].xtx.copy(), a.status()["bridges"][0]["f1_history"]))
    assert states[0][0].any() and np.array_equal(states[0][0], states[1][0])
    assert states[0][1] == states[1][1] and all(h["deck_c"] is not None for h in states[0][1])
