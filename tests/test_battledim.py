"""BattLeDIM's economic score on hand-made leaks and reports, checked against hand arithmetic and the
official scorer's rules (bench/battledim.py's docstring)."""

from __future__ import annotations

import numpy as np
import pytest
import wntr

from citylifeline.bench.battledim import CREW_EUR, EUR_PER_M3, PipeDistance, Report, score
from citylifeline.twin.leakyear import Leak, LeakYear, YearRun
from tests.conftest import ltown_inp

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
    # the official scorer counts the water from the row before the report's step: 21 m³
    assert s.euros == pytest.approx(EUR_PER_M3 * 21 - CREW_EUR * 100 / 300)
    assert s.distance_m == [pytest.approx(100)] and s.detect_s == [20 * 300.0]


def test_a_far_pipe_a_wrong_time_and_a_repeat() -> None:
    year, run, dist = setup()
    assert dist("p4", "p2") == pytest.approx(400)  # J2–J3 100 m + 250 + 50: beyond 300 m
    s = score([Report("p4", 20 * STEP_MS), Report("p2", 60 * STEP_MS), Report("p2", 20 * STEP_MS),
               Report("p2", 25 * STEP_MS)], year, run, dist)
    assert s.false_positives == 2 and s.true_positives == 1  # the repeat at step 25 earns and costs nothing
    assert s.euros == pytest.approx(EUR_PER_M3 * 31 - 2 * CREW_EUR)


def two_leaks() -> tuple[LeakYear, YearRun, PipeDistance]:
    """Leaks on p2 (steps 10–50) and p3 (steps 20–80), each losing 1 m³ a step."""
    year, run, dist = setup()
    t = run.t_ms
    q = np.stack([np.where((t >= a * STEP_MS) & (t < b * STEP_MS), 12.0, 0.0) for a, b in ((10, 50), (20, 80))], 1)
    leaks = (year.leaks[0], Leak("p3", 20 * STEP_MS, 80 * STEP_MS, 0.02, True, 20 * STEP_MS))
    return LeakYear(year.start_ms, year.end_ms, 300, leaks), YearRun(t, *[run.pressure_m] * 4, q), dist


def test_a_report_between_a_found_leak_and_an_unfound_one_finds_the_unfound_one() -> None:
    year, run, dist = two_leaks()
    s = score([Report("p2", 30 * STEP_MS), Report("p2", 40 * STEP_MS)], year, run, dist)
    assert s.true_positives == 2 and s.false_positives == 0 and s.missed == 0
    assert s.distance_m == [0.0, pytest.approx(100)]  # the second is 100 m from p3: it still finds p3
    assert s.euros == pytest.approx(EUR_PER_M3 * (21 + 41) - CREW_EUR * 100 / 300)
    assert s.perfect_euros == pytest.approx(EUR_PER_M3 * (40 + 60))


def test_reports_before_the_period_cost_nothing_and_a_running_leak_counts_from_the_first_row() -> None:
    year, run, dist = setup()
    t = run.t_ms + 20 * STEP_MS  # the period begins at step 20 of the old clock: the leak is already running
    shifted = YearRun(t, run.pressure_m, run.flow_m3h, run.level_m, run.demand_m3h,
                      np.where(t < 50 * STEP_MS, 12.0, 0.0)[:, None])
    s = score([Report("p5", 5 * STEP_MS), Report("p2", 20 * STEP_MS)], year, shifted, dist)
    assert s.false_positives == 0 and s.true_positives == 1  # the one before the period is ignored
    assert s.euros == pytest.approx(EUR_PER_M3 * 30) == pytest.approx(s.perfect_euros)


def test_a_pump_or_valve_joins_nothing() -> None:
    wn = line_town()
    wn.add_junction("J6", base_demand=0.001, elevation=0)
    wn.add_junction("J7", base_demand=0.001, elevation=0)
    wn.add_pipe("p6", "J6", "J7", length=100, diameter=0.2, roughness=100)
    wn.add_valve("v1", "J5", "J6", diameter=0.2, valve_type="PRV", initial_setting=30.0)
    wn.add_pipe("p7", "J1", "J3", length=40, diameter=0.1, roughness=100)
    wn.add_valve("v2", "J3", "J1", diameter=0.1, valve_type="TCV", initial_setting=1.0)  # later: no edge J1–J3
    dist = PipeDistance(wn)
    assert dist("p5", "p6") == np.inf  # another zone, behind a valve
    assert dist("p2", "p4") == pytest.approx(100 + 50 + 250)  # not through J1–J3's 40 m, which the valve set to 0


def test_the_organisers_test_submission_of_repeated_reports_scores_as_theirs() -> None:
    """The official report ``test_team_multiple_report.txt``: p632 reported five times against the
    2019 leak on p653 (2019-03-03 13:10 to 2019-05-05 12:10, 246 m away): the first finds it, the
    repeats inside the leak's span (to 12:05, and the end step is included) earn 0, the one at
    12:15 is false.  The leak's outflow here is 1 m³/h, not the competition's series."""
    from datetime import UTC, datetime


    def ms(text: str) -> int:
        return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)

    t = ms("2019-01-01 00:00") + np.arange(105_120, dtype=np.int64) * STEP_MS
    start, end = ms("2019-03-03 13:10"), ms("2019-05-05 12:10")
    q = np.where((t >= start) & (t <= end), 1.0, 0.0)[:, None]
    year = LeakYear(int(t[0]), int(t[-1]), 300, (Leak("p653", start, end, 0.016035, False, ms("2019-04-21 19:00")),))
    empty = np.zeros((len(t), 0))
    dist = PipeDistance(wntr.network.WaterNetworkModel(str(ltown_inp())))
    x = dist("p632", "p653")
    assert 240 < x < 300
    reports = [Report("p632", ms(s)) for s in ("2019-03-04 13:10", "2019-03-05 13:10", "2019-03-05 13:10",
                                                "2019-05-05 12:05", "2019-05-05 12:15")]
    s = score(reports, year, YearRun(t, empty, empty, empty, empty, q), dist)
    assert (s.true_positives, s.false_positives, s.missed) == (1, 1, 0)
    td = int((ms("2019-03-04 13:10") - t[0]) // STEP_MS)
    assert s.euros == pytest.approx(EUR_PER_M3 * q[td - 1:, 0].sum() / 12 - CREW_EUR * x / 300 - CREW_EUR)
