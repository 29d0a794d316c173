"""Sensor-health detectors: their findings are maintenance tickets, never incidents.

- ``ImpossibleValueDetector``: a value outside the physically possible range of its kind or
  sensor (a negative methane fraction, a pressure of 1000 bar).  The pipeline keeps such
  readings away from the warning detectors, so a broken sensor cannot raise a red alarm.
- ``StuckDetector``: the same value repeated exactly N times in a row (a frozen transmitter).
- ``NoDataDetector``: a sensor silent for N of its sampling intervals, judged against the
  newest reading time of the whole city (the watermark), not the wall clock, so that replaying
  a day gives the same tickets as living through it.
- ``SpikeDetector``: one reading far from both of its neighbours while they agree (within a
  quarter of the jump): a step that overshoots and settles is a change of the signal, not a spike.
"""

from __future__ import annotations

import numba
import numpy as np

from ..batch import NO_TIME, EventBatch, EventKind, ReadingBatch
from ..city.sensors import SensorRegistry
from ..settings import Config
from .base import Detector, event_buffers, events_from_kernel

NONE = NO_TIME
GOOD_READINGS_TO_CLEAR = 10  # an impossible-value ticket closes after this many sane readings in a row
SPIKE_WARMUP = 10  # readings needed before the typical step size is trusted
STUCK_EXEMPT_KINDS = ("rainfall", "ratio", "methane", "ethane", "gas_fraction")  # legitimately sit at 0 for days
SPIKE_MIN_STEP = {"methane": 5e-4, "ethane": 5e-6, "gas_fraction": 1e-3, "humidity": 0.01, "rainfall": 1e-3 / 3600}
"""The smallest typical step a spike is measured against, per kind (canonical units: 1 %LEL,
0.1 %vol, 1 %RH, 1 mm/h).  A detector in clean air reads a flat zero with the odd blip of
noise; without this floor its typical step shrinks to nothing and every blip looks like a spike."""


def impossible_mask(batch: ReadingBatch, registry: SensorRegistry) -> np.ndarray:
    """True for readings outside their sensor's physical range."""
    s = batch.sensor
    return (batch.value < registry.physical_min[s]) | (batch.value > registry.physical_max[s])


@numba.njit(cache=True, nogil=True)
def _impossible(sensor, t_ms, value, bad, pmin, pmax, open_, good,  # type: ignore[no-untyped-def]
                o_s, o_t, o_l, o_a, o_v, o_r):
    n = 0
    for i in range(len(sensor)):
        s = sensor[i]
        if bad[i]:
            good[s] = 0
            if not open_[s]:
                open_[s] = True
                o_s[n], o_t[n], o_l[n], o_a[n], o_v[n] = s, t_ms[i], 1, True, value[i]
                o_r[n] = pmin[s] if value[i] < pmin[s] else pmax[s]
                n += 1
        elif open_[s]:
            good[s] += 1
            if good[s] >= GOOD_READINGS_TO_CLEAR:
                open_[s] = False
                o_s[n], o_t[n], o_l[n], o_a[n], o_v[n], o_r[n] = s, t_ms[i], 1, False, value[i], np.nan
                n += 1
    return o_s, o_t, o_l, o_a, o_v, o_r, n


class ImpossibleValueDetector(Detector):
    """Tickets for readings outside the physically possible range."""

    name = "impossible"
    kinds = (EventKind.IMPOSSIBLE,)
    sane_values_only = False
    STATE = {"open": (np.bool_, False, 1), "good": (np.int32, 0, 1)}

    def update(self, batch: ReadingBatch, watermark_ms: int) -> EventBatch:
        """See ``Detector.update``."""
        if not len(batch):
            return EventBatch.empty()
        r, st = self.registry, self.state
        bad = impossible_mask(batch, r)
        out = _impossible(batch.sensor, batch.t_ms, batch.value, bad, r.physical_min, r.physical_max,
                          st["open"], st["good"], *event_buffers(len(batch)))
        return events_from_kernel(out, EventKind.IMPOSSIBLE)


@numba.njit(cache=True, nogil=True)
def _stuck(sensor, t_ms, value, need, prev_v, run, open_,  # type: ignore[no-untyped-def]
           o_s, o_t, o_l, o_a, o_v, o_r):
    n = 0
    for i in range(len(sensor)):
        s = sensor[i]
        v = value[i]
        if v == prev_v[s]:
            run[s] += 1
            if need[s] > 0 and run[s] >= need[s] and not open_[s]:
                open_[s] = True
                o_s[n], o_t[n], o_l[n], o_a[n], o_v[n], o_r[n] = s, t_ms[i], 1, True, v, float(run[s])
                n += 1
        else:
            if open_[s]:
                open_[s] = False
                o_s[n], o_t[n], o_l[n], o_a[n], o_v[n], o_r[n] = s, t_ms[i], 1, False, v, float(run[s])
                n += 1
            run[s] = 1
            prev_v[s] = v
    return o_s, o_t, o_l, o_a, o_v, o_r, n


class StuckDetector(Detector):
    """Tickets for sensors repeating one value exactly (``stuck_readings`` times in a row)."""

    name = "stuck"
    kinds = (EventKind.STUCK,)
    STATE = {"prev_v": (np.float64, np.nan, 1), "run": (np.int32, 0, 1), "open": (np.bool_, False, 1)}

    def __init__(self, registry: SensorRegistry, config: Config) -> None:
        super().__init__(registry, config)
        self._need = self._required(registry)

    def _required(self, registry: SensorRegistry) -> np.ndarray:
        exempt = np.array([k in STUCK_EXEMPT_KINDS for k in registry.kind], dtype=np.bool_)
        return np.where(exempt, 0, self.config.stuck_readings).astype(np.int32)

    def resize(self, registry: SensorRegistry) -> None:
        """See ``Detector.resize``."""
        super().resize(registry)
        self._need = self._required(registry)

    def update(self, batch: ReadingBatch, watermark_ms: int) -> EventBatch:
        """See ``Detector.update``."""
        if not len(batch):
            return EventBatch.empty()
        st = self.state
        out = _stuck(batch.sensor, batch.t_ms, batch.value, self._need, st["prev_v"], st["run"], st["open"],
                     *event_buffers(len(batch)))
        return events_from_kernel(out, EventKind.STUCK)


@numba.njit(cache=True, nogil=True)
def _no_data(sensor, t_ms, value, limit_ms, watermark, last_t, open_,  # type: ignore[no-untyped-def]
             o_s, o_t, o_l, o_a, o_v, o_r):
    n = 0
    for i in range(len(sensor)):
        s = sensor[i]
        t = t_ms[i]
        if last_t[s] != NONE and not open_[s] and t - last_t[s] > limit_ms[s]:
            # a gap inside the stream: the ticket would have opened when the limit passed
            o_s[n], o_t[n], o_l[n], o_a[n], o_v[n], o_r[n] = s, last_t[s] + limit_ms[s], 1, True, np.nan, last_t[s]
            n += 1
            open_[s] = True
        if open_[s]:
            o_s[n], o_t[n], o_l[n], o_a[n], o_v[n], o_r[n] = s, t, 1, False, value[i], last_t[s]
            n += 1
            open_[s] = False
        last_t[s] = t
    for s in range(len(last_t)):  # silent now, judged against the newest time seen anywhere
        if last_t[s] != NONE and not open_[s] and watermark - last_t[s] > limit_ms[s]:
            o_s[n], o_t[n], o_l[n], o_a[n], o_v[n], o_r[n] = s, last_t[s] + limit_ms[s], 1, True, np.nan, last_t[s]
            n += 1
            open_[s] = True
    return o_s, o_t, o_l, o_a, o_v, o_r, n


BLOCK_S = 10.0  # the longest block of samples a gateway is expected to send at once


class NoDataDetector(Detector):
    """Tickets for sensors silent for ``no_data_intervals`` of their sampling intervals."""

    name = "no_data"
    kinds = (EventKind.NO_DATA,)
    sane_values_only = False
    STATE = {"last_t": (np.int64, NONE, 1), "open": (np.bool_, False, 1)}

    def __init__(self, registry: SensorRegistry, config: Config) -> None:
        super().__init__(registry, config)
        self._limit_ms = self._limits(registry)

    def _limits(self, registry: SensorRegistry) -> np.ndarray:
        """Each sensor's silence limit: ``no_data_intervals`` of its interval, or of ``BLOCK_S`` for a
        sensor sampled faster than once a second (its gateway sends the samples in blocks, ``ingest.blocks``:
        the silence between two blocks is no fault)."""
        every_s = np.where(registry.interval_s < 1.0, np.maximum(registry.interval_s, BLOCK_S), registry.interval_s)
        return (every_s * self.config.no_data_intervals * 1000).astype(np.int64)

    def resize(self, registry: SensorRegistry) -> None:
        """See ``Detector.resize``."""
        super().resize(registry)
        self._limit_ms = self._limits(registry)

    def update(self, batch: ReadingBatch, watermark_ms: int) -> EventBatch:
        """See ``Detector.update``."""
        st = self.state
        out = _no_data(batch.sensor, batch.t_ms, batch.value, self._limit_ms, watermark_ms, st["last_t"], st["open"],
                       *event_buffers(2 * len(batch) + len(self.registry)))
        return events_from_kernel(out, EventKind.NO_DATA)


@numba.njit(cache=True, nogil=True)
def _spike(sensor, t_ms, value, factor, min_step, prev_v, cand_t, cand_v, scale, seen,  # type: ignore[no-untyped-def]
           o_s, o_t, o_l, o_a, o_v, o_r):
    n = 0
    for i in range(len(sensor)):
        s = sensor[i]
        v = value[i]
        if cand_t[s] != NONE:
            jump = cand_v[s] - prev_v[s]
            back = v - cand_v[s]
            if jump * back < 0.0 and abs(back) > 0.75 * abs(jump) and abs(v - prev_v[s]) < 0.25 * abs(jump):
                o_s[n], o_t[n], o_l[n], o_a[n], o_v[n], o_r[n] = s, cand_t[s], 1, True, cand_v[s], prev_v[s]
                n += 1
                cand_t[s] = NONE  # the spike itself is not a step of the signal
            else:  # it was a real change: learn from it and move on
                d = abs(jump)
                scale[s] = d if seen[s] == 1 else 0.9 * scale[s] + 0.1 * d
                seen[s] += 1
                prev_v[s] = cand_v[s]
                cand_t[s] = NONE
        if seen[s] == 0:
            prev_v[s] = v
            seen[s] = 1
            continue
        d = abs(v - prev_v[s])
        floor = max(1e-3 * abs(prev_v[s]), min_step[s]) + 1e-12
        if seen[s] > SPIKE_WARMUP and d > factor * max(scale[s], floor):
            cand_t[s] = t_ms[i]
            cand_v[s] = v
        else:
            scale[s] = d if seen[s] == 1 else 0.9 * scale[s] + 0.1 * d
            seen[s] = min(seen[s] + 1, 1 << 30)
            prev_v[s] = v
    return o_s, o_t, o_l, o_a, o_v, o_r, n


class SpikeDetector(Detector):
    """Tickets for isolated spikes: one reading ``spike_factor`` typical steps away from both
    neighbours, which agree with each other."""

    name = "spike"
    kinds = (EventKind.SPIKE,)
    STATE = {"prev_v": (np.float64, np.nan, 1), "cand_t": (np.int64, NONE, 1), "cand_v": (np.float64, np.nan, 1),
             "scale": (np.float64, 0.0, 1), "seen": (np.int32, 0, 1)}

    def __init__(self, registry: SensorRegistry, config: Config) -> None:
        super().__init__(registry, config)
        self._min_step = self._floors(registry)

    @staticmethod
    def _floors(registry: SensorRegistry) -> np.ndarray:
        return np.array([SPIKE_MIN_STEP.get(k, 0.0) for k in registry.kind], dtype=np.float64)

    def resize(self, registry: SensorRegistry) -> None:
        """See ``Detector.resize``."""
        super().resize(registry)
        self._min_step = self._floors(registry)

    def update(self, batch: ReadingBatch, watermark_ms: int) -> EventBatch:
        """See ``Detector.update``."""
        if not len(batch):
            return EventBatch.empty()
        st = self.state
        out = _spike(batch.sensor, batch.t_ms, batch.value, self.config.spike_factor, self._min_step,
                     st["prev_v"], st["cand_t"],
                     st["cand_v"], st["scale"], st["seen"], *event_buffers(len(batch)))
        return events_from_kernel(out, EventKind.SPIKE)
