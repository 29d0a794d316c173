"""Scenario files: durations, weather, incidents and faults, and the errors for bad ones."""

from __future__ import annotations

import numpy as np
import pytest

from citylifeline.errors import ConfigError
from citylifeline.twin.scenario import (
    INCIDENT_TYPES,
    load_scenario,
    parse_duration,
    scenario_from_dict,
    scenarios_dir,
)


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30min", 1800), ("6h", 21600), ("1d6h", 108000),
                                               (45, 45), ("1.5h", 5400), ("340620", 340620), ("0", 0)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text, "x") == seconds


@pytest.mark.parametrize("bad", ["6 hours", "h", "1d-2h", "", "6hh"])
def test_bad_durations_say_how_to_write_them(bad: str) -> None:
    with pytest.raises(ConfigError, match="30min"):
        parse_duration(bad, "x")


def test_a_scenario_reads_whole() -> None:
    s = scenario_from_dict({
        "name": "t", "duration": "1d", "start": "2026-06-03T00:00:00+08:00", "seed": 4,
        "weather": {"temperature_c": {"mean": 26, "swing": 8}, "rain": [{"start": "14h", "duration": "3h",
                                                                         "peak_mm_h": 60}]},
        "incidents": [{"type": "leak", "place": "water/junction/W-N0606", "start": "2h", "magnitude": 3,
                       "growth": "12h"}],
        "faults": [{"sensor": "WP-01", "type": "stuck", "start": "3h", "end": "5h"}],
        "delivery": {"late_fraction": 0.01, "late_delay": "10min", "duplicate_fraction": 0.005}})
    assert s.start_ms == 1780416000000 and s.duration_s == 86400 and s.end_ms == s.start_ms + 86_400_000
    rain = s.weather.rain_mm_h(np.array([13.9, 15.0, 16.0, 17.1]) * 3600)
    assert rain[0] == 0 and rain[1] == pytest.approx(60) and 0 < rain[2] < 60 and rain[3] == 0
    temp = s.weather.temperature_c(np.array([5.0, 17.0]) * 3600, start_hour=0.0)
    assert temp.tolist() == [22.0, 30.0]
    leak = s.incidents[0]
    assert leak.lifeline == "water" and leak.size(np.array([1.0, 8.0, 20.0]) * 3600).tolist() == [0.0, 0.5, 1.0]
    assert s.faults[0].end_s == 5 * 3600 and s.delivery.late_delay_s == 600


@pytest.mark.parametrize(("doc", "words"), [
    ({"duration": "1d", "incidents": [{"type": "flood", "place": "x", "start": 0}]}, "type 'flood' is unknown"),
    ({"duration": "1d", "incidents": [{"type": "burst", "start": 0}]}, "needs 'place'"),
    ({"duration": "1d", "faults": [{"sensor": "X", "type": "melted", "start": 0}]}, "type 'melted' is unknown"),
    ({"duration": "1d", "start": "2026-06-03 00:00"}, "no UTC offset"),
    ({"start": "2026-06-03T00:00:00+08:00"}, "'duration' is missing"),
    ({"duration": "1d", "colour": "red"}, "unknown key"),
])
def test_bad_scenarios_name_the_field(doc: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        scenario_from_dict(doc, "s.yaml")


def test_every_shipped_scenario_loads_and_names_real_places() -> None:
    from citylifeline.city import load_city

    city = load_city("demo")
    paths = sorted(scenarios_dir().glob("*.yaml"))
    assert {p.stem for p in paths} >= {"normal_week", "burst", "slow_leak", "gas_leak_school", "rainstorm",
                                       "bridge_overload_damage", "city_day"}
    seen_types: set[str] = set()
    for p in paths:
        s = load_scenario(p.stem)
        assert s.description
        for inc in s.incidents:
            city.city.asset(inc.place)
            seen_types.add(inc.type)
        for f in s.faults:
            assert f.sensor in city.sensors.index
    assert seen_types == set(INCIDENT_TYPES)
    with pytest.raises(ConfigError, match="not found; give a YAML file or one of"):
        load_scenario("nope")


def test_a_scenario_preceded_by_quiet_days_keeps_its_happenings_at_their_clock_times() -> None:
    """The demo's water history: the same incidents, faults and storms at the same instants, in a
    run that begins earlier (and at the same time of day)."""
    scn = load_scenario("city_day")
    longer = scn.preceded_by(22 * 86400)
    assert longer.start_ms == scn.start_ms - 22 * 86_400_000 and longer.duration_s == scn.duration_s + 22 * 86400
    at = [longer.start_ms + round(x.start_s * 1000) for x in (*longer.incidents, *longer.faults, *longer.weather.rain)]
    assert at == [scn.start_ms + round(x.start_s * 1000) for x in (*scn.incidents, *scn.faults, *scn.weather.rain)]
    ends = [x.end_s for x in (*longer.incidents, *longer.faults)]
    assert ends == [None if x.end_s is None else x.end_s + 22 * 86400 for x in (*scn.incidents, *scn.faults)]
    assert longer.seed == scn.seed and longer.name == scn.name
