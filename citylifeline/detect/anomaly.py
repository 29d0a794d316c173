"""AI early warning: the streaming anomaly detector, with memory of operators' false alarms.

``anomaly_kernel`` scores every reading against what the sensor usually does (its level, its
usual value at this hour, its one-step forecast and a change-point test), calibrated per
sensor so one threshold serves every sensor; see that module.  This detector turns scores at or
above ``anomaly_threshold`` into blue (IV) warnings that say what was unusual:
"pressure 0.31 MPa is 6.2 robust deviations below this hour's usual 0.45 MPa".

Alarm fatigue is handled here at the sensor: one anomaly episode raises one warning (a later
reading alarms again only when it is clearly more surprising than the decaying peak of the
episode), and an incident an operator marks *false alarm* teaches the sensor to ignore
deviations in the same direction that score up to 0.1 above the peak of the episode called
false (``learn_false_alarm``); the lesson fades towards the threshold over about 20,000
readings.  Stronger deviations, and deviations the other way, still alarm.

``review`` hands the rules' warnings the AI's view of their readings (how far each is from what
its sensor usually reads at that hour), so the correlator can keep a minor breach that is usual
for its sensor from opening an incident (``ai_review_deviations``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import levels
from ..batch import EventBatch, EventKind, ReadingBatch
from . import anomaly_kernel as K
from .base import Detector

FALSE_ALARM_MARGIN = 0.1  # the same pattern must score this much higher to alarm again


class AnomalyDetector(Detector):
    """Blue warnings for readings the sensor's own learned behaviour calls anomalous."""

    name = "anomaly"
    kinds = (EventKind.ANOMALY,)
    STATE = {"f": (np.float64, 0.0, K.NF), "season": (np.float32, 0.0, K.NS),
             "memory": (np.float32, 0.0, K.MEMORY_KEYS)}
    params = K.DEFAULTS

    usual_z: np.ndarray | None = None
    """Per reading of the last batch ``update`` saw: its deviation from the sensor's usual value."""

    def score(self, batch: ReadingBatch) -> tuple[np.ndarray, ...]:
        """(score, expected, z, view, alarm, usual_z) per reading of ``batch``, updating the state."""
        n = len(batch)
        out = (np.empty(n), np.empty(n), np.empty(n), np.empty(n, np.int8), np.empty(n, np.bool_), np.empty(n))
        st = self.state
        K.score_kernel(batch.sensor, batch.t_ms, batch.value, self.params, st["f"], st["season"],
                       st["memory"], float(self.config.anomaly_threshold), *out)
        return out

    def update(self, batch: ReadingBatch, watermark_ms: int) -> EventBatch:
        """See ``Detector.update``."""
        self.usual_z = None
        if not len(batch):
            return EventBatch.empty()
        _, expected, z, view, alarm, self.usual_z = self.score(batch)
        idx = np.flatnonzero(alarm)
        k = len(idx)
        return EventBatch.of(batch.sensor[idx], batch.t_ms[idx], np.full(k, int(EventKind.ANOMALY)),
                             np.full(k, levels.SEVERITIES[0]), np.ones(k, np.bool_), batch.value[idx],
                             expected[idx], z[idx], view[idx])

    def learn_false_alarm(self, sensor: int, z: float | None) -> None:
        """Remember that the sensor's last alarm episode in the direction of ``z`` was a false alarm:
        later ones in that direction must score ``FALSE_ALARM_MARGIN`` above that episode's peak (the
        lesson fades towards the threshold over ``P_MEMORY_DECAY``'s time)."""
        if z is None or not np.isfinite(z) or z == 0:
            return
        up = 1 if z > 0 else 0
        mem = self.state["memory"]
        last = float(mem[sensor, K.MEM_LAST + up])
        mem[sensor, K.MEM_FALSE + up] = max(float(mem[sensor, K.MEM_FALSE + up]), min(last + FALSE_ALARM_MARGIN, 1.0))


def review(events: EventBatch, batch: ReadingBatch, usual_z: np.ndarray) -> EventBatch:
    """``events`` with each rule warning's ``detail`` set to its reading's deviation from the
    sensor's usual value (``usual_z``, aligned with ``batch``; NaN where the reading is not in
    ``batch`` or the sensor is warming up); the correlator reads it (``Correlator._usual``)."""
    rule = np.flatnonzero(np.isin(events.kind, (EventKind.THRESHOLD, EventKind.RATE)))
    if not len(rule) or not len(batch):
        return events
    t0 = int(batch.t_ms.min())
    span = int(batch.t_ms.max()) - t0 + 1
    key = batch.sensor.astype(np.int64) * span + (batch.t_ms - t0)
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    want = events.sensor[rule].astype(np.int64) * span + (events.t_ms[rule] - t0)
    at = np.minimum(np.searchsorted(ordered, want), len(key) - 1)
    found = (ordered[at] == want) & (events.t_ms[rule] >= t0) & (events.t_ms[rule] < t0 + span)
    detail = events.detail.copy()
    detail[rule] = np.where(found, usual_z[order][at], np.nan)
    return replace(events, detail=detail)


def explain(z: float, view: int, value: str, expected: str, what: str) -> str:
    """'pressure 0.31 MPa is 6.2 robust deviations below this hour's usual 0.45 MPa'."""
    side = "above" if z > 0 else "below"
    if view == K.VIEW_CHANGE:
        return (f"{what} {value} has shifted persistently {side} its usual {expected} "
                "(change-point test; AI anomaly warning)")
    base = {K.VIEW_LEVEL: f"its recent level {expected}", K.VIEW_SEASON: f"this hour's usual {expected}",
            K.VIEW_FORECAST: f"the forecast {expected}"}.get(view, expected)
    return f"{what} {value} is {abs(z):.1f} robust deviations {side} {base} (AI anomaly warning)"
