"""Sensor realism: noise and resolution per kind, every device fault, late and duplicated delivery."""

from __future__ import annotations

import numpy as np
import pytest

from citylifeline.twin.base import Signals
from citylifeline.twin.realism import NOISE, readings
from citylifeline.twin.scenario import scenario_from_dict

MIN = 60_000


def scenario(**doc: object):  # type: ignore[no-untyped-def]
    return scenario_from_dict({"duration": "1d", "start": "2026-06-03T00:00:00+08:00", "seed": 5, **doc})


def signals(start_ms: int, n: int = 1440) -> Signals:
    t = start_ms + np.arange(n, dtype=np.int64) * MIN
    wave = 3e5 + 2e4 * np.sin(np.arange(n) / 200)
    return Signals.from_series({"P": (t, wave), "Q": (t, np.full(n, 0.05)), "M": (t, np.zeros(n))})


KINDS = {"P": "pressure", "Q": "flow", "M": "methane"}


def by_sensor(r, sid: str) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    m = r.sensor_id == sid
    o = np.argsort(r.t_ms[m], kind="stable")
    return r.t_ms[m][o], r.value[m][o]


def test_noise_and_resolution_follow_the_kind() -> None:
    s = scenario()
    r = readings(signals(s.start_ms), KINDS, s)
    _, q = by_sensor(r, "Q")
    assert q.std() == pytest.approx(0.01 * 0.05, rel=0.15)  # 1 % of reading
    assert np.allclose(q / NOISE["flow"].resolution, np.round(q / NOISE["flow"].resolution))
    _, p = by_sensor(r, "P")
    assert np.allclose(p / 100, np.round(p / 100))  # 100 Pa steps
    assert len(r) == 3 * 1440 and (r.delivered_ms >= r.t_ms).all()
    assert (np.diff(r.delivered_ms) >= 0).all()  # in delivery order


def test_every_fault_does_what_it_says() -> None:
    s = scenario(faults=[{"sensor": "P", "type": "stuck", "start": "2h", "end": "4h"},
                         {"sensor": "Q", "type": "dropout", "start": "5h", "end": "6h"},
                         {"sensor": "M", "type": "spike", "start": "1h", "magnitude": 5.0}])
    clean = readings(signals(s.start_ms), KINDS, scenario())
    r = readings(signals(s.start_ms), KINDS, s)
    t, p = by_sensor(r, "P")
    stuck = (t >= s.start_ms + 2 * 3600_000) & (t < s.start_ms + 4 * 3600_000)
    assert len(set(p[stuck].tolist())) == 1 and len(set(p[~stuck][:200].tolist())) > 50
    tq, _ = by_sensor(r, "Q")
    assert len(tq) == 1440 - 60 and not ((tq >= s.start_ms + 5 * 3600_000) & (tq < s.start_ms + 6 * 3600_000)).any()
    _, m = by_sensor(r, "M")
    _, m0 = by_sensor(clean, "M")
    assert 15 <= int((np.abs(m - m0) > 10 * 2.5e-4).sum()) <= 30  # about one spike an hour for 23 h
    assert [f["type"] for f in r.faults] == ["stuck", "dropout", "spike"]
    assert r.faults[0]["start_ms"] == s.start_ms + 2 * 3600_000


def test_drift_and_clock_skew() -> None:
    s = scenario(faults=[{"sensor": "P", "type": "drift", "start": "0s", "magnitude": 0.5},
                         {"sensor": "Q", "type": "clock_skew", "start": "12h", "magnitude": 300}])
    clean = readings(signals(s.start_ms), KINDS, scenario())
    r = readings(signals(s.start_ms), KINDS, s)
    _, p = by_sensor(r, "P")
    _, p0 = by_sensor(clean, "P")
    span = 4e4 * 0.9  # about the wave's 5-95 % range
    assert (p - p0)[-60:].mean() == pytest.approx(0.5 * span, rel=0.15)  # half the range in a day
    tq, _ = by_sensor(r, "Q")
    tq0, _ = by_sensor(clean, "Q")
    assert np.array_equal(tq[:720], tq0[:720]) and (tq[720:] - tq0[720:] == 300_000).all()


def test_late_and_duplicated_delivery() -> None:
    s = scenario(delivery={"late_fraction": 0.05, "late_delay": "10min", "duplicate_fraction": 0.02})
    r = readings(signals(s.start_ms), KINDS, s)
    assert 3 * 1440 * 1.01 < len(r) < 3 * 1440 * 1.03  # ~2 % duplicates
    late = (r.delivered_ms - r.t_ms) >= 600_000
    assert 0.03 < late.mean() < 0.07
    keys = list(zip(r.sensor_id.tolist(), r.t_ms.tolist(), strict=True))
    assert len(set(keys)) == 3 * 1440  # duplicates are exact copies of real readings
    order = np.argsort(r.t_ms, kind="stable")
    assert not np.array_equal(order, np.arange(len(r)))  # late ones arrive out of time order
