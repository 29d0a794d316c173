"""Demand from the water balance where there are no household meters, on the demo city's network:
the plant's outlet meter says whether its pump runs, the storage comes from the tank's level, a
pump switching within a step is neither a burst of demand nor a model run at full pump."""

from __future__ import annotations

import numpy as np
import pytest

from citylifeline.analysis.water.model import BALANCE_STEPS, WaterModel
from citylifeline.twin.citygen.io import DATA
from citylifeline.twin.leakyear import Sensors, YearRun

T0 = 1_780_000_000_000 // 86_400_000 * 86_400_000 - 8 * 3_600_000  # a local midnight in Hefei
STEP = 300_000
SENSORS = Sensors(("W-N0606", "W-N1011"), ("WP-TRUNK", "WP-TANK"), ("W-T1",), ())


@pytest.fixture(scope="module")
def model() -> WaterModel:
    return WaterModel(DATA / "water.inp", SENSORS, T0)


def steps(trunk: list[float], level: list[float], start_h: float = 2.0) -> YearRun:
    n = len(trunk)
    t = T0 + int(start_h * 3_600_000) + np.arange(n, dtype=np.int64) * STEP
    return YearRun(t, np.full((n, 2), 40.0), np.column_stack([trunk, np.full(n, 50.0)]),
                   np.array(level, dtype=np.float64)[:, None], np.zeros((n, 0)), np.zeros((n, 0)))


def test_the_plant_pump_is_known_to_run_by_the_trunk_meter_in_series_with_it(model: WaterModel) -> None:
    assert model.operated == (("WPU-1", 0),)
    assert model.areas and set(model.balanced) >= {"W-N0606", "W-N1011"} and "W-PS1" not in model.balanced


def test_demand_is_the_inflow_less_what_the_tank_stores_over_the_nominal_demand(model: WaterModel) -> None:
    n = 3 * BALANCE_STEPS
    section = float(np.pi * model.wn.get_node("W-T1").diameter ** 2 / 4)
    rise_m_h = 0.3
    run = steps([500.0] * n, list(3.0 + rise_m_h * np.arange(n) * STEP / 3_600_000))
    nominal = model.nominal_total_m3h(run.t_ms, model.balanced)
    factor = model.demand_factor(run)
    want = (500.0 - section * rise_m_h) / nominal
    assert factor == pytest.approx(want, rel=1e-9)  # a steady inflow: the fitted line is the inflow itself
    ramp = steps(list(400.0 + 10.0 * np.arange(n)), list(3.0 + rise_m_h * np.arange(n) * STEP / 3_600_000))
    read = model.demand_factor(ramp) * nominal + section * rise_m_h
    # a rising inflow is read where it is, not half a window late (each step pairs its flow with the one before)
    assert read[BALANCE_STEPS:] == pytest.approx(400.0 + 10.0 * np.arange(BALANCE_STEPS, n) - 5.0, rel=1e-9)
    before, after = run.rows(None, n - 1), run.rows(n - 1)
    assert model.demand_factor(after, before)[0] == pytest.approx(factor[-1], rel=1e-9)  # live, a step at a time
    assert model.demand_factor(after)[0] == 1.0  # one step alone: no storage known, the records' demand


def test_a_pump_starting_within_a_step_is_no_burst_of_demand_and_no_step_at_full_pump(model: WaterModel) -> None:
    # the pump starts 3 minutes into the 4th step: the tank, which was feeding the city, fills
    section = float(np.pi * model.wn.get_node("W-T1").diameter ** 2 / 4)
    use, pump = 300.0, 500.0
    minutes = np.arange(0, 8 * 5 + 1) / 60  # h
    on = minutes >= (3 * 5 + 3) / 60
    level = 3.0 + np.cumsum(np.r_[0, np.where(on[1:], pump - use, -use) / section / 60])
    step_level = level[:-1].reshape(8, 5).mean(axis=1)
    step_trunk = np.where(on[:-1], pump, 0.0).reshape(8, 5).mean(axis=1)
    run = steps(list(step_trunk), list(step_level))
    inflow = model.demand_factor(run) * model.nominal_total_m3h(run.t_ms, model.balanced)
    raw = use / model.nominal_total_m3h(run.t_ms, model.balanced)
    error = model.demand_factor(run) - raw
    # a step's mean level and its flows pair only approximately across a switch: a short error
    # that evens out, not a burst of demand
    assert np.abs(error).max() < 0.15 * raw.max() and abs(error[3:].mean()) < 0.05 * raw.max()
    assert inflow.max() < 1.1 * use
    expected = model.expected(run)
    # 2 of its 5 minutes (and its neighbours): not the model's
    assert np.isnan(expected[3]).all() and np.isfinite(expected[[1, 5]]).all()
