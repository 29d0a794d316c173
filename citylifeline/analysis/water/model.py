"""What a water network's sensors should read without leaks: the hydraulic model run on the measured demand.

The model is the network's .inp as the utility keeps it.  At every step it is run (EPANET,
stepped: ``twin.epanet_steps``) with

- the **demand** scaled by what the household meters (AMR) measure: the sum of their readings
  over the sum of their nominal demands (base demand × pattern) is the step's demand multiplier;
- every **measured tank at its measured level**, and every **measured pump** (or link that a
  control opens and closes) running or closed as its flow meter says (its controls are dropped),
  so the model follows the real operation instead of drifting from it over a year.

A leak does not enter any of these inputs (its water is not metered), so it shows as the
difference between what the pressure and flow sensors read and what the model says.

``signatures`` are the model's answer to "what would a leak at this junction do to the
sensors": the change in every channel per m³/h of outflow at the junction, averaged over a few
times of day.  ``channels`` are pressures (m) then flows (m³/h), in ``Sensors`` order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from ...city.model import City
from ...city.sensors import SensorRegistry
from ...errors import ConfigError
from ...twin.epanet_steps import EN_EMITTER, EN_STATUS, EN_TANKLEVEL, open_steps
from ...twin.leakyear import Sensors, YearRun
from ...units import WATER_HEAD_PA_PER_M

TANK_EDGE_M = 0.05  # within this of its top or bottom a tank follows the model, not its transmitter
OPEN_M3H = 1.0  # a measured pump or controlled link carrying more than this is running / open
SIGNATURE_HOURS = (3, 8, 13, 19)  # times of day the leak signatures are averaged over
SIGNATURE_EMITTER = 5.0  # m³/h per √m: a leak of ~30 m³/h at 40 m


CHANNEL_GROUPS = ("pressure", "flow", "level", "demand")
"""The model's sensor channels, in ``Sensors`` order: pressures at nodes, flows in links, tank
levels, and household meters (flow sensors at junctions: the demand)."""
TO_MODEL_UNITS = {"pressure": 1 / WATER_HEAD_PA_PER_M, "flow": 3600.0, "level": 1.0, "demand": 3600.0}
"""From the canonical units the store keeps (Pa, m³/s, m) to the model's (m of head, m³/h, m)."""
NODE_KINDS = ("junction", "tank", "reservoir")


def city_channels(registry: SensorRegistry) -> dict[str, list[tuple[int, str]]]:
    """The city's active water sensors by channel group: (registry index, node or link name)."""
    out: dict[str, list[tuple[int, str]]] = {g: [] for g in CHANNEL_GROUPS}
    for i, (kind, asset) in enumerate(zip(registry.kind, registry.asset, strict=True)):
        parts = asset.split("/", 2)
        if len(parts) != 3 or parts[0] != "water" or not registry.active[i]:
            continue
        on = parts[1]
        if (kind == "pressure" and on in NODE_KINDS) or (kind == "level" and on == "tank"):
            out[kind].append((i, parts[2]))
        elif kind == "flow":
            out["demand" if on == "junction" else "flow"].append((i, parts[2]))
    return out


def city_model(city: City, sensors: Sensors) -> WaterModel:
    """The city's water network with ``sensors``, its patterns starting at the city's local midnight."""
    midnight = datetime(2020, 1, 1, tzinfo=ZoneInfo(city.timezone))
    return WaterModel(city.layers["water"].model, sensors, int(midnight.timestamp() * 1000))


@dataclass(frozen=True)
class Signatures:
    """Channel change per m³/h of leak outflow at each junction (rows), and per pipe (its two ends' mean)."""

    junctions: tuple[str, ...]
    junction: npt.NDArray[np.float64]  # junction × channel
    pipes: tuple[str, ...]
    pipe: npt.NDArray[np.float64]  # pipe × channel
    pipe_xy: npt.NDArray[np.float64]  # pipe × (x, y) of its midpoint


class WaterModel:
    """The leak-free model of a network and its sensors; patterns start at ``origin_ms``."""

    def __init__(self, inp: Path | str | Any, sensors: Sensors, origin_ms: int) -> None:
        """``inp``: an .inp file (or a network WNTR ships, 'Net3'), or a loaded WaterNetworkModel."""
        import copy

        import wntr

        self.sensors, self.origin_ms = sensors, origin_ms
        if isinstance(inp, wntr.network.WaterNetworkModel):
            self.wn = copy.deepcopy(inp)
        else:
            self.wn = wntr.network.WaterNetworkModel(str(inp))
        for name in (*sensors.pressure_nodes, *sensors.level_tanks, *sensors.amr_demand_nodes):
            if name not in self.wn.node_name_list:
                raise ConfigError(f"sensor node {name!r} is not a node of {inp}")
        for name in sensors.flow_links:
            if name not in self.wn.link_name_list:
                raise ConfigError(f"flow sensor link {name!r} is not a link of {inp}")
        targets = {c: {a.target()[0].name for a in self.wn.get_control(c).actions()} for c in self.wn.control_name_list}
        controlled = set().union(*targets.values())
        self.operated = tuple(n for n in sensors.flow_links if n in self.wn.pump_name_list or n in controlled)
        self._dropped_controls = [c for c, links in targets.items() if links & set(self.operated)]
        tanks = [self.wn.get_node(n) for n in sensors.level_tanks]
        self._tank_lo = np.array([t.min_level for t in tanks], dtype=np.float64)
        self._tank_hi = np.array([t.max_level for t in tanks], dtype=np.float64)
        self.channels = len(sensors.pressure_nodes) + len(sensors.flow_links)
        self._open: contextlib.ExitStack | None = None  # the EPANET project ``expected(keep_open=True)`` reuses
        self._steps: Any = None

    def close(self) -> None:
        """Close the EPANET project kept open, if any."""
        if self._open is not None:
            self._open.close()
            self._open, self._steps = None, None

    @staticmethod
    def measured(run: YearRun) -> npt.NDArray[np.float64]:
        """The channels a run's sensors read (steps × channels): pressures (m) then flows (m³/h)."""
        return np.hstack([run.pressure_m, run.flow_m3h])

    def nominal_total_m3h(self, t_ms: npt.NDArray[np.int64], nodes: tuple[str, ...]) -> npt.NDArray[np.float64]:
        """The summed demand of junctions ``nodes`` as the model has it, per step (bases summed per pattern)."""
        default = self.wn.options.hydraulic.pattern
        base: dict[str | None, float] = {}
        for name in nodes:
            for d in self.wn.get_node(name).demand_timeseries_list:
                pat = d.pattern.name if d.pattern is not None else (
                    default if default in self.wn.pattern_name_list else None)
                base[pat] = base.get(pat, 0.0) + d.base_value * 3600
        step = (t_ms - self.origin_ms) // 1000 // self.wn.options.time.pattern_timestep
        out = np.zeros(len(t_ms))
        for pat, q in base.items():
            if pat is None:
                out += q
            else:
                m = np.asarray(self.wn.get_pattern(pat).multipliers, dtype=np.float64)
                out += q * m[step % len(m)]
        return out

    def demand_factor(self, run: YearRun) -> npt.NDArray[np.float64]:
        """Each step's demand multiplier: what the household meters read over what the model expects."""
        nominal = self.nominal_total_m3h(run.t_ms, self.sensors.amr_demand_nodes)
        measured = np.nansum(run.demand_m3h, axis=1)
        read = np.isfinite(run.demand_m3h).any(axis=1)  # a step without any meter's reading: the model's own
        return np.where((nominal > 0) & read, measured / np.maximum(nominal, 1e-12), 1.0)

    def _operated_wn(self) -> Any:
        """A copy of the model without the controls of the measured pumps and links (they follow their meters)."""
        import copy

        wn = copy.deepcopy(self.wn)
        for name in self._dropped_controls:
            wn.remove_control(name)
        return wn

    def expected(self, run: YearRun, keep_open: bool = False) -> npt.NDArray[np.float64]:
        """The channels the model expects at each step of ``run`` (steps × channels); NaN where it
        cannot say: the readings either side of a tank reaching (or leaving) its top or bottom,
        which the model and the network do at different moments within the step.  ``keep_open``:
        run in an EPANET project kept open for the next call (the live analyst's step by step)."""
        factor = self.demand_factor(run)
        reads = {"p": ("pressure", self.sensors.pressure_nodes), "f": ("flow", self.sensors.flow_links),
                 "l": ("pressure", self.sensors.level_tanks)}
        with contextlib.ExitStack() as stack:
            if keep_open:
                if self._open is None:
                    self._open = contextlib.ExitStack()
                    self._steps = self._open.enter_context(open_steps(self._operated_wn()))
                steps = self._steps
            else:
                steps = stack.enter_context(open_steps(self._operated_wn()))
            operate = self._operator(steps, run, factor)
            rows, got = steps.run(run.t_ms, self.origin_ms, reads, lambda row, _t: operate(row))
        out = np.full((len(run.t_ms), self.channels), np.nan)
        out[:rows] = np.hstack([got["p"], np.abs(got["f"])])
        lo, hi = self._tank_lo, self._tank_hi
        level = np.full_like(run.level_m, np.nan)
        level[:rows] = got["l"]
        model_full = (level <= lo + 1e-3) | (level >= hi - 1e-3)
        near = (run.level_m <= lo + TANK_EDGE_M) | (run.level_m >= hi - TANK_EDGE_M)
        unsure: npt.NDArray[np.bool_] = np.asarray((near != model_full).any(axis=1))
        unsure[:-1] |= unsure[1:]
        unsure[1:] |= unsure[:-1].copy()
        out[unsure] = np.nan
        return out

    def _operator(self, steps: Any, run: YearRun, factor: npt.NDArray[np.float64]) -> Any:
        """A function that puts the model in ``run``'s measured operation at a row: demand,
        tank levels, pumps and controlled links."""
        tanks = [steps.node(n) for n in self.sensors.level_tanks]
        operated = [(steps.link(p), self.sensors.flow_links.index(p)) for p in self.operated]

        def operate(row: int) -> None:
            steps.set_demand_multiplier(float(factor[row]))
            for j, i in enumerate(tanks):
                level = float(run.level_m[row, j])
                # near its top or bottom a tank fills or drains on its own in the model: a noisy
                # reading there would let a full tank fill (or an empty one drain)
                if self._tank_lo[j] + TANK_EDGE_M < level < self._tank_hi[j] - TANK_EDGE_M:
                    steps.en.ENsetnodevalue(i, EN_TANKLEVEL, level)
            for i, col in operated:
                steps.en.ENsetlinkvalue(i, EN_STATUS, float(run.flow_m3h[row, col] > OPEN_M3H))

        return operate

    def signatures(self, at: tuple[YearRun, int] | None = None) -> Signatures:
        """Every junction's and pipe's leak signature: averaged over ``SIGNATURE_HOURS`` of a
        nominal day, or, ``at`` a run's row, in the operation measured then."""
        reads = {"p": ("pressure", self.sensors.pressure_nodes), "f": ("flow", self.sensors.flow_links),
                 "q": ("demand", self.wn.junction_name_list)}
        junctions = tuple(self.wn.junction_name_list)
        total = np.zeros((len(junctions), self.channels))
        with open_steps(self.wn if at is None else self._operated_wn()) as steps:
            idx = [steps.node(n) for n in junctions]
            if at is None:
                times = [self.origin_ms + h * 3_600_000 for h in SIGNATURE_HOURS]

                def operate() -> None:  # the nominal operation: the model's own controls
                    pass
            else:
                run, row = at
                times = [int(run.t_ms[row])]
                at_row = self._operator(steps, run, self.demand_factor(run))

                def operate() -> None:
                    at_row(row)
            for t0 in times:
                t = np.array([t0], dtype=np.int64)
                base = self._snapshot(steps, t, reads, None, operate)
                for j, i in enumerate(idx):
                    got = self._snapshot(steps, t, reads, i, operate)
                    q = got[-1][j] - base[-1][j]
                    if q > 1e-6:
                        total[j] += (got[0] - base[0]) / q
        sig = total / len(times)
        index = {n: k for k, n in enumerate(junctions)}
        pipes = tuple(self.wn.pipe_name_list)
        pipe_sig = np.zeros((len(pipes), self.channels))
        xy = np.zeros((len(pipes), 2))
        for k, name in enumerate(pipes):
            link = self.wn.get_link(name)
            ends = [index[n] for n in (link.start_node_name, link.end_node_name) if n in index]
            if ends:
                pipe_sig[k] = sig[ends].mean(axis=0)
            xy[k] = np.mean([self.wn.get_node(n).coordinates for n in (link.start_node_name, link.end_node_name)],
                            axis=0)
        return Signatures(junctions, sig, pipes, pipe_sig, xy)

    def _snapshot(self, steps: Any, t: npt.NDArray[np.int64], reads: dict[str, Any], leak: int | None,
                  operate: Callable[[], None]) -> tuple[npt.NDArray[np.float64], ...]:
        def before(_row: int, _t: int) -> None:
            operate()
            if leak is not None:
                steps.en.ENsetnodevalue(leak, EN_EMITTER, SIGNATURE_EMITTER)

        _, got = steps.run(t, self.origin_ms, reads, before)
        if leak is not None:
            steps.en.ENsetnodevalue(leak, EN_EMITTER, 0.0)  # the junctions' own: none
        return np.hstack([got["p"][0], np.abs(got["f"][0])]), got["q"][0]
