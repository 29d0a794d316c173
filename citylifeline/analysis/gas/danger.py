"""How dangerous a gas episode is, for whom, and what to do: per space, the people near, the valves.

Standards (%LEL of methane, LEL 5 %vol):

- **10 %LEL**: no entry to a confined space above it (GB 30871-2022, confined-space entry;
  PERG: do not enter a building at ≥ 10 %LEL);
- **20 %LEL**: alarm; accident ventilation of the space and those next to it (GB 50838-2015,
  utility tunnels' gas compartments; CJJ 51-2016: work on live gas only below it);
- **35 %LEL**: emergency cut-off of the gas (GB 50838-2015);
- **50 %LEL**: the second alarm level (GB/T 50493-2019); stop all work (CJJ 51-2016).

Keep-away radius: the Pipeline Emergency Response Guidelines' trench-fire distance r(ft) = 2.28 ×
d(in) × √p(psig) for the suspect main (about 27 m for DN160 at 0.3 MPa), at least
``MIN_CORDON_M``; 100 m in all directions (ERG 2024, guide 115) when a space is at 50 %LEL or
more.  Every confined space within 100 m is to be checked with a detector (National Grid first
responders).  Valves: the sectional valves at both ends of the suspect main (the city's gas
valve records where it has them, else one at every junction of the mains); the junctions the
closure leaves without supply, their load and the households and places they serve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

from ...city.model import City
from .locate import DECAY_M, INTAKE, PACE_M_MIN
from .spaces import NAMES, SENSITIVE, space_kind

NO_ENTRY, ALARM, CUT_OFF, SECOND = 10.0, 20.0, 35.0, 50.0
MIN_CORDON_M = 30.0
WIDE_CORDON_M = 100.0
CHECK_M = 100.0
REACH_M = 50.0
TRENCH_M = 6.0  # a space this close to a suspect main shares its trench
SERVED_M = 60.0
HOUSEHOLD_M3H = 0.8 / 24  # a household's average gas use
CONFINED = (("drainage", "junction"), ("tunnel", "cable_well"), ("tunnel", "compartment"),
            ("places", "metro_station"), ("places", "basement"))


@dataclass
class SpaceDanger:
    """One space: measured or expected %LEL, its standing against the standards, and when gas arrives."""

    key: str
    kind: str
    distance_m: float
    lel: float | None  # measured (watched spaces) or expected
    measured: bool
    arrives_min: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the standing in both languages."""
        zh, en = NAMES.get(self.kind, NAMES["space"])
        return {"key": self.key, "kind": self.kind, "name": f"{zh} {self.key.rsplit('/', 1)[-1]} / {en}",
                "distance_m": round(self.distance_m, 1), "lel": None if self.lel is None else round(self.lel, 1),
                "measured": self.measured, "arrives_min": None if self.arrives_min is None else round(self.arrives_min),
                "standing": standing(self.lel or 0.0)}


def standing(lel: float) -> dict[str, str]:
    """A %LEL against the standards, 中文 and English."""
    if lel >= SECOND:
        return {"zh": "≥50%LEL 二级报警：立即停止作业、疏散", "en": "≥ 50 %LEL second alarm: stop all work, evacuate",
                "code": "second_alarm"}
    if lel >= CUT_OFF:
        return {"zh": "≥35%LEL 紧急切断燃气", "en": "≥ 35 %LEL: emergency cut-off of the gas", "code": "cut_off"}
    if lel >= ALARM:
        return {"zh": "≥20%LEL 报警：事故通风", "en": "≥ 20 %LEL alarm: accident ventilation", "code": "alarm"}
    if lel >= NO_ENTRY:
        return {"zh": "≥10%LEL 禁止进入", "en": "≥ 10 %LEL: no entry", "code": "no_entry"}
    return {"zh": "低于10%LEL，持续监测", "en": "below 10 %LEL: keep watching", "code": "watch"}


def cordon_m(diameter_m: float, pressure_mpa: float, peak_lel: float) -> float:
    """The keep-away radius around the source (PERG formula, ERG 115 when ≥ 50 %LEL)."""
    if peak_lel >= SECOND:
        return WIDE_CORDON_M
    psig = pressure_mpa * 145.038
    return max(MIN_CORDON_M, 2.28 * diameter_m / 0.0254 * math.sqrt(max(psig, 0.0)) * 0.3048)


class Danger:
    """The confined spaces and places of a city, and the gas network's graph, for danger and actions."""

    def __init__(self, city: City) -> None:
        self.city = city
        self.confined = [a for a in city.assets() if (a.layer, a.kind) in CONFINED]
        gas = city.layers.get("gas")
        self.graph = gas.graph if gas is not None else nx.Graph()
        self.sources = [a.key for a in gas.assets.values() if a.kind == "regulator"] if gas is not None else []

    def spaces(self, x: float, y: float, measured: dict[str, float], leak_lel: float,
               mains: Sequence[str] = ()) -> list[SpaceDanger]:
        """Watched spaces that see gas, and the confined spaces it can reach next: within ``REACH_M``
        of the source, or beside the suspect ``mains`` (their trenches lead the gas there)."""
        lines = [self.city.asset(m).geometry for m in mains]
        out = []
        for a in self.confined:
            d = math.hypot(a.xy[0] - x, a.xy[1] - y)
            if a.key in measured:
                out.append(SpaceDanger(a.key, space_kind(a.key), d, measured[a.key], True, None))
            elif d <= REACH_M or any(line.distance(a.geometry) <= TRENCH_M for line in lines):
                kind = space_kind(a.key)
                lel = leak_lel * INTAKE.get(kind, 1.0) * math.exp(-d / DECAY_M)
                out.append(SpaceDanger(a.key, kind, d, lel, False, d / PACE_M_MIN))
        return sorted(out, key=lambda s: (not s.measured, -(s.lel or 0.0), s.distance_m))

    def people(self, x: float, y: float, radius_m: float) -> list[dict[str, Any]]:
        """Places within ``radius_m`` of the source, schools and hospitals first."""
        if "places" not in self.city.layers:
            return []
        out = []
        for a, d in self.city.layers["places"].nearby(x, y, radius_m):
            out.append({"key": a.key, "kind": a.kind, "name": a.props.get("label") or a.name, "distance_m": round(d, 1),
                        "population": a.props.get("population"), "pupils": a.props.get("pupils"),
                        "beds": a.props.get("beds"), "sensitive": a.kind in SENSITIVE})
        return sorted(out, key=lambda p: (not p["sensitive"], p["distance_m"]))

    def isolation(self, pipe: str) -> dict[str, Any]:
        """Close the valves at both ends of ``pipe``: the junctions left without gas, their load and people."""
        gas = self.city.layers["gas"]
        a = gas.assets[pipe]
        ends = [a.props["start"], a.props["end"]]
        g = self.graph.copy()
        if g.has_edge(*ends):
            g.remove_edge(*ends)
        fed: set[str] = set(g) if not self.sources else \
            set().union(*(nx.node_connected_component(g, s) for s in self.sources if s in g))
        cut = [n for n in g.nodes if n not in fed and n in gas.assets and gas.assets[n].kind == "junction"]
        load = sum(float(gas.assets[n].props.get("demand_m3h", 0.0)) for n in cut)
        valves = []
        for end in ends:
            e = gas.assets[end]
            lon, lat = self.city.to_wgs84(*e.xy)
            valves.append({"at": end, "pipe": pipe, "lon": float(lon), "lat": float(lat)})
        return {"pipe": pipe, "valves": valves, "junctions_without_gas": cut,
                "load_lost_m3h": round(load, 1), "households_without_gas": round(load / HOUSEHOLD_M3H),
                "note": _isolation_note(len(cut))}

    def actions(self, peak_lel: float, cordon: float, valves: dict[str, Any] | None,
                leak: bool) -> list[dict[str, str]]:
        """What to do now, most urgent first, 中文 and English."""
        out = []
        if leak:
            out.append({"zh": "燃气公司抢险队立即出动，到场复核",
                        "en": "gas company's emergency crew to the site now, to verify"})
        if peak_lel >= NO_ENTRY:
            out.append({"zh": "对超过10%LEL的空间强制通风，禁止人员进入",
                        "en": "force-ventilate every space above 10 %LEL; no one enters"})
        out.append({"zh": f"以气源为中心 {cordon:.0f} 米内警戒，疏散人员，严禁明火和电火花",
                    "en": f"keep people out within {cordon:.0f} m of the source; no flames, no sparks"})
        out.append({"zh": f"用便携式检测仪排查 {CHECK_M:.0f} 米内所有地下空间及相通管沟",
                    "en": f"check every underground space and connected duct within {CHECK_M:.0f} m with a detector"})
        if leak and valves is not None and (peak_lel >= CUT_OFF or valves["junctions_without_gas"] == []):
            out.append({"zh": f"关闭阀门：{'、'.join(v['at'].rsplit('/', 1)[-1] for v in valves['valves'])}",
                        "en": f"close the valves at {', '.join(v['at'].rsplit('/', 1)[-1] for v in valves['valves'])}"})
        if not leak:
            out.append({"zh": "通知排水管理单位：开井通风、清淤，作业前检测",
                        "en": "drainage owner: open and ventilate the manholes, clear the silt, test before entry"})
        return out


def _isolation_note(cut: int) -> dict[str, str]:
    if not cut:
        return {"zh": "环状管网：关闭本管段两端阀门后，其余用户由环网继续供气",
                "en": "a meshed network: closing the two valves of this main leaves the others fed around the loop"}
    return {"zh": f"关闭后 {cut} 个节点停气", "en": f"closing them cuts off {cut} junctions"}
