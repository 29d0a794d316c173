"""Threshold rules: the four levels, hysteresis, minimum duration, both sides."""

from __future__ import annotations

import numpy as np

from citylifeline.batch import ReadingBatch
from citylifeline.city.sensors import SensorRegistry
from citylifeline.detect import ThresholdDetector
from tests.test_detector_conformance import CONFIG, STEP, T0, spec


def levels_seen(values: list[float], **kw: object) -> list[tuple[int, int, bool]]:
    """(reading index, severity, active) of every event for a value series."""
    det = ThresholdDetector(SensorRegistry([spec(0, **kw)]), CONFIG)
    t = T0 + np.arange(len(values), dtype=np.int64) * STEP
    e = det.update(ReadingBatch.of(np.zeros(len(values)), t, np.array(values, float)), int(t[-1]))
    return [(int((tt - T0) // STEP), int(lv), bool(a)) for tt, lv, a in zip(e.t_ms, e.level, e.active, strict=True)]


def test_levels_rise_and_fall_one_event_per_change() -> None:
    kPa = 1e3
    vals = [300 * kPa] * 5 + [240 * kPa] * 5 + [140 * kPa] * 5 + [90 * kPa] * 5 + [300 * kPa] * 5
    assert levels_seen(vals, min_duration_s=0.0, hysteresis=0.0) == [
        (5, 1, True), (10, 3, True), (15, 4, True), (20, 0, False)]


def test_minimum_duration_delays_and_filters() -> None:
    kPa = 1e3
    short = [300 * kPa] * 5 + [140 * kPa] * 2 + [300 * kPa] * 5  # 2 readings = 60 s < 120 s
    assert levels_seen(short) == []
    held = [300 * kPa] * 5 + [140 * kPa] * 6 + [300 * kPa] * 6
    assert levels_seen(held) == [(7, 3, True), (13, 0, False)]  # 120 s after the breach / the return


def test_hysteresis_stops_chatter_around_a_threshold() -> None:
    kPa = 1e3
    wobble = [300 * kPa] * 3 + [198 * kPa, 202 * kPa] * 20 + [300 * kPa] * 5  # around the 200 kPa level III limit
    with_band = levels_seen(wobble, min_duration_s=0.0, hysteresis=5 * kPa)
    without = levels_seen(wobble, min_duration_s=0.0, hysteresis=0.0)
    assert [lv for _, lv, _ in with_band] == [2, 0]
    assert len(without) > 20  # what the band prevents


def test_escalating_sag_reports_each_level_once() -> None:
    kPa = 1e3
    sag = list(np.linspace(300, 80, 45) * kPa) + [80 * kPa] * 10
    got = levels_seen(sag)
    assert [lv for _, lv, _ in got] == [1, 2, 3, 4]
    assert all(a for _, _, a in got)


def test_high_side_levels() -> None:
    kPa = 1e3
    vals = [300 * kPa] * 3 + [520 * kPa] * 6 + [300 * kPa] * 6
    got = levels_seen(vals, low=(float("nan"),) * 4, high=(400 * kPa, 450 * kPa, 500 * kPa, 600 * kPa))
    assert got == [(5, 3, True), (11, 0, False)]
