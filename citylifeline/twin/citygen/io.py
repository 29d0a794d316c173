"""Writing the demo city's files: GeoJSON in WGS84 from local coordinates, sensors CSV rows.

Generators build geometry in local metres (``geography``); ``write_geojson`` moves it to the
city CRS (EPSG:4548) and then to WGS84, as RFC 7946 wants, with 7 decimals (about 1 cm), so
``citylifeline.city.read_geojson`` gets back the same metres.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyproj
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from ...city.sensors import COLUMNS
from .geography import CRS, ORIGIN

DATA = Path(__file__).resolve().parents[2] / "data" / "demo_city"
_TO_WGS84 = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True)


def to_wgs84(geom: BaseGeometry) -> BaseGeometry:
    """A local-metres geometry in WGS84 longitude/latitude."""
    world = shapely.affinity.translate(geom, ORIGIN[0], ORIGIN[1])
    return shapely.set_precision(shapely.transform(world, _TO_WGS84.transform, interleaved=False), 1e-7)


def feature(geom: BaseGeometry, **props: Any) -> dict[str, Any]:
    """A GeoJSON feature (WGS84) of a local-metres geometry; props need 'id' and 'kind'."""
    return {"type": "Feature", "geometry": mapping(to_wgs84(geom)), "properties": props}


def write_geojson(path: str | Path, features: Iterable[dict[str, Any]]) -> Path:
    """Write a FeatureCollection (deterministic, UTF-8, one feature per line)."""
    p = DATA / path if not Path(path).is_absolute() else Path(path)
    feats = list(features)
    lines = ",\n".join(json.dumps(f, ensure_ascii=False, sort_keys=True) for f in feats)
    p.write_text('{"type": "FeatureCollection", "features": [\n' + lines + "\n]}\n", encoding="utf-8")
    return p


def write_sensors(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write a sensors CSV with the standard columns (missing cells empty)."""
    p = DATA / path if not Path(path).is_absolute() else Path(path)
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="raise")
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return p
