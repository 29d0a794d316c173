"""What a primary incident does to the lifelines around it, in the twin: secondary effects with truth
records that name their parent, for the scorer to ask whether each was foreseen before it happened.

- **Gas into confined spaces.**  A gas leak's methane is computed in every confined space near it
  (sewer manholes, cable wells, tunnel compartments, watched or not) with the same migration model as
  the gas twin's detectors (``gas_methane.leak_gas``: the leak's flow, its front through the trench,
  thinning with distance, filling each space).  A space reaching the alarm level, ``ALARM_LEL`` %LEL
  (GB 50838-2015), is a secondary effect ``gas_in_space`` from the time it does.
- **A burst undermining the road.**  The water a burst or leak throws into the ground washes the
  backfill out: ``EROSION_M3_PER_M3`` m³ of soil for each m³ of water (an *estimate*: internal erosion
  of sandy backfill by a jet; road collapses over leaking mains follow hours to days of leakage, as
  the 347 road collapses of 2021 in ../shared/DOMAIN.md §4 did).  The road where the water escapes
  collapses when the void reaches ``VOID_M3`` × (cover / 1.5 m)³, the cover of the widest main there
  (``collapse`` over that main, at the burst's point), and each gas main
  crossing it, or within ``TOUCH_M``, loses its support: with chance ``BREAK_P`` it breaks
  ``BREAK_DELAY_S`` later (``gas_leak``, parent the collapse).  A burst's flow is its orifice's under
  ``HEAD_M`` of pressure (Torricelli, discharge coefficient ``CD``); a leak's is its magnitude.
- **Standing water pouring in** (``ingress``, called by the drainage twin with the water on the street
  at each waterlogging point, SWMM's): every space or station within ``INGRESS_REACH_M`` of the point
  takes in water once the street's water is deeper than its entrance's sill (``SILL_M``): a cable
  well's cover lies flush with the road (5 cm, an estimate); a metro entrance stands 450 mm above the
  street (Qingdao Metro, 2013, under its 600 mm flood boards); a heating substation's, a pump house's
  or a basement's door and a utility tunnel's hatches and vents 15–30 cm (estimates).
"""

from __future__ import annotations

import math
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from ..cascade.coupling import KINDS, couple
from ..cascade.templates import SPACES
from ..city.bundle import CityBundle
from ..city.model import LIFELINES
from . import gas_methane as gm
from .base import Truth
from .gas import SPACE_KINDS, leak_xy
from .scenario import Incident, Scenario

ALARM_LEL = 20.0
REACH_M = 100.0  # spaces farther from a leak get nothing (exp(−100/12) of the gas at the pipe)
EROSION_M3_PER_M3 = 0.002
VOID_M3 = 1.0
COVER_M = 1.5
TOUCH_M = 5.0
BREAK_P = 0.5
BREAK_DELAY_S = 1800.0
INGRESS_REACH_M = 30.0  # the water standing at a waterlogging point covers its street this far
SILL_M = {"tunnel/cable_well": 0.05, "tunnel/compartment": 0.3, "places/metro_station": 0.45,
          "places/basement": 0.15, "heating/substation": 0.3, "heating/plant": 0.3, "water/pump": 0.3}
HEAD_M = 30.0
CD = 0.75
G = 9.81


def secondary(truth: list[Truth], bundle: CityBundle, scenario: Scenario, rng: np.random.Generator) -> list[Truth]:
    """The secondary effects of ``truth``'s primary incidents (module docstring)."""
    incidents = {i.id: i for i in scenario.incidents}
    out: list[Truth] = []
    for t in truth:
        inc = incidents.get(t.id)
        if inc is None or t.parent:
            continue
        if inc.type == "gas_leak":
            out += _gas_spaces(t, inc, bundle, scenario, rng)
        elif inc.type in ("burst", "leak"):
            out += _collapse(t, inc, bundle, scenario, rng)
    return out


def _gas_spaces(t: Truth, inc: Incident, bundle: CityBundle, scenario: Scenario,
                rng: np.random.Generator) -> list[Truth]:
    city = bundle.city
    x, y = t.x, t.y
    spaces = [gm.Space(a.key, SPACE_KINDS.get(f"{a.layer}/{a.kind}", a.kind), *a.xy)
              for a, _ in city.nearby(x, y, REACH_M, ("drainage", "tunnel")) if f"{a.layer}/{a.kind}" in SPACES]
    if not spaces:
        return []
    t_s = np.arange(0.0, scenario.duration_s + gm.STEP_S, gm.STEP_S)
    start = np.datetime64(scenario.start_ms, "ms").astype(object).replace(tzinfo=ZoneInfo("UTC"))
    local = start.astimezone(ZoneInfo(city.timezone))
    hours = local.hour + local.minute / 60 + t_s / 3600
    flow = inc.magnitude * inc.size(t_s)
    rain = scenario.weather.rain_mm_h(t_s)
    gas = gm.leak_gas(spaces, [gm.Leak(*leak_xy(city, inc), flow)], hours, rain, rng)
    out = []
    for j, s in enumerate(spaces):
        over = np.flatnonzero(gas[:, j] >= ALARM_LEL * gm.LEL)
        if len(over):
            first, last = (scenario.start_ms + round(t_s[over[k]] * 1000) for k in (0, -1))
            peak = float(gas[:, j].max())
            out.append(_child(t, "gas_in_space", "gas", city.asset(s.key), first, last, float(peak / gm.LEL),
                              f"leak gas at {peak / gm.LEL:.0f} %LEL in {s.key}"))
    return out


def _collapse(t: Truth, inc: Incident, bundle: CityBundle, scenario: Scenario,
              rng: np.random.Generator) -> list[Truth]:
    city = bundle.city
    main = main_of(bundle, inc.place)
    if main is None:
        return []
    t_s = np.arange(0.0, scenario.duration_s + 60.0, 60.0)
    q_m3s = outflow_m3s(inc, t_s)
    void = EROSION_M3_PER_M3 * np.cumsum(q_m3s) * 60.0
    cover = float(city.asset(main).props.get("depth_m", COVER_M))
    over = np.flatnonzero(void >= VOID_M3 * (cover / COVER_M) ** 3)
    if not len(over):
        return []
    at_ms = scenario.start_ms + round(t_s[over[0]] * 1000)
    collapse = _child(t, "collapse", "water", city.asset(main), at_ms, None, float(void[over[0]]),
                      f"road collapse over {main} at {inc.place} after {void[over[0]]:.1f} m³ of soil washed out",
                      xy=city.asset(inc.place).xy)
    out = [collapse]
    for other, kind, d in couple(city).of(main):
        if other.startswith("gas/pipe/") and (kind == KINDS[0] or d <= TOUCH_M) and rng.random() < BREAK_P:
            out.append(_child(collapse, "gas_leak", "gas", city.asset(other), at_ms + round(BREAK_DELAY_S * 1000),
                              None, 0.0, f"{other} broken over the collapse"))
    return out


def ingress(parent: Truth, depth_m: list[tuple[int, float]], step_s: float, city: Any, start_ms: int) -> list[Truth]:
    """The spaces and stations the water on the street at ``parent``'s waterlogging point gets into:
    ``depth_m`` is (step, metres of water on the street) (module docstring)."""
    out = []
    peak = max((d for _, d in depth_m), default=0.0)
    for name in sorted({k.split("/")[0] for k in SILL_M} & set(city.layers)):
        for a, _ in city.layers[name].nearby(parent.x, parent.y, INGRESS_REACH_M):
            sill = SILL_M.get(f"{a.layer}/{a.kind}")
            over = [k for k, d in depth_m if sill is not None and d >= sill]
            if over:
                out.append(_child(parent, "ingress", a.layer if a.layer in LIFELINES else parent.lifeline, a,
                                  start_ms + round(over[0] * step_s * 1000), None, peak,
                                  f"{peak:.2f} m of water on the street pours into {a.key} (sill {sill:.2f} m)"))
    return out


def outflow_m3s(inc: Incident, t_s: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A burst's orifice flow under ``HEAD_M``, or a leak's own (L/s), m³/s at scenario offsets ``t_s``."""
    if inc.type == "burst":
        area = math.pi * (inc.magnitude / 2) ** 2
        return CD * area * math.sqrt(2 * G * HEAD_M) * inc.size(t_s)
    return inc.magnitude / 1000.0 * inc.size(t_s)


def main_of(bundle: CityBundle, place: str) -> str | None:
    """The water main at a burst's junction (or its pipe) whose cover the void must undermine: the widest."""
    layer = bundle.city.layers["water"]
    if place.startswith("water/pipe/"):
        return place
    pipes = [a for a in layer.assets.values()
             if a.kind == "pipe" and place in (a.props.get("start"), a.props.get("end"))]
    return max(pipes, key=lambda a: (float(a.props.get("diameter_m", 0.0)), a.key)).key if pipes else None


def _child(parent: Truth, kind: str, lifeline: str, asset: Any, start_ms: int, end_ms: int | None, magnitude: float,
           description: str, xy: tuple[float, float] | None = None) -> Truth:
    x, y = xy or asset.xy
    return Truth(f"{parent.id}>{kind}@{asset.key}", kind, lifeline, asset.key, x, y, start_ms, end_ms, [],
                 round(magnitude, 3), description, parent=parent.id)
