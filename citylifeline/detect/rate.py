"""Rate-of-change rules: a sudden step that stays, such as the pressure drop of a pipe burst.

A sensor with a ``rate_per_min`` limit raises a warning (at its ``rate_level``) when its value
changes faster than the limit between two readings *and the next reading confirms the step*:
it keeps going the same way or stays at least half-way to the new value.  A reading that jumps
and comes straight back is an isolated spike — a sensor fault for the spike detector, not a
warning.  So a burst is warned about on the second reading after it.
"""

from __future__ import annotations

import numba
import numpy as np

from ..batch import NO_TIME, EventBatch, EventKind, ReadingBatch
from .base import Detector, event_buffers, events_from_kernel

NONE = NO_TIME
MAX_GAP_INTERVALS = 3.0  # a change across a longer gap is not "sudden"


@numba.njit(cache=True, nogil=True)
def _kernel(sensor, t_ms, value, rate_per_s, rate_level, interval_s,  # type: ignore[no-untyped-def]
            prev_t, prev_v, pend_t, pend_v, pend_ref, o_s, o_t, o_l, o_a, o_v, o_r):
    n = 0
    for i in range(len(sensor)):
        s = sensor[i]
        t = t_ms[i]
        v = value[i]
        if pend_t[s] != NONE:  # confirm or drop the step seen at the previous reading
            step = pend_v[s] - pend_ref[s]
            after = v - pend_v[s]
            if after * step >= 0.0 or abs(after) < 0.5 * abs(step):
                o_s[n] = s
                o_t[n] = pend_t[s]
                o_l[n] = rate_level[s]
                o_a[n] = True
                o_v[n] = pend_v[s]
                o_r[n] = pend_ref[s]
                n += 1
            else:  # it came straight back: a spike; measure the next step from before it
                prev_v[s] = pend_ref[s]
            pend_t[s] = NONE
        limit = rate_per_s[s]
        if prev_t[s] != NONE and limit == limit:  # limit is NaN when the rule is off
            dt_s = (t - prev_t[s]) / 1000.0
            if 0.0 < dt_s <= MAX_GAP_INTERVALS * interval_s[s] and abs(v - prev_v[s]) > limit * dt_s:
                pend_t[s] = t
                pend_v[s] = v
                pend_ref[s] = prev_v[s]
        prev_t[s] = t
        prev_v[s] = v
    return o_s, o_t, o_l, o_a, o_v, o_r, n


class RateDetector(Detector):
    """Warnings for confirmed sudden steps faster than a sensor's rate limit."""

    name = "rate"
    kinds = (EventKind.RATE,)
    STATE = {"prev_t": (np.int64, NONE, 1), "prev_v": (np.float64, np.nan, 1),
             "pend_t": (np.int64, NONE, 1), "pend_v": (np.float64, np.nan, 1),
             "pend_ref": (np.float64, np.nan, 1)}

    def update(self, batch: ReadingBatch, watermark_ms: int) -> EventBatch:
        """See ``Detector.update``."""
        if not len(batch):
            return EventBatch.empty()
        r, st = self.registry, self.state
        out = _kernel(batch.sensor, batch.t_ms, batch.value, r.rate_per_s, r.rate_level, r.interval_s,
                      st["prev_t"], st["prev_v"], st["pend_t"], st["pend_v"], st["pend_ref"],
                      *event_buffers(len(batch)))
        return events_from_kernel(out, EventKind.RATE)
