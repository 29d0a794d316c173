"""Fatigue (``analysis.bridge.fatigue``): rainflow cycles, the S–N curve, Miner's rule."""

from __future__ import annotations

import numpy as np
import pytest

from citylifeline.analysis.bridge.fatigue import (
    DEFAULT_DETAIL,
    DETAILS,
    E_STEEL_PA,
    GAMMA_FAT,
    cycles_to_failure,
    damage,
    remaining_years,
    turning_points,
)
from citylifeline.twin.bridgeyear import DAY_MS, BridgeYear, Vehicles
from tests.test_bridgeyear import START, bridge


def test_turning_points_keep_the_reversals_beyond_the_gate_and_drop_the_noise() -> None:
    x = np.array([0, 5, 4.5, 5.2, 1, 1.3, 8, 7.9, 2, 2.1], dtype=np.float64)
    assert turning_points(x, 2.0).tolist() == [0, 5.2, 1, 8, 2]  # the last extreme, 2, ends it


def test_millions_of_cycles_at_the_knee_use_a_detail_up_as_its_curve_says() -> None:
    """A tendon's S–N curve (EN 1992-1-1): 10⁶ cycles at ΔσRsk/γs,fat use it up; a tenth of that
    stress range lasts 10⁷ times longer (k₂ = 7); 2,000 cycles at the knee's range, 0.002 of it."""
    d = DETAILS[DEFAULT_DETAIL]
    knee = d.stress_mpa / GAMMA_FAT
    assert cycles_to_failure(np.array([knee, knee / 10]), d) == pytest.approx([1e6, 1e13])
    ue = knee * 1e6 / E_STEEL_PA * 1e6  # the strain range (µε) at the knee
    strain = np.tile([0.0, ue], 2000)
    used, ranges, counts = damage(strain, d)
    assert ranges.max() == pytest.approx(knee) and counts.sum() == pytest.approx(2000, abs=1)
    assert used == pytest.approx(0.002, rel=1e-3)
    assert remaining_years(0.5, 0.002) == pytest.approx(0.5 / 0.002 / 365.25)


def test_a_days_traffic_on_a_prestressed_box_hardly_tires_its_tendons() -> None:
    """A day of the 2nd St bridge: the lorries' crossings are counted as cycles, the gauges' noise
    hardly (a day with no traffic has under a hundredth of the cycles); a few MPa in the tendons,
    and a life far beyond any bridge's."""
    y = BridgeYear(bridge(), START + 100 * DAY_MS, 1, seed=3)
    day = y.day(0)
    used, ranges, counts = damage(day.strain_ue[0], DETAILS[DEFAULT_DETAIL])
    empty = Vehicles(*(getattr(day.vehicles, f)[:0] for f in Vehicles.__dataclass_fields__))
    quiet = y.strain(day.t0_ms, empty, np.random.default_rng(0))[0]
    assert damage(quiet, DETAILS[DEFAULT_DETAIL])[2].sum() < counts.sum() / 100
    assert counts.sum() > (day.vehicles.gross_kg > 15_000).sum()
    assert 1 < ranges.max() < 10
    assert remaining_years(0.0, used) > 1e6
