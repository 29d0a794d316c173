"""The mechanisms by which one lifeline's failure reaches another: one function per effect, giving the
effects it may cause next, where, how likely, how soon and why (in Chinese and English).

- gas leak → confined spaces beside the main: the concentration in a space falls from 90 % to 0.9 %
  as it lies 3 m to 9 m from the leak (CFD and regression, ../shared/DOMAIN.md §1), so the chance
  falls e-fold every ``GAS_DECAY_M`` beyond 3 m → along the ducts and sewers to the next spaces →
  ignition by a spark (cables in a cable well or the tunnel: likelier) → the people nearby, the road,
  the pipes beside the space;
- burst water or heating main → a void washed out under the road → road collapse (347 of 1,723
  underground-pipeline accidents in China in 2021 were road collapses; Xining 2020: a bus fell into
  one) → the mains crossing or beside the burst main lose their support and break; cables torn;
  traffic; people;
- a burst main or standing water → water into cable wells, tunnel compartments, heating substations,
  pump stations, metro entrances → cables short, pumps and heating stop, passengers endangered;
- heating leak → hot water and steam into cable wells and the tunnel → cable faults;
- bridge damage → the pipes it carries strained, then broken; the bridge restricted;
- an outage → what is declared to depend on it (city.yaml ``links``) stops.

The likelihoods are a lifeline engineer's rough orders (likely 0.5–0.8, possible 0.2–0.4, unlikely
≤ 0.1) set a priori, not fitted: no public data prices each edge (DOMAIN.md §4 found none).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from ..city.model import Asset, City
from ..errors import NotFound
from .coupling import Coupling

GAS_DECAY_M = 3.0  # e-fold distance of gas reaching a confined space beyond 3 m (90 % → 0.9 % over 3–9 m)
DUCT_M = 40.0  # spaces of one lifeline joined by its ducts and sewers (analysis.gas.spaces.NEIGHBOUR_M)
PEOPLE_M = 60.0  # places whose people an explosion endangers (analysis.gas.spaces.PEOPLE_M)
COLLAPSE_PEOPLE_M = 30.0
ROAD_M = 20.0  # the street over a main
FLOOD_M = 100.0  # what standing water at a sewer node reaches
TOUCH_M = 5.0  # a main this close to a blast or a collapse is hit by it

SPACES = {"drainage/junction", "drainage/storage", "tunnel/cable_well", "tunnel/compartment",
          "places/metro_station", "places/basement"}
MAINS = {"gas": "gas_leak", "water": "water_leak", "heating": "hot_water"}
STATIONS = {"heating/substation": "heating", "heating/plant": "heating", "water/pump": "water",
            "drainage/pump": "drainage", "tunnel/compartment": "power"}
STATION_ZH = {"heating": "供热", "water": "供水", "drainage": "排水", "power": "电力"}
DRY = {k for k in (*SPACES, *STATIONS) if not k.startswith("drainage/")}  # where water must not get in
WHEN = {"at_once": (0, 60), "minutes": (60, 1800), "hours": (600, 6 * 3600), "days": (3600, 7 * 86400)}


class Next(NamedTuple):
    """An effect one step on: what, on which asset, how likely given the step before, how soon, why."""

    effect: str
    asset: str
    likelihood: float
    when: str  # a key of WHEN
    reason_zh: str
    reason_en: str


def kind_of(key: str) -> str:
    """'layer/kind' of an asset key."""
    return "/".join(key.split("/")[:2])


def is_main(key: str) -> bool:
    """A pipe of a pressurised lifeline (gas, water, heating)."""
    layer, kind = [*key.split("/"), ""][:2]
    return layer in MAINS and kind == "pipe"


class Reach:
    """What lies around an asset: its coupling, the spaces, the street and the places near it."""

    def __init__(self, city: City, coupling: Coupling) -> None:
        self.city = city
        self.coupling = coupling

    def asset(self, key: str) -> Asset | None:
        try:
            return self.city.asset(key)
        except NotFound:
            return None

    def around(self, key: str, radius_m: float, kinds: set[str],
               same_layer: bool = False) -> list[tuple[Asset, float]]:
        """Assets of ``kinds`` ('layer/kind') within ``radius_m`` of ``key``'s point, nearest first."""
        a = self.asset(key)
        if a is None:
            return []
        layers = [a.layer] if same_layer else sorted({k.split("/")[0] for k in kinds})
        return [(b, d) for name in layers if name in self.city.layers
                for b, d in self.city.layers[name].nearby(*a.xy, radius_m)
                if b.key != key and f"{b.layer}/{b.kind}" in kinds]

    def street(self, key: str) -> Asset | None:
        """The street over ``key`` (within ``ROAD_M``), if any."""
        found = self.around(key, ROAD_M, {"base/street"})
        return found[0][0] if found else None

    def road(self, key: str, p: float, when: str, zh: str, en: str) -> list[Next]:
        s = self.street(key)
        return [Next("traffic", s.key, p, when, zh, en)] if s else []

    def people(self, key: str, radius_m: float, p: float, when: str, zh: str, en: str) -> list[Next]:
        """Each place within ``radius_m``: likelier within a third of it."""
        a = self.asset(key)
        if a is None or "places" not in self.city.layers:
            return []
        out = []
        for b, d in self.city.layers["places"].nearby(*a.xy, radius_m):
            name = b.props.get("label") or b.name
            out.append(Next("people", b.key, p * (1.0 if d <= radius_m / 3 else 0.6), when,
                            f"{zh}: {name}, {d:.0f}米", f"{en}: {name}, {d:.0f} m"))
        return out


def gas_leak(r: Reach, key: str) -> list[Next]:
    return [Next("gas_in_space", other, 0.8 * math.exp(-max(d - 3.0, 0.0) / GAS_DECAY_M), "minutes",
                 f"燃气沿土壤和管沟扩散到{d:.0f}米外的密闭空间",
                 f"gas migrates through the soil and the trench into a confined space {d:.0f} m away")
            for other, _, d in r.coupling.of(key) if kind_of(other) in SPACES]


def gas_in_space(r: Reach, key: str) -> list[Next]:
    out = [Next("explosion", key, 0.2 if key.startswith("tunnel/") else 0.1, "hours",
                "浓度达到爆炸下限(5%)后遇电缆火花等点火源燃爆",
                "the gas reaches its lower explosive limit (5 %) and a spark, from the cables or a person, "
                "ignites it")]
    out += [Next("gas_in_space", b.key, 0.3 * math.exp(-d / DUCT_M), "hours",
                 f"燃气沿管道/管沟窜入{d:.0f}米外相连的空间",
                 f"the gas travels along the ducts into a connected space {d:.0f} m away")
            for b, d in r.around(key, DUCT_M, SPACES, same_layer=True)]
    out += [Next("gas_in_space", other, 0.3 * math.exp(-d / DUCT_M), "hours",
                 f"燃气窜入{d:.0f}米外相邻生命线的空间",
                 f"the gas seeps into another lifeline's space {d:.0f} m away")
            for other, _, d in r.coupling.of(key) if kind_of(other) in SPACES]
    return out


def explosion(r: Reach, key: str) -> list[Next]:
    out = r.people(key, PEOPLE_M, 0.5, "at_once", "燃爆危及附近人员", "the explosion endangers the people nearby")
    out += r.road(key, 0.8, "at_once", "燃爆掀翻井盖、破坏路面", "the explosion throws the covers and breaks the road")
    out += [Next(MAINS[other.split("/")[0]], other, 0.3, "at_once", "燃爆冲击损坏相邻管线",
                 "the blast breaks the main beside the space")
            for other, _, d in r.coupling.of(key) if is_main(other) and d <= TOUCH_M]
    return out


def leak(r: Reach, key: str, hot: bool) -> list[Next]:
    out = []
    s = r.street(key)
    if s is not None:
        name = s.props.get("label") or s.name
        out.append(Next("void", key, 0.3, "days", f"漏水冲刷管道垫层, {name}路面下形成空洞",
                        f"the leaking water washes out the pipe's bedding and a void grows under {name}"))
    what = ("热水和蒸汽", "hot water and steam") if hot else ("水", "water")
    for other, _, d in r.coupling.of(key):
        k = kind_of(other)
        if k in DRY:
            out.append(Next("steam_in_space" if hot and k in SPACES else "ingress", other,
                            0.5 * math.exp(-d / 10.0), "minutes", f"{what[0]}进入{d:.0f}米外的空间或站房",
                            f"{what[1]} gets into a space or station {d:.0f} m away"))
    return out


def void(r: Reach, key: str) -> list[Next]:
    return [Next("collapse", key, 0.5, "days", "空洞扩大后路面塌陷(2021年全国347起)",
                 "the void grows until the road collapses (347 such collapses in China in 2021)")]


def collapse(r: Reach, key: str) -> list[Next]:
    out = r.road(key, 0.9, "at_once", "塌陷路段封闭", "the collapsed road is closed")
    out += r.people(key, COLLAPSE_PEOPLE_M, 0.2, "at_once", "塌陷危及路上车辆行人和临街建筑",
                    "the collapse endangers vehicles, pedestrians and the buildings beside it")
    for other, kind, d in r.coupling.of(key):
        if is_main(other) and (kind == "crossing" or d <= TOUCH_M):
            out.append(Next(MAINS[other.split("/")[0]], other, 0.4, "hours", "塌陷处管线失去支撑而断裂",
                            "the pipe over the collapse loses its support and breaks"))
        elif other.startswith("tunnel/cable_well/") and d <= TOUCH_M:
            out.append(Next("outage", other, 0.3, "hours", "塌陷拉断电缆", "the collapse tears the cables"))
    return out


def flood(r: Reach, key: str) -> list[Next]:
    out = [Next("ingress", b.key, 0.3, "minutes", "积水灌入电缆井、管廊、站房或地铁口",
                "the water pours into the cable well, tunnel, station or metro entrance")
           for b, _ in r.around(key, FLOOD_M, DRY)]
    return out + r.road(key, 0.7, "minutes", "积水路段封闭", "the flooded road is closed")


def ingress(r: Reach, key: str) -> list[Next]:
    k = kind_of(key)
    if k in STATIONS:
        what = STATIONS[k]
        return [Next("outage", key, 0.4, "minutes", f"站房进水, {STATION_ZH[what]}设备停运",
                     f"the {what} equipment stops in the flooded station")]
    if k == "places/metro_station":
        return [Next("people", key, 0.5, "minutes", "积水涌入地铁站危及乘客",
                     "water pours into the metro and endangers passengers")]
    if k == "tunnel/cable_well":
        return [Next("outage", key, 0.3, "hours", "电缆浸水短路", "the cables short under water")]
    return []


def steam_in_space(r: Reach, key: str) -> list[Next]:
    return [Next("outage", key, 0.3, "hours", "高温高湿使电缆绝缘老化故障",
                 "heat and steam break down the cables' insulation")]


def bridge_damage(r: Reach, key: str) -> list[Next]:
    out = r.road(key, 0.5, "hours", "桥梁限行或封闭", "the bridge is restricted or closed")
    return out + [Next("pipe_strain", other, 0.3, "days", "桥梁变形拉伤桥上管线",
                       "the deck's deformation strains the pipe it carries")
                  for other, kind, _ in r.coupling.of(key) if kind == "on_bridge" and is_main(other)]


def pipe_strain(r: Reach, key: str) -> list[Next]:
    if not is_main(key):
        return []
    return [Next(MAINS[key.split("/")[0]], key, 0.3, "days", "受拉管线断裂", "the strained pipe breaks")]


def outage(r: Reach, key: str) -> list[Next]:
    return [Next("outage", other, 0.9, "at_once", "供电/供给中断, 依赖它的设施停运",
                 "its supply is cut and what depends on it stops") for other in r.coupling.dependents(key)]


TEMPLATES: dict[str, Callable[[Reach, str], list[Next]]] = {
    "gas_leak": gas_leak, "gas_in_space": gas_in_space, "explosion": explosion,
    "water_leak": lambda r, k: leak(r, k, hot=False), "hot_water": lambda r, k: leak(r, k, hot=True),
    "void": void, "collapse": collapse, "flood": flood, "ingress": ingress, "steam_in_space": steam_in_space,
    "bridge_damage": bridge_damage, "pipe_strain": pipe_strain, "outage": outage,
}
"""Effect → what it may cause next; effects missing here (people, traffic) end a chain."""
