"""The leak year simulator: pressure-driven leaks on L-Town, growing, stopping, and seen by the sensors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from citylifeline.errors import ConfigError
from citylifeline.twin.leakyear import CD, G, Leak, LeakYear, add_noise, load_leaks, load_sensors, simulate_year
from tests.conftest import shared_bench

LTOWN = shared_bench() / "ltown"
DAY_MS = 86_400_000
T0 = 1_514_764_800_000  # 2018-01-01 00:00 UTC


def year(*leaks: Leak, days: int = 3) -> LeakYear:
    return LeakYear(T0, T0 + days * DAY_MS, 300, leaks)


def test_an_abrupt_leak_loses_water_as_an_orifice_and_lowers_the_pressure_near_it() -> None:
    sensors = load_sensors(LTOWN / "sensors.json")
    leak = Leak("p673", T0 + DAY_MS, T0 + 2 * DAY_MS, 0.03, True, T0 + DAY_MS)
    quiet = simulate_year(LTOWN / "L-TOWN.inp", year(), sensors)
    leaky = simulate_year(LTOWN / "L-TOWN.inp", year(leak), sensors)
    assert len(leaky.t_ms) == len(quiet.t_ms) == 3 * 288 + 1
    q = leaky.leak_m3h[:, 0]
    during = (leaky.t_ms >= leak.start_ms) & (leaky.t_ms < leak.end_ms)
    before, after = leaky.t_ms < leak.start_ms, leaky.t_ms >= leak.end_ms
    assert (q[before] < 1e-3).all() and (q[during] > 1).all()
    assert q[after][0] < 0.02 * q[during].max() and (q[after][12:] < 1e-3).all()  # repaired: gone within the hour
    # Q = Cd·A·√(2·g·p): about 50 m³/h for a 3 cm hole at ~40 m of pressure
    orifice = 3600 * CD * math.pi / 4 * 0.03 ** 2 * math.sqrt(2 * G * 40)
    assert 0.5 * orifice < np.median(q[during]) < 1.5 * orifice
    drop = (quiet.pressure_m - leaky.pressure_m)[during].mean(axis=0)
    assert drop.max() > 0.1 and np.abs((quiet.pressure_m - leaky.pressure_m)[before]).max() < 0.01
    assert (leaky.flow_m3h[during].sum(axis=1) > quiet.flow_m3h[during].sum(axis=1)).mean() > 0.9  # inflow rises


def test_an_incipient_leak_grows_to_its_peak() -> None:
    sensors = load_sensors(LTOWN / "sensors.json")
    leak = Leak("p257", T0 + DAY_MS // 2, T0 + 10 * DAY_MS, 0.02, False, T0 + 2 * DAY_MS)
    run = simulate_year(LTOWN / "L-TOWN.inp", year(leak), sensors)
    q = run.leak_m3h[:, 0]
    daily = q[: 3 * 288].reshape(3, 288).mean(axis=1)
    assert daily[0] < daily[1] < daily[2] and daily[0] > 0


def test_noise_changes_readings_not_the_truth() -> None:
    sensors = load_sensors(LTOWN / "sensors.json")
    run = simulate_year(LTOWN / "L-TOWN.inp", year(days=1), sensors)
    noisy = add_noise(run, seed=1)
    assert 0.03 < np.std(noisy.pressure_m - run.pressure_m) < 0.07
    assert np.array_equal(noisy.leak_m3h, run.leak_m3h)


def test_the_shipped_leak_list_loads_and_a_bad_one_names_the_leak(tmp_path: Path) -> None:
    y = load_leaks(LTOWN / "leaks_2018.json")
    assert len(y.leaks) == 14 and y.step_s == 300 and sum(leak.abrupt for leak in y.leaks) == 6
    bad = json.loads((LTOWN / "leaks_2018.json").read_text())
    bad["leaks"][2]["type"] = "sudden"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ConfigError, match=r"leak 2 \(p232\).*'sudden'"):
        load_leaks(tmp_path / "bad.json")


def test_demand_follows_the_networks_weekly_pattern_from_the_periods_start() -> None:
    import wntr

    sensors = load_sensors(LTOWN / "sensors.json")
    run = simulate_year(LTOWN / "L-TOWN.inp", year(days=2), sensors)
    wn = wntr.network.WaterNetworkModel(str(LTOWN / "L-TOWN.inp"))
    k, node = next((k, wn.get_node(n)) for k, n in enumerate(sensors.amr_demand_nodes)
                   if any(d.pattern_name == "P-Residential" and d.base_value > 0
                          for d in wn.get_node(n).demand_timeseries_list))
    demands = node.demand_timeseries_list
    expected = np.array([sum(d.at(t) for d in demands) for t in range(0, 2 * 86_400 + 1, 300)]) * 3600  # m³/h
    assert expected.min() > 0
    ratio = run.demand_m3h[:, k] / expected  # the seasonal and day-to-day factors only
    assert ratio.min() > 0.7 and ratio.max() < 1.3
    for day in (ratio[:288], ratio[288:576]):  # constant within a day: the pattern is aligned
        assert np.ptp(day) < 0.005


def test_the_real_network_differs_from_its_records_the_same_way_every_time() -> None:
    sensors = load_sensors(LTOWN / "sensors.json")
    records = simulate_year(LTOWN / "L-TOWN.inp", year(days=1), sensors)
    real = simulate_year(LTOWN / "L-TOWN.inp", year(days=1), sensors, mismatch_seed=1)
    again = simulate_year(LTOWN / "L-TOWN.inp", year(days=1), sensors, mismatch_seed=1)
    other = simulate_year(LTOWN / "L-TOWN.inp", year(days=1), sensors, mismatch_seed=2)
    assert np.array_equal(real.pressure_m, again.pressure_m)
    assert np.abs(real.pressure_m - records.pressure_m).max() > 0.1  # m: a model error worth calibrating
    assert np.abs(real.pressure_m - other.pressure_m).max() > 0.05
    assert 0.7 < real.demand_m3h.sum() / records.demand_m3h.sum() < 1.3  # the meters' total, about as recorded
