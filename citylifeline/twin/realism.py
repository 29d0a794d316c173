"""From true values to what a platform receives: device noise and resolution, device faults,
and late or duplicated delivery.

The same for every lifeline: a twin hands over noise-free values at each sensor's native
sampling times; ``readings`` adds Gaussian noise (``NOISE``: an absolute floor and a share of
the value, per kind), rounds to the device's resolution, injects the scenario's sensor faults,
and decides when each reading is *delivered*: a few seconds after it was taken, late by
``late_delay`` for a ``late_fraction`` of them, and twice for a ``duplicate_fraction``.  The
result is ordered by delivery time, which is how a file of it replays and how a feed sends it.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..batch import F64, I64
from .base import Signals
from .scenario import Scenario, SensorFault

HOUR_MS = 3_600_000
DAY_S = 86_400.0
TRANSMIT_DELAY_MS = (500, 5_000)  # a logger's usual delay, uniform between these


@dataclass(frozen=True)
class Noise:
    """A device's noise (σ = max(floor, share × |value|)) and resolution, canonical units."""

    floor: float
    share: float
    resolution: float


NOISE: dict[str, Noise] = {
    "pressure": Noise(1000.0, 0.0005, 100.0),  # 0.1 m of head; 0.05 % of reading for gas mains
    "flow": Noise(2e-5, 0.01, 1e-5),  # electromagnetic meter: 1 % of reading
    "level": Noise(0.003, 0.0, 0.001),  # radar or pressure level gauge: 3 mm
    "temperature": Noise(0.1, 0.0, 0.01),
    "methane": Noise(2.5e-4, 0.02, 5e-5),  # catalytic/IR detector: 0.5 %LEL
    "ethane": Noise(5e-8, 0.02, 1e-8),  # open-path/TDLAS ethane: 0.05 ppm
    "gas_fraction": Noise(5e-4, 0.0, 1e-4),  # O2 cell: 0.05 %vol
    "humidity": Noise(0.01, 0.0, 0.001),
    "strain": Noise(2e-6, 0.0, 1e-7),  # vibrating-wire gauge: 2 µε
    "displacement": Noise(1e-4, 0.0, 1e-5),  # 0.1 mm
    "acceleration": Noise(0.002, 0.02, 1e-4),
    "frequency": Noise(0.005, 0.0, 0.001),
    "rainfall": Noise(0.0, 0.0, 1e-3 / 3600 / 10),  # tipping bucket: 0.1 mm/h steps, no noise
    "velocity": Noise(0.01, 0.01, 0.001),
    "ratio": Noise(0.002, 0.0, 0.001),
}


SPAN_NOISE = 10.0
"""The smallest 'normal range' a fault is scaled by, in noise floors."""

NON_NEGATIVE = ("methane", "ethane", "gas_fraction", "humidity", "rainfall", "ratio", "acceleration", "frequency")
"""Kinds whose devices never report below zero (the electronics clamp the noise; the bridges'
acceleration sensors report an RMS per minute, the SHM gateway an identified frequency)."""


def noise_sigma(kind: str, value: F64 | float) -> F64:
    """The σ of a ``kind`` sensor's noise at its true values."""
    n = NOISE[kind]
    return np.maximum(n.floor, n.share * np.abs(np.asarray(value, dtype=float)))


@dataclass
class Readings:
    """What the platform receives, in delivery order, and the truth about device faults."""

    sensor_id: npt.NDArray[np.object_]
    t_ms: I64
    value: F64
    delivered_ms: I64
    faults: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.t_ms)

    def take(self, rows: npt.NDArray[Any]) -> Readings:
        """These rows (a mask or indices), with the same faults."""
        return Readings(self.sensor_id[rows], self.t_ms[rows], self.value[rows], self.delivered_ms[rows], self.faults)

    def then(self, after: Readings, faults: list[dict[str, Any]]) -> Readings:
        """These readings followed by ``after``'s, with ``faults``."""
        sid, t, value, delivered = (np.concatenate([getattr(self, f), getattr(after, f)])
                                    for f in ("sensor_id", "t_ms", "value", "delivered_ms"))
        return Readings(sid, t, value, delivered, faults)


def readings(signals: Signals, kinds: dict[str, str], scenario: Scenario) -> Readings:
    """Noisy, faulty, delivered readings of ``signals`` (``kinds``: sensor id → kind)."""
    rng = np.random.default_rng([scenario.seed, 17])
    order = np.lexsort((signals.t_ms, signals.sensor_id.astype(str)))
    sid, t, true = signals.sensor_id[order], signals.t_ms[order].copy(), signals.value[order]
    value = true.copy()
    keep = np.ones(len(t), dtype=np.bool_)
    bounds = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1], True])
    by_sensor = {sid[a]: slice(a, b) for a, b in itertools.pairwise(bounds)}
    faults = {f.sensor: f for f in scenario.faults}
    noise_scale = np.ones(len(t))
    for s, sl in by_sensor.items():
        f = faults.get(s)
        if f is not None and f.type == "noise":
            noise_scale[sl] = np.where(_active(f, t[sl], scenario), max(f.magnitude, 1.0), 1.0)
    for s, sl in by_sensor.items():
        kind = kinds[str(s)]
        value[sl] += noise_sigma(kind, true[sl]) * noise_scale[sl] * rng.standard_normal(sl.stop - sl.start)
    for s, sl in by_sensor.items():
        f = faults.get(s)
        if f is not None:
            _inject(f, kinds[str(s)], t[sl], value[sl], keep[sl], true[sl], scenario, rng)
    for s, sl in by_sensor.items():
        kind = kinds[str(s)]
        if kind in NON_NEGATIVE:
            value[sl] = np.maximum(value[sl], 0.0)
        res = NOISE[kind].resolution
        if res > 0:
            value[sl] = np.round(value[sl] / res) * res
    sid, t, value = sid[keep], t[keep], value[keep]
    delivered = t + rng.integers(*TRANSMIT_DELAY_MS, len(t))
    d = scenario.delivery
    late = rng.random(len(t)) < d.late_fraction
    delivered[late] += round(d.late_delay_s * 1000)
    dup = np.flatnonzero(rng.random(len(t)) < d.duplicate_fraction)
    sid = np.concatenate([sid, sid[dup]])
    t = np.concatenate([t, t[dup]])
    value = np.concatenate([value, value[dup]])
    delivered = np.concatenate([delivered, delivered[dup] + rng.integers(1_000, 120_000, len(dup))])
    order = np.argsort(delivered, kind="stable")
    truth = [asdict(f) | {"start_ms": scenario.start_ms + round(f.start_s * 1000),
                          "end_ms": None if f.end_s is None else scenario.start_ms + round(f.end_s * 1000)}
             for f in scenario.faults]
    return Readings(sid[order], t[order], value[order], delivered[order], truth)


def _active(f: SensorFault, t: I64, scenario: Scenario) -> npt.NDArray[np.bool_]:
    start = scenario.start_ms + f.start_s * 1000
    end = np.inf if f.end_s is None else scenario.start_ms + f.end_s * 1000
    return (t >= start) & (t < end)


def _inject(f: SensorFault, kind: str, t: I64, value: F64, keep: npt.NDArray[np.bool_], true: F64,
            scenario: Scenario, rng: np.random.Generator) -> None:
    """Apply one fault to one sensor's (time-ordered) readings, in place.  Magnitudes are in
    units of the sensor's normal range (5–95 % of its true values), at least ``SPAN_NOISE``
    noise floors so that a sensor reading a steady zero (methane in clean air) still has one."""
    on = _active(f, t, scenario)
    if not on.any():
        return
    least = SPAN_NOISE * max(NOISE[kind].floor, NOISE[kind].resolution)
    span = max(float(np.percentile(true, 95) - np.percentile(true, 5)), least)
    first = int(np.argmax(on))
    if f.type == "stuck":
        value[on] = value[max(first - 1, 0)]
    elif f.type == "drift":
        days = (t[on] - t[first]) / 1000 / DAY_S
        value[on] += f.magnitude * span * days
    elif f.type == "dropout":
        keep[on] = False
    elif f.type == "spike":
        idx = np.flatnonzero(on)
        step_ms = max(int(np.median(np.diff(t))) if len(t) > 1 else HOUR_MS, 1)
        every = max(HOUR_MS // step_ms, 3)
        picks = idx[rng.integers(0, every) :: every]
        # a device that cannot read below zero spikes upwards (a downward spike would be clipped)
        sign = np.ones(len(picks)) if kind in NON_NEGATIVE else rng.choice([-1.0, 1.0], len(picks))
        value[picks] += f.magnitude * span * sign
    elif f.type == "clock_skew":
        t[on] += round(f.magnitude * 1000)
