"""Threshold rules with the four warning levels, hysteresis and a minimum duration.

Each sensor may have high thresholds (rising from level IV to level I) and low thresholds
(falling from IV to I).  A level is *entered* when the value passes its threshold and has
stayed past it for the sensor's minimum duration; it is *left* when the value has been back
inside the threshold minus the hysteresis band for the minimum duration.  One event is emitted
per change of the level in force: raised, escalated, lowered, or cleared (``active`` False).

So a value hovering around a threshold does not chatter, and a single wild reading (shorter
than the minimum duration) raises nothing — the sensor-health detectors deal with it.
"""

from __future__ import annotations

import numba
import numpy as np

from ..batch import EventBatch, EventKind, ReadingBatch
from .base import Detector, event_buffers, events_from_kernel

NO_RUN = np.iinfo(np.int64).min


@numba.njit(cache=True, nogil=True)
def _raw_level(v, hi, lo, hyst, side, level):  # type: ignore[no-untyped-def]
    """(side, severity) the value stands at; levels already in force use the hysteresis band."""
    up = 0
    for j in range(4):
        limit = hi[j] - (hyst if (side == 1 and level >= j + 1) else 0.0)
        if v > limit:  # NaN thresholds never compare true
            up = j + 1
    down = 0
    for j in range(4):
        limit = lo[j] + (hyst if (side == -1 and level >= j + 1) else 0.0)
        if v < limit:
            down = j + 1
    if up >= down and up > 0:
        return 1, up
    if down > 0:
        return -1, down
    return 0, 0


@numba.njit(cache=True, nogil=True)
def _kernel(sensor, t_ms, value, high, low, hyst, min_ms,  # type: ignore[no-untyped-def]
            level, side, run_since, down_since, o_s, o_t, o_l, o_a, o_v, o_r):
    # side: the side (+1 high, -1 low) of the level in force, or, at level 0, of the runs being timed
    n = 0
    for i in range(len(sensor)):
        s = sensor[i]
        t = t_ms[i]
        v = value[i]
        raw_side, raw = _raw_level(v, high[s], low[s], hyst[s], side[s], level[s])
        if level[s] > 0 and raw_side != side[s]:
            raw, raw_side = 0, side[s]  # the other side (or normal): first leave this one
        if level[s] == 0 and raw_side != side[s]:
            run_since[s, :] = NO_RUN
            side[s] = raw_side
        for j in range(4):  # runs of "at least severity j+1", for entering or escalating
            if raw >= j + 1:
                if run_since[s, j] == NO_RUN:
                    run_since[s, j] = t
            else:
                run_since[s, j] = NO_RUN
        sustained = 0
        for j in range(4):
            if run_since[s, j] != NO_RUN and t - run_since[s, j] >= min_ms[s]:
                sustained = j + 1
        if raw < level[s]:  # a run below the level in force, for lowering or clearing
            if down_since[s] == NO_RUN:
                down_since[s] = t
        else:
            down_since[s] = NO_RUN
        new = level[s]
        if sustained > level[s]:
            new = sustained
        elif level[s] > 0 and down_since[s] != NO_RUN and t - down_since[s] >= min_ms[s]:
            new = max(raw, sustained)
        if new != level[s]:
            old = level[s]
            level[s] = new
            down_since[s] = NO_RUN
            lim = high[s] if side[s] == 1 else low[s]
            o_s[n] = s
            o_t[n] = t
            o_l[n] = new
            o_a[n] = new > 0
            o_v[n] = v
            o_r[n] = lim[new - 1] if new > 0 else lim[old - 1]
            n += 1
            if new == 0:
                side[s] = 0
                run_since[s, :] = NO_RUN
    return o_s, o_t, o_l, o_a, o_v, o_r, n


class ThresholdDetector(Detector):
    """Level I–IV threshold warnings with hysteresis and minimum duration."""

    name = "threshold"
    kinds = (EventKind.THRESHOLD,)
    STATE = {"level": (np.int8, 0, 1), "side": (np.int8, 0, 1),
             "run_since": (np.int64, NO_RUN, 4), "down_since": (np.int64, NO_RUN, 1)}

    def update(self, batch: ReadingBatch, watermark_ms: int) -> EventBatch:
        """See ``Detector.update``."""
        if not len(batch):
            return EventBatch.empty()
        r, st = self.registry, self.state
        out = _kernel(batch.sensor, batch.t_ms, batch.value, r.high, r.low, r.hysteresis, r.min_duration_ms,
                      st["level"], st["side"], st["run_since"], st["down_since"], *event_buffers(len(batch)))
        return events_from_kernel(out, EventKind.THRESHOLD)
