"""The coupling of the city's lifelines: which assets of different lifelines touch, and which depend
on which.

Rinaldi, Peerenboom & Kelly (*IEEE Control Systems* 21(6):11–25, 2001) type the interdependencies of
infrastructures as physical (one supplies the other), cyber, geographic (co-located) and logical.  A
lifeline centre reads the geographic ones from its city model and is told the physical ones:

- ``crossing``: two lines of different lifelines that cross in plan (a water main over a sewer, a gas
  pipe under a heating pipe): a burst or a collapse at the crossing reaches both;
- ``adjacent``: assets of different lifelines within ``ADJACENT_M`` of each other: the trench a burst
  erodes and the soil that leaking gas migrates through (gas reaches confined spaces 3–9 m from a
  leak, ../shared/DOMAIN.md §1; the gas analyst watches spaces within 15 m of a main,
  ``analysis.gas.spaces.BESIDE_MAIN_M``, the same bound);
- ``in_tunnel``: a pipe or cable well inside a utility-tunnel compartment's corridor (``TUNNEL_M``);
- ``on_bridge``: a pipe or cable a bridge carries (along its deck, within ``BRIDGE_M``);
- ``depends``: declared in city.yaml ``links:`` (a pump on its substation, a district on its main).

The edges are columns (``Coupling``), found with one ``STRtree.query(predicate="dwithin")`` per
lifeline against the assets of the lifelines after it (pairs within one lifeline, its own network, are
never asked: they were nearly two in three), so that a city of 100,000 assets is coupled in about a
second, and an asset's neighbours are read from a CSR index without a Python loop over the city.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.strtree import STRtree

from ..city.model import LIFELINES, City
from ..errors import CityModelError

ADJACENT_M = 15.0
TUNNEL_M = 5.0
BRIDGE_M = 10.0
AREAS = ("subcatchment", "raingauge", "waterlogging_point")  # areas and places, not things in the ground
KINDS = ("crossing", "adjacent", "in_tunnel", "on_bridge", "depends")


@dataclass
class Coupling:
    """Edges between assets of different lifelines, as columns, with a CSR index by asset."""

    keys: list[str]  # every lifeline asset, by index
    src: npt.NDArray[np.int32]
    dst: npt.NDArray[np.int32]
    kind: npt.NDArray[np.int8]  # index into KINDS
    distance_m: npt.NDArray[np.float32]
    start: npt.NDArray[np.int64]  # CSR: the edges of asset i are order[start[i]:start[i + 1]]
    order: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        self.index = {k: i for i, k in enumerate(self.keys)}

    def of(self, key: str) -> list[tuple[str, str, float]]:
        """The assets coupled to ``key``: (other asset, kind, distance m), nearest first; none for an
        asset it does not hold."""
        i = self.index.get(key)
        if i is None:
            return []
        edges = self.order[self.start[i]:self.start[i + 1]]
        other = np.where(self.src[edges] == i, self.dst[edges], self.src[edges])
        out = [(self.keys[int(j)], KINDS[int(k)], float(d))
               for j, k, d in zip(other, self.kind[edges], self.distance_m[edges], strict=True)]
        return sorted(out, key=lambda e: (e[2], e[0]))


    def dependents(self, key: str) -> list[str]:
        """The assets declared to depend on ``key`` (``depends`` edges whose supplier it is)."""
        i = self.index.get(key)
        if i is None:
            return []
        edges = self.order[self.start[i]:self.start[i + 1]]
        mine = edges[(self.kind[edges] == KINDS.index("depends")) & (self.dst[edges] == i)]
        return sorted(self.keys[int(j)] for j in self.src[mine])


def couple(city: City, links: Sequence[tuple[str, str]] | None = None) -> Coupling:
    """The coupling of ``city`` (module docstring); ``links``: declared (dependent, supplier) pairs,
    by default the city's own (``City.links``, from city.yaml)."""
    links = city.links if links is None else links
    assets = [a for name in LIFELINES if name in city.layers for a in city.layers[name].assets.values()
              if a.kind not in AREAS]
    keys = [a.key for a in assets]
    geoms = np.array([a.geometry for a in assets], dtype=object)
    layer = np.array([a.layer for a in assets])
    kind_of = np.array([a.kind for a in assets])
    a, b = _pairs(geoms, layer)
    dist = shapely.distance(geoms[a], geoms[b]).astype(np.float32)
    lines = np.array([g.geom_type == "LineString" for g in geoms])
    crossing = lines[a] & lines[b] & shapely.crosses(geoms[a], geoms[b])
    kind = np.where(crossing, KINDS.index("crossing"), KINDS.index("adjacent")).astype(np.int8)
    for host, reach, label in (("compartment", TUNNEL_M, "in_tunnel"), ("bridge", BRIDGE_M, "on_bridge")):
        hosted = ((kind_of[a] == host) & (dist <= reach)) | ((kind_of[b] == host) & (dist <= reach))
        kind[hosted] = KINDS.index(label)
    index = {k: i for i, k in enumerate(keys)}
    unknown = [k for pair in links for k in pair if k not in index]
    if unknown:
        raise CityModelError(f"links: no lifeline asset {unknown[0]!r}; give layer/kind/name keys of the city's assets")
    declared = [(index[s], index[d]) for s, d in links]
    if declared:
        ds, dd = np.array(declared, dtype=np.int64).T
        a, b = np.concatenate([a, ds]), np.concatenate([b, dd])
        kind = np.concatenate([kind, np.full(len(ds), KINDS.index("depends"), np.int8)])
        dist = np.concatenate([dist, shapely.distance(geoms[ds], geoms[dd]).astype(np.float32)])
    ends = np.concatenate([a, b])
    by_end = np.argsort(ends, kind="stable")
    start = np.searchsorted(ends[by_end], np.arange(len(keys) + 1))
    order = by_end % max(len(a), 1)
    return Coupling(keys, a.astype(np.int32), b.astype(np.int32), kind, dist, start.astype(np.int64),
                    order.astype(np.int64))


def _pairs(geoms: npt.NDArray[np.object_], layer: npt.NDArray[np.str_]) -> tuple[npt.NDArray[np.int64], ...]:
    """Every pair of assets of different lifelines within ``ADJACENT_M``, each once."""
    names = sorted(set(layer.tolist()))
    rows = {n: np.flatnonzero(layer == n) for n in names}
    a, b = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for k, name in enumerate(names[:-1]):
        later = np.concatenate([rows[m] for m in names[k + 1:]])
        asked, found = STRtree(geoms[rows[name]]).query(geoms[later], predicate="dwithin", distance=ADJACENT_M)
        a.append(rows[name][found])
        b.append(later[asked])
    return np.concatenate(a), np.concatenate(b)
