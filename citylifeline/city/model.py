"""The city model (CIM-lite): lifeline layers of assets with geometry, topology and a spatial index.

A ``City`` has one projected CRS (metres) and a ``Layer`` per lifeline — water, drainage, gas,
heating, bridge, tunnel — plus ``places`` (hospitals, schools, metro stations, residential
blocks with their population).  A layer's assets are nodes (junctions, manholes, places) and
links (pipes, valves, conduits) of a networkx graph; each asset has a shapely geometry in the
city CRS and a key ``layer/kind/name`` (``water/junction/10``, ``water/pipe/10``) so node and
link names never collide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from ..errors import CityModelError, NotFound

LIFELINES = ("water", "drainage", "gas", "heating", "bridge", "tunnel")
PLACES = "places"
BASE = "base"  # streets, river, railway: the map's background, not monitored
LAYER_NAMES = (*LIFELINES, PLACES, BASE)
PLACE_KINDS = ("hospital", "school", "metro_station", "residential", "other")


@dataclass
class Asset:
    """One thing in the city: a junction, pipe, manhole, bridge span, hospital …"""

    key: str
    layer: str
    kind: str
    name: str
    geometry: BaseGeometry
    props: dict[str, Any] = field(default_factory=dict)

    @property
    def xy(self) -> tuple[float, float]:
        """A representative point (the geometry's own point, a line's middle, a polygon's centroid)."""
        g = self.geometry
        p = g if g.geom_type == "Point" else (
            g.interpolate(0.5, normalized=True) if g.geom_type == "LineString" else g.representative_point())
        return float(p.x), float(p.y)


def asset_key(layer: str, kind: str, name: str) -> str:
    """The key of an asset: ``layer/kind/name``."""
    return f"{layer}/{kind}/{name}"


class Layer:
    """The assets of one lifeline (or the places) with their graph and spatial index.

    Node assets are graph nodes (keyed by asset key); link assets are edges whose ``key``
    attribute is the link's asset key and whose ``length_m`` is its length."""

    def __init__(self, name: str, model: Any = None) -> None:
        if name not in LAYER_NAMES:
            raise CityModelError(f"unknown layer {name!r}; use one of {', '.join(LAYER_NAMES)}")
        self.name = name
        self.graph: nx.Graph = nx.Graph()
        self.assets: dict[str, Asset] = {}
        self.model = model  # the engineering model behind the layer (e.g. a WNTR network), if any
        self._tree: STRtree | None = None
        self._tree_keys: list[str] = []
        self._component: dict[str, int] | None = None

    def add_node(self, kind: str, name: str, geometry: BaseGeometry, **props: Any) -> Asset:
        """Add a node asset (junction, tank, manhole, place …) and return it."""
        a = self._add(kind, name, geometry, props)
        self.graph.add_node(a.key)
        return a

    def add_feature(self, kind: str, name: str, geometry: BaseGeometry, **props: Any) -> Asset:
        """Add an asset that is no part of the network's graph (a waterlogging point on a street) and return it."""
        return self._add(kind, name, geometry, props)

    def add_link(self, kind: str, name: str, start: str, end: str, geometry: BaseGeometry | None = None,
                 **props: Any) -> Asset:
        """Add a link asset between two node keys; its geometry defaults to the straight line."""
        for k in (start, end):
            if k not in self.graph:
                raise CityModelError(f"{self.name} {kind} {name!r}: end node {k!r} is not in the layer")
        if geometry is None:
            geometry = shapely.LineString([self.assets[start].xy, self.assets[end].xy])
        props.setdefault("length_m", float(geometry.length))
        a = self._add(kind, name, geometry, props)
        a.props["start"], a.props["end"] = start, end
        # parallel links (a pump beside a pipe) keep the shorter length for distances
        old = self.graph.get_edge_data(start, end)
        if old is None or old["length_m"] > a.props["length_m"]:
            self.graph.add_edge(start, end, key=a.key, length_m=float(a.props["length_m"]))
        return a

    def _add(self, kind: str, name: str, geometry: BaseGeometry, props: dict[str, Any]) -> Asset:
        key = asset_key(self.name, kind, name)
        if key in self.assets:
            raise CityModelError(f"asset {key!r} is defined twice")
        a = Asset(key, self.name, kind, name, geometry, props)
        self.assets[key] = a
        self._tree = None
        self._component = None
        return a

    def connected(self, a: str, b: str) -> bool:
        """True if two assets are on the same connected part of the network."""
        if self._component is None:
            self._component = {n: i for i, part in enumerate(nx.connected_components(self.graph)) for n in part}
        na, nb = self.nodes_of(a), self.nodes_of(b)
        return bool(na and nb) and self._component.get(na[0]) == self._component.get(nb[0])

    def merge(self, other: Layer) -> None:
        """Add another layer's assets and graph (from a second file of the same layer)."""
        for key, a in other.assets.items():
            if key in self.assets:
                raise CityModelError(f"asset {key!r} is defined twice")
            self.assets[key] = a
        self.graph.update(other.graph)
        self._tree = None
        self._component = None

    def nodes_of(self, key: str) -> tuple[str, ...]:
        """The graph node(s) an asset stands on: itself for a node, its two ends for a link."""
        a = self.assets[key]
        if key in self.graph:
            return (key,)
        if "start" in a.props:
            return (a.props["start"], a.props["end"])
        return ()

    def _index(self) -> STRtree:
        if self._tree is None:
            self._tree_keys = list(self.assets)
            self._tree = STRtree([self.assets[k].geometry for k in self._tree_keys])
        return self._tree

    def nearby(self, x: float, y: float, radius_m: float) -> list[tuple[Asset, float]]:
        """Assets within ``radius_m`` of (x, y), nearest first, with their distance in metres."""
        if not self.assets:
            return []
        p = shapely.Point(x, y)
        tree = self._index()
        hits = tree.query(p, predicate="dwithin", distance=radius_m)
        found = [(self.assets[self._tree_keys[i]], float(self.assets[self._tree_keys[i]].geometry.distance(p)))
                 for i in hits]
        return sorted(found, key=lambda ad: (ad[1], ad[0].key))

    def network_distance_m(self, a: str, b: str, cutoff_m: float) -> float:
        """Shortest distance along the network between two assets (inf beyond ``cutoff_m`` or if
        they are not connected); for links, measured from whichever end is nearer."""
        if a == b:
            return 0.0
        best = math.inf
        for na in self.nodes_of(a):
            lengths = nx.single_source_dijkstra_path_length(self.graph, na, cutoff=cutoff_m, weight="length_m")
            for nb in self.nodes_of(b):
                best = min(best, lengths.get(nb, math.inf))
        return best

    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of all assets in metres."""
        if not self.assets:
            return (math.nan,) * 4
        b = shapely.bounds(np.array([a.geometry for a in self.assets.values()]))
        return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


class City:
    """The whole city: its CRS, time zone and layers, and transforms to and from WGS84."""

    def __init__(self, name: str, crs: str, timezone: str = "UTC") -> None:
        self.name = name
        self.crs = pyproj.CRS.from_user_input(crs)
        if not self.crs.is_projected:
            raise CityModelError(f"city CRS {crs!r} is not projected; use one in metres such as EPSG:4548")
        self.timezone = timezone
        self.layers: dict[str, Layer] = {}
        self.districts: dict[str, BaseGeometry] = {}  # name → area in the city CRS: people's scope of access
        self.links: list[tuple[str, str]] = []  # declared (dependent, supplier) asset keys (cascade.coupling)
        self._to_wgs84 = pyproj.Transformer.from_crs(self.crs, 4326, always_xy=True)
        self._from_wgs84 = pyproj.Transformer.from_crs(4326, self.crs, always_xy=True)

    def layer(self, name: str) -> Layer:
        """The layer called ``name``, created empty if the city has none yet."""
        if name not in self.layers:
            self.layers[name] = Layer(name)
        return self.layers[name]

    def add_layer(self, layer: Layer) -> None:
        """Add an imported layer; a city has at most one layer of each name."""
        if layer.name in self.layers and self.layers[layer.name].assets:
            raise CityModelError(f"the city already has a {layer.name} layer")
        self.layers[layer.name] = layer

    def asset(self, key: str) -> Asset:
        """The asset with key ``layer/kind/name``."""
        layer = self.layers.get(key.split("/", 1)[0])
        if layer is None or key not in layer.assets:
            raise NotFound(f"asset {key!r} is not in the city model")
        return layer.assets[key]

    def assets(self) -> Iterable[Asset]:
        """Every asset of every layer."""
        for layer in self.layers.values():
            yield from layer.assets.values()

    def nearby(self, x: float, y: float, radius_m: float,
               layers: Iterable[str] | None = None) -> list[tuple[Asset, float]]:
        """Assets of the given layers (default all) within ``radius_m`` of (x, y), nearest first."""
        names = list(layers) if layers is not None else list(self.layers)
        found = [hit for n in names if n in self.layers for hit in self.layers[n].nearby(x, y, radius_m)]
        return sorted(found, key=lambda ad: (ad[1], ad[0].key))

    def distance_m(self, a: Asset, b: Asset, cutoff_m: float) -> float:
        """Distance between two assets: along the network if both are on the same connected
        lifeline network, otherwise in a straight line."""
        if a.layer == b.layer and a.layer in LIFELINES:
            d = self.layers[a.layer].network_distance_m(a.key, b.key, cutoff_m)
            if d < math.inf or self.layers[a.layer].connected(a.key, b.key):
                return d  # inf: connected, but farther than the cutoff along the pipes
        return float(a.geometry.distance(b.geometry))

    def district_at(self, x: float, y: float) -> str:
        """The name of the district containing (x, y), or '' (outside them all, or no position)."""
        if math.isnan(x) or math.isnan(y):
            return ""
        point = shapely.Point(x, y)
        return next((name for name, area in self.districts.items() if area.covers(point)), "")

    def to_wgs84(self, x: Any, y: Any) -> tuple[Any, Any]:
        """(lon, lat) of city coordinates (scalars or arrays)."""
        return self._to_wgs84.transform(x, y)

    def from_wgs84(self, lon: Any, lat: Any) -> tuple[Any, Any]:
        """City coordinates of (lon, lat) (scalars or arrays)."""
        return self._from_wgs84.transform(lon, lat)

    def geometry_to_wgs84(self, geometry: Any) -> Any:
        """A geometry (or an array of them) in WGS84 longitude/latitude, to 1e-7° (a centimetre)."""
        return shapely.transform(geometry, lambda xy: np.round(np.column_stack(self.to_wgs84(xy[:, 0], xy[:, 1])), 7))

    def geometry_from_wgs84(self, geometry: Any) -> Any:
        """A geometry (or an array of them) in WGS84 longitude/latitude in the city's coordinates."""
        return shapely.transform(geometry, lambda xy: np.column_stack(self.from_wgs84(xy[:, 0], xy[:, 1])))
