"""The water twin on the demo city's network: physics direction, truth, realism, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from citylifeline.city import City, CityBundle, SensorRegistry, read_epanet
from citylifeline.city.sensors import load_sensors_csv
from citylifeline.twin.citygen import geography as g
from citylifeline.twin.citygen.io import DATA
from citylifeline.twin.runner import TwinRun, simulate
from citylifeline.twin.scenario import scenario_from_dict

START = "2026-06-03T00:00:00+08:00"


@pytest.fixture(scope="module")
def water_city() -> CityBundle:
    city = City("demo", g.CRS, "Asia/Shanghai")
    layer = read_epanet(DATA / "water.inp")
    city.add_layer(layer)
    specs = load_sensors_csv(DATA / "sensors_water.csv", {}, dict.fromkeys(layer.assets, "water"),
                             {k: a.xy for k, a in layer.assets.items()})
    return CityBundle(city, SensorRegistry(specs), DATA / "city.yaml", {"layers": {"water": {"epanet": "water.inp"}}})


def run(bundle: CityBundle, **doc: object) -> TwinRun:
    return simulate(scenario_from_dict({"duration": "12h", "start": START, "seed": 3, **doc}), bundle, ("water",))


def series(r: TwinRun, sensor: str) -> tuple[np.ndarray, np.ndarray]:
    m = r.readings.sensor_id == sensor
    t, v = r.readings.t_ms[m], r.readings.value[m]
    o = np.argsort(t)
    return t[o], v[o]


@pytest.fixture(scope="module")
def normal(water_city: CityBundle) -> TwinRun:
    return run(water_city)


def test_a_normal_day_is_canonical_diurnal_and_inside_every_threshold(water_city: CityBundle, normal: TwinRun) -> None:
    assert normal.truth == []
    reg = water_city.sensors
    for i, sid in enumerate(reg.ids):
        _, v = series(normal, sid)
        assert len(v) == 12 * 60
        assert (v > np.nan_to_num(reg.low[i, 0], nan=-np.inf)).all()
        assert (v < np.nan_to_num(reg.high[i, 0], nan=np.inf)).all()
    _, p = series(normal, "WP-06")
    assert 2e5 < p.mean() < 5e5  # Pa: 0.2-0.5 MPa
    _, tank = series(normal, "WL-01")
    assert tank.max() - tank.min() > 0.5  # the tank works: it fills and empties


def test_a_burst_lowers_nearby_pressure_and_raises_inflow(water_city: CityBundle, normal: TwinRun) -> None:
    burst = run(water_city, incidents=[{"type": "burst", "place": "water/junction/W-N1011", "start": "6h",
                                        "magnitude": 0.1}])
    t, near = series(burst, "WP-16")  # at the burst junction, by Binhu Hospital
    _, near0 = series(normal, "WP-16")
    _, far = series(burst, "WP-04")
    _, far0 = series(normal, "WP-04")
    k = np.searchsorted(t, burst.scenario.start_ms + 6 * 3600_000)
    assert np.abs(near[:k] - near0[:k]).max() < 5000  # nothing before the burst (noise only)
    drop_near = (near0[k + 2:k + 12] - near[k + 2:k + 12]).mean() / near0[k + 2:k + 12].mean()
    drop_far = (far0[k + 2:k + 12] - far[k + 2:k + 12]).mean() / far0[k + 2:k + 12].mean()
    assert drop_near > 0.1 and drop_near > 1.5 * drop_far  # a looped grid spreads a burst's drop widely
    inflow = series(burst, "WF-01")[1] + series(burst, "WF-02")[1]
    inflow0 = series(normal, "WF-01")[1] + series(normal, "WF-02")[1]
    assert (inflow[k + 2:k + 30] - inflow0[k + 2:k + 30]).mean() > 0.03  # m3/s: fed from the source and the tank
    truth = burst.truth[0]
    assert truth.type == "burst" and {"WP-16", "WF-02"} <= set(truth.expected_sensors)
    assert truth.start_ms == burst.scenario.start_ms + 6 * 3600_000


def test_a_slow_leak_grows_and_valve_closure_stops_flow(water_city: CityBundle, normal: TwinRun) -> None:
    leak = run(water_city, incidents=[{"type": "leak", "place": "water/junction/W-N0606", "start": "1h",
                                       "magnitude": 15.0, "growth": "8h"},
                                      {"type": "valve_closure", "place": "water/pipe/WP-N0806E", "start": "10h",
                                       "end": "11h"}])
    inflow = series(leak, "WF-01")[1] + series(leak, "WF-02")[1]
    inflow0 = series(normal, "WF-01")[1] + series(normal, "WF-02")[1]
    extra = inflow - inflow0
    assert abs(extra[30:50].mean()) < 0.003  # an hour in: still tiny
    assert 0.010 < extra[8 * 60:9 * 60].mean() < 0.020  # grown to about 15 L/s
    t, closed = series(leak, "WF-03")  # the flow meter on the closed pipe
    k = np.searchsorted(t, leak.scenario.start_ms + 10 * 3600_000)
    assert np.abs(closed[k + 2:k + 50]).max() < 1e-3 < np.abs(closed[k - 60:k]).mean()
    assert {t.type for t in leak.truth} == {"leak", "valve_closure"}


def test_the_same_seed_gives_the_same_readings(water_city: CityBundle, normal: TwinRun) -> None:
    again = run(water_city)
    assert np.array_equal(again.readings.value, normal.readings.value)
    assert np.array_equal(again.readings.delivered_ms, normal.readings.delivered_ms)


def test_use_varies_from_day_to_day_smoothly_on_a_network_unlike_its_records(water_city: CityBundle) -> None:
    """The twin's city is not its model: its use differs day to day and hour to hour (seeded),
    changes within the hour rather than in the records' hourly steps, and its base demands and
    roughness are one fixed draw off the records."""
    from citylifeline.twin import hydraulics

    records_pattern = np.array([])

    def spelt(seed: int) -> tuple[np.ndarray, object]:
        nonlocal records_pattern
        wn = hydraulics.load_network(str(DATA / "water.inp"))
        first = wn.get_node("W-N0606").demand_timeseries_list[0]
        records, records_pattern = float(first.base_value), np.asarray(wn.get_pattern(first.pattern_name).multipliers)
        hydraulics.vary_demand(wn, np.random.default_rng(seed), 3 * 86400)
        d = wn.get_node("W-N0606").demand_timeseries_list[0]
        return np.asarray(wn.get_pattern(d.pattern_name).multipliers), (records, float(d.base_value))

    a, (records, real) = spelt(1)
    b, (_, real_b) = spelt(2)
    assert wn_step(a) == 300 and len(a) >= 3 * 288
    days = a[: 3 * 288].reshape(3, 288)
    assert np.ptp(days.sum(axis=1)) / days.sum(axis=1).mean() > 0.005  # no two days alike
    assert not np.allclose(a, b) and np.allclose(a, spelt(1)[0])  # the seed decides, and decides again
    # no hourly jumps: the biggest 5-minute change is a small part of the records' biggest hourly step
    assert np.abs(np.diff(days[0])).max() < 0.25 * np.abs(np.diff(records_pattern)).max()
    assert real != records and real == real_b  # the same real network in every scenario


def wn_step(_multipliers: np.ndarray) -> int:
    from citylifeline.twin import hydraulics

    return hydraulics.DEMAND_STEP_S
