"""What the drainage forecaster watches: the city's waterlogging points and its sewer catchments.

- **Points** (易涝点), declared in city.yaml (``city.swmm.add_waterlogging_points``): an
  underpass, a metro or hospital entrance, a school gate, a low road, each on a node of the SWMM
  model with its warning depth and importance.  The water on the street there is the node's own
  depth on a storage unit (a road's sag) and, on a manhole, the volume SWMM ponds above its rim
  spread over the point's street area.
- **Catchments** (排水分区): each tree of sewers above one outfall.  Any of its manholes
  overflowing onto the street by more than ``OVERFLOW_M3S`` is waterlogging somewhere in it, which
  a duty officer logs by catchment (as the twin's truth does).  Its street is a road.

Each watched place's events are put on one sensor (an event is a sensor's): a level sensor on the
point's node, else the level sensor of its catchment nearest to it, else the nearest drainage
sensor; a catchment's, its level or flow sensor nearest its manholes' middle, else the nearest
drainage sensor.  The incident then lies where the water is expected and joins the readings
that will confirm it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
import numpy.typing as npt

from ...city.model import City
from ...city.sensors import SensorRegistry
from ...city.swmm import DEFAULT_POND_AREA_M2, WATERLOGGING_KINDS
from .model import SwmmModel

OVERFLOW_M3S = 0.02  # 20 L/s out of a manhole: water running on the street
LEVEL_KINDS = ("level",)
WATCHED_KINDS = ("level", "flow", "rainfall")


@dataclass(frozen=True)
class Watched:
    """A place whose water is forecast: a point (``node`` ≥ 0: its column in the model's place
    depths) or a catchment (``manholes``: its columns in the model's node scans)."""

    key: str  # the asset its events are about: the point, or the catchment's outfall
    name: str
    kind: str  # a WATERLOGGING_KINDS kind; "road" for a catchment
    depth_m: float  # the warning depth
    importance: int
    sensor: int  # registry index its events are on (-1: none in the city)
    x: float
    y: float
    node: int = -1
    street_per_m: float = 1.0  # metres of water on the street per metre of node depth above ``full_m``
    full_m: float = 0.0
    manholes: tuple[int, ...] = ()
    gauge: int = -1  # a level sensor on the point's node (registry index), whose error corrects its forecast

    @property
    def is_catchment(self) -> bool:
        return self.node < 0

    @property
    def bar(self) -> float:
        """What its forecast is judged against: a catchment's manhole overflow (m³/s), a point's warning depth (m)."""
        return OVERFLOW_M3S if self.is_catchment else self.depth_m


def watched_places(city: City, registry: SensorRegistry) -> tuple[list[Watched], list[str], dict[int, int]]:
    """The points and catchments, the model nodes whose depth is read every minute (the points' and the
    level gauges'), and each level gauge (registry index) → its node's column among them."""
    layer = city.layers["drainage"]
    model = SwmmModel.of_file(layer.model, [])
    component = {n: i for i, part in enumerate(nx.connected_components(layer.graph)) for n in part}
    sensors = [i for i in range(len(registry)) if registry.layer[i] == "drainage" and registry.kind[i] in WATCHED_KINDS]
    in_catchment = {i: component.get(layer.nodes_of(registry.asset[i])[0]) if registry.asset[i] in layer.assets
                    and layer.nodes_of(registry.asset[i]) else None for i in sensors}
    points = [a for a in layer.assets.values() if a.kind == "waterlogging_point"]
    gauged = {registry.asset[i].rsplit("/", 1)[-1]: i for i in sensors if registry.kind[i] in LEVEL_KINDS
              and registry.asset[i].split("/")[1] in ("junction", "storage")}  # a level gauge's node → it
    nodes = sorted({str(a.props["node"]) for a in points} | set(gauged))
    out: list[Watched] = []
    streets = point_streets(city, model)
    for a in sorted(points, key=lambda a: a.key):
        gauge = gauged.get(str(a.props["node"]), -1)
        node_key = f"drainage/{a.props['node_kind']}/{a.props['node']}"
        on_node = [i for i in sensors if registry.asset[i] == node_key and registry.kind[i] in LEVEL_KINDS]
        same = [i for i in sensors if in_catchment[i] == component.get(node_key) and registry.kind[i] in LEVEL_KINDS]
        sensor = on_node[0] if on_node else _nearest(registry, same or sensors, *a.xy)
        _, full_m, per_m = streets[a.key]
        out.append(Watched(a.key, str(a.props.get("label", a.name)), str(a.props["watch_kind"]),
                           float(a.props["depth_m"]), int(a.props["importance"]), sensor, *a.xy,
                           node=nodes.index(str(a.props["node"])), gauge=gauge, street_per_m=per_m, full_m=full_m))
    columns = {n: j for j, n in enumerate(model.nodes)}
    by_catchment: dict[int, list[str]] = {}
    for key, a in layer.assets.items():
        if a.kind == "junction" and a.name in columns and key in component:
            by_catchment.setdefault(component[key], []).append(key)
    road_depth, road_importance = WATERLOGGING_KINDS["road"]
    for c, keys in sorted(by_catchment.items(), key=lambda kv: min(kv[1])):
        outfall = next((k for k in sorted(component) if component[k] == c and layer.assets[k].kind == "outfall"), None)
        label = (outfall or min(keys)).rsplit("/", 1)[-1]
        xs = np.array([layer.assets[k].xy for k in keys])
        x, y = float(xs[:, 0].mean()), float(xs[:, 1].mean())
        taken = {w.sensor for w in out}  # a point's sensor is its own; a catchment's, another if it has one
        mine = [i for i in sensors if in_catchment[i] == c and registry.kind[i] != "rainfall"]
        mine = [i for i in mine if i not in taken] or mine
        sensor = _nearest(registry, mine or sensors, x, y)
        out.append(Watched(outfall or min(keys), f"{label} 排水分区 catchment", "road", road_depth,
                           road_importance, sensor, x, y,
                           manholes=tuple(sorted(columns[layer.assets[k].name] for k in keys))))
    return out, nodes, {i: nodes.index(n) for n, i in gauged.items()}


def _nearest(registry: SensorRegistry, candidates: list[int], x: float, y: float) -> int:
    if not candidates:
        return -1
    d = [math.hypot(registry.x[i] - x, registry.y[i] - y) for i in candidates]
    return candidates[int(np.argmin(d))]


def point_streets(city: City, model: SwmmModel) -> dict[str, tuple[str, float, float]]:
    """Each waterlogging point → its SWMM node, the node's depth to the street (m) and the metres of water
    on the street per metre above it: a storage unit (a road's sag) is the street itself; a manhole's
    water above its rim is SWMM's ponded volume spread over the point's street area."""
    out = {}
    for a in city.layers["drainage"].assets.values():
        if a.kind != "waterlogging_point":
            continue
        node = str(a.props["node"])
        j = model.nodes.index(node)
        if a.props["node_kind"] == "storage":
            out[a.key] = (node, 0.0, 1.0)
        else:
            area = float(a.props.get("area_m2", DEFAULT_POND_AREA_M2))
            out[a.key] = (node, float(model.full_depth_m[j]), float(model.ponded_m2[j]) / area)
    return out


def street_depth(node_depth_m: npt.ArrayLike, full_m: float, per_m: float) -> npt.NDArray[np.float64]:
    """The water on the street at a point (m) from its node's depth (``point_streets``' two numbers)."""
    return np.maximum(np.asarray(node_depth_m, dtype=np.float64) - full_m, 0.0) * per_m
