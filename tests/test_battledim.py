"""BattLeDIM's economic score on hand-made leaks and reports, checked against hand arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
import wntr

from citylifeline.bench.battledim import CREW_EUR, EUR_PER_M3, PipeDistance, Report, score
from citylifeline.twin.leakyear import Leak, LeakYear, YearRun

STEP_MS = 300_000


def line_town() -> wntr.network.WaterNetworkModel:
    """R1 —p1— J1 —p2— J2 —p3— J3 —p4 (500 m)— J4 —p5— J5; the other pipes are 100 m."""
    wn = wntr.network.WaterNetworkModel()
    wn.add_reservoir("R1", base_head=50)
    for j in ("J1", "J2", "J3", "J4", "J5"):
        wn.add_junction(j, base_demand=0.001, elevation=0)
    for name, a, b, length in (("p1", "R1", "J1", 100), ("p2", "J1", "J2", 100), ("p3", "J2", "J3", 100),
                               ("p4", "J3", "J4", 500), ("p5", "J4", "J5", 100)):
        wn.add_pipe(name, a, b, length=length, diameter=0.2, roughness=100)
    return wn


def setup() -> tuple[LeakYear, YearRun, PipeDistance]:
    """One leak on p2 from step 10 to step 50 of 100, losing 12 m³/h (1 m³ a step)."""
    t = np.arange(100, dtype=np.int64) * STEP_MS
    q = np.where((t >= 10 * STEP_MS) & (t < 50 * STEP_MS), 12.0, 0.0)[:, None]
    year = LeakYear(0, int(t[-1]), 300, (Leak("p2", 10 * STEP_MS, 50 * STEP_MS, 0.02, True, 10 * STEP_MS),))
    empty = np.zeros((100, 0))
    return year, YearRun(t, empty, empty, empty, empty, q), PipeDistance(line_town())


def test_null_and_perfect() -> None:
    year, run, dist = setup()
    null = score([], year, run, dist)
    assert null.euros == 0 and null.missed == 1 and null.true_positives == 0
    perfect = score([Report("p2", 10 * STEP_MS)], year, run, dist)
    assert perfect.perfect_euros == pytest.approx(EUR_PER_M3 * 40)  # 40 steps of 1 m³
    assert perfect.euros == pytest.approx(perfect.perfect_euros) and perfect.fraction_of_perfect == pytest.approx(1)
    assert perfect.true_positives == 1 and perfect.missed == 0 and perfect.detect_s == [0.0]


def test_a_late_report_on_a_neighbouring_pipe_earns_less() -> None:
    year, run, dist = setup()
    assert dist("p3", "p2") == pytest.approx(100)  # they share J2: 0 + 50 + 50
    s = score([Report("p3", 30 * STEP_MS)], year, run, dist)
    assert s.euros == pytest.approx(EUR_PER_M3 * 20 - CREW_EUR * 100 / 300)  # 20 m³ still to lose
    assert s.distance_m == [pytest.approx(100)] and s.detect_s == [20 * 300.0]


def test_a_far_pipe_a_wrong_time_and_a_repeat() -> None:
    year, run, dist = setup()
    assert dist("p4", "p2") == pytest.approx(400)  # J2–J3 100 m + 250 + 50: beyond 300 m
    s = score([Report("p4", 20 * STEP_MS), Report("p2", 60 * STEP_MS), Report("p2", 20 * STEP_MS),
               Report("p2", 25 * STEP_MS)], year, run, dist)
    assert s.false_positives == 2 and s.true_positives == 1  # the repeat at step 25 earns and costs nothing
    assert s.euros == pytest.approx(EUR_PER_M3 * 30 - 2 * CREW_EUR)
