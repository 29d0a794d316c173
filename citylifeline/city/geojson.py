"""GeoJSON in and out of city layers.

Import: a FeatureCollection in WGS84 (RFC 7946) or, with ``crs``, in any CRS.  Each feature
needs properties ``kind`` and ``id`` (or ``name``).  A feature with ``from`` and ``to``
properties is a link between two node features of the same layer (a pipe, a conduit); every
other feature is a node asset (a manhole, a hospital, a residential block polygon with its
``population``).  Export: a layer as a FeatureCollection in WGS84, for web maps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyproj
import shapely
from shapely.geometry import mapping, shape

from ..errors import CityModelError
from .model import City, Layer

_SKIP_PROPS = {"id", "name", "kind", "from", "to", "layer", "key"}


def read_geojson(path: str | Path, layer_name: str, city: City, crs: str = "EPSG:4326") -> Layer:
    """A layer from the features of a GeoJSON file, reprojected into the city CRS."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CityModelError(f"GeoJSON file {str(p)!r} not found") from None
    except json.JSONDecodeError as e:
        raise CityModelError(f"{p}:{e.lineno}: not valid JSON ({e.msg})") from None
    if doc.get("type") != "FeatureCollection":
        raise CityModelError(f"{p}: expected a GeoJSON FeatureCollection, found type {doc.get('type')!r}")
    to_city = pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(crs), city.crs, always_xy=True).transform
    layer = Layer(layer_name)
    links = []
    for i, feature in enumerate(doc.get("features", [])):
        where = f"{p}: features[{i}]"
        props = dict(feature.get("properties") or {})
        name = str(props.get("id") or props.get("name") or "")
        kind = str(props.get("kind") or "")
        if not name or not kind:
            raise CityModelError(f"{where}: properties need 'kind' and 'id' (found {sorted(props)})")
        try:
            geom = shapely.transform(shape(feature["geometry"]), to_city, interleaved=False)
        except Exception as e:  # shapely raises several kinds on bad geometry
            raise CityModelError(f"{where} ({name}): bad geometry: {e}") from None
        extra = {k: v for k, v in props.items() if k not in _SKIP_PROPS}
        if "name" in props and "id" in props:
            extra["label"] = props["name"]
        if "from" in props and "to" in props:
            links.append((kind, name, str(props["from"]), str(props["to"]), geom, extra, where))
        else:
            layer.add_node(kind, name, geom, **extra)
    by_name = {a.name: k for k, a in layer.assets.items()}
    for kind, name, start, end, geom, extra, where in links:
        if start not in by_name or end not in by_name:
            raise CityModelError(f"{where} ({name}): 'from' {start!r} or 'to' {end!r} is not a node of this file")
        layer.add_link(kind, name, by_name[start], by_name[end], geom, **extra)
    return layer


def layer_to_geojson(layer: Layer, city: City) -> dict[str, Any]:
    """The layer as a GeoJSON FeatureCollection in WGS84 with key, kind, name and properties."""
    to_wgs84 = pyproj.Transformer.from_crs(city.crs, 4326, always_xy=True).transform
    features = []
    for a in layer.assets.values():
        props: dict[str, Any] = {"key": a.key, "layer": a.layer, "kind": a.kind, "name": a.name}
        props.update({k: v for k, v in a.props.items() if isinstance(v, str | int | float | bool)})
        geom = shapely.set_precision(shapely.transform(a.geometry, to_wgs84, interleaved=False), 1e-7)
        features.append({"type": "Feature", "geometry": mapping(geom), "properties": props})
    return {"type": "FeatureCollection", "features": features}

