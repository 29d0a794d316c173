"""Lifeline analysts (``base.Analyst``), one folder per lifeline (``gas/``, ``water/``, ``bridge/``, ``drainage/``).

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
from .drainage.analyst import DrainageAnalyst
from .gas.analyst import GasAnalyst
from .water.analyst import WaterAnalyst

ANALYSTS: tuple[type[Analyst], ...] = (GasAnalyst, WaterAnalyst, BridgeAnalyst, DrainageAnalyst)
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
    return judged_window(analysts, n)[0]


def judged_window(analysts: list[Analyst], n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per sensor, the reading times from which and until which an analyst's judgement replaces its
    rule warnings: the earliest start among the analysts that judge it, with that analyst's end."""
    since = np.full(n, NEVER_MS, dtype=np.int64)
    until = np.full(n, NEVER_MS, dtype=np.int64)
    for a in analysts:
        f, u = a.judged_from_ms()[:n], a.judged_until_ms()[:n]
        earlier = f < since[: len(f)]
        since[: len(f)][earlier] = f[earlier]
        until[: len(f)][earlier] = u[earlier]
    return since, until


__all__ = ["ANALYSTS", "Analyst", "BridgeAnalyst", "DrainageAnalyst",
           "GasAnalyst", "WaterAnalyst", "default_analysts", "judged_from", "judged_window"]
