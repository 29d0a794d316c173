"""The ``Analyst`` contract: a lifeline's situation judged with its engineering model, live.

A detector judges one sensor against its own limits and history (``detect.base.Detector``); an
analyst judges a lifeline: which of its spaces, pipes or spans are in trouble, why, where the
cause is and whom it threatens.  Every analyst

- is built from the city model, the sensor registry and the settings, and never imports the
  twin (it must work on a real city's data);
- consumes the committed readings in order (``update``), keeping what it remembers in NumPy
  arrays that ``checkpoint`` returns and ``restore`` loads, so that a restart and a replay give
  the same judgements as the live run, however the stream is cut into batches;
- returns ``Event`` records with a level and the reasons in words (the pipeline hands them to
  the correlator like the detectors' events);
- names the sensors whose rule warnings its judgement replaces (``judged``): their threshold,
  rate and AI warnings are kept as evidence and open no incident of their own, because the
  analyst's events, graded by danger, do; from when, in the readings' time (``judged_from_ms``),
  where it must first learn a sensor's normal, and until when (``judged_until_ms``), where it judges
  only in some weather;
- takes in the works orders on its lifeline (``works``: a valve shut for works is an operation,
  not a fault), given all at once whenever one is entered or ended, and before a restart's replay;
  and so the rain forecasts a meteorological service pushes (``rain_forecasts``), each taking
  effect at its issue time in the readings' time;
- is told of the sensors the health detectors find faulty (``sensor_faults``: a frozen
  transmitter), in the batch that found them and before it sees that batch, and leaves their
  readings out of its judgement from the fault's time on, until it learns again (``recalibrate``);
- enriches an incident of its lifeline with what a crew needs (``analyse``: the judgement, the
  suspects with a search radius, the danger per place, the actions), and reports its state per
  asset (``status``).

``analysis.ANALYSTS`` lists them; ``tests/test_analyst_conformance.py`` checks these promises
for each.  One folder per lifeline holds its analyst (``analysis/gas/`` …).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from ..batch import NEVER_MS, NO_TIME, ReadingBatch
from ..city.model import City
from ..city.sensors import SensorRegistry
from ..forecasts import RainForecastRecord
from ..settings import Config
from ..warn.model import Event, Incident
from ..works import WorksOrder

UNTRUSTED_FAULTS = ("stuck",)
"""Sensor faults whose readings an analyst must not judge with: a frozen value reads as a deficit
or surplus against the model wherever the network moves (the demo city's WP-03, frozen at the
evening's pressure, placed the night's burst at its own node).  A spike or a gap spoils a reading,
not the sensor."""


def per_reading(table: npt.NDArray[Any], sensor: npt.NDArray[np.int32], fill: int = -1) -> npt.NDArray[Any]:
    """``table[sensor]`` for each reading, ``fill`` for sensors beyond the table (registered after it)."""
    out = np.full(len(sensor), fill, dtype=table.dtype)
    inside = sensor < len(table)
    out[inside] = table[sensor[inside]]
    return out


class Analyst(ABC):
    """Base of every lifeline's analyst (see the module docstring)."""

    name: ClassVar[str]
    lifeline: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]  # the event kinds it emits

    def __init__(self, city: City, registry: SensorRegistry, config: Config) -> None:
        self.city = city
        self.registry = registry
        self.config = config
        tz = ZoneInfo(city.timezone)
        self.tz_ms = int(datetime(2026, 1, 15, tzinfo=tz).utcoffset().total_seconds() * 1000)  # type: ignore[union-attr]
        """The city's local time less UTC, ms (its standard time: the hours of its day)."""

    @abstractmethod
    def judged(self) -> npt.NDArray[np.bool_]:
        """A mask over the registry: the sensors whose rule warnings this analyst's judgement replaces."""

    def judged_from_ms(self) -> npt.NDArray[np.int64]:
        """Per sensor, the reading time from which ``judged`` holds (``NEVER_MS``: never): by default
        from the start.  Asked after each batch, so an analyst that learns first says when it is done."""
        return np.where(self.judged(), NO_TIME, NEVER_MS).astype(np.int64)

    def judged_until_ms(self) -> npt.NDArray[np.int64]:
        """Per sensor, the reading time until which ``judged`` holds (``NEVER_MS``: for good, the default);
        an analyst that judges only in some weather (the drainage forecaster, while it rains) says when
        that ends."""
        return np.full(len(self.registry), NEVER_MS, dtype=np.int64)

    @abstractmethod
    def update(self, batch: ReadingBatch) -> list[Event]:
        """Consume committed readings (any sensors; per-sensor time order) and return the events they cause."""

    @abstractmethod
    def checkpoint(self) -> dict[str, np.ndarray]:
        """The state, as arrays named ``analyst.array``."""

    @abstractmethod
    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Load state saved by ``checkpoint``."""

    def resize(self, registry: SensorRegistry) -> None:
        """Adopt a registry that gained sensors (by default: start again with the new one)."""
        self.__init__(self.city, registry, self.config)  # type: ignore[misc]

    def recalibrate(self) -> None:
        """Learn again from the next readings, forgetting what was learnt (after a known change of
        the network, or its sensors repaired): by default, start again from nothing."""
        self.__init__(self.city, self.registry, self.config)  # type: ignore[misc]

    def works(self, orders: list[WorksOrder]) -> None:  # noqa: B027  # most analysts have none to take in
        """Every works order known (``works``): operations on the network that its judgement must
        take for what they are.  By default none concern it."""

    def rain_forecasts(self, forecasts: list[RainForecastRecord]) -> None:  # noqa: B027  # most analysts use none
        """The newest rain forecasts (``forecasts.KEPT``, oldest first), all at once whenever one comes and
        before a restart's replay.  By default none concern it."""

    def sensor_faults(self, faults: list[Event]) -> None:  # noqa: B027  # an analyst without a model uses none
        """The health detectors' fault events of the batch about to be given to ``update``
        (``UNTRUSTED_FAULTS``, active): those sensors' readings no longer follow what they measure
        and are left out of the judgement from each event's time on.  By default none is used."""

    @abstractmethod
    def analyse(self, incident: Incident, store: Any) -> dict[str, Any] | None:
        """What a crew needs for an incident this analyst raised (None for others)."""

    @abstractmethod
    def status(self) -> dict[str, Any]:
        """The analyst's state per asset, for the status page and the API."""
