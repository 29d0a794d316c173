"""Which readings of a batch are new: the (sensor, time) key without a lookup in the common case.

Each store keeps ``last_t`` — the newest stored time of every sensor.  A batch whose readings
are, sensor by sensor, strictly newer than ``last_t`` and than the same sensor's previous
reading in the batch (time-major or sensor-major files, live feeds) needs no lookup: all of it
is new and already in detection order.  Anything else (re-delivery, late or shuffled data)
takes the general path: sort, drop in-batch duplicates, and let the store look up the readings
not newer than ``last_t``.
"""

from __future__ import annotations

import numba
import numpy as np

from ..batch import I64, ReadingBatch


@numba.njit(cache=True, nogil=True)
def _in_order(sensor, t_ms, last_t, scratch):  # type: ignore[no-untyped-def]
    for i in range(len(sensor)):  # scratch needs no initialising beyond the sensors touched
        scratch[sensor[i]] = last_t[sensor[i]]
    for i in range(len(sensor)):
        s = sensor[i]
        if t_ms[i] <= scratch[s]:
            return False
        scratch[s] = t_ms[i]
    return True


@numba.njit(cache=True, nogil=True)
def _advance(sensor, t_ms, value, last_t, last_value):  # type: ignore[no-untyped-def]
    for i in range(len(sensor)):
        s = sensor[i]
        if t_ms[i] > last_t[s]:
            last_t[s] = t_ms[i]
            last_value[s] = value[i]


def all_new_in_order(batch: ReadingBatch, last_t: I64) -> bool:
    """True if every reading is newer than ``last_t`` and than its sensor's previous reading."""
    if len(batch) == 0:
        return True
    scratch = np.empty(len(last_t), dtype=np.int64)
    return bool(_in_order(batch.sensor, batch.t_ms, last_t, scratch))


def advance(batch: ReadingBatch, last_t: I64, last_value: np.ndarray) -> None:
    """Move ``last_t``/``last_value`` forward over a committed batch (in place)."""
    if len(batch):
        _advance(batch.sensor, batch.t_ms, batch.value, last_t, last_value)


def sort_unique(batch: ReadingBatch) -> tuple[ReadingBatch, int]:
    """The batch sorted by (sensor, time) with repeated keys dropped (the first one kept),
    and how many were dropped."""
    order = np.lexsort((batch.t_ms, batch.sensor))
    b = batch.take(order)
    if len(b) < 2:
        return b, 0
    keep = np.ones(len(b), dtype=np.bool_)
    keep[1:] = (b.sensor[1:] != b.sensor[:-1]) | (b.t_ms[1:] != b.t_ms[:-1])
    return b.take(keep), int(len(b) - keep.sum())
