"""Thresholds for the demo city's sensors, from each sensor's own readings in a normal week.

Shared by every lifeline's sensor generator: simulate a normal (incident-free) scenario with the
platform's realism (noise, resolution), then set each sensor's levels outside what it showed,
with margins, so that a normal week raises no warning — the way a utility tunes a new sensor
after a commissioning period.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from ...batch import F64
from ...units import get_kind

LEVELS = ("IV", "III", "II", "I")


def in_unit(values: F64, kind: str, unit: str) -> F64:
    """Canonical values in ``unit``."""
    factor, offset = get_kind(kind).factor(unit)
    return (np.asarray(values) - offset) / factor


def rounded(value: float, decimals: int, up: bool) -> float:
    """``value`` rounded outward (up for high limits, down for low ones) to ``decimals``."""
    scale = 10.0 ** decimals
    scaled = round(value * scale, 6)
    return (math.ceil(scaled) if up else math.floor(scaled)) / scale


def levels(prefix: str, values: Iterable[float], decimals: int, up: bool) -> dict[str, str]:
    """Threshold cells ``{prefix_IV: …, …, prefix_I: …}`` as text."""
    return {f"{prefix}_{r}": f"{rounded(v, decimals, up):.{decimals}f}" for r, v in zip(LEVELS, values, strict=False)}


def rate_limit(values_in_unit: F64, interval_s: float, margin: float, floor: float, decimals: int,
               useless_above: float) -> str:
    """A rate-of-change limit per minute, ``margin`` × the largest normal change; '' where it
    would exceed ``useless_above`` (such a limit would never catch anything)."""
    if len(values_in_unit) < 2:
        return ""
    step = float(np.abs(np.diff(values_in_unit)).max()) * 60.0 / interval_s
    rate = max(margin * step, floor)
    return "" if rate > useless_above else f"{rounded(rate, decimals, True):.{decimals}f}"


def spread(values: Sequence[float]) -> tuple[float, float]:
    """(min, max) of a sensor's readings."""
    v = np.asarray(values, dtype=float)
    return float(v.min()), float(v.max())
