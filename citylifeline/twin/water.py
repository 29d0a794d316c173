"""The water-network twin: EPANET-driven sensor readings with injected incidents and ground truth.

``simulate(WaterScenario)`` runs WNTR's ``EpanetSimulator`` on a real network (WNTR's bundled
Net3 by default) with the local time of day of the scenario, opens pipe bursts at their times,
reads the scenario's pressure, flow and level sensors every ``step_s`` seconds, adds device
noise and faults, and returns the readings together with what really happened: for each burst
or stuck sensor, when it began and which sensors' readings it moved beyond their noise.  How
the clock, schedules and bursts are modelled is told in ``citylifeline.twin.hydraulics``; the
noise in ``citylifeline.twin.sensor_model``.

Sensors are ``water/<kind>/<name>`` assets of the city model: pressure at a junction (Pa,
gauge), flow in a pipe, pump or valve (m³/s, negative against the link's direction) and level
in a tank (m of water above the tank bottom).  The demo city's sensors come from its
``sensors.csv`` (``demo_sensors``); ``demo_scenario`` adds the demo burst and stuck sensor.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..batch import F64, I64
from ..errors import ConfigError
from . import hydraulics, sensor_model

DEMO_BURST_JUNCTION = "213"
"""Net3 junction of the demo burst: on the DN400 main of the riverside (south-east) district,
next to the Riverside metro station, eight pipes from tank 2 and far from both pumps.  Its
neighbours carry pressure sensors P-13 (junction 211, upstream), P-14 (215, downstream) and
P-15 (229, on the branch to the Riverside TCM Hospital); flow meter F-04 is on the main feeding
the district."""
DEMO_BURST_ORIFICE_M = 0.15
"""Equivalent orifice diameter of the demo burst (m), a major break of the DN400 main: about
850 m³/h escapes and pressure at P-13, P-14 and P-15 falls by 29-36 % (about 0.40 → 0.25-0.29
MPa) at the first reading, then sinks slowly as tank 2 drains.  At any hour of the day the
three stay below their level II (orange) low threshold, P-14 at night below level I (red), and
F-04 rises beyond its level I high threshold (about 150 → 560 m³/h); the threshold detector's
two-minute minimum duration then raises the warnings.  A 0.13 m orifice misses level II at
some hours."""
DEMO_STUCK_SENSOR = "P-02"
"""The demo's stuck pressure sensor: junction 109 by Jinxiu Garden, in the west district fed by
the Lake pumps, the far side of the network from the burst; its pressure swings by 0.1 MPa a
day, so a frozen reading shows."""

TRUTH_WINDOW_S = 600.0
"""A burst 'moves' a sensor if, over this long after it starts, the sensor's median change
against the burst-free run exceeds ``TRUTH_SIGMAS`` noise standard deviations."""
TRUTH_SIGMAS = 3.0
ASSET_KIND = {"pressure": ("junction",), "flow": ("pipe", "pump", "valve"), "level": ("tank",)}


@dataclass(frozen=True)
class Burst:
    """A pipe burst at a junction from ``start_s`` (after the scenario start) to the end."""

    junction: str
    start_s: float
    orifice_diameter_m: float = 0.08


@dataclass(frozen=True)
class StuckSensor:
    """From ``start_s`` on, ``sensor`` repeats its last reading exactly."""

    sensor: str
    start_s: float


@dataclass(frozen=True)
class WaterSensor:
    """A sensor of the twin: ``kind`` pressure, flow or level on the EPANET node or link ``element``."""

    id: str
    kind: str
    element: str

    @property
    def asset(self) -> str:
        """The city-model key of the watched asset, e.g. ``water/junction/123``."""
        return f"water/{ASSET_KIND[self.kind][0]}/{self.element}" if self.kind in ASSET_KIND else ""


@dataclass(frozen=True)
class WaterScenario:
    """What to simulate: network, time span (epoch ms, local zone), sensors and incidents."""

    start_ms: int
    duration_s: float
    sensors: tuple[WaterSensor, ...]
    network: str = "Net3"
    step_s: float = 60.0
    tz: str = "Asia/Shanghai"
    bursts: tuple[Burst, ...] = ()
    stuck: tuple[StuckSensor, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class TwinOutput:
    """Readings as aligned columns sorted by (time, sensor id), plus the ground truth.

    ``value`` is canonical SI; ``sim_s`` is the wall time spent in EPANET (both runs when a
    burst needs its burst-free twin for the ground truth)."""

    sensor_id: npt.NDArray[np.object_]
    t_ms: I64
    value: F64
    ground_truth: list[dict[str, Any]] = field(default_factory=list)
    sim_s: float = 0.0

    def __len__(self) -> int:
        return len(self.t_ms)

    def series(self, sensor_id: str) -> tuple[I64, F64]:
        """(t_ms, value) of one sensor, in time order."""
        mask = self.sensor_id == sensor_id
        return self.t_ms[mask], self.value[mask]


def simulate(scn: WaterScenario) -> TwinOutput:
    """Readings and ground truth of ``scn``; the same scenario and seed give the same output."""
    step = _check(scn)
    n_steps = math.ceil(scn.duration_s / step)
    sensors = sorted(scn.sensors, key=lambda s: s.id)
    wn = hydraulics.load_network(scn.network)
    for s in sensors:
        hydraulics.check_sensor(wn, s.id, s.kind, s.element)
    warm = hydraulics.warmup_s(scn.start_ms, scn.tz, float(wn.options.time.start_clocktime))
    pairs = [(s.kind, s.element) for s in sensors]
    burst_free = hydraulics.run(wn, warm, n_steps, step, pairs) if scn.bursts else None
    for i, b in enumerate(scn.bursts):
        hydraulics.add_burst(wn, i, b.junction, warm + b.start_s, b.orifice_diameter_m)
    actual = hydraulics.run(wn, warm, n_steps, step, pairs)
    kinds = [s.kind for s in sensors]
    values = sensor_model.readings(actual.values, kinds, np.random.default_rng(scn.seed))
    column = {s.id: j for j, s in enumerate(sensors)}
    for fault in scn.stuck:
        sensor_model.stick(values, column[fault.sensor], math.ceil(fault.start_s / step))
    truth: list[dict[str, Any]] = []
    if burst_free is not None:
        truth += _burst_truth(scn, sensors, actual.values, burst_free.values, step)
    by_id = {s.id: s for s in sensors}
    truth += [{"type": "stuck", "sensor": f.sensor, "asset": by_id[f.sensor].asset,
               "start_ms": scn.start_ms + round(f.start_s * 1000), "expected_sensors": [f.sensor]}
              for f in scn.stuck]
    ids = np.array([s.id for s in sensors], dtype=object)
    t_ms = scn.start_ms + np.arange(n_steps, dtype=np.int64) * (step * 1000)
    return TwinOutput(np.tile(ids, n_steps), np.repeat(t_ms, len(sensors)), values.ravel(),
                      truth, actual.sim_s + (burst_free.sim_s if burst_free else 0.0))


def _check(scn: WaterScenario) -> int:
    step = int(scn.step_s)
    if step != scn.step_s or step < 1:
        raise ConfigError(f"step_s must be a whole number of seconds ≥ 1 (EPANET's clock), got {scn.step_s}")
    if not scn.duration_s > 0:
        raise ConfigError(f"duration_s must be > 0, got {scn.duration_s}")
    ids = [s.id for s in scn.sensors]
    if len(set(ids)) != len(ids):
        raise ConfigError("sensor ids of a water scenario must be unique")
    for b in scn.bursts:
        if not 0 <= b.start_s < scn.duration_s:
            raise ConfigError(f"burst at {b.junction}: start_s={b.start_s} is outside the scenario "
                              f"(0 … {scn.duration_s} s)")
    for f in scn.stuck:
        if f.sensor not in ids:
            raise ConfigError(f"stuck sensor {f.sensor!r} is not one of the scenario's sensors")
        if f.start_s < 0:
            raise ConfigError(f"stuck sensor {f.sensor}: start_s must be ≥ 0, got {f.start_s}")
    return step


def _burst_truth(scn: WaterScenario, sensors: list[WaterSensor], actual: F64, burst_free: F64,
                 step: int) -> list[dict[str, Any]]:
    """One ground-truth entry per burst: the sensors whose true value it moved beyond noise,
    compared with the burst-free run over the burst's first ``TRUTH_WINDOW_S`` (cut short by
    a later burst, whose effect would otherwise be credited to this one)."""
    out = []
    for b in scn.bursts:
        later = [o.start_s for o in scn.bursts if o.start_s > b.start_s]
        end_s = min([b.start_s + TRUTH_WINDOW_S, scn.duration_s, *later])
        rows = slice(math.ceil(b.start_s / step), math.ceil(end_s / step))
        frozen = {f.sensor for f in scn.stuck if f.start_s <= b.start_s}  # its readings cannot move
        expected = []
        for j, s in enumerate(sensors):
            ref = burst_free[rows, j]
            if len(ref) and s.id not in frozen:
                change = np.abs(actual[rows, j] - ref) / sensor_model.noise_sigma(s.kind, ref)
                if float(np.median(change)) > TRUTH_SIGMAS:
                    expected.append(s.id)
        out.append({"type": "burst", "element": b.junction, "asset": f"water/junction/{b.junction}",
                    "start_ms": scn.start_ms + round(b.start_s * 1000),
                    "orifice_diameter_m": b.orifice_diameter_m, "expected_sensors": expected})
    return out


def read_sensors_csv(path: str | Path) -> tuple[WaterSensor, ...]:
    """The water pressure, flow and level sensors of a sensors file (other layers are skipped).

    The asset ``water/junction/123`` gives element ``123``; the asset kind must suit the
    sensor kind (pressure at a junction, flow in a link, level in a tank)."""
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            parts = (row.get("asset") or "").split("/", 2)
            kind = (row.get("kind") or "").strip()
            if len(parts) != 3 or parts[0] != "water" or kind not in ASSET_KIND:
                continue
            if parts[1] not in ASSET_KIND[kind]:
                raise ConfigError(f"{path}:{line}: sensor {row.get('id')}: a {kind} sensor cannot watch "
                                  f"a {parts[1]}; use a {' or '.join(ASSET_KIND[kind])}")
            out.append(WaterSensor(str(row["id"]).strip(), kind, parts[2]))
    return tuple(out)


def demo_sensors() -> tuple[WaterSensor, ...]:
    """The water sensors of the demo city's ``sensors.csv``."""
    from ..city.bundle import demo_city_path

    return read_sensors_csv(demo_city_path() / "sensors.csv")


def demo_scenario(start_ms: int, duration_s: float, burst_at_s: float | None = None,
                  stuck_at_s: float | None = None, seed: int = 0) -> WaterScenario:
    """The demo city's sensors on Net3, with the demo burst and stuck sensor if their times are given."""
    bursts = () if burst_at_s is None else (Burst(DEMO_BURST_JUNCTION, burst_at_s, DEMO_BURST_ORIFICE_M),)
    stuck = () if stuck_at_s is None else (StuckSensor(DEMO_STUCK_SENSOR, stuck_at_s),)
    return WaterScenario(start_ms=start_ms, duration_s=duration_s, sensors=demo_sensors(),
                         bursts=bursts, stuck=stuck, seed=seed)
