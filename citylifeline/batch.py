"""The columnar batches that flow through the pipeline: readings in, events out.

Every stage takes a whole batch and hands on a whole batch; no stage makes one Python object
per reading.  A ``ReadingBatch`` holds three aligned NumPy columns: ``sensor`` (int32 index into
the ``SensorRegistry``), ``t_ms`` (int64 epoch milliseconds, UTC) and ``value`` (float64 in the
sensor's canonical SI unit).  An ``EventBatch`` is what detectors emit: one row per change of
state they saw (a warning raised, changed or cleared; a sensor fault opened or cleared).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
NO_TIME = int(np.iinfo(np.int64).min)
NEVER_MS = int(np.iinfo(np.int64).max)  # a time that never comes (an analyst's judgement of a sensor: never)
"""An int64 time column's 'never' (no reading yet, no run in progress)."""


@dataclass(frozen=True)
class ReadingBatch:
    """Aligned columns of readings; rows need not be sorted."""

    sensor: I32
    t_ms: I64
    value: F64

    def __post_init__(self) -> None:
        n = len(self.sensor)
        if len(self.t_ms) != n or len(self.value) != n:
            raise ValueError(f"columns differ in length: {n}, {len(self.t_ms)}, {len(self.value)}")

    @classmethod
    def of(cls, sensor: npt.ArrayLike, t_ms: npt.ArrayLike, value: npt.ArrayLike) -> ReadingBatch:
        """A batch from anything array-like, cast to the canonical dtypes."""
        return cls(np.ascontiguousarray(sensor, dtype=np.int32),
                   np.ascontiguousarray(t_ms, dtype=np.int64),
                   np.ascontiguousarray(value, dtype=np.float64))

    @classmethod
    def empty(cls) -> ReadingBatch:
        """A batch with no rows."""
        return cls.of([], [], [])

    def __len__(self) -> int:
        return len(self.sensor)

    def take(self, index: npt.NDArray[np.integer] | Bools) -> ReadingBatch:
        """The rows selected by an index array or a boolean mask."""
        return ReadingBatch(self.sensor[index], self.t_ms[index], self.value[index])

    def slice(self, start: int, stop: int) -> ReadingBatch:
        """Rows ``start:stop`` as views (no copy)."""
        return ReadingBatch(self.sensor[start:stop], self.t_ms[start:stop], self.value[start:stop])

    @classmethod
    def concat(cls, batches: list[ReadingBatch]) -> ReadingBatch:
        """One batch holding the rows of all ``batches`` in order."""
        if not batches:
            return cls.empty()
        if len(batches) == 1:
            return batches[0]
        return cls(np.concatenate([b.sensor for b in batches]),
                   np.concatenate([b.t_ms for b in batches]),
                   np.concatenate([b.value for b in batches]))


class EventKind(enum.IntEnum):
    """What a detector saw.  Codes below 10 are warnings (they become incidents); 10 and above
    are sensor faults (they become maintenance tickets, never incidents)."""

    THRESHOLD = 1
    RATE = 2
    ANOMALY = 3
    STUCK = 10
    NO_DATA = 11
    IMPOSSIBLE = 12
    SPIKE = 13

    @property
    def is_fault(self) -> bool:
        """True for sensor faults, which go to maintenance rather than to the duty officer."""
        return self.value >= 10


@dataclass(frozen=True)
class EventBatch:
    """Aligned columns of events.

    ``level`` is a severity (see ``citylifeline.levels``): for warnings the level now in force,
    for faults 1.  ``active`` is False when the condition cleared.  ``value`` is the reading that
    caused the event and ``ref`` the limit or reference it was compared with.  ``detail`` and
    ``cause`` say more where a detector has more to say (the anomaly detector: the signed robust
    deviation and which view saw it); NaN and -1 elsewhere.
    """

    sensor: I32
    t_ms: I64
    kind: I8
    level: I8
    active: Bools
    value: F64
    ref: F64
    detail: F64
    cause: I8

    @classmethod
    def of(cls, sensor: npt.ArrayLike, t_ms: npt.ArrayLike, kind: npt.ArrayLike,
           level: npt.ArrayLike, active: npt.ArrayLike, value: npt.ArrayLike,
           ref: npt.ArrayLike, detail: npt.ArrayLike | None = None,
           cause: npt.ArrayLike | None = None) -> EventBatch:
        """An event batch from array-likes, cast to the canonical dtypes."""
        n = len(np.asarray(sensor))
        return cls(np.asarray(sensor, np.int32), np.asarray(t_ms, np.int64),
                   np.asarray(kind, np.int8), np.asarray(level, np.int8),
                   np.asarray(active, np.bool_), np.asarray(value, np.float64),
                   np.asarray(ref, np.float64),
                   np.full(n, np.nan) if detail is None else np.asarray(detail, np.float64),
                   np.full(n, -1, np.int8) if cause is None else np.asarray(cause, np.int8))

    @classmethod
    def empty(cls) -> EventBatch:
        """An event batch with no rows."""
        return cls.of([], [], [], [], [], [], [])

    def __len__(self) -> int:
        return len(self.sensor)

    def take(self, index: npt.NDArray[np.integer] | Bools) -> EventBatch:
        """The rows selected by an index array or boolean mask."""
        return EventBatch(self.sensor[index], self.t_ms[index], self.kind[index], self.level[index],
                          self.active[index], self.value[index], self.ref[index], self.detail[index],
                          self.cause[index])

    @classmethod
    def concat(cls, batches: list[EventBatch]) -> EventBatch:
        """All rows of ``batches``, sorted by (time, sensor, kind) so that the order of
        detectors and of batch boundaries never changes what follows."""
        batches = [b for b in batches if len(b)]
        if not batches:
            return cls.empty()
        cols = [np.concatenate([getattr(b, f) for b in batches])
                for f in ("sensor", "t_ms", "kind", "level", "active", "value", "ref", "detail", "cause")]
        out = cls(*cols)
        order = np.lexsort((out.kind, out.sensor, out.t_ms))
        return out.take(order)
