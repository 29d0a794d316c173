"""What a water network's sensors should read without leaks: the hydraulic model run on the measured demand.

The model is the network's .inp as the utility keeps it.  At every step it is run (EPANET,
stepped: ``twin.epanet_steps``) with

- the **demand** scaled by what the household meters (AMR) measure: the sum of their readings
  over the sum of their nominal demands (base demand × pattern) is the step's demand multiplier;
  where there are none (most cities), by the **water balance** of the metered areas (the flow
  meters into them less what their tanks store: ``night.metered_areas``, ``night.area_inflow``),
  as a utility sizes a district's demand from its inflow (IWA water balance; Farley & Trow,
  "Losses in Water Distribution Networks", IWA 2003, ch. 5).  The inflow then holds a leak's
  water too, which the model spreads over every junction: a leak shows only as the difference
  between its own place and that spread, and the signatures are taken so (``signatures``);
- every **measured tank at its measured level**, and every **measured pump** (or link that a
  control opens and closes) running or closed as its flow meter says (its controls are dropped),
  so the model follows the real operation instead of drifting from it over a year;
- every pipe a **works order** shuts (``shut``: ``works.closures``) closed for the order's time.

A leak does not enter any of these inputs (its water is not metered), so it shows as the
difference between what the pressure and flow sensors read and what the model says.

``signatures`` are the model's answer to "what would a leak at this junction do to the
sensors": the change in every channel per m³/h of outflow at the junction, averaged over a few
times of day.  ``channels`` are pressures (m) then flows (m³/h), in ``Sensors`` order.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
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
from .sensitivity import LINEAR_ABOVE_JUNCTIONS, Linearised, State

TANK_EDGE_M = 0.05  # within this of its top or bottom a tank follows the model, not its transmitter
OPEN_M3H = 1.0  # a measured pump or controlled link carrying more than this is running / open
BALANCE_STEPS = 12  # steps the water balance's inflow is fitted over (an hour at 5 min)
PART_RUNNING = 0.9  # a running pump carrying less than this share of what the model says ran part of the step
SIGNATURE_HOURS = (3, 8, 13, 19)  # times of day the leak signatures are averaged over
SIGNATURE_EMITTER = 5.0  # m³/h per √m: a leak of ~30 m³/h at 40 m
BURST_SIZING = 3  # solves at most to size a burst's emitter to the outflow it must draw
SPREAD_FRACTION = 0.05  # the demand raised this much to see what a leak's water spread over the junctions does


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


def city_model(city: City, sensors: Sensors, balance: bool = True) -> WaterModel:
    """The city's water network with ``sensors``, its patterns starting at the city's local midnight
    (``balance``: see ``WaterModel``)."""
    midnight = datetime(2020, 1, 1, tzinfo=ZoneInfo(city.timezone))
    return WaterModel(city.layers["water"].model, sensors, int(midnight.timestamp() * 1000), balance)


@dataclass(frozen=True)
class Signatures:
    """Channel change per m³/h of leak outflow at each junction (rows), and per pipe (its two ends' mean)."""

    junctions: tuple[str, ...]
    junction: npt.NDArray[np.float64]  # junction × channel
    pipes: tuple[str, ...]
    pipe: npt.NDArray[np.float64]  # pipe × channel
    pipe_xy: npt.NDArray[np.float64]  # pipe × (x, y) of its midpoint


def _bridges(wn: Any) -> set[str]:
    """The links whose removal cuts the network in two (alone between their two nodes), and those
    closed as the model starts (a bypass that controls open now and then: its meter reads the
    whole draw of the side it then feeds, as the link it bypasses does; that link counts alone)."""
    import networkx as nx

    closed = {name for name, link in wn.links() if str(link.initial_status).lower() == "closed"}
    graph = nx.MultiGraph()
    graph.add_edges_from((link.start_node_name, link.end_node_name, name) for name, link in wn.links()
                         if name not in closed)
    return closed | {name for u, v in nx.bridges(nx.Graph(graph)) if graph.number_of_edges(u, v) == 1
                     for name in graph[u][v]}


class WaterModel:
    """The leak-free model of a network and its sensors; patterns start at ``origin_ms``."""

    def __init__(self, inp: Path | str | Any, sensors: Sensors, origin_ms: int, balance: bool = True) -> None:
        """``inp``: an .inp file (or a network WNTR ships, 'Net3'), or a loaded WaterNetworkModel.
        ``balance``: without household meters, the demand from the metered areas' water balance
        (else the records' own: what a comparison over minutes wants, since the balance would put
        a burst's own water into the demand)."""
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
        self._operated: Any = None  # ``_operated_wn``'s copy
        targets = {c: {a.target()[0].name for a in self.wn.get_control(c).actions()} for c in self.wn.control_name_list}
        controlled = set().union(*targets.values())
        metered = {self._metered_by(n): n for n in sorted({*self.wn.pump_name_list, *controlled})}
        self.operated = tuple((link, sensors.flow_links.index(meter)) for meter, link in metered.items() if meter)
        """(pump or controlled link, the flow column that says whether it runs): its own meter's, or
        that of a pipe in series with it (through junctions without demand), as a plant's outlet
        meter tells whether its pump runs."""
        self._dropped_controls = [c for c, links in targets.items() if links & {n for n, _ in self.operated}]
        tanks = [self.wn.get_node(n) for n in sensors.level_tanks]
        self._tank_lo = np.array([t.min_level for t in tanks], dtype=np.float64)
        self._tank_hi = np.array([t.max_level for t in tanks], dtype=np.float64)
        self.channels = len(sensors.pressure_nodes) + len(sensors.flow_links)
        tank_set = set(self.wn.tank_name_list)
        self.bidirectional = np.array([n not in self.wn.pump_name_list and bool(
            {self.wn.get_link(n).start_node_name, self.wn.get_link(n).end_node_name} & tank_set)
            for n in sensors.flow_links], dtype=bool)
        """Flow channels read with their sign (a tank's main, which fills and drains: as the link runs
        from its start node to its end node, as a bidirectional meter reads it); the others by how
        much (a pump's or an inlet's, whose direction never changes, and whose meter may not say)."""
        bridges = _bridges(self.wn)
        self.says_where = np.concatenate([np.ones(len(sensors.pressure_nodes), dtype=bool),
                                          [n not in bridges for n in sensors.flow_links]])
        """Channels that say where water is drawn, not only how much: the pressures, and the flows in
        pipes inside loops (how the water splits around a loop depends on where it is drawn).  A
        meter on a link whose removal cuts the network in two (an inlet main, a pump into a zone, a
        tank's main: a bridge of its graph) reads the whole of one side's draw, wherever it is."""
        self.areas: tuple[Any, ...] = ()  # the metered areas whose water balance gives the demand (no AMR)
        if balance and not sensors.amr_demand_nodes and sensors.flow_links:
            from .night import fed_areas

            self.areas = fed_areas(self)
        self.balanced = tuple(j for a in self.areas for j in a.junctions)
        self.linear = len(self.wn.junction_name_list) > LINEAR_ABOVE_JUNCTIONS
        """Signatures from the network linearised (``sensitivity``) rather than a solve per junction."""
        self._open: contextlib.ExitStack | None = None  # the EPANET project ``expected(keep_open=True)`` reuses
        self.shut: tuple[tuple[str, int, int], ...] = ()
        """Pipes shut by works orders: (pipe, from ms, to ms), closed in the model for that time."""
        self._ever_shut: set[str] = set()  # opened again outside their time (a project kept open keeps a status)
        self._steps: Any = None

    def _metered_by(self, link: str) -> str:
        """The flow sensor's link that carries ``link``'s flow (itself, or one in series with it
        through junctions without demand), or ''."""
        wn, meters = self.wn, set(self.sensors.flow_links)
        seen, todo = {link}, [link]
        while todo:
            name = todo.pop()
            if name in meters:
                return name
            lk = wn.get_link(name)
            for node in (lk.start_node_name, lk.end_node_name):
                if node not in wn.junction_name_list or any(
                        d.base_value for d in wn.get_node(node).demand_timeseries_list):
                    continue
                others = [n for n in wn.get_links_for_node(node) if n != name]
                if len(others) == 1 and others[0] not in seen:
                    seen.add(others[0])
                    todo.append(others[0])
        return ""

    def close(self) -> None:
        """Close the EPANET project kept open, if any."""
        if self._open is not None:
            self._open.close()
            self._open, self._steps = None, None

    def measured(self, run: YearRun) -> npt.NDArray[np.float64]:
        """The channels a run's sensors read (steps × channels): pressures (m) then flows (m³/h;
        signed only on tank mains: ``bidirectional``)."""
        return np.hstack([run.pressure_m, self._flows(run.flow_m3h)])

    def _flows(self, flow_m3h: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Flow channels as compared: signed on tank mains, magnitudes elsewhere."""
        return np.where(self.bidirectional, flow_m3h, np.abs(flow_m3h))

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

    def demand_factor(self, run: YearRun, before: YearRun | None = None) -> npt.NDArray[np.float64]:
        """Each step's demand multiplier: what the household meters read over what the model
        expects, or without them the metered areas' inflow over their junctions' nominal demand
        (``before``: the steps before ``run``'s first, for its storage and average);
        1 where neither can say."""
        if self.sensors.amr_demand_nodes:
            nominal = self.nominal_total_m3h(run.t_ms, self.sensors.amr_demand_nodes)
            measured = np.nansum(run.demand_m3h, axis=1)
            read = np.isfinite(run.demand_m3h).any(axis=1)  # a step without any meter's reading: the model's own
        elif self.areas:
            return self._balance_factor(run, before)
        else:
            return np.ones(len(run.t_ms))
        return np.where((nominal > 0) & read & (measured > 0), measured / np.maximum(nominal, 1e-12), 1.0)

    def _balance_factor(self, run: YearRun, before: YearRun | None) -> npt.NDArray[np.float64]:
        """The metered areas' inflow, as a straight line fitted to the last ``BALANCE_STEPS``
        steps (``before``'s included) and read at each step, over their junctions' nominal demand.
        Fitted, not one step's: a tank's level read to a few millimetres makes one step's storage
        uncertain by more than a quiet night's use; a line, not a mean, so that the morning's rise is
        not read late (a mean of the last half hour lags it by a quarter of an hour)."""
        from .night import area_inflow

        whole = run if before is None else before.joined(run)
        inflow = np.sum([area_inflow(a, whole) for a in self.areas], axis=0)
        ok = np.isfinite(inflow)
        x = np.arange(len(inflow), dtype=np.float64)
        y = np.where(ok, inflow, 0.0)
        sums = [np.concatenate([[0.0], np.cumsum(v)]) for v in (ok * 1.0, ok * x, y, ok * x * x, x * y)]
        end = np.arange(1, len(inflow) + 1)
        start = np.maximum(end - BALANCE_STEPS, 0)
        n, sx, sy, sxx, sxy = (c[end] - c[start] for c in sums)
        det = n * sxx - sx * sx
        slope = np.where(det > 1e-9, (n * sxy - sx * sy) / np.where(det > 1e-9, det, 1.0), 0.0)
        mean = np.where(n > 0, sy / np.maximum(n, 1), np.nan)
        at = mean + slope * (x - np.where(n > 0, sx / np.maximum(n, 1), 0.0))
        nominal = self.nominal_total_m3h(whole.t_ms, self.balanced)
        factor = np.where((nominal > 0) & (at > 0), at / np.maximum(nominal, 1e-12), 1.0)
        return np.asarray(factor[len(whole.t_ms) - len(run.t_ms):], dtype=np.float64)

    def _operated_wn(self) -> Any:
        """A copy of the model without the controls of the measured pumps and links (they follow
        their meters); made once (a deep copy of a city's network takes seconds) and only read."""
        import copy

        if self._operated is None:
            self._operated = copy.deepcopy(self.wn)
            for name in self._dropped_controls:
                self._operated.remove_control(name)
        return self._operated

    def expected(self, run: YearRun, keep_open: bool = False, before: YearRun | None = None
                 ) -> npt.NDArray[np.float64]:
        """The channels the model expects at each step of ``run`` (steps × channels); NaN where it
        cannot say: the readings either side of a tank reaching (or leaving) its top or bottom,
        which the model and the network do at different moments within the step.  ``keep_open``:
        run in an EPANET project kept open for the next call (the live analyst's step by step);
        ``before``: see ``demand_factor``."""
        factor = self.demand_factor(run, before)
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
        out[:rows] = np.hstack([got["p"], self._flows(got["f"])])
        lo, hi = self._tank_lo, self._tank_hi
        level = np.full_like(run.level_m, np.nan)
        level[:rows] = got["l"]
        model_full = (level <= lo + 1e-3) | (level >= hi - 1e-3)
        near = (run.level_m <= lo + TANK_EDGE_M) | (run.level_m >= hi - TANK_EDGE_M)
        unsure: npt.NDArray[np.bool_] = np.asarray((near != model_full).any(axis=1))
        n_p = len(self.sensors.pressure_nodes)
        for _, col in self.operated:  # a pump that ran part of the step: the model has it running throughout
            running, full = np.abs(run.flow_m3h[:, col]), np.abs(out[:, n_p + col])
            unsure |= (running > OPEN_M3H) & (running < PART_RUNNING * full)
        unsure[:-1] |= unsure[1:]
        unsure[1:] |= unsure[:-1].copy()
        out[unsure] = np.nan
        return out

    def _operator(self, steps: Any, run: YearRun, factor: npt.NDArray[np.float64]) -> Any:
        """A function that puts the model in ``run``'s measured operation at a row: demand,
        tank levels, pumps and controlled links."""
        tanks = [steps.node(n) for n in self.sensors.level_tanks]
        operated = [(steps.link(p), col) for p, col in self.operated]
        for pipe, _, _ in self.shut:
            if pipe not in self.wn.pipe_name_list:
                raise ConfigError(f"works order on {pipe!r}: not a pipe of the network model")
        self._ever_shut |= {p for p, _, _ in self.shut}
        ever = {p: steps.link(p) for p in sorted(self._ever_shut)}
        shut = [(ever[p], lo, hi) for p, lo, hi in self.shut]

        def operate(row: int) -> None:
            steps.set_demand_multiplier(float(factor[row]))
            for j, i in enumerate(tanks):
                level = float(run.level_m[row, j])
                # near its top or bottom a tank fills or drains on its own in the model: a noisy
                # reading there would let a full tank fill (or an empty one drain)
                if self._tank_lo[j] + TANK_EDGE_M < level < self._tank_hi[j] - TANK_EDGE_M:
                    steps.en.ENsetnodevalue(i, EN_TANKLEVEL, level)
            for i, col in operated:
                steps.en.ENsetlinkvalue(i, EN_STATUS, float(abs(run.flow_m3h[row, col]) > OPEN_M3H))
            t = int(run.t_ms[row])
            closed = {i for i, lo, hi in shut if lo <= t < hi}
            for i in ever.values():
                steps.en.ENsetlinkvalue(i, EN_STATUS, float(i not in closed))

        return operate

    def closure_change(self, run: YearRun, row: int, pipes: Sequence[str]) -> npt.NDArray[np.float64]:
        """How every channel would change were each of ``pipes`` shut in the operation measured at
        ``run``'s ``row`` (pipes × channels): the model solved as operated, then with each pipe
        closed in turn.  A closure re-routes the flow the pipe carried, no more: this says how far
        that moves the sensors, which the closure's linear signature (a dipole, scale free) cannot."""
        reads = {"p": ("pressure", self.sensors.pressure_nodes), "f": ("flow", self.sensors.flow_links)}
        t = np.array([int(run.t_ms[row])], dtype=np.int64)
        out = np.zeros((len(pipes) + 1, self.channels))
        with open_steps(self._operated_wn()) as steps:
            at_row = self._operator(steps, run, self.demand_factor(run))
            links = [steps.link(p) for p in pipes]
            for k, link in enumerate([None, *links]):
                def before(_row: int, _t: int, link: int | None = link) -> None:
                    at_row(row)
                    if link is not None:
                        steps.en.ENsetlinkvalue(link, EN_STATUS, 0.0)

                _, got = steps.run(t, self.origin_ms, reads, before)
                out[k] = np.hstack([got["p"][0], self._flows(got["f"][0])])
                if link is not None:
                    steps.en.ENsetlinkvalue(link, EN_STATUS, 1.0)
        return np.nan_to_num(out[1:] - out[0])

    def burst_change(self, run: YearRun, row: int, junctions: Sequence[str], q_m3h: float) -> npt.NDArray[np.float64]:
        """How every channel would change were ``q_m3h`` to escape at each of ``junctions`` in the
        operation measured at ``run``'s ``row`` (junctions × channels), solved, not linearised: a
        burst of hundreds of m³/h is far beyond the signatures' small leak (it empties a tank's
        zone, moves the pump along its curve, and its head losses grow as the flow's square).

        The outflow is an emitter (an orifice: q ∝ √p, as a rupture discharges), its coefficient
        set so that it draws ``q_m3h`` (``BURST_SIZING`` solves).  Where the demand comes from the
        metered areas' balance, the burst's water is already in the inflow the model spreads over
        the junctions, so the junctions' demand is lowered by it while it escapes at the one."""
        reads = {"p": ("pressure", self.sensors.pressure_nodes), "f": ("flow", self.sensors.flow_links),
                 "q": ("demand", junctions), "j": ("pressure", junctions)}
        t = np.array([int(run.t_ms[row])], dtype=np.int64)
        factor = self.demand_factor(run)
        f0 = float(factor[row])
        nominal = float(self.nominal_total_m3h(t, self.balanced)[0]) if self.balanced else 0.0
        in_balance = set(self.balanced)
        out = np.zeros((len(junctions), self.channels))
        with open_steps(self._operated_wn()) as steps:
            at_row = self._operator(steps, run, factor)

            def solve(node: int | None = None, emitter: float = 0.0, mult: float = f0) -> dict[str, Any]:
                def before(_row: int, _t: int) -> None:
                    at_row(row)
                    if node is not None:
                        steps.set_demand_multiplier(mult)
                        steps.en.ENsetnodevalue(node, EN_EMITTER, emitter)

                _, got = steps.run(t, self.origin_ms, reads, before)
                if node is not None:  # the multiplier is set again by ``at_row`` before each solve
                    steps.en.ENsetnodevalue(node, EN_EMITTER, 0.0)
                return {k: v[0] for k, v in got.items()}

            base = solve()
            at_base = np.hstack([base["p"], self._flows(base["f"])])
            for k, name in enumerate(junctions):
                mult = max(f0 - q_m3h / nominal, 0.0) if name in in_balance and nominal > 0 else f0
                emitter = q_m3h / math.sqrt(max(float(base["j"][k]), 5.0))
                for _ in range(BURST_SIZING):
                    got = solve(steps.node(name), emitter, mult)
                    drawn = float(got["q"][k]) - float(base["q"][k]) * mult / max(f0, 1e-9)
                    if drawn <= 0 or abs(drawn - q_m3h) <= 0.02 * q_m3h:
                        break
                    emitter = min(emitter * q_m3h / drawn, 1e4)
                out[k] = np.hstack([got["p"], self._flows(got["f"])]) - at_base
        return np.nan_to_num(out)

    def signatures(self, at: tuple[YearRun, int] | None = None) -> Signatures:
        """Every junction's and pipe's leak signature: averaged over ``SIGNATURE_HOURS`` of a
        nominal day, or, ``at`` a run's row, in the operation measured then."""
        reads = {"p": ("pressure", self.sensors.pressure_nodes), "f": ("flow", self.sensors.flow_links),
                 "q": ("demand", self.wn.junction_name_list)}
        junctions = tuple(self.wn.junction_name_list)
        total = np.zeros((len(junctions), self.channels))
        wn = self.wn if at is None else self._operated_wn()
        with open_steps(wn) as steps:
            idx = [steps.node(n) for n in junctions]
            multiplier = 1.0
            if at is None:
                times = [self.origin_ms + h * 3_600_000 for h in SIGNATURE_HOURS]

                def operate() -> None:  # the nominal operation: the model's own controls
                    pass
            else:
                run, row = at
                times = [int(run.t_ms[row])]
                factor = self.demand_factor(run)
                multiplier = float(factor[row])
                at_row = self._operator(steps, run, factor)

                def operate() -> None:
                    at_row(row)
            in_balance = set(self.balanced)
            balanced = np.array([j in in_balance for j in junctions], dtype=bool)
            for t0 in times:
                t = np.array([t0], dtype=np.int64)
                if self.linear:
                    total += self._linearised(wn, steps, t, operate, balanced)
                    continue
                base = self._snapshot(steps, t, reads, None, operate)
                spread = np.zeros(self.channels)
                if balanced.any():  # a leak's water in the inflow, spread over every junction by the model
                    def spread_op() -> None:
                        operate()
                        steps.set_demand_multiplier(multiplier * (1.0 + SPREAD_FRACTION))

                    got = self._snapshot(steps, t, reads, None, spread_op)
                    steps.set_demand_multiplier(multiplier)  # the multiplier stays set in the project
                    spread = (got[0] - base[0]) / max(float(np.sum(got[-1] - base[-1])), 1e-9)
                for j, i in enumerate(idx):
                    got = self._snapshot(steps, t, reads, i, operate)
                    q = got[-1][j] - base[-1][j]
                    if q > 1e-6:
                        total[j] += (got[0] - base[0]) / q - (spread if balanced[j] else 0.0)
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

    def _linearised(self, wn: Any, steps: Any, t: npt.NDArray[np.int64], operate: Callable[[], None],
                    balanced: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        """Every junction's signature at ``t`` from the network linearised there (``sensitivity``)."""
        links, nodes = list(wn.link_name_list), list(wn.node_name_list)
        reads = {"q": ("demand", wn.junction_name_list), "f": ("flow", links), "s": ("status", links),
                 "p": ("pressure", nodes)}
        _, got = steps.run(t, self.origin_ms, reads, lambda _row, _t: operate())
        state = State(dict(zip(links, got["f"][0].tolist(), strict=True)),
                      dict(zip(links, (got["s"][0] > 0.5).tolist(), strict=True)),
                      dict(zip(nodes, got["p"][0].tolist(), strict=True)))
        lin = Linearised(wn, state)
        sig, spread = lin.signatures(wn, state, list(wn.junction_name_list), self.sensors.pressure_nodes,
                                     self.sensors.flow_links, np.where(balanced, got["q"][0], 0.0),
                                     self.bidirectional)
        return np.asarray(sig - np.where(balanced[:, None], spread[None, :], 0.0), dtype=np.float64)

    def _snapshot(self, steps: Any, t: npt.NDArray[np.int64], reads: dict[str, Any], leak: int | None,
                  operate: Callable[[], None]) -> tuple[npt.NDArray[np.float64], ...]:
        def before(_row: int, _t: int) -> None:
            operate()
            if leak is not None:
                steps.en.ENsetnodevalue(leak, EN_EMITTER, SIGNATURE_EMITTER)

        _, got = steps.run(t, self.origin_ms, reads, before)
        if leak is not None:
            steps.en.ENsetnodevalue(leak, EN_EMITTER, 0.0)  # the junctions' own: none
        return np.hstack([got["p"][0], self._flows(got["f"][0])]), got["q"][0]
