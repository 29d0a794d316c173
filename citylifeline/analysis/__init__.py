"""Lifeline analysts (``base.Analyst``), one folder per lifeline (``gas/``, ``water/``, ``bridge/``).

``ANALYSTS`` lists every analyst the pipeline runs; the ``analysts`` setting chooses among them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..batch import NEVER_MS
from ..city.model import City
from ..city.sensors import SensorRegistry
from ..errors import ConfigError
from ..settings import Config
from .base import Analyst
from .bridge.analyst import BridgeAnalyst
from .gas.analyst import GasAnalyst
from .water.analyst import WaterAnalyst

ANALYSTS: tuple[type[Analyst], ...] = (GasAnalyst, WaterAnalyst, BridgeAnalyst)
"""Every analyst, by name; the conformance suite runs over all of them."""


def default_analysts(city: City, registry: SensorRegistry, config: Config) -> list[Analyst]:
    """The analysts the ``analysts`` setting names (all by default)."""
    known = {a.name: a for a in ANALYSTS}
    names = [n.strip() for n in config.analysts.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"analysts: {', '.join(unknown)} unknown; use a comma-separated list of "
                          f"{', '.join(known)}, or an empty value for none")
    return [known[n](city, registry, config) for n in names]


def judged_from(analysts: list[Analyst], n: int) -> npt.NDArray[np.int64]:
    """Per sensor, the reading time from which an analyst's judgement replaces its rule warnings
    (``NEVER_MS``: never)."""
    since = np.full(n, NEVER_MS, dtype=np.int64)
    for a in analysts:
        m = a.judged_from_ms()[:n]
        since[: len(m)] = np.minimum(since[: len(m)], m)
    return since


__all__ = ["ANALYSTS", "Analyst", "BridgeAnalyst", "GasAnalyst", "WaterAnalyst", "default_analysts", "judged_from"]
