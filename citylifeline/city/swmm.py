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

from ..errors import CityModelError
from .model import Layer


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

