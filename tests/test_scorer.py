"""The scenario scorer's matching rules, on a hand-made truth and hand-made platform incidents."""

from __future__ import annotations

import math

import numpy as np

from citylifeline.city import City, CityBundle, SensorRegistry, read_epanet
from citylifeline.city.sensors import SensorSpec
from citylifeline.twin.base import Truth
from citylifeline.twin.citygen import geography as g
from citylifeline.twin.citygen.io import DATA
from citylifeline.twin.realism import Readings
from citylifeline.twin.runner import TwinRun
from citylifeline.twin.scenario import scenario_from_dict

T0 = 1780416000000
H = 3600_000


def bundle() -> CityBundle:
    city = City("demo", g.CRS, "Asia/Shanghai")
    city.add_layer(read_epanet(DATA / "water.inp"))
    specs = [SensorSpec(f"WP-{i}", "pressure", f"water/junction/W-{n}", "water")
             for i, n in enumerate(["N1011", "N0606", "N1600"])]
    return CityBundle(city, SensorRegistry(specs), DATA / "city.yaml", {})


def incident(iid: int, t_ms: int, sensors: list[str], assets: list[str], x: float = 0.0, y: float = 0.0,
             lifeline: str = "water", last_ms: int | None = None) -> dict[str, object]:
    return {"id": iid, "lifeline": lifeline, "t_first_ms": t_ms, "t_last_ms": t_ms + 600_000 if last_ms is None
            else last_ms, "sensors": sensors, "assets": assets, "x": x, "y": y, "title": f"incident {iid}"}


def test_found_missed_false_faults_and_distances() -> None:
    from citylifeline.bench.scenarios import score_run, table

    b = bundle()
    s = scenario_from_dict({"duration": "1d", "start": "2026-06-03T00:00:00+08:00",
                            "faults": [{"sensor": "WP-2", "type": "stuck", "start": "1h"}]})
    burst_xy = b.city.asset("water/junction/W-N1011").xy
    truth = [Truth("a", "burst", "water", "water/junction/W-N1011", *burst_xy, T0 + 2 * H, None, ["WP-0"]),
             Truth("b", "leak", "water", "water/junction/W-N0606", 0, 0, T0 + 5 * H, T0 + 6 * H, ["WP-1"]),
             Truth("c", "leak", "water", "water/junction/W-N0606", 0, 0, T0 + 7 * H, None, [])]
    faults = [{"sensor": "WP-2", "type": "stuck", "start_ms": T0 + H, "end_ms": None}]
    run = TwinRun(s, Readings(np.array([], object), np.array([], np.int64), np.array([]), np.array([], np.int64),
                              faults), truth, sensors=3)
    incidents = [incident(1, T0 + 2 * H + 180_000, ["WP-0"], ["water/junction/W-N1011"]),  # finds a, 3 min late
                 incident(2, T0 + 2 * H + 600_000, ["WP-0"], ["water/junction/W-N1011"]),  # a second one: false
                 incident(3, T0 + 9 * H, ["WP-1"], ["water/junction/W-N0606"]),  # after b ended + 1 h: false
                 incident(4, T0 + 3 * H, ["WP-2"], ["water/junction/W-N1600"])]  # the stuck sensor: a fault
    sc = score_run(run, incidents, b)
    w = sc.by_lifeline["water"]
    # incident 2 is a second one about burst a (a duplicate); 3 came after b; 4 is the stuck sensor
    assert (w.truths, w.found, w.missed, w.unobservable, w.duplicates, w.false, w.faults_as_incidents) == \
        (3, 1, 1, 1, 1, 2, 1)
    assert w.detect_s == [180.0] and w.location_m == [0.0]
    assert w.sensor_days == 3.0 and math.isclose(w.false_per_1000_sensor_days, 2000 / 3)
    text = table([sc])
    assert "| burst-free |" not in text
    assert "| **all** | **all** | 3 | 1 | 0 | 1 | 1 | 1 | 2 | 1 | 3.0 min | 0 m |" in text


def test_an_incident_at_another_sensor_nearby_still_counts() -> None:
    from citylifeline.bench.scenarios import score_run

    b = bundle()
    s = scenario_from_dict({"duration": "1d", "start": "2026-06-03T00:00:00+08:00"})
    xy = b.city.asset("water/junction/W-N1011").xy
    truth = [Truth("a", "burst", "water", "water/junction/W-N1011", *xy, T0 + H, None, ["WP-0"])]
    run = TwinRun(s, Readings(np.array([], object), np.array([], np.int64), np.array([]), np.array([], np.int64),
                              []), truth, sensors=3)
    near = b.city.asset("water/junction/W-N1010").xy
    sc = score_run(run, [incident(7, T0 + H + 60_000, ["WP-9"], ["water/junction/W-N1010"], *near)], b)
    w = sc.by_lifeline["water"]
    assert w.found == 1 and w.location_m[0] == 150.0  # one pipe along the street


def test_one_incident_may_find_several_truths_and_warn_before_them() -> None:
    from citylifeline.bench.scenarios import score_run

    b = bundle()
    s = scenario_from_dict({"duration": "1d", "start": "2026-06-03T00:00:00+08:00"})
    xy = b.city.asset("water/junction/W-N1011").xy
    truth = [Truth("a", "burst", "water", "water/junction/W-N1011", *xy, T0 + 2 * H, T0 + 3 * H, ["WP-0"]),
             Truth("b", "burst", "water", "water/junction/W-N0606", 0, 0, T0 + 2 * H, T0 + 3 * H, ["WP-1"]),
             Truth("c", "burst", "water", "water/junction/W-N0606", 0, 0, T0 + 9 * H, None, ["WP-1"])]
    run = TwinRun(s, Readings(np.array([], object), np.array([], np.int64), np.array([]), np.array([], np.int64),
                              []), truth, sensors=3)
    # began 10 minutes before the truths and went on through them; ended long before c
    one = incident(1, T0 + 2 * H - 600_000, ["WP-0", "WP-1"], ["water/junction/W-N1011"], last_ms=T0 + 4 * H)
    gone = incident(2, T0 + H, ["WP-1"], ["water/junction/W-N0606"], last_ms=T0 + H + 60_000)  # over before a
    old = incident(3, T0 + 7 * H, ["WP-1"], ["water/junction/W-N0606"], last_ms=T0 + 12 * H)  # 2 h before c
    sc = score_run(run, [one, gone, old], b)
    w = sc.by_lifeline["water"]
    assert (w.found, w.merged, w.missed, w.false) == (2, 1, 1, 2)
    assert w.detect_s == [-600.0, -600.0]
