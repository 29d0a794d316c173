"""The ``Detector`` contract: ``update(batch) -> events``, with all state in per-sensor arrays.

A detector sees each sensor's new readings in time order (the store guarantees it) and keeps
whatever it remembers in NumPy arrays indexed by sensor, declared in ``STATE``.  That makes it
fast (the loop over readings is a numba kernel), checkpointable (the arrays are the
checkpoint), partitionable (a district's sensors are a slice), and independent of how the
stream is cut into batches: feeding one day in one batch or minute by minute gives the same
events.  ``tests/test_detector_conformance.py`` checks these promises for every detector.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from ..batch import EventBatch, EventKind, ReadingBatch
from ..city.sensors import SensorRegistry
from ..settings import Config


class Detector(ABC):
    """Base of all detectors.

    ``STATE`` maps an array name to (dtype, fill value, columns per sensor); the base class
    allocates, grows, checkpoints and restores them.  Subclasses implement ``update``, which
    must read parameters from the registry and mutate only ``self.state``."""

    name: ClassVar[str]
    kinds: ClassVar[tuple[EventKind, ...]]
    sane_values_only: ClassVar[bool] = True  # False: also sees physically impossible readings
    STATE: ClassVar[dict[str, tuple[type, float, int]]] = {}

    def __init__(self, registry: SensorRegistry, config: Config) -> None:
        self.registry = registry
        self.config = config
        self.state: dict[str, np.ndarray] = {}
        self._allocate(len(registry))

    def _allocate(self, n: int) -> None:
        for key, (dtype, fill, width) in self.STATE.items():
            shape = (n,) if width == 1 else (n, width)
            fresh: np.ndarray = np.full(shape, fill, dtype=dtype)
            old = self.state.get(key)
            if old is not None:
                fresh[: len(old)] = old
            self.state[key] = fresh

    def resize(self, registry: SensorRegistry) -> None:
        """Adopt a registry that gained sensors; existing sensors keep their state."""
        self.registry = registry
        self._allocate(len(registry))

    @abstractmethod
    def update(self, batch: ReadingBatch, watermark_ms: int) -> EventBatch:
        """Consume new readings (per-sensor time order) and return the events they cause.

        ``watermark_ms`` is the newest reading time seen by the pipeline so far; detectors
        that watch for silence compare against it, never against the wall clock."""

    def checkpoint(self) -> dict[str, np.ndarray]:
        """The state arrays, named ``detector.array``."""
        return {f"{self.name}.{k}": v.copy() for k, v in self.state.items()}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Load state saved by ``checkpoint`` (arrays for more sensors than saved keep defaults)."""
        for key in self.STATE:
            saved = arrays.get(f"{self.name}.{key}")
            if saved is not None:
                n = min(len(saved), len(self.state[key]))
                self.state[key][:n] = saved[:n]

    def state_bytes_per_sensor(self) -> float:
        """Bytes of state per sensor (for the memory benchmark)."""
        n = max(len(self.registry), 1)
        return sum(v.nbytes for v in self.state.values()) / n


def events_from_kernel(out: tuple[np.ndarray, ...], kind: EventKind) -> EventBatch:
    """An EventBatch from a kernel's (sensor, t, level, active, value, ref, count) buffers."""
    sensor, t_ms, level, active, value, ref, n = out
    k = int(n)
    return EventBatch.of(sensor[:k], t_ms[:k], np.full(k, int(kind), np.int8),
                         level[:k], active[:k], value[:k], ref[:k])


def event_buffers(n: int) -> tuple[np.ndarray, ...]:
    """Empty output buffers for a kernel that emits at most ``n`` events."""
    return (np.empty(n, np.int32), np.empty(n, np.int64), np.empty(n, np.int8), np.empty(n, np.bool_),
            np.empty(n, np.float64), np.empty(n, np.float64))
