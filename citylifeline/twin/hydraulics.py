"""EPANET runs for the water twin: clock alignment, daily schedules and pipe bursts.

Clock.  An .inp file describes its network at one time of day (``start_clocktime``, midnight
for Net3): tank levels, pump states and the first demand-pattern period all belong to that
moment, and its time controls (Net3: "pump 10 OPEN AT TIME 1, CLOSED AT TIME 15, 25, 39 …")
count hours from it.  Rather than starting EPANET at the scenario's odd time of day with a
midnight state, the run starts at the authored clock time at least one whole day *before* the
scenario start and the readings are reported only from the scenario start on.  The warm-up
day lets the tanks settle into their daily cycle, the demand patterns and pump schedule then
line up with the local time of day, and nothing has to guess a pump's state at 14:37.  (A
scenario that spans a daylight-saving change keeps the offset of its start.)

Schedules.  Elapsed-time controls that repeat every 24 h (same link, same setting, same time of
day, at least twice) become one ``CLOCKTIME`` control each, so a schedule written for a week
keeps running for any duration.  One-off elapsed-time controls keep their meaning.

Bursts.  ``EpanetSimulator`` ignores WNTR leaks, so a burst is an orifice to the atmosphere:
a reservoir at the junction's elevation (head = elevation, i.e. zero gauge pressure) joined to
the junction by a 1 m pipe whose diameter is the orifice's and whose minor-loss coefficient
``1/Cd²`` makes it behave like one, ``Q = Cd·A·√(2·g·p)``.  The pipe starts CLOSED and a rule
opens it at the burst time (at the first rule step, one sampling step long, at or after it).
No check valve (EPANET cannot control one): if the junction's pressure fell below zero gauge
the reservoir would feed it, which acts as the air inlet that stops a real main from holding
a vacuum.

Demand.  A city's water use is never its records' pattern to the letter: every day's use differs
from the last (weather, weekday; ``leakyear.DAILY_SD``, ``DAILY_AR``) and every hour wanders
about the pattern (``HOURLY_SD``); and the real network is not its records
(``leakyear.perturb``: base demands ~10 % and roughness ~5 % off, the same every day:
``MISMATCH_SEED``); and use changes smoothly, not in the records' hourly steps (``DEMAND_STEP_S``).
``vary_demand`` makes the simulated city so, so that a model-based detector
tuned on the twin meets the model error and the day-to-day change a utility meets.
"""

from __future__ import annotations

import math
import tempfile
import time as wallclock
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from ..batch import F64
from ..city.epanet import load_wntr_model
from ..errors import CityModelError, ConfigError
from ..units import WATER_HEAD_PA_PER_M

DAY_S = 86400
ORIFICE_CD = 0.6
"""Discharge coefficient of a sharp-edged orifice; a burst's rupture is modelled as one."""
BURST_PIPE_LENGTH_M = 1.0
HOURLY_SD = 0.03
"""Each pattern period's use about the pattern, independent per period (3 %: the spread of a
district's hourly inflow about its mean day; Gargano et al., Water 9(12):948, 2017, report
coefficients of variation of 2–5 % for thousands of users)."""
DEMAND_STEP_S = 300  # the simulated use changes every 5 minutes
MISMATCH_SEED = 20261206  # the city's real network: one draw, the same in every scenario


@dataclass(frozen=True)
class Run:
    """What one EPANET run produced: a (time × sensor) matrix of canonical values."""

    values: F64
    sim_s: float


def warmup_s(start_ms: int, tz: str, clock_s: float) -> int:
    """Whole seconds from the run's start to ``start_ms``: back to the latest local time of
    day ``clock_s`` (the network's authored clock) at least one day before, counted in local
    wall-clock time so that EPANET's clock shows the local time of day at ``start_ms`` even
    across a daylight-saving change (EPANET's own clock has none)."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"time zone {tz!r} is unknown; use an IANA name such as 'Asia/Shanghai'") from None
    start = datetime.fromtimestamp(start_ms / 1000, zone).replace(tzinfo=None)  # local wall time
    latest = start - timedelta(days=1)
    begin = datetime.combine(latest.date(), datetime.min.time()) + timedelta(seconds=clock_s)
    if begin > latest:
        begin -= timedelta(days=1)
    return int((start - begin).total_seconds())


def load_network(network: str) -> Any:
    """A fresh ``WaterNetworkModel`` with daily schedules and without water quality."""
    wn = load_wntr_model(network)
    wn.options.quality.parameter = "NONE"  # the twin reads hydraulics only; quality costs time
    _repeat_daily_controls(wn)
    return wn


def _repeat_daily_controls(wn: Any) -> None:
    from wntr.network.controls import Comparison, Control, ControlAction, SimTimeCondition, TimeOfDayCondition

    clock_s = float(wn.options.time.start_clocktime)
    groups: dict[tuple[str, str, Any, float], list[str]] = defaultdict(list)
    for name, control in wn.controls():
        cond, actions = control.condition, list(control.actions())
        if isinstance(cond, SimTimeCondition) and len(actions) == 1:
            target, attribute = actions[0].target()
            clock = (clock_s + float(cond._threshold)) % DAY_S
            groups[(target.name, attribute, actions[0]._value, clock)].append(name)
    for (link, attribute, value, clock), names in groups.items():
        if len(names) < 2:
            continue  # a one-off switch, not a schedule
        for name in names:
            wn.remove_control(name)
        action = ControlAction(wn.get_link(link), attribute, value)
        cond = TimeOfDayCondition(wn, Comparison.eq, clock)
        wn.add_control(f"daily-{link}-{attribute}-{int(clock)}", Control(cond, action))


def vary_demand(wn: Any, rng: np.random.Generator, duration_s: float) -> None:
    """Make the demands of ``wn`` a real city's over a run of ``duration_s`` seconds (see the
    module docstring): every demand's pattern spelt out period by period, times a day-to-day
    factor (AR(1)) and an hourly one, every five minutes, and the network perturbed from its records."""
    from .leakyear import DAILY_AR, DAILY_SD, daily_deviation, perturb

    perturb(wn, MISMATCH_SEED)
    t = wn.options.time
    step = int(t.pattern_timestep)
    t.pattern_timestep = DEMAND_STEP_S
    periods = math.ceil((duration_s + t.pattern_start) / DEMAND_STEP_S) + 2
    x = np.arange(periods) * DEMAND_STEP_S / step  # position in the records' patterns, in their periods
    clock = np.arange(periods) * DEMAND_STEP_S - float(t.pattern_start) + float(t.start_clocktime)
    day = (clock // DAY_S).astype(np.int64)
    shocks = rng.normal(0.0, DAILY_SD * math.sqrt(1 - DAILY_AR ** 2), int(day[-1]) + 1)
    daily = daily_deviation(shocks, rng.normal(0.0, DAILY_SD))  # from a day drawn as any other
    hourly = np.clip(1.0 + rng.normal(0.0, HOURLY_SD, int(x[-1]) + 2), 0.5, 1.5)
    factor = (1.0 + daily[day]) * np.interp(x, np.arange(len(hourly)), hourly)
    default = wn.options.hydraulic.pattern
    spelt: dict[str | None, str] = {}
    for name in wn.junction_name_list:
        for d in wn.get_node(name).demand_timeseries_list:
            pat = d.pattern_name or (default if default in wn.pattern_name_list else None)
            if pat not in spelt:
                base = np.asarray(wn.get_pattern(pat).multipliers, np.float64) if pat else np.ones(1)
                # use changes smoothly, not in the records' hourly steps: each period's value is
                # reached at its middle, and the use runs straight from one middle to the next
                smooth = np.interp((x - 0.5) % len(base), np.arange(len(base) + 1), np.r_[base, base[0]])
                spelt[pat] = f"REAL-{pat or 'FLAT'}"
                wn.add_pattern(spelt[pat], list(smooth * factor))
            d.pattern_name = spelt[pat]


def add_burst(wn: Any, index: int, junction: str, at_s: float, orifice_diameter_m: float) -> None:
    """Add burst number ``index`` at ``junction``, opening ``at_s`` seconds into the run."""
    from wntr.network.controls import Comparison, ControlAction, Rule, SimTimeCondition

    if junction not in wn.junction_name_list:
        raise CityModelError(f"burst junction {junction!r} is not a junction of the network; "
                             f"e.g. {', '.join(wn.junction_name_list[10:14])}")
    if not orifice_diameter_m > 0:
        raise ConfigError(f"burst at {junction}: orifice_diameter_m must be > 0, got {orifice_diameter_m}")
    node = wn.get_node(junction)
    name = f"BURST-{index}"
    wn.add_reservoir(name, base_head=float(node.elevation), coordinates=node.coordinates)
    # the rupture is in one of the junction's pipes: give the stub that pipe's wall roughness
    roughness = min(float(wn.get_link(n).roughness) for n in wn.get_links_for_node(junction)
                    if wn.get_link(n).link_type == "Pipe")
    wn.add_pipe(name, junction, name, length=BURST_PIPE_LENGTH_M, diameter=orifice_diameter_m,
                roughness=roughness, minor_loss=1.0 / ORIFICE_CD**2, initial_status="CLOSED")
    # a rule, not a control: WNTR writes a control's time as hours to 6 digits, which can land
    # a second after a report time at day 5; a rule's time is written as exact HH:MM:SS
    opening = ControlAction(wn.get_link(name), "status", 1)  # 1 = LinkStatus.Open
    when = SimTimeCondition(wn, Comparison.ge, math.ceil(at_s))
    wn.add_control(f"{name}-open", Rule(when, [opening], name=f"{name}-open"))


def add_leak(wn: Any, index: int, junction: str, at_s: float, growth_s: float, flow_m3s: float,
             end_s: float | None, duration_s: float) -> None:
    """Add slow leak number ``index`` at ``junction``: an extra demand that ramps from zero at
    ``at_s`` to ``flow_m3s`` over ``growth_s`` seconds of the run (in steps of the pattern
    time step, one hour) and stops at ``end_s``.  Demand-driven: for a leak much smaller than
    the main's flow the pressure it loses barely changes its rate, and EPANET cannot grow an
    emitter during a run."""
    if junction not in wn.junction_name_list:
        raise CityModelError(f"leak junction {junction!r} is not a junction of the network")
    step = int(wn.options.time.pattern_timestep)
    hours = np.arange(math.ceil(duration_s / step) + 1) * step + step / 2  # pattern period midpoints
    ramp = np.ones_like(hours) if growth_s <= 0 else np.clip((hours - at_s) / growth_s, 0, 1)
    on = (hours >= at_s) & (hours < (math.inf if end_s is None else end_s))
    name = f"LEAK-{index}"
    wn.add_pattern(name, list(np.where(on, ramp, 0.0)))
    wn.get_node(junction).add_demand(flow_m3s, name)


def close_pipe(wn: Any, index: int, pipe: str, at_s: float, end_s: float | None) -> None:
    """Shut ``pipe`` (its valve closed) from ``at_s`` to ``end_s`` seconds of the run."""
    from wntr.network.controls import Comparison, ControlAction, Rule, SimTimeCondition

    if pipe not in wn.pipe_name_list:
        raise CityModelError(f"pipe {pipe!r} is not a pipe of the network")
    link = wn.get_link(pipe)
    when = SimTimeCondition(wn, Comparison.ge, math.ceil(at_s))
    wn.add_control(f"CLOSE-{index}", Rule(when, [ControlAction(link, "status", 0)], name=f"CLOSE-{index}"))
    if end_s is not None:
        back = SimTimeCondition(wn, Comparison.ge, math.ceil(end_s))
        wn.add_control(f"OPEN-{index}", Rule(back, [ControlAction(link, "status", 1)], name=f"OPEN-{index}"))


def check_sensor(wn: Any, sensor_id: str, kind: str, element: str) -> None:
    """ConfigError unless ``element`` exists in ``wn`` and a ``kind`` sensor can sit on it."""
    ok = {"pressure": element in wn.junction_name_list,
          "flow": element in wn.link_name_list,
          "level": element in wn.tank_name_list}
    if kind not in ok:
        raise ConfigError(f"sensor {sensor_id}: kind {kind!r} has no water twin; use pressure, flow or level")
    if not ok[kind]:
        where = {"pressure": "junction", "flow": "pipe, pump or valve", "level": "tank"}[kind]
        raise ConfigError(f"sensor {sensor_id}: {kind} needs a {where} of the network; "
                          f"{element!r} is not one")


def run(wn: Any, warmup: int, n_steps: int, step_s: int,
        sensors: list[tuple[str, str]]) -> Run:
    """Run EPANET from the warm-up start and return ``n_steps`` reports, every ``step_s``
    seconds from the scenario start, for ``sensors`` given as (kind, element) pairs."""
    import wntr

    t = wn.options.time
    t.hydraulic_timestep = t.report_timestep = step_s
    t.rule_timestep = min(step_s, int(t.rule_timestep))
    t.report_start = warmup
    t.duration = warmup + (n_steps - 1) * step_s
    began = wallclock.perf_counter()
    with tempfile.TemporaryDirectory(prefix="citylifeline-twin-") as tmp:
        try:  # EPANET writes its .inp/.rpt/.bin next to the prefix: keep them out of the cwd
            res = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(Path(tmp) / "twin"),
                                                       convergence_error=True)
        except Exception as e:  # EPANET reports bad input and failed convergence in many ways
            raise CityModelError(f"EPANET could not simulate the water network: {e}") from e
    sim_s = wallclock.perf_counter() - began
    times = res.node["pressure"].index.to_numpy()
    if len(times) != n_steps or times[0] != warmup:
        raise CityModelError(f"EPANET reported {len(times)} steps from t={times[:1]} s, "
                             f"expected {n_steps} from {warmup} s")
    pressure, head = res.node["pressure"], res.node["head"]
    flow = res.link["flowrate"]
    cols: list[F64] = []
    for kind, element in sensors:
        if kind == "pressure":
            cols.append(pressure[element].to_numpy(np.float64) * WATER_HEAD_PA_PER_M)
        elif kind == "flow":
            cols.append(flow[element].to_numpy(np.float64))
        else:  # level: water depth in the tank
            cols.append(head[element].to_numpy(np.float64) - float(wn.get_node(element).elevation))
    values = np.column_stack(cols) if cols else np.empty((n_steps, 0))
    return Run(np.ascontiguousarray(values, dtype=np.float64), sim_s)
