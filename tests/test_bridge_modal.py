"""The bridge's frequency chart (``analysis.bridge.modal``) on the bridge twin's days."""

from __future__ import annotations

import numpy as np
import pytest

from citylifeline.analysis.bridge.modal import FROST_MARGIN_C, Alarm, FrequencyChart, cusum_limit
from citylifeline.twin.bridgeyear import DAY_MS, BridgeYear, Damage
from tests.test_bridgeyear import START, bridge


def watch(year: BridgeYear, days: range, chart: FrequencyChart | None = None) -> tuple[FrequencyChart, list[Alarm]]:
    chart = chart or FrequencyChart()
    alarms = []
    for d in days:
        day = year.day(d, strain=False)
        alarms += chart.update(day.freq_t_ms, day.f1_hz, day.deck_c)
    return chart, alarms


def test_siegmunds_limit_gives_the_run_length_asked_for() -> None:
    """For k = 0.5 and h = 4, Siegmund's approximation gives an in-control run length of about 338."""
    assert cusum_limit(0.5, 338.0) == pytest.approx(4.0, abs=0.02)
    assert cusum_limit(0.9, 525_600.0) > cusum_limit(0.9, 105_120.0) > cusum_limit(1.5, 105_120.0)


def test_winters_with_frost_and_springs_raise_no_damage_on_a_healthy_bridge() -> None:
    """Eight winters and springs (ninety days from January, seeds 11–18): frosty nights (the girder
    stiffens, the frequency rises steeply, and the deck's surface freezes hours before the girder
    does) and the spring's warming (the frequency falls as the concrete softens) are the weather,
    not damage.  At most one alarm in the eight, the stated rate's chance (without the frost
    margin there were 33); frost windows are neither learnt nor judged."""
    alarms = 0
    for seed in range(11, 19):
        y = BridgeYear(bridge(), START, 90, seed=seed)
        chart, found = watch(y, range(90))
        alarms += len(found)
        assert chart.bins[: 30 + int(FROST_MARGIN_C) - 1].sum() == 0  # nothing learnt below the frost margin
        assert chart.spread() < 0.012  # the identification's spread, 0.85 %, and a little of the model's
    readings = np.concatenate([y.day(d, strain=False).deck_c for d in range(90)])
    assert readings.min() < 0 and readings.max() > 15  # it froze, and it warmed
    assert alarms <= 1


def test_a_three_percent_loss_of_stiffness_is_warned_within_a_day_with_its_size_and_start() -> None:
    """A 3 % loss of bending stiffness over the span (1.5 % of the first frequency) on the fortieth
    day of spring: warned within 24 h, the drop estimated at 1–2.5 %, begun within a day of it."""
    b = bridge("B-2")
    at = START + 100 * DAY_MS + 9 * 3_600_000
    y = BridgeYear(b, START + 60 * DAY_MS, 50, (Damage(at, 0, 0.03, b.span_m / 2, b.span_m),), seed=12)
    _, alarms = watch(y, range(50))
    assert len(alarms) == 1
    a = alarms[0]
    assert at <= a.t_ms <= at + DAY_MS
    assert 0.01 <= a.drop <= 0.025
    assert abs(a.since_ms - at) <= DAY_MS


def test_a_restart_from_the_charts_state_changes_nothing() -> None:
    b = bridge()
    at = START + 130 * DAY_MS
    y = BridgeYear(b, START + 100 * DAY_MS, 40, (Damage(at, 0, 0.10, b.span_m / 2, b.span_m),), seed=13)
    _, straight = watch(y, range(40))
    first, _ = watch(y, range(20))
    again = FrequencyChart()
    again.load(first.state())
    _, resumed = watch(y, range(20, 40), again)
    assert straight and [(a.t_ms, a.drop) for a in resumed] == [(a.t_ms, a.drop) for a in straight]
    assert at <= straight[0].t_ms <= at + 3_600_000  # a 10 % loss: within the hour
