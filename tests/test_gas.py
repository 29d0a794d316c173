"""The gas lifeline end to end: the twin's biogas and leaks, the analyst in the live pipeline, the
incidents it opens (gas leak for the gas company, dangerous sewer gas for the drainage owner),
and what the incident tells a crew."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from citylifeline.analysis.gas.locate import MainsGrid, Sighting
from citylifeline.batch import ReadingBatch
from citylifeline.city import CityBundle, load_city
from citylifeline.pipeline import Pipeline
from citylifeline.settings import Config
from citylifeline.store import open_store
from citylifeline.twin.runner import TwinRun, simulate
from citylifeline.twin.scenario import scenario_from_dict

LEL = 0.0005
SCHOOL = "gas/junction/G-N1209"


@pytest.fixture(scope="module")
def demo() -> CityBundle:
    return load_city("demo")


def run(bundle: CityBundle, hours: int, mean_c: float, incidents: list[dict[str, object]] | None = None,
        seed: int = 5, start: str = "2026-08-03T00:00:00+08:00") -> TwinRun:
    doc = {"duration": f"{hours}h", "start": start, "seed": seed, "weather": {"temperature_c": {"mean": mean_c,
                                                                                               "swing": 8}},
           "incidents": incidents or []}
    return simulate(scenario_from_dict(doc), bundle, ("gas",))


def series(r: TwinRun, sensor: str) -> np.ndarray:
    m = r.readings.sensor_id == sensor
    return r.readings.value[m][np.argsort(r.readings.t_ms[m])]


@pytest.fixture
def pipeline(demo: CityBundle, tmp_path: Path) -> Iterator[Pipeline]:
    config = Config.load(environ={}, db=str(tmp_path / "gas.duckdb"))
    p = Pipeline(demo, open_store(config.db), config)
    yield p
    p.store.close()


def ingest(p: Pipeline, r: TwinRun, batch_minutes: int = 10) -> None:
    """The run's readings in delivery order, ``batch_minutes`` of delivery per batch."""
    idx = np.array([p.registry.index[s] for s in r.readings.sensor_id], dtype=np.int32)
    o = np.argsort(r.readings.delivered_ms, kind="stable")
    d = r.readings.delivered_ms[o]
    cuts = np.searchsorted(d, np.arange(d[0], d[-1] + batch_minutes * 60_000 * 2, batch_minutes * 60_000))
    for a, b in itertools.pairwise(cuts):
        if b > a:
            rows = o[a:b]
            p.ingest(ReadingBatch.of(idx[rows], r.readings.t_ms[rows], r.readings.value[rows]))


def jitter_beyond_noise(v: np.ndarray) -> float:
    """Mean minute-to-minute change over the mean, less what the detector's own noise (0.5 %LEL, 2 %) gives."""
    m = v.mean()
    noise = 1.128 * np.sqrt(2 * ((0.5 * LEL) ** 2 + (0.02 * m) ** 2)) / m
    return float(np.mean(np.abs(np.diff(v))) / m - noise)


# ---- the twin ----------------------------------------------------------------------------------

def test_biogas_follows_warmth_and_peaks_at_night_and_a_few_manholes_reach_tens_of_lel(demo: CityBundle) -> None:
    from citylifeline.bench.gas_cases import dense

    every = dense(demo)
    hot, cold = run(every, 48, 32.0), run(every, 48, 6.0)
    manholes = sorted({s for s in hot.readings.sensor_id if str(s).startswith("DM-")})
    peak_hot = np.array([series(hot, s).max() for s in manholes]) / LEL
    mean_cold = np.array([series(cold, s).mean() for s in manholes]) / LEL
    mean_hot = np.array([series(hot, s).mean() for s in manholes]) / LEL
    assert np.median(mean_hot) > 2 * np.median(mean_cold)  # methanogens slow in the cold
    assert (peak_hot > 20).sum() >= 3 and np.median(peak_hot) < 15  # tens of %LEL in a few, not in most
    t = np.sort(np.unique(hot.readings.t_ms[hot.readings.sensor_id == manholes[0]]))
    hour = ((t - t[0]) // 3_600_000) % 24
    night = np.mean([series(hot, s)[(hour >= 1) & (hour < 5)].mean() for s in manholes])
    day = np.mean([series(hot, s)[(hour >= 8) & (hour < 12)].mean() for s in manholes])
    assert night > day  # less sewage at night: longer retention, more methane (Short et al. 2017)
    wells = [s for s in hot.readings.sensor_id if str(s).startswith("DC-")]
    assert np.median([series(hot, s).mean() for s in set(wells)]) < 1 * LEL  # most cable wells hold none


def test_leak_gas_fluctuates_more_than_biogas_and_carries_ethane(demo: CityBundle) -> None:
    leak = {"type": "gas_leak", "place": SCHOOL, "start": "2h", "magnitude": 4.0, "growth": "10min"}
    r = run(demo, 8, 30.0, [leak])
    well, manhole = series(r, "GM-02"), series(r, "GM-11")  # the school's cable well; a hot manhole far away
    after = well[240:]
    assert after.mean() > 10 * LEL
    assert jitter_beyond_noise(after) > 2 * jitter_beyond_noise(manhole[240:])


# ---- the analyst, live ---------------------------------------------------------------------------

def test_a_leak_by_the_school_opens_a_gas_incident_before_any_methane_limit_with_suspects_and_danger(
        pipeline: Pipeline, demo: CityBundle) -> None:
    leak = {"type": "gas_leak", "place": SCHOOL, "start": "10h", "magnitude": 3.0, "growth": "10min"}
    r = run(demo, 14, 24.0, [leak])
    ingest(pipeline, r)
    start = r.truth[0].start_ms
    gas = [i for i in pipeline.store.active_incidents() if i.lifeline == "gas"]
    assert len(gas) == 1, [i.title for i in gas]
    inc = gas[0]
    events = pipeline.store.events(incident_id=inc.id, limit=1000)
    first_leak = min(e.t_ms for e in events if e.kind == "gas_leak")
    assert start < first_leak < start + 60 * 60_000
    breaches = [e.t_ms for e in events if e.kind == "threshold" and e.active]
    assert not breaches or first_leak <= min(breaches)  # early: before the 10 %LEL limit, or with it
    assert all("evidence" in e.message for e in events if e.kind == "threshold")
    assert "leak" in inc.title and "泄漏" in inc.title
    analyst = pipeline.analysts[0]
    a = analyst.analyse(inc, pipeline.store)
    assert a["cause"] == "leak" and a["judgement"][0]["reasons"]["zh"]
    ends = {demo.city.asset(c["pipe"]).props["start"] for c in a["suspects"]["candidates"][:3]} | \
        {demo.city.asset(c["pipe"]).props["end"] for c in a["suspects"]["candidates"][:3]}
    assert SCHOOL in ends  # the leaking joint is an end of a top-3 suspect
    assert np.hypot(a["suspects"]["x"] - r.truth[0].x, a["suspects"]["y"] - r.truth[0].y) <= 15.0
    keys = [s["key"] for s in a["spaces"]]
    assert "tunnel/cable_well/C-N1209" in keys and any(not s["measured"] for s in a["spaces"])
    assert any(p["kind"] == "school" for p in a["people"]) and a["cordon_m"] >= 30
    assert a["isolation"]["valves"] and any("valve" in x["en"] for x in a["actions"])


def test_a_hot_summer_opens_no_gas_incident_and_dangerous_biogas_goes_to_the_drainage_owner(
        pipeline: Pipeline, demo: CityBundle) -> None:
    r = run(demo, 48, 34.0, seed=8)
    ingest(pipeline, r, batch_minutes=30)
    incidents = pipeline.store.active_incidents()
    assert not [i for i in incidents if i.lifeline == "gas"], [i.title for i in incidents]
    peak = max(series(r, s).max() for s in ("GM-11", "GM-07")) / LEL
    sewer = [i for i in incidents if i.lifeline == "drainage"]
    if peak >= 25:  # dangerous biogas is raised, for the sewer's owner
        assert sewer and "sewer gas" in sewer[0].title
    breaches = [e for e in pipeline.store.events(limit=10_000)
                if e.kind == "threshold" and e.sensor_id.startswith("GM")]
    assert breaches and all(e.incident_id is None or e.incident_id in {i.id for i in sewer} for e in breaches)


def test_the_search_centres_on_the_leak_between_the_spaces_that_see_it() -> None:
    demo = load_city("demo")
    grid = MainsGrid(demo.city)
    c, s = demo.city.asset("tunnel/cable_well/C-N1209").xy, demo.city.asset("drainage/junction/S-N1209").xy
    seen = [Sighting("C", "cable_well", *c, 30.0, 0.0), Sighting("S", "sewer", *s, 18.0, 2.0)]
    far = demo.city.asset("drainage/junction/S-N1308").xy
    where = grid.locate(seen, [Sighting("F", "sewer", *far, 0.0, float("nan"))])
    assert where is not None
    junction = demo.city.asset(SCHOOL).xy
    assert np.hypot(where.x - junction[0], where.y - junction[1]) < 15 and where.radius_m < 60
    assert abs(sum(p for _, p in where.candidates) - 1) < 0.2
