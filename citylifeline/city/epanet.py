"""Import a water network from an EPANET .inp file through WNTR into a city layer.

Coordinates in an .inp file are in whatever units its author drew them; ``Georef`` places them
in the city CRS (``x = x0 + scale * x_inp``).  L-Town's coordinates are already metres; WNTR's
bundled Net3 needs a scale of about 225 m per unit to match its pipe lengths.  The
``WaterNetworkModel`` stays on the layer (``layer.model``) for hydraulic analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import shapely

from ..errors import CityModelError
from .model import Layer, asset_key

BUNDLED_NETWORKS = ("Net1", "Net2", "Net3", "Net6", "ky4", "ky10")
"""Networks that ship inside WNTR and load by name, offline."""


@dataclass(frozen=True)
class Georef:
    """Affine placement of .inp coordinates in the city CRS: x = x0 + scale * x_inp."""

    scale: float = 1.0
    x0: float = 0.0
    y0: float = 0.0

    def apply(self, x: float, y: float) -> tuple[float, float]:
        """City coordinates (metres) of a point in .inp coordinates."""
        return self.x0 + self.scale * x, self.y0 + self.scale * y


def load_wntr_model(source: str | Path):  # type: ignore[no-untyped-def]
    """A ``wntr.network.WaterNetworkModel`` from a path or a bundled network name."""
    import wntr  # deferred: importing wntr costs about a second

    text = str(source)
    if text not in BUNDLED_NETWORKS and not Path(text).is_file():
        raise CityModelError(f"EPANET file {text!r} not found; give a path to an .inp file "
                             f"or one of WNTR's bundled networks: {', '.join(BUNDLED_NETWORKS)}")
    try:
        return wntr.network.WaterNetworkModel(text)
    except Exception as e:  # WNTR raises many kinds (ENxxx, KeyError, ValueError) on a bad file
        raise CityModelError(f"cannot read EPANET file {text!r}: {e}") from e


def read_epanet(source: str | Path, layer_name: str = "water", georef: Georef | None = None) -> Layer:
    """A layer holding every junction, tank, reservoir, pipe, pump and valve of the network."""
    wn = load_wntr_model(source)
    g = georef or Georef()
    layer = Layer(layer_name, model=wn)
    for name, node in wn.nodes():
        x, y = g.apply(*node.coordinates)
        kind = node.node_type.lower()  # junction, tank, reservoir
        props: dict[str, float | str] = {}
        if kind == "junction":
            props = {"elevation_m": float(node.elevation), "base_demand_m3s": float(node.base_demand)}
        elif kind == "tank":
            props = {"elevation_m": float(node.elevation), "min_level_m": float(node.min_level),
                     "max_level_m": float(node.max_level), "init_level_m": float(node.init_level),
                     "diameter_m": float(node.diameter)}
        elif kind == "reservoir":
            props = {"base_head_m": float(node.base_head)}
        layer.add_node(kind, name, shapely.Point(x, y), **props)
    for name, link in wn.links():
        kind = link.link_type.lower()  # pipe, pump, valve (WNTR names valves by type, e.g. PRV)
        if kind not in ("pipe", "pump"):
            kind = "valve"
        points = [link.start_node.coordinates, *link.vertices, link.end_node.coordinates]
        line = shapely.LineString([g.apply(*p) for p in points])
        props = {}
        if kind == "pipe":
            props = {"length_m": float(link.length), "diameter_m": float(link.diameter),
                     "roughness": float(link.roughness)}
        elif kind == "valve":
            props = {"diameter_m": float(link.diameter), "valve_type": str(link.valve_type)}
        layer.add_link(kind, name, asset_key(layer_name, link.start_node.node_type.lower(), link.start_node_name),
                       asset_key(layer_name, link.end_node.node_type.lower(), link.end_node_name), line, **props)
    return layer
