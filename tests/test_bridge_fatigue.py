"""Fatigue (``analysis.bridge.fatigue``): rainflow cycles, the S–N curve, Miner's rule."""

from __future__ import annotations

import numpy as np
import pytest
import rainflow

from citylifeline.analysis.bridge.fatigue import (
    DEFAULT_DETAIL,
    DETAILS,
    E_STEEL_PA,
    GAMMA_FAT,
    count,
    cycles_to_failure,
    damage,
    new_state,
    remaining_years,
    residue,
)
from citylifeline.twin.bridgeyear import DAY_MS, BridgeYear, Vehicles
from tests.test_bridgeyear import START, bridge


def test_the_hysteresis_keeps_the_reversals_beyond_the_gate_and_drops_the_noise() -> None:
    """Reversals under the gate (0.5, 0.3, 0.1) are no cycles; 5.2 → 1 closes inside 0 → 8 once 8 is
    passed back; 0 → 8 and 8 → 2 (in progress) stay open, a half cycle each."""
    x = np.array([0, 5, 4.5, 5.2, 1, 1.3, 8, 7.9, 2, 2.1, 2.1], dtype=np.float64)
    state = new_state(1)
    closed = count(np.zeros(len(x), np.int32), np.arange(len(x), dtype=np.int64), x, np.array([2.0]),
                   np.array([np.inf]), state)
    assert closed.range_ue.tolist() == pytest.approx([4.2]) and closed.count.tolist() == [1.0]
    assert residue(state, 0).tolist() == pytest.approx([8.0, 6.0])


def test_streaming_counting_is_astm_rainflow_batch_by_batch() -> None:
    """Fed in batches of any size, the counting closes the cycles the ``rainflow`` package counts on the
    whole record (ASTM E1049-85), and its residue is the package's half cycles."""
    rng = np.random.default_rng(5)
    x = np.cumsum(rng.normal(size=6000)) + 4 * np.sin(np.arange(6000) / 40)
    state = new_state(1)
    ranges, counts = [], []
    for part in np.array_split(np.arange(len(x) + 1), 37):
        t = np.minimum(part, len(x) - 1)  # the last reading sent twice: it leaves the spike check's delay
        c = count(np.zeros(len(part), np.int32), part.astype(np.int64), x[t] * 1e-6, np.array([1e-9]),
                  np.array([np.inf]), state, scale=1e6)  # as strain, the canonical unit
        ranges += c.range_ue.tolist()
        counts += c.count.tolist()
    ref = list(rainflow.extract_cycles(x))
    full = sorted(r for r, _, n, *_ in ref if n == 1.0)
    assert sorted(r for r, n in zip(ranges, counts, strict=True) if n == 1.0) == pytest.approx(full)
    half = sorted(r for r, _, n, *_ in ref if n == 0.5)
    assert sorted(residue(state, 0).tolist()) == pytest.approx(half)


def test_a_spike_is_no_cycle_and_is_counted_as_dropped() -> None:
    """One reading 40 noise spreads off, its neighbours at the level: dropped; a lorry's strain, whose
    neighbours rise with it, is counted."""
    rng = np.random.default_rng(2)
    x = 100 + rng.normal(0, 1.0, 600)
    x[200] += 40
    lorry = 30 * np.maximum(0, 1 - np.abs(np.arange(600) - 400) / 2)  # a 4 s triangle at 1 Hz
    state = new_state(1)
    c = count(np.zeros(600, np.int32), np.arange(600, dtype=np.int64) * 1000, x + lorry, np.array([8.0]),
              np.array([1.0]), state)
    found = np.r_[c.range_ue, residue(state, 0)]
    assert state["spikes"][0] == 1 and state["readings"][0] == 600
    assert found.max() == pytest.approx(30, abs=5) and (found > 20).sum() == 2  # up and down: the lorry only


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
