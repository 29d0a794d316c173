"""One conformance suite over every analyst in ``ANALYSTS``, each on twin runs of a city it
analyses (the ``cases`` fixture: the demo city's gas, bridges and drainage; the test city's Net3 with
its water sensors).

Each promise of the Analyst contract is checked: cutting the stream into batches does not change
the events; a checkpoint taken mid-stream and restored into a fresh analyst continues exactly;
a quiet day raises nothing; the incident it exists for is found, with reasons in both languages;
its judged sensors are real ones; its state is reported.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from citylifeline.analysis import ANALYSTS, Analyst
from citylifeline.batch import ReadingBatch
from citylifeline.city import CityBundle, load_city
from citylifeline.settings import Config
from citylifeline.twin.leakyear import LeakYear, add_noise, simulate_year
from citylifeline.twin.runner import simulate
from citylifeline.twin.scenario import scenario_from_dict
from citylifeline.warn.correlate import EVIDENCE_KINDS
from tests.test_leaks import DAY, HOUR, net3_sensors
from tests.test_water_analyst import net3  # noqa: F401  (the fixture)

CONFIG = Config.load(environ={})
INCIDENTS = {"gas": {"type": "gas_leak", "place": "gas/junction/G-N1209", "start": "8h", "magnitude": 4.0,
                     "growth": "10min"}}
INCIDENTS["bridge"] = {"type": "bridge_overload", "place": "bridge/bridge/B-1", "start": "8h", "magnitude": 120.0}
"""The incidents the gas and bridge analysts exist for, in the demo city."""
STORM = [{"start": "40min", "duration": "1h", "peak_mm_h": 90}]
SHOWER = [{"start": "40min", "duration": "1h", "peak_mm_h": 30}]
"""The drainage analyst's: a storm that floods the underpass, and a shower that floods nothing."""
WARNING_KINDS = {"gas": "gas_leak", "water": "water_burst", "bridge": "bridge_overload",
                 "drainage": "waterlogging_forecast"}
JUDGED_KINDS = {"gas": ("methane", "ethane"), "water": (), "bridge": ("strain", "displacement", "frequency"),
                "drainage": ("level", "flow", "rainfall")}
STATE_KEYS = {"gas": {"spaces"}, "water": {"phase", "windows", "history_days", "leaks"}, "bridge": {"bridges",
                                                                                                  "classes"},
              "drainage": {"places", "rain"}}


@pytest.fixture(scope="module")
def demo() -> CityBundle:
    return load_city("demo")


def readings(bundle: CityBundle, with_incident: str | None, hours: int = 12, mean_c: float = 27.0,
             rain: list[dict[str, Any]] | None = None) -> ReadingBatch:
    """A twin run in time order, as registry indices (the order the store replays)."""
    doc = {"duration": f"{hours}h", "start": "2026-08-10T00:00:00+08:00", "seed": 31,
           "weather": {"temperature_c": {"mean": mean_c, "swing": 8}, "rain": rain or []},
           "incidents": [INCIDENTS[with_incident]] if with_incident else []}
    r = simulate(scenario_from_dict(doc), bundle).readings
    idx = np.array([bundle.sensors.index[s] for s in r.sensor_id], dtype=np.int32)
    o = np.lexsort((idx, r.t_ms))
    return ReadingBatch.of(idx[o], r.t_ms[o], r.value[o])


@pytest.fixture(scope="module")
def cases(demo: CityBundle, request: pytest.FixtureRequest) -> dict[str, tuple[CityBundle, ReadingBatch, Any]]:
    """Per analyst: its city, the day of its incident, and a function giving a quiet day."""
    city, burst_day = request.getfixturevalue("net3")
    return {"gas": (demo, readings(demo, "gas"), lambda: readings(demo, None, hours=24, mean_c=12.0)),
            "water": (city, burst_day, lambda: quiet_net3(city)),
            "bridge": (demo, readings(demo, "bridge"), lambda: readings(demo, None, hours=24, mean_c=12.0)),
            "drainage": (demo, readings(demo, None, hours=3, rain=STORM), lambda: readings(demo, None, hours=3,
                                                                                           rain=SHOWER))}


def quiet_net3(bundle: CityBundle) -> ReadingBatch:
    from tests.test_water_analyst import ORIGIN, as_readings

    s = net3_sensors()
    year = LeakYear(ORIGIN, ORIGIN + 2 * DAY + 12 * HOUR, 300, ())
    run = add_noise(simulate_year("Net3", year, s, seed=5, pattern_origin_ms=ORIGIN), seed=6)
    return as_readings(run, len(s.pressure_nodes), len(s.flow_links), len(s.level_tanks))


def feed(a: Analyst, batch: ReadingBatch, cuts: list[int]) -> list[tuple[str, int, str, int, bool]]:
    out = []
    for lo, hi in zip([0, *cuts], [*cuts, len(batch)], strict=True):
        out += [(e.sensor_id, e.t_ms, e.kind, e.level, e.active) for e in a.update(batch.slice(lo, hi))]
    return out


@pytest.mark.parametrize("cls", ANALYSTS, ids=lambda c: c.name)
def test_batches_do_not_change_the_events(cls: type[Analyst], cases: Any) -> None:
    demo, leak_day, _ = cases[cls.name]
    whole = feed(cls(demo.city, demo.sensors, CONFIG), leak_day, [])
    rng = np.random.default_rng(3)
    cuts = sorted(set(rng.integers(1, len(leak_day), 300).tolist()))
    assert feed(cls(demo.city, demo.sensors, CONFIG), leak_day, cuts) == whole
    assert any(k == WARNING_KINDS[cls.name] and active for _, _, k, _, active in whole)


@pytest.mark.parametrize("cls", ANALYSTS, ids=lambda c: c.name)
def test_a_checkpoint_continues_exactly(cls: type[Analyst], cases: Any) -> None:
    demo, leak_day, _ = cases[cls.name]
    whole = feed(cls(demo.city, demo.sensors, CONFIG), leak_day, [])
    half = len(leak_day) * 3 // 5  # inside the incident
    first = cls(demo.city, demo.sensors, CONFIG)
    before = feed(first, leak_day.slice(0, half), [])
    second = cls(demo.city, demo.sensors, CONFIG)
    second.restore(first.checkpoint())
    assert before + feed(second, leak_day.slice(half, len(leak_day)), []) == whole


@pytest.mark.parametrize("cls", ANALYSTS, ids=lambda c: c.name)
def test_a_quiet_day_raises_nothing_and_the_state_is_reported(cls: type[Analyst], cases: Any) -> None:
    demo, _, quiet = cases[cls.name]
    a = cls(demo.city, demo.sensors, CONFIG)
    # nothing that opens an incident; an analyst's records (``EVIDENCE_KINDS``: a heavy load counted on a
    # bridge, two lawful lorries abreast perhaps, which one gauge cannot part) are evidence for video checks
    assert [e for e in feed(a, quiet(), []) if e[2] not in EVIDENCE_KINDS] == []
    state = a.status()
    judged = np.flatnonzero(a.judged())
    assert len(judged) == 0 if not JUDGED_KINDS[cls.name] else all(
        demo.sensors.kind[i] in JUDGED_KINDS[cls.name] for i in judged) and len(judged)
    assert STATE_KEYS[cls.name] <= set(state) and all(state[k] is not None for k in STATE_KEYS[cls.name])


@pytest.mark.parametrize("cls", ANALYSTS, ids=lambda c: c.name)
def test_its_warnings_give_reasons_in_both_languages(cls: type[Analyst], cases: Any) -> None:
    demo, leak_day, _ = cases[cls.name]
    a = cls(demo.city, demo.sensors, CONFIG)
    events = [e for e in a.update(leak_day) if e.active]
    assert events
    for e in events:
        assert " / " in e.message and any("\u4e00" <= ch <= "\u9fff" for ch in e.message), e.message
