"""Minimum night flow per metered area: the leakage already running, which no change detector sees.

Water utilities measure leakage where it stands out most, at night (IWA water balance; UK Water
Industry Report E "Managing Leakage", 1994; Lambert, "What do we know about pressure–leakage
relationships", IWA Water Loss 2001; Puust et al., Urban Water J. 7(1):25, 2010): in the quiet
hours the inflow of a metered area is mostly leakage, since legitimate use is small and well
known.  Here, per metered area and night:

- **areas** are the parts of the network the flow meters cut it into (``metered_areas``): the
  components of the network without its metered links (a tank's own main excepted); an area's
  inflow is what its meters bring in less what they take out, less the water its measured tanks
  store (cross-section × the level's rise);
- **legitimate night use** is measured, not assumed: the household meters (AMR) in the area,
  scaled up to the area as the model's demands share out at that hour (the area's over the
  metered junctions'); an area without household meters uses the model's own demand then;
- the **night excess** is the mean over ``NIGHT_HOURS`` (local) of inflow − legitimate use (a
  mean, not a median: a tank's filling balances its pump only over the whole window): the area's
  night leakage, including leaks that were there before any history began;
- the **pressure-corrected** excess at the average night pressure of the area's sensors follows
  the leakage–pressure exponent ``N1`` (Lambert 2001: 0.5 for rigid pipes' fixed holes, up to
  1.5 for plastic; 1.0 as the mixed-network default), so that nights of different pressure compare.

What the utility's report says is the excess per area and night, its trend, and the share of the
night inflow it is; the model-based detector (``leaks``) places the changes within an area.

**A new leak at night** (``NightLog.judge``, once a night's hours are over): the night's excess
against the median of the ``BASE_NIGHTS`` nights before it (a week: weekdays and weekends alike)
is its rise; the area's own rises over the nights it keeps (less those just after an alarm) give
its spread; a rise beyond ``ALARM_SIGMAS`` spreads is a new leak (a Shewhart chart, Montgomery,
"Introduction to Statistical Quality Control", 7th ed., ch. 6: three sigma, with no parameter
tuned).  For the nights after an alarm the alarmed night's excess is the baseline (the leak is
known; only a further rise is news).  Night use varies from day to day with the weather, a few
per cent and for days on end, so the rise that is seen is a few per cent of the night inflow:
on the demo city (one area, ~135 m³/h at night) about 16 m³/h.  The model-based detector then
places the leak within the area (``watch.LeakWatch.night_leak``).
"""

from __future__ import annotations

import copy
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import numpy.typing as npt

from ...twin.leakyear import YearRun
from .model import WaterModel

NIGHT_HOURS = (2, 4)  # local time: the quietest hours of household use
N1 = 1.0
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Area:
    """A metered area: its junctions, the meters that bring water in (+1) or take it out (−1), its tanks."""

    name: str
    junctions: tuple[str, ...]
    meters: tuple[tuple[int, int], ...]  # (column of the flow sensor, +1 in / −1 out)
    tanks: tuple[tuple[int, float], ...]  # (column of the level sensor, cross-section m²)
    amr: tuple[int, ...]  # columns of the household meters in the area
    pressure: tuple[int, ...]  # columns of the pressure sensors in the area


@dataclass(frozen=True)
class NightFlow:
    """Per area (columns, ``areas`` order) and night (rows): the night's figures, m³/h."""

    areas: tuple[Area, ...]
    night_ms: npt.NDArray[np.int64]  # each night's local midnight
    inflow_m3h: npt.NDArray[np.float64]
    legit_m3h: npt.NDArray[np.float64]
    pressure_m: npt.NDArray[np.float64]  # the area's mean night pressure (NaN without sensors)

    @property
    def excess_m3h(self) -> npt.NDArray[np.float64]:
        """The night's inflow less its legitimate use: the area's night leakage."""
        return self.inflow_m3h - self.legit_m3h

    def corrected(self, to_pressure_m: npt.NDArray[np.float64] | None = None) -> npt.NDArray[np.float64]:
        """The excess at each area's median night pressure (or ``to_pressure_m``), by the N1 law."""
        ref = np.nanmedian(self.pressure_m, axis=0) if to_pressure_m is None else to_pressure_m
        ratio = np.where(self.pressure_m > 0, ref / np.where(self.pressure_m > 0, self.pressure_m, 1.0), 1.0)
        return np.asarray(self.excess_m3h * np.power(ratio, N1), dtype=np.float64)


def metered_areas(model: WaterModel) -> tuple[Area, ...]:
    """The areas the flow meters cut the network into (those with junctions, fed only through meters),
    with their meters and tanks.

    A meter on a pipe at a tank does not cut: the tank belongs to its area, whose balance takes
    the tank's storage from its level (a tank's main runs both ways, and a flow meter reads how
    much, not which way); a pump does, forwards."""
    wn, sensors = model.wn, model.sensors
    tanks = set(wn.tank_name_list)
    cut = {n for n in sensors.flow_links if n in wn.pump_name_list
           or not {wn.get_link(n).start_node_name, wn.get_link(n).end_node_name} & tanks}
    graph = nx.Graph()
    graph.add_nodes_from(wn.junction_name_list + wn.tank_name_list)
    graph.add_edges_from((link.start_node_name, link.end_node_name) for name, link in wn.links() if name not in cut)
    direction = _directions(model, cut)
    junction_set, reservoirs = set(wn.junction_name_list), set(wn.reservoir_name_list)
    out = []
    for k, nodes in enumerate(sorted(nx.connected_components(graph), key=lambda c: -len(c))):
        junctions = tuple(sorted(n for n in nodes if n in junction_set))
        if not junctions or nodes & reservoirs:  # an unmetered source: its area has no balance
            continue
        meters = []
        for col, name in enumerate(sensors.flow_links):
            link = wn.get_link(name)
            into, from_ = link.end_node_name in nodes, link.start_node_name in nodes
            if name in cut and into != from_:  # the meter is on the area's edge
                meters.append((col, direction[name] * (1 if into else -1)))
        area_tanks = tuple((c, float(np.pi * wn.get_node(t).diameter ** 2 / 4))
                           for c, t in enumerate(sensors.level_tanks) if t in nodes)
        amr = tuple(c for c, j in enumerate(sensors.amr_demand_nodes) if j in nodes)
        out.append(Area(f"area {k + 1}", junctions, tuple(meters), area_tanks, amr,
                        tuple(c for c, n in enumerate(sensors.pressure_nodes) if n in nodes)))
    return tuple(out)


def fed_areas(model: WaterModel) -> tuple[Area, ...]:
    """The metered areas that a meter brings water into (those with a water balance)."""
    return tuple(a for a in metered_areas(model) if any(sign > 0 for _, sign in a.meters))


def _directions(model: WaterModel, links: set[str]) -> dict[str, int]:
    """+1 where a metered link carries water from its start node to its end node, else −1: a pump
    forwards, a main out of a reservoir away from it, any other the way it mostly runs over a
    nominal day of the model."""
    import wntr

    wn = model.wn
    out, unsure = {}, []
    for name in links:
        link = wn.get_link(name)
        if name in wn.pump_name_list or link.start_node_name in wn.reservoir_name_list:
            out[name] = 1
        elif link.end_node_name in wn.reservoir_name_list:
            out[name] = -1
        else:
            unsure.append(name)
    if unsure:
        day = copy.deepcopy(model._operated_wn())  # the model's copy is only read
        day.options.time.duration = 24 * 3600
        with tempfile.TemporaryDirectory() as tmp:  # EPANET's files, not in the working directory (processes share it)
            flows = wntr.sim.EpanetSimulator(day).run_sim(file_prefix=str(Path(tmp) / "day")).link["flowrate"]
        out |= {name: 1 if float(flows[name].mean()) >= 0 else -1 for name in unsure}
    return out


def area_inflow(area: Area, run: YearRun) -> npt.NDArray[np.float64]:
    """What ``area`` takes in over each step of ``run``, m³/h: its meters' flows in less out, less
    what its tanks store (cross-section × the level's rise).  Readings are steps' means, so the
    rise from one step's mean level to the next spans the second half of the first step and the
    first half of the second: the flows are averaged over the same (a pump switching within a
    step would otherwise look like a burst of demand).  The first step pairs with the second (a
    caller that has the steps before joins them on: ``WaterModel.demand_factor``).  NaN where a
    meter is silent."""
    t, level, flow = run.t_ms.astype(np.float64), run.level_m, run.flow_m3h
    if len(t) < 2:
        return np.full(len(run.t_ms), np.nan)
    q = np.zeros(len(t) - 1)
    for col, sign in area.meters:
        q += sign * (np.abs(flow[1:, col]) + np.abs(flow[:-1, col])) / 2  # how much; the meter's side says which way
    rise = np.diff(level, axis=0) / (np.diff(t)[:, None] / 3_600_000)  # m/h
    for col, section in area.tanks:
        q -= section * rise[:, col]
    return np.concatenate([q[:1], q])


def area_steps(model: WaterModel, area: Area, run: YearRun) -> tuple[npt.NDArray[np.float64], ...]:
    """Each step's inflow (``area_inflow``), legitimate use and mean pressure of ``area``: the use
    is the household meters' reading scaled up to the area as the model's demands share out, or
    without meters the model's own demand then."""
    q = area_inflow(area, run)
    use = model.nominal_total_m3h(run.t_ms, area.junctions)
    if area.amr:  # measured: the meters' reading scaled to the area as the model's demands share out
        metered = model.nominal_total_m3h(run.t_ms, tuple(model.sensors.amr_demand_nodes[c] for c in area.amr))
        use = np.where(metered > 0, np.nansum(run.demand_m3h[:, list(area.amr)], axis=1) * use
                       / np.where(metered > 0, metered, 1.0), use)
    p = np.nanmean(run.pressure_m[:, list(area.pressure)], axis=1) if area.pressure else np.full(len(q), np.nan)
    return q, use, p


def night_steps(t_ms: npt.NDArray[np.int64], tz_offset_ms: int) -> tuple[npt.NDArray[np.bool_],
                                                                          npt.NDArray[np.int64]]:
    """Which steps are in the night hours (``NIGHT_HOURS``, local), and each step's local day."""
    local = t_ms + tz_offset_ms
    hour = (local % DAY_MS) / 3_600_000
    return (hour >= NIGHT_HOURS[0]) & (hour < NIGHT_HOURS[1]), local // DAY_MS


def night_flow(model: WaterModel, run: YearRun, areas: tuple[Area, ...] | None = None,
               tz_offset_ms: int = 0) -> NightFlow:
    """Each night's inflow, legitimate use and excess per area over ``run`` (steps of a few minutes);
    ``tz_offset_ms``: local time minus the readings' time."""
    areas = metered_areas(model) if areas is None else areas
    night, day = night_steps(run.t_ms, tz_offset_ms)
    nights = np.unique(day[night])
    shape = (len(nights), len(areas))
    inflow, legit, press = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    for a, area in enumerate(areas):
        q, use, p = area_steps(model, area, run)
        for r, d in enumerate(nights):
            rows = night & (day == d)
            inflow[r, a], legit[r, a] = float(np.nanmean(q[rows])), float(np.nanmean(use[rows]))
            press[r, a] = float(np.nanmean(p[rows])) if np.isfinite(p[rows]).any() else np.nan
    return NightFlow(areas, (nights * DAY_MS - tz_offset_ms).astype(np.int64), inflow, legit, press)


NIGHTS_KEPT = 28
FULL_NIGHT = 0.8  # a night counts when this share of its steps was measured
BASE_NIGHTS = 7  # a night's rise is against the median of the week of nights before it
MIN_NIGHTS = 14  # an area is judged once it has a week of baseline and a week of rises to spread
ALARM_SIGMAS = 3.0  # a rise beyond this many spreads of the area's own rises is a new leak (Shewhart)
SPREAD_FLOOR = 0.005  # the spread is at least this share of the night inflow (the meters' resolution)


@dataclass(frozen=True)
class NightRise:
    """A metered area whose night excess rose beyond ``ALARM_SIGMAS`` spreads: a new leak there."""

    area: int  # its index in the log's areas
    night_ms: int  # the night's local midnight
    rise_m3h: float  # the excess above the baseline: the new leak's outflow at night
    spread_m3h: float
    excess_m3h: float
    inflow_m3h: float

    @property
    def sigmas(self) -> float:
        return self.rise_m3h / self.spread_m3h

    def words(self, name: str) -> tuple[str, str]:
        """What the night says, 中文 / English."""
        ls = self.rise_m3h / 3.6
        return (f"{name}：凌晨 {NIGHT_HOURS[0]}–{NIGHT_HOURS[1]} 时最小夜间流量比前一周上升 {self.rise_m3h:.1f} m³/h"
                f"（{self.sigmas:.1f} 倍日常波动，夜间进水 {self.inflow_m3h:.0f} m³/h）：疑似新增漏水约 {ls:.1f} L/s",
                f"{name}: the minimum night flow ({NIGHT_HOURS[0]}–{NIGHT_HOURS[1]} h) rose {self.rise_m3h:.1f} m³/h "
                f"on the week before ({self.sigmas:.1f} times its night-to-night spread; night inflow "
                f"{self.inflow_m3h:.0f} m³/h): a new leak of about {ls:.1f} L/s")


class NightLog:
    """Each metered area's nights, accumulated a step at a time as the live analyst closes them:
    what ``night_flow`` computes over a whole run, kept for the last ``NIGHTS_KEPT`` nights."""

    def __init__(self, model: WaterModel, areas: tuple[Area, ...], tz_offset_ms: int, step_ms: int) -> None:
        self.model, self.areas, self.tz_offset_ms = model, areas, tz_offset_ms
        self.steps_per_night = (NIGHT_HOURS[1] - NIGHT_HOURS[0]) * 3_600_000 // step_ms
        self.sums: dict[int, npt.NDArray[np.float64]] = {}  # local day → area × (inflow, steps, use, pressure, steps)
        self.alarms: list[tuple[int, int, float]] = []  # (local day, area, the alarmed night's excess)
        self.judged = -1  # the last local day whose night was judged

    def add(self, before: YearRun, step: YearRun) -> None:
        """Count ``step`` (one step) if it is in the night; ``before``, the steps just before it, pair its levels."""
        local = int(step.t_ms[-1]) + self.tz_offset_ms
        if not NIGHT_HOURS[0] <= (local % DAY_MS) / 3_600_000 < NIGHT_HOURS[1]:
            return
        run = before.joined(step)
        day = local // DAY_MS
        sums = self.sums.setdefault(day, np.zeros((len(self.areas), 5)))
        for a, area in enumerate(self.areas):
            q, use, p = (float(x[-1]) for x in area_steps(self.model, area, run))
            if np.isfinite(q) and np.isfinite(use):
                sums[a, :3] += (q, 1.0, use)
            if np.isfinite(p):
                sums[a, 3:] += (p, 1.0)
        for old in sorted(self.sums)[:-NIGHTS_KEPT]:
            del self.sums[old]

    def judge(self, t_ms: int) -> list[NightRise]:
        """Once the night hours of the local day of ``t_ms`` are over, the areas whose night excess
        rose beyond ``ALARM_SIGMAS`` spreads (see the module docstring); each night is judged once."""
        local = t_ms + self.tz_offset_ms
        day = local // DAY_MS
        if day <= self.judged or (local % DAY_MS) / 3_600_000 < NIGHT_HOURS[1] or day not in self.sums:
            return []
        self.judged = day
        t = self.table()
        days = np.array(sorted(self.sums), np.int64)
        out = []
        for a in range(len(self.areas)):
            ok = np.isfinite(t.excess_m3h[:, a])
            x, d = t.excess_m3h[ok, a], days[ok]
            if len(x) <= MIN_NIGHTS or d[-1] != day:
                continue
            known = [level for ad, area, level in self.alarms if area == a and 0 < day - ad <= BASE_NIGHTS]
            base = max([float(np.median(x[-1 - BASE_NIGHTS:-1])), *known])
            calm = [i for i in range(BASE_NIGHTS, len(x) - 1)
                    if not any(0 <= d[i] - ad <= BASE_NIGHTS for ad, area, _ in self.alarms if area == a)]
            rises = np.array([x[i] - np.median(x[i - BASE_NIGHTS:i]) for i in calm])
            inflow = float(t.inflow_m3h[ok, a][-1])
            spread = max(float(np.std(rises)) if len(rises) > 1 else math.inf, SPREAD_FLOOR * inflow)
            rise = float(x[-1]) - base
            if rise > ALARM_SIGMAS * spread:
                self.alarms.append((int(day), a, float(x[-1])))
                out.append(NightRise(a, int(day * DAY_MS - self.tz_offset_ms), rise, spread, float(x[-1]), inflow))
        self.alarms = [al for al in self.alarms if day - al[0] <= NIGHTS_KEPT]
        return out

    def rows(self, t_ms: npt.NDArray[np.int64], rise: NightRise) -> tuple[npt.NDArray[np.bool_],
                                                                        npt.NDArray[np.bool_]]:
        """Of the steps at ``t_ms``: those of ``rise``'s night, and those of the ``BASE_NIGHTS`` nights before it."""
        night, day = night_steps(t_ms, self.tz_offset_ms)
        tonight = (rise.night_ms + self.tz_offset_ms) // DAY_MS
        return night & (day == tonight), night & (day < tonight) & (day >= tonight - BASE_NIGHTS)

    def table(self) -> NightFlow:
        """The nights measured well enough (``FULL_NIGHT``), as ``night_flow`` gives them."""
        days = sorted(self.sums)
        s = np.array([self.sums[d] for d in days]).reshape(len(days), len(self.areas), 5)
        full = s[:, :, 1] >= FULL_NIGHT * self.steps_per_night
        n = np.where(full, s[:, :, 1], np.nan)
        return NightFlow(self.areas, (np.array(days, np.int64) * DAY_MS - self.tz_offset_ms).astype(np.int64),
                         s[:, :, 0] / n, s[:, :, 2] / n,
                         np.where(s[:, :, 4] > 0, s[:, :, 3] / np.maximum(s[:, :, 4], 1.0), np.nan))

    def state(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Rows of (local day, area, the five sums), and of the alarms (local day, area, excess; the
        last judged day's row has area −1), for a checkpoint."""
        sums = np.array([[d, a, *self.sums[d][a]] for d in sorted(self.sums) for a in range(len(self.areas))],
                        np.float64).reshape(-1, 7)
        alarms = np.array([*self.alarms, (self.judged, -1, 0.0)], np.float64).reshape(-1, 3)
        return sums, alarms

    def load(self, rows: npt.NDArray[np.float64], alarms: npt.NDArray[np.float64] | None = None) -> None:
        """Take back what ``state`` gave."""
        self.sums = {}
        for row in rows:
            self.sums.setdefault(int(row[0]), np.zeros((len(self.areas), 5)))[int(row[1])] = row[2:]
        alarms = np.zeros((0, 3)) if alarms is None else alarms
        self.alarms = [(int(d), int(a), float(v)) for d, a, v in alarms if a >= 0]
        self.judged = max([int(d) for d, a, _ in alarms if a < 0], default=-1)

    def report(self) -> list[dict[str, object]]:
        """Per area, its last nights (m³/h) and the latest one in words, 中文 / English."""
        t = self.table()
        alarmed = {(d, a) for d, a, _ in self.alarms}
        out: list[dict[str, object]] = []
        for a, area in enumerate(self.areas):
            rows = np.flatnonzero(np.isfinite(t.inflow_m3h[:, a]))
            nights = [{"night_ms": int(t.night_ms[r]), "inflow_m3h": round(float(t.inflow_m3h[r, a]), 1),
                       "legit_m3h": round(float(t.legit_m3h[r, a]), 1),
                       "excess_m3h": round(float(t.excess_m3h[r, a]), 1),
                       "alarm": (int(t.night_ms[r] + self.tz_offset_ms) // DAY_MS, a) in alarmed} for r in rows[-14:]]
            words = None
            if len(rows):
                last = rows[-1]
                excess, inflow = float(t.excess_m3h[last, a]), float(t.inflow_m3h[last, a])
                before = t.excess_m3h[rows[-8:-1], a]
                change = excess - float(np.median(before)) if len(before) else float("nan")
                share = excess / inflow if inflow > 0 else float("nan")
                since = (f"，比前 {len(before)} 晚中位数{'多' if change >= 0 else '少'} {abs(change):.1f} m³/h"
                         if len(before) else "")
                since_en = (f", {change:+.1f} m³/h on the median of the {len(before)} nights before"
                            if len(before) else "")
                words = {"zh": f"{area.name}：凌晨 {NIGHT_HOURS[0]}–{NIGHT_HOURS[1]} 时进水 {inflow:.1f} m³/h，"
                               f"超出合理夜间用水 {excess:.1f} m³/h（占 {share:.0%}）{since}；即现有漏损",
                         "en": f"{area.name}: night inflow ({NIGHT_HOURS[0]}–{NIGHT_HOURS[1]} h) {inflow:.1f} m³/h, "
                               f"{excess:.1f} m³/h above legitimate night use ({share:.0%}){since_en}: the leakage "
                               "running now"}
            out.append({"area": area.name, "junctions": len(area.junctions), "nights": nights, "words": words})
        return out
