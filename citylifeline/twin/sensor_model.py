"""How a twin's true values become device readings: noise, rounding and a stuck fault.

Kept modest on purpose (a later issue adds drift, spikes, gaps and clock skew): Gaussian noise
with a per-kind standard deviation, rounding to the device's resolution, and a sensor that
freezes and repeats its last value exactly.  All values are canonical SI.
"""

from __future__ import annotations

import numpy as np

from ..batch import F64
from ..units import WATER_HEAD_PA_PER_M

PRESSURE_NOISE_PA = 0.15 * WATER_HEAD_PA_PER_M  # σ of 0.15 m of head, a good transmitter
FLOW_NOISE_FRACTION = 0.01  # σ of 1 % of the value, an electromagnetic meter
FLOW_NOISE_FLOOR_M3S = 2e-5  # a meter on a still pipe still flickers (0.07 m3/h)
LEVEL_NOISE_M = 0.003  # σ of 3 mm, a radar level gauge

DECIMALS = {"pressure": -2, "flow": 5, "level": 3}
"""Decimal places a device reports in the canonical unit: 100 Pa, 1e-5 m3/s (0.01 L/s), 1 mm."""


def noise_sigma(kind: str, true_value: F64) -> F64:
    """Standard deviation of a ``kind`` sensor's noise at each of its true values."""
    if kind == "pressure":
        return np.full_like(true_value, PRESSURE_NOISE_PA)
    if kind == "flow":
        return np.maximum(FLOW_NOISE_FRACTION * np.abs(true_value), FLOW_NOISE_FLOOR_M3S)
    if kind == "level":
        return np.full_like(true_value, LEVEL_NOISE_M)
    raise ValueError(f"no noise model for kind {kind!r}")


def readings(true_values: F64, kinds: list[str], rng: np.random.Generator) -> F64:
    """Noisy, rounded readings of a (time × sensor) matrix whose column ``j`` is a ``kinds[j]``
    sensor.  The noise is drawn in one call, so a seed gives the same noise whatever the
    values (a burst scenario and its burst-free twin differ only by the burst)."""
    unit_noise = rng.standard_normal(true_values.shape)
    out = np.empty_like(true_values)
    for j, kind in enumerate(kinds):
        col = true_values[:, j] + noise_sigma(kind, true_values[:, j]) * unit_noise[:, j]
        out[:, j] = np.round(col, DECIMALS[kind])
    return out


def stick(values: F64, column: int, from_row: int) -> None:
    """Freeze column ``column`` of ``values`` from row ``from_row`` on at its last earlier
    value (or its first value if it is stuck from the start), in place."""
    if from_row >= len(values):
        return
    values[from_row:, column] = values[max(from_row - 1, 0), column]
