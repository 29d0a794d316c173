"""Import a drainage network from a SWMM 5 .inp file (through swmmio) into a city layer.

Nodes: junctions (manholes), outfalls and storage units, with invert, depth and ground; links:
conduits (with diameter) and any orifices, weirs or pumps; subcatchments become node assets
with their polygon (or a point at their outlet) and their area and imperviousness; rain gauges
with a [SYMBOLS] position become ``raingauge`` assets.  Coordinates must already be in the
city CRS (metres).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import shapely

from ..errors import CityModelError, ConfigError
from .model import City, Layer


def read_swmm(path: str | Path, layer_name: str = "drainage") -> Layer:
    """A layer holding every node, link, subcatchment and rain gauge of a SWMM model."""
    p = Path(path)
    if not p.is_file():
        raise CityModelError(f"SWMM file {str(p)!r} not found")
    with warnings.catch_warnings():  # swmmio warns about every section a file leaves out
        warnings.simplefilter("ignore", UserWarning)
        return _read(p, layer_name)


def _read(p: Path, layer_name: str) -> Layer:
    import swmmio  # deferred: pulls in pandas and pyswmm

    try:
        inp = swmmio.Model(str(p)).inp
        coords = inp.coordinates
    except Exception as e:  # swmmio raises several kinds on a malformed file
        raise CityModelError(f"cannot read SWMM file {p}: {e}") from e
    layer = Layer(layer_name, model=str(p))
    key_of: dict[str, str] = {}

    def xy(name: str, section: str) -> shapely.Point:
        if name not in coords.index:
            raise CityModelError(f"{p}: [{section}] {name} has no [COORDINATES] entry")
        return shapely.Point(float(coords.at[name, "X"]), float(coords.at[name, "Y"]))

    for section, kind, depth_col in (("junctions", "junction", "MaxDepth"), ("outfalls", "outfall", None),
                                     ("storage", "storage", "MaxD")):
        df = _section(inp, section)
        for name, row in df.iterrows():
            invert = float(row["InvertElev"])
            props: dict[str, Any] = {"invert_m": invert}
            if depth_col is not None:
                props |= {"max_depth_m": float(row[depth_col]), "ground_m": invert + float(row[depth_col])}
            key_of[str(name)] = layer.add_node(kind, str(name), xy(str(name), section.upper()), **props).key
    xsec = _section(inp, "xsections")
    for section, kind in (("conduits", "conduit"), ("orifices", "orifice"), ("weirs", "weir"), ("pumps", "pump")):
        for name, row in _section(inp, section).iterrows():
            a, b = str(row["InletNode"]), str(row["OutletNode"])
            if a not in key_of or b not in key_of:
                raise CityModelError(f"{p}: [{section.upper()}] {name}: node {a!r} or {b!r} is not defined")
            props = {"length_m": float(row["Length"])} if "Length" in row else {}
            if name in xsec.index:
                props["diameter_m"] = float(xsec.at[name, "Geom1"])
            layer.add_link(kind, str(name), key_of[a], key_of[b], **props)
    polygons = _section(inp, "polygons")
    for name, row in _section(inp, "subcatchments").iterrows():
        if name in polygons.index:
            pts = polygons.loc[[name]]
            geom = shapely.Polygon(list(zip(pts["X"].astype(float), pts["Y"].astype(float), strict=True)))
        else:
            outlet = layer.assets.get(key_of.get(str(row["Outlet"]), ""))
            geom = outlet.geometry if outlet is not None else shapely.Point(0, 0)
        layer.add_node("subcatchment", str(name), geom, area_ha=float(row["Area"]),
                       imperv_pct=float(row["PercImperv"]), outlet=str(row["Outlet"]))
    for name, (x, y) in _symbols(p).items():
        layer.add_node("raingauge", name, shapely.Point(x, y))
    return layer


def _section(inp: Any, name: str) -> Any:
    """A section's DataFrame, or an empty one where the file has none."""
    import pandas as pd

    try:
        df = getattr(inp, name)
    except (AttributeError, KeyError):
        return pd.DataFrame()
    return df if df is not None else pd.DataFrame()


def _symbols(p: Path) -> dict[str, tuple[float, float]]:
    """Rain gauge positions from [SYMBOLS] (swmmio does not read that section)."""
    out: dict[str, tuple[float, float]] = {}
    section = ""
    for raw in p.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("["):
            section = line.upper()
        elif line and section == "[SYMBOLS]":
            name, x, y = line.split()[:3]
            out[name] = (float(x), float(y))
    return out



WATERLOGGING_KINDS: dict[str, tuple[float, int]] = {
    "underpass": (0.15, 4), "metro": (0.15, 5), "hospital": (0.15, 5), "substation": (0.15, 5),
    "school": (0.15, 3), "residential": (0.15, 2), "road": (0.15, 1)}
"""A waterlogging point's kind → its default warning depth (m) and importance (1–5).

The depth: GB 51222-2017 (城镇内涝防治技术规范) and GB 50014-2021 (室外排水设计标准) judge a
waterlogging by the water on the ground: one lane of a road under at most 15 cm, the ground floors
of homes and businesses dry; so 0.15 m everywhere unless a point says otherwise (an underpass
closed at 27 cm, the height of a car's exhaust, as Beijing's underpasses are; a metro entrance
whose step stands 0.30–0.45 m above the street, GB 50157-2013, warned before the water reaches
it).  The importance weighs what the water stops: people trapped in cars in a flooded underpass
(Zhengzhou's Jingguang Rd tunnel, 2021), the metro, a hospital's emergency entrance or a
substation feeding the pumps, above a school's gate, homes and a road."""
DEFAULT_POND_AREA_M2 = 1000.0  # a 50 m stretch of a 20 m street round the low point


def add_waterlogging_points(city: City, items: Any, where: str) -> None:
    """The city.yaml ``waterlogging`` list: points where standing water is watched and forecast
    (易涝点), each on a node of the drainage model, as ``drainage/waterlogging_point/<id>`` assets (no part of
    the network's graph: a place on the street above a node).

    Each item: ``id``, ``node`` (a junction or storage unit of the SWMM model), ``kind`` (see
    ``WATERLOGGING_KINDS``), ``name``; optionally ``depth_m`` (the warning depth) and, on a manhole,
    ``area_m2``: the street area its overflow spreads over (the ponded water's depth there is the
    volume SWMM ponds above the manhole over this area; ``DEFAULT_POND_AREA_M2``).  On a storage
    unit (a road's sag) the depth is the unit's own."""
    if not isinstance(items, list):
        raise ConfigError(f"{where}: give a list of points, each with id, node, kind and name")
    drainage = city.layers.get("drainage")
    for k, item in enumerate(items):
        at = f"{where}[{k}]"
        if not isinstance(item, dict) or not all(item.get(f) for f in ("id", "node", "kind", "name")):
            raise ConfigError(f"{at}: each point needs id, node, kind and name")
        kind = str(item["kind"])
        if kind not in WATERLOGGING_KINDS:
            raise ConfigError(f"{at}: kind {kind!r} unknown; use one of {', '.join(WATERLOGGING_KINDS)}")
        node = next((a for a in (drainage.assets.values() if drainage is not None else ())
                     if a.name == str(item["node"]) and a.kind in ("junction", "storage")), None)
        if node is None:
            raise ConfigError(f"{at}: node {item['node']!r} is not a junction or storage unit of the drainage model")
        depth, importance = WATERLOGGING_KINDS[kind]
        try:
            depth = float(item.get("depth_m", depth))
            area = float(item.get("area_m2", DEFAULT_POND_AREA_M2))
        except (TypeError, ValueError):
            raise ConfigError(f"{at}: depth_m and area_m2 must be numbers (metres, square metres)") from None
        if not 0.01 <= depth <= 5 or area <= 0:
            raise ConfigError(f"{at}: depth_m {depth} must be between 0.01 and 5 m and area_m2 {area} positive")
        assert drainage is not None
        drainage.add_feature("waterlogging_point", str(item["id"]), node.geometry, label=str(item["name"]),
                             node=node.name, node_kind=node.kind, watch_kind=kind, depth_m=depth,
                             importance=importance, area_m2=area)
