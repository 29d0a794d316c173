"""The AI anomaly detector and the alarm-fatigue controls around it.

What a duty officer relies on: an unusual reading raises one blue warning that says what was
unusual and compared with what; a long episode raises one warning, not hundreds; an incident
marked false alarm makes the same pattern on the same sensor stop alarming (while a stronger
one still does); and an asset cannot open more than its hour's share of incidents.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from citylifeline.batch import EventKind, ReadingBatch
from citylifeline.city import CityBundle
from citylifeline.city.sensors import SensorRegistry, SensorSpec
from citylifeline.detect import AnomalyDetector
from citylifeline.detect import anomaly_kernel as K
from citylifeline.pipeline import Pipeline
from citylifeline.settings import Config
from citylifeline.store import open_store

T0 = 1_790_000_000_000
MIN = 60_000
DAY_MIN = 1440
CONFIG = Config.load(environ={})


def registry(n: int = 1) -> SensorRegistry:
    return SensorRegistry([SensorSpec(id=f"P{i}", kind="pressure", asset=f"water/junction/{i}", layer="water")
                           for i in range(n)])


def daily_pressure(days: int, seed: int = 0) -> np.ndarray:
    """A week-long minute series with a daily demand cycle (low at the morning peak) and noise."""
    rng = np.random.default_rng(seed)
    minute = np.arange(days * DAY_MIN)
    cycle = -30e3 * np.exp(-(((minute % DAY_MIN) - 450) / 90.0) ** 2)  # 07:30 peak demand
    return 450e3 + cycle + rng.normal(0, 1.5e3, len(minute))


def ramp_up(v: np.ndarray, at: int, top_pa: float) -> None:
    """A half-hour rise to ``top_pa``, up and down in three-minute ramps within P-1's rate rule (0.05 MPa/min)."""
    v[at:at + 32] += top_pa * np.r_[1 / 3, 2 / 3, np.ones(28), 2 / 3, 1 / 3]


def series(v: np.ndarray, sensor: int = 0, start_min: int = 0) -> ReadingBatch:
    t = T0 + (start_min + np.arange(len(v), dtype=np.int64)) * MIN
    return ReadingBatch.of(np.full(len(v), sensor), t, v)


def alarms(det: AnomalyDetector, b: ReadingBatch) -> np.ndarray:
    e = det.update(b, int(b.t_ms.max()))
    return ((e.t_ms - T0) // MIN).astype(int)


def test_usual_daily_cycle_is_learned_and_a_drop_is_explained() -> None:
    v = daily_pressure(8)
    hour = 13 * 60  # day 7, 13:00: pressure is normally flat at 0.45 MPa
    drop_at = 7 * DAY_MIN + hour
    v[drop_at:drop_at + 60] -= 60e3
    det = AnomalyDetector(registry(), CONFIG)
    e = det.update(series(v), int(T0 + len(v) * MIN))
    when = ((e.t_ms - T0) // MIN).tolist()
    assert drop_at in when or drop_at + 1 in when, when
    assert all(0 <= w - drop_at < 60 for w in when if w >= 7 * DAY_MIN), "no alarm after the episode"
    first_week = [w for w in when if 2 * DAY_MIN < w < 7 * DAY_MIN]
    assert first_week == [], "the morning peak recurs every day: not an anomaly once learned"
    i = when.index(next(w for w in when if w >= drop_at))
    assert e.kind[i] == EventKind.ANOMALY and e.level[i] == 1
    assert e.value[i] == pytest.approx(v[drop_at + (when[i] - drop_at)])
    assert abs(e.ref[i] - 450e3) < 10e3  # compared with the usual 0.45 MPa
    assert e.detail[i] < -5  # several robust deviations below
    from citylifeline.detect.anomaly import explain
    text = explain(e.detail[i], int(e.cause[i]), "0.39 MPa", "0.45 MPa", "pressure")
    assert "robust deviations below" in text or "shifted persistently below" in text


def test_one_episode_raises_one_warning() -> None:
    v = daily_pressure(3, seed=1)
    v[2 * DAY_MIN + 600: 2 * DAY_MIN + 900] -= 80e3  # five hours low
    det = AnomalyDetector(registry(), CONFIG)
    when = alarms(det, series(v))
    inside = [w for w in when if 2 * DAY_MIN + 600 <= w < 2 * DAY_MIN + 900]
    assert 1 <= len(inside) <= 2, when


def test_a_false_alarm_teaches_the_sensor_and_a_stronger_anomaly_still_alarms() -> None:
    base = daily_pressure(8, seed=2)
    det = AnomalyDetector(registry(), CONFIG)
    det.update(series(base[: 3 * DAY_MIN]), T0)  # three quiet days learned

    def day(d: int, rise_pa: float = 0.0) -> ReadingBatch:
        v = base[d * DAY_MIN:(d + 1) * DAY_MIN].copy()
        v[600:630] += rise_pa  # a half-hour rise at 10:00: a pump test
        return series(v, start_min=d * DAY_MIN)

    first = det.update(day(3, 60e3), T0)
    assert len(first) == 1 and first.detail[0] > 0
    det.learn_false_alarm(int(first.sensor[0]), float(first.detail[0]))  # the operator: a pump test
    untaught = AnomalyDetector(registry(), CONFIG)  # the same history without the lesson
    untaught.update(series(base[: 3 * DAY_MIN]), T0)
    untaught.update(day(3, 60e3), T0)
    for d in (4, 5):  # two quiet days
        det.update(day(d), T0)
        untaught.update(day(d), T0)
    assert len(det.update(day(6, 60e3), T0)) == 0, "the same pattern on the same sensor alarmed again"
    assert len(untaught.update(day(6, 60e3), T0)) == 1  # without the lesson it does
    burst = base[7 * DAY_MIN:8 * DAY_MIN].copy()
    burst[900:960] -= 150e3  # a real drop: the other direction, far stronger
    e = det.update(series(burst, start_min=7 * DAY_MIN), T0)
    assert len(e) == 1 and e.detail[0] < 0


def test_nan_readings_are_ignored_and_change_nothing() -> None:
    v = daily_pressure(2, seed=3)
    t = T0 + np.arange(len(v), dtype=np.int64) * MIN
    holes = v.copy()
    holes[::17] = np.nan
    keep = ~np.isnan(holes)
    a, b = AnomalyDetector(registry(), CONFIG), AnomalyDetector(registry(), CONFIG)
    ea = a.update(ReadingBatch.of(np.zeros(keep.sum()), t[keep], v[keep]), T0)
    eb = b.update(ReadingBatch.of(np.zeros(len(v)), t, holes), T0)
    assert ea.t_ms.tolist() == eb.t_ms.tolist()
    assert np.array_equal(a.state["f"], b.state["f"])


def test_state_is_small() -> None:
    det = AnomalyDetector(registry(1000), CONFIG)
    assert det.state_bytes_per_sensor() == K.NF * 8 + K.NS * 4 + K.MEMORY_KEYS * 4 <= 512


# ---- the platform: false alarm feedback and the per-asset cap ------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now


def test_a_lone_sign_opens_nothing_and_is_kept(tmp_path: Path, bundle: CityBundle, config: Config) -> None:
    pipe = Pipeline(bundle, open_store(config.db), config, Clock())
    s = pipe.registry.index["P-1"]
    v = daily_pressure(3, seed=4)
    ramp_up(v, 2 * DAY_MIN + 700, 70e3)
    pipe.ingest(ReadingBatch.of(np.full(len(v), s), T0 + np.arange(len(v), dtype=np.int64) * MIN, v))
    assert pipe.store.active_incidents() == []
    signs = [e for e in pipe.store.events(sensor=s) if e.kind == "anomaly"]
    assert signs and all(e.incident_id is None and "early sign" in e.message for e in signs)
    pipe.store.close()


def test_by_default_a_sign_is_evidence_on_the_rules_incident(tmp_path: Path, bundle: CityBundle,
                                                               config: Config) -> None:
    pipe = Pipeline(bundle, open_store(config.db), config, Clock())
    s, s2 = pipe.registry.index["P-1"], pipe.registry.index["P-2"]
    v = daily_pressure(3, seed=6)
    v[2 * DAY_MIN + 700:] = 140e3  # a breach of level II on P-1 ...
    v2 = daily_pressure(3, seed=7)
    v2[2 * DAY_MIN + 702: 2 * DAY_MIN + 760] -= 40e3  # ... and an unusual drop on its neighbour, within every rule
    t = T0 + np.arange(len(v), dtype=np.int64) * MIN
    pipe.ingest(ReadingBatch.of(np.r_[np.full(len(v), s), np.full(len(v), s2)], np.r_[t, t], np.r_[v, v2]))
    [inc] = pipe.store.active_incidents()
    assert inc.sensors == ["P-1"] and inc.level == 3  # the sign changed neither its sensors nor its level
    attached = [e for e in pipe.store.events(incident_id=inc.id) if e.kind == "anomaly"]
    assert any(e.sensor_id == "P-2" and "attached as evidence" in e.message for e in attached)
    pipe.store.close()


def test_false_alarm_feedback_in_the_pipeline_survives_a_restart(tmp_path: Path, bundle: CityBundle,
                                                                 config: Config) -> None:
    config = replace(config, anomaly_corroborate_sensors=2)  # AI signs may open incidents
    pipe = Pipeline(bundle, open_store(config.db), config, Clock())
    s, s2 = pipe.registry.index["P-1"], pipe.registry.index["P-2"]
    v = daily_pressure(3, seed=4)
    ramp_up(v, 2 * DAY_MIN + 700, 70e3)
    v2 = daily_pressure(3, seed=5)
    ramp_up(v2, 2 * DAY_MIN + 701, 60e3)  # the neighbour sees it too
    t = T0 + np.arange(len(v), dtype=np.int64) * MIN
    pipe.ingest(ReadingBatch.of(np.r_[np.full(len(v), s), np.full(len(v), s2)], np.r_[t, t], np.r_[v, v2]))
    incs = [i for i in pipe.store.active_incidents() if "P-1" in i.sensors]
    assert incs, "the rise raised no incident"
    assert set(incs[0].sensors) == {"P-1", "P-2"} and incs[0].level == 1
    events = pipe.store.events(incident_id=incs[0].id)
    assert any(e.kind == "anomaly" and " above " in e.message and "corroborated by" in e.message
               for e in events), [e.message for e in events]
    pipe.act(incs[0].id, "false_alarm", "duty", text="pump test")
    det = next(d for d in pipe.detectors if isinstance(d, AnomalyDetector))
    learned = det.state["memory"][s].copy()
    assert learned.max() > 0
    pipe.store.close()
    again = Pipeline(bundle, open_store(config.db), config, Clock())
    det2 = next(d for d in again.detectors if isinstance(d, AnomalyDetector))
    assert np.allclose(det2.state["memory"][s], learned)
    again.store.close()


def test_an_asset_opens_at_most_its_hours_share_of_incidents(tmp_path: Path, bundle: CityBundle,
                                                             config: Config) -> None:
    pipe = Pipeline(bundle, open_store(config.db), config, Clock())
    s = pipe.registry.index["P-1"]
    opened = []
    breach = np.array([300e3, 140e3, 140e3, 140e3, 140e3, 300e3, 300e3, 300e3]) + np.arange(8) * 10.0
    for k in range(6):  # a breach every 8 minutes; the operator closes each incident at once
        t = T0 + k * 8 * MIN + np.arange(8, dtype=np.int64) * MIN
        pipe.ingest(ReadingBatch.of(np.full(8, s), t, breach))
        for inc in pipe.store.active_incidents():
            opened.append(inc.id)
            pipe.act(inc.id, "false_alarm", "duty", text="checked: a valve was being exercised")
    assert len(set(opened)) == config.max_incidents_per_asset_hour
    suppressed = [e for e in pipe.store.events(sensor=s) if "suppressed" in e.message]
    assert suppressed and all(e.incident_id is None for e in suppressed)
    later = T0 + 2 * 60 * MIN + np.arange(8, dtype=np.int64) * MIN  # an hour later: allowed again
    pipe.ingest(ReadingBatch.of(np.full(8, s), later, breach))
    assert len(pipe.store.active_incidents()) == 1
    pipe.store.close()


# ---- the AI review of minor rule warnings ----------------------------------------------------------------
def morning_dip(days: int, seed: int) -> np.ndarray:
    """Pressure that dips below P-1's blue limit (0.25 MPa) every morning: usual for this sensor."""
    rng = np.random.default_rng(seed)
    minute = np.arange(days * DAY_MIN)
    return 300e3 - 62e3 * np.exp(-(((minute % DAY_MIN) - 450) / 240.0) ** 2) + rng.normal(0, 1.5e3, len(minute))


def ingest_day(pipe: Pipeline, sensor: int, v: np.ndarray, d: int) -> None:
    part = v[d * DAY_MIN:(d + 1) * DAY_MIN]
    pipe.ingest(ReadingBatch.of(np.full(len(part), sensor), T0 + (d * DAY_MIN + np.arange(len(part))) * MIN, part))


def close_all(pipe: Pipeline) -> None:
    for inc in pipe.store.active_incidents():  # the duty officer closes the morning's incident
        pipe.act(inc.id, "false_alarm", "duty", text="the usual morning low")


@pytest.mark.parametrize("review", [0.0, 3.0])
def test_ai_review_keeps_a_usual_blue_breach_from_opening_an_incident(tmp_path: Path, bundle: CityBundle,
                                                                       config: Config, review: float) -> None:
    pipe = Pipeline(bundle, open_store(config.db), replace(config, ai_review_deviations=review),
                    Clock())
    s = pipe.registry.index["P-1"]
    v = morning_dip(10, seed=8)
    v[9 * DAY_MIN + 780: 9 * DAY_MIN + 840] = 240e3 + v[9 * DAY_MIN + 780: 9 * DAY_MIN + 840] - 300e3  # 13:00
    for d in range(8):  # a week of mornings: the AI learns them
        ingest_day(pipe, s, v, d)
        close_all(pipe)
    day8 = T0 + 8 * DAY_MIN * MIN
    ingest_day(pipe, s, v, 8)
    breach = [e for e in pipe.store.events(sensor=s) if e.kind == "threshold" and e.active and e.t_ms >= day8]
    assert len(breach) == 1 and breach[0].level == 1  # the rules saw the morning low as always
    if review:
        assert breach[0].incident_id is None, breach[0].detail
        assert pipe.store.active_incidents() == []
        assert "usual for this sensor at this hour" in breach[0].message, breach[0].detail
    else:
        assert len(pipe.store.active_incidents()) == 1 and breach[0].incident_id is not None, breach[0].detail
    close_all(pipe)
    day9 = day8 + DAY_MIN * MIN  # the same blue breach at 13:00, when the pressure is usually 0.30 MPa
    ingest_day(pipe, s, v, 9)
    [midday] = [e for e in pipe.store.events(sensor=s) if e.kind == "threshold" and e.active
                and e.t_ms >= day9 + 700 * MIN]
    assert midday.incident_id is not None and "usual" not in midday.message  # unusual for the hour: an incident
    pipe.store.close()
