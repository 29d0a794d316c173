"""Bridge weigh-in-motion (``analysis.bridge.wim``) on the bridge twin's strain and axle reports."""

from __future__ import annotations

import numpy as np
import pytest

from citylifeline.analysis.bridge import wim
from citylifeline.twin.bridgeyear import CLASSES, DAY_MS, E_PA, LIGHT, STRAIN_HZ, BridgeYear, Vehicles, axles
from tests.test_bridgeyear import SIX_AXLE, START, bridge

HOUR = 3_600_000


def test_a_lone_lorry_is_weighed_to_a_percent_whatever_its_speed() -> None:
    """A 40 t six-axle lorry alone on the 2nd St bridge at night, at 29, 43 and 58 km/h: its weight
    within 1.5 %, six axles, GB 1589-2016's 49 t as its limit, its lane and speed."""
    b = bridge()
    y = BridgeYear(b, START, 1, seed=3)
    for speed in (8.0, 12.0, 16.0):
        t0 = START + 3 * HOUR
        veh = Vehicles(np.array([t0]), np.array([1]), np.array([SIX_AXLE]), np.array([40_000.0]), np.array([speed]))
        strain = y.strain(START, veh, np.random.default_rng(0))
        at, lane, v = axles(veh, np.random.default_rng(1))
        k = int(3 * 3600 * STRAIN_HZ)
        w = wim.weigh(strain[:, k - 400: k + 800], START + (k - 400) * 1000 // STRAIN_HZ, STRAIN_HZ, at, lane, v,
                      b.span_m, E_PA * b.section_modulus_m3)
        assert len(w.gross_kg) == 1
        assert w.gross_kg[0] == pytest.approx(40_000, rel=0.015)
        assert (w.axles[0], w.limit_kg[0], w.lane[0]) == (6, 49_000, 1)
        assert w.speed_ms[0] == pytest.approx(speed, rel=0.02)


def test_three_hours_of_night_traffic_are_weighed_and_their_overloaded_lorries_found() -> None:
    """From 01:00 to 04:00, when the lorries cross: every lorry over 12 t weighed (median error under 5 %,
    the issue's goal 10 %), each lorry more than 10 % over its limit reported overloaded, and
    fewer than one lawful lorry in twenty taken for overloaded."""
    b = bridge()
    y = BridgeYear(b, START + 150 * DAY_MS, 1, seed=31)
    veh = y.vehicles(0, np.random.default_rng([31, 1, 0]))
    t0 = y.start_ms
    strain = y.strain(t0, veh, np.random.default_rng(5))
    at, lane, v = axles(veh, np.random.default_rng(6))
    lo, hi = (HOUR * STRAIN_HZ // 1000, 4 * HOUR * STRAIN_HZ // 1000)
    keep = (at >= t0 + HOUR - 60_000) & (at < t0 + 4 * HOUR + 60_000)
    w = wim.weigh(strain[:, lo:hi], t0 + HOUR, STRAIN_HZ, at[keep], lane[keep], v[keep], b.span_m,
                  E_PA * b.section_modulus_m3)
    first = veh.entry_ms + 2.0 / veh.speed_ms * 1000
    lorry = ((veh.cls >= len(LIGHT)) & (veh.gross_kg > 12_000)  # lorries well above the weighing threshold (8 t)
             & (first >= t0 + HOUR + 15_000) & (first < t0 + 4 * HOUR - 15_000))
    limit = np.array([c.limit_t for c in CLASSES])[veh.cls] * 1000
    errors, flagged = [], []
    for i in np.flatnonzero(lorry):
        j = np.flatnonzero((np.abs(w.t_ms - first[i]) < 50) & (w.lane == veh.lane[i]))
        assert len(j) <= 1
        errors.append(w.gross_kg[j[0]] / veh.gross_kg[i] - 1 if len(j) else np.inf)
        flagged.append(bool(len(j)) and bool(w.overloaded()[j[0]]))
    errors_a, flagged_a = np.array(errors), np.array(flagged)
    over = veh.gross_kg[lorry] > 1.1 * limit[lorry]
    lawful = veh.gross_kg[lorry] <= limit[lorry]
    assert lorry.sum() > 100 and over.sum() >= 2, (lorry.sum(), over.sum())
    assert np.isfinite(errors_a).mean() > 0.95  # weighed
    assert np.median(np.abs(errors_a[np.isfinite(errors_a)])) < 0.05
    assert flagged_a[over].all()
    assert flagged_a[lawful].mean() < 0.05
