"""The confined spaces the gas analyst watches: which detectors are in each, what kind of space it
is, which spaces lie along the same mains, and who is nearby.

A *space* is an underground room with a methane detector: a sewer manhole (``drainage/junction``),
a cable well (``tunnel/cable_well``), a compartment of the utility tunnel, a basement or a metro
entrance.  An ``ethane`` detector on the same asset is that space's ethane channel.  Two spaces
are *neighbours* when they are within ``NEIGHBOUR_M`` of each other and both within
``BESIDE_MAIN_M`` of the gas network: gas leaking from a main reaches the spaces along its trench.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ...city.model import City
from ...city.sensors import SensorRegistry
from ...errors import NotFound

NEIGHBOUR_M = 40.0
BESIDE_MAIN_M = 15.0
PEOPLE_M = 60.0  # places whose people a gas space endangers
SENSITIVE = ("school", "hospital", "metro_station", "kindergarten", "nursing_home")
KINDS = {"drainage/junction": "sewer", "drainage/storage": "sewer", "tunnel/cable_well": "cable_well",
         "tunnel/compartment": "utility_tunnel", "places/metro_station": "metro", "places/basement": "basement"}
NAMES = {"sewer": ("检查井", "sewer manhole"), "cable_well": ("电缆井", "cable well"),
         "utility_tunnel": ("综合管廊舱", "utility-tunnel compartment"), "metro": ("地铁出入口", "metro entrance"),
         "basement": ("地下室", "basement"), "space": ("地下空间", "underground space")}
BIOGAS_KINDS = ("sewer",)
"""Spaces whose own methane is expected; the city-wide biogas factor is estimated from them."""


def space_kind(asset: str) -> str:
    """What kind of space an asset key is ('sewer', 'cable_well', … or 'space')."""
    parts = asset.split("/")
    return KINDS.get("/".join(parts[:2]), "space")


@dataclass
class Spaces:
    """The watched spaces of a city, as columns by space index."""

    keys: list[str]
    kind: list[str]
    methane: npt.NDArray[np.int32]  # registry index of the space's methane detector
    ethane: npt.NDArray[np.int32]  # registry index of its ethane detector, -1 where none
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    biogas: npt.NDArray[np.bool_]  # a space whose own methane is expected
    sensitive: npt.NDArray[np.bool_]  # a school, hospital or metro entrance within PEOPLE_M
    neighbours: npt.NDArray[np.int32]  # (space, K) indices, -1 padded
    places: list[list[tuple[str, str, float]]] = field(default_factory=list)  # (key, name, distance)

    def __len__(self) -> int:
        return len(self.keys)

    def of_registry(self, n: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        """(space of each methane detector, space of each ethane detector) over a registry of ``n``."""
        m, e = np.full(n, -1, np.int32), np.full(n, -1, np.int32)
        m[self.methane] = np.arange(len(self), dtype=np.int32)
        has = self.ethane >= 0
        e[self.ethane[has]] = np.flatnonzero(has).astype(np.int32)
        return m, e


def find_spaces(city: City, registry: SensorRegistry) -> Spaces:
    """Every space with an active methane detector of the gas lifeline, and what is around it."""
    methane: dict[str, int] = {}
    ethane: dict[str, int] = {}
    for i, (kind, asset, layer) in enumerate(zip(registry.kind, registry.asset, registry.layer, strict=True)):
        if not registry.active[i] or layer != "gas" or asset.startswith("gas/"):
            continue
        if kind == "methane":
            methane.setdefault(asset, i)
        elif kind == "ethane":
            ethane.setdefault(asset, i)
    keys = sorted(methane)
    xy = np.array([_xy(city, registry, k, methane[k]) for k in keys]).reshape(-1, 2)
    kinds = [space_kind(k) for k in keys]
    beside = np.array([_beside_main(city, x, y) for x, y in xy], dtype=bool)
    n = len(keys)
    near: list[list[int]] = [[] for _ in range(n)]
    if n:
        from scipy.spatial import cKDTree

        for a, b in cKDTree(xy).query_pairs(NEIGHBOUR_M):
            if beside[a] and beside[b]:
                near[a].append(b)
                near[b].append(a)
    width = max([len(v) for v in near] + [1])
    neighbours = np.full((n, width), -1, np.int32)
    for a, v in enumerate(near):
        neighbours[a, : len(v)] = sorted(v)
    places = [_places(city, x, y) for x, y in xy]
    return Spaces(keys, kinds, np.array([methane[k] for k in keys], np.int32),
                  np.array([ethane.get(k, -1) for k in keys], np.int32), xy[:, 0].copy(), xy[:, 1].copy(),
                  np.array([k in BIOGAS_KINDS for k in kinds], dtype=bool),
                  np.array([any(p[0].split("/")[1] in SENSITIVE for p in ps) for ps in places], dtype=bool),
                  neighbours, places)


def _xy(city: City, registry: SensorRegistry, asset: str, i: int) -> tuple[float, float]:
    try:
        return city.asset(asset).xy
    except NotFound:  # a space the model does not have: the sensor's own position
        return float(registry.x[i]), float(registry.y[i])


def _beside_main(city: City, x: float, y: float) -> bool:
    return "gas" in city.layers and bool(city.layers["gas"].nearby(x, y, BESIDE_MAIN_M))


def _places(city: City, x: float, y: float) -> list[tuple[str, str, float]]:
    if "places" not in city.layers:
        return []
    return [(a.key, str(a.props.get("label") or a.name), round(d, 1))
            for a, d in city.layers["places"].nearby(x, y, PEOPLE_M)]
