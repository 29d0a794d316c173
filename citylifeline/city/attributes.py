"""Asset attributes from a utility's GIS files (city.yaml ``attributes:``): install year, material,
depth of cover, soil, pressure … joined onto the city model's assets by key.

Example::

    attributes:
      - {file: assets.gpkg, layer: pipes, key: asset, columns: [install_year, material, depth_m, soil]}
      - {file: gas_mains.shp, key: GIS_ID, prefix: gas/pipe/, rename: {YEAR: install_year, MAT: material}}

Each file is read with pyogrio (GDAL: GeoPackage, Shapefile, FileGDB, GeoJSON …) without its
geometry, which the city model already has.  ``key`` names the column holding each feature's asset
key (``layer/kind/name``), or, with ``prefix``, its name.  A value the risk map relies on is checked
(``CHECKS``): a wrong one is refused naming the file, the asset, the value and the fix.  Features
whose asset the model lacks are counted and logged (a GIS export usually holds more than the model);
a file none of whose features match is refused, since its key column is then surely the wrong one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .model import City

log = logging.getLogger(__name__)

CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "install_year": (lambda v: isinstance(v, int) and 1850 <= v <= date.today().year,
                     "a whole year between 1850 and this year"),
    "depth_m": (lambda v: isinstance(v, int | float) and 0.0 <= v <= 50.0, "metres of cover, 0–50"),
    "pressure_mpa": (lambda v: isinstance(v, int | float) and 0.0 <= v <= 10.0, "MPa, 0–10"),
    "diameter_m": (lambda v: isinstance(v, int | float) and 0.0 < v <= 5.0, "metres, over 0 and up to 5"),
}


def read_attributes(city: City, specs: Any, base: Path, where: str) -> int:
    """Join every file of ``specs`` onto ``city``'s assets; the number of assets given attributes."""
    if not isinstance(specs, list):
        raise ConfigError(f"{where}: give a list of {{file, key, columns}} entries, not {specs!r}")
    done: set[str] = set()
    for i, spec in enumerate(specs):
        done |= _read_one(city, spec, base, f"{where}[{i}]")
    return len(done)


def _read_one(city: City, spec: Any, base: Path, where: str) -> set[str]:
    import pyogrio

    if not isinstance(spec, dict) or "file" not in spec:
        raise ConfigError(f"{where}: {spec!r} needs at least 'file' (and 'key', the column of asset keys)")
    path = base / str(spec["file"])
    key, prefix = str(spec.get("key", "asset")), str(spec.get("prefix", ""))
    rename = {str(k): str(v) for k, v in (spec.get("rename") or {}).items()}
    try:
        meta, table = pyogrio.read_arrow(path, layer=spec.get("layer"), read_geometry=False)
    except Exception as e:  # pyogrio's DataSourceError, DataLayerError …: say which file and why
        raise ConfigError(f"{where}: cannot read {str(path)!r}: {e}") from None
    fields = list(meta["fields"])
    if key not in fields:
        raise ConfigError(f"{where}: {path.name} has no column {key!r}; its columns are {', '.join(fields)}")
    wanted = [str(c) for c in spec.get("columns") or [f for f in fields if f != key]]
    missing = [c for c in wanted if c not in fields]
    if missing:
        raise ConfigError(f"{where}: {path.name} has no column {missing[0]!r}; its columns are {', '.join(fields)}")
    keys = table.column(key).to_pylist()
    values = {rename.get(c, c): table.column(c).to_pylist() for c in wanted}
    matched: set[str] = set()
    unknown = []
    for row, raw in enumerate(keys):
        asset_key = prefix + str(raw)
        layer = city.layers.get(asset_key.split("/", 1)[0])
        asset = layer.assets.get(asset_key) if layer is not None else None
        if asset is None:
            unknown.append(asset_key)
            continue
        for name, column in values.items():
            v = column[row]
            if v is None:
                continue
            check = CHECKS.get(name)
            if check and not check[0](v):
                raise ConfigError(f"{where}: {path.name}, {asset_key}: {name} = {v!r} is not {check[1]}; "
                                  "correct it in the GIS or leave it empty")
            asset.props[name] = v
        matched.add(asset_key)
    if keys and not matched:
        raise ConfigError(f"{where}: none of the {len(keys)} features of {path.name} is an asset of the city "
                          f"(first: {prefix + str(keys[0])!r}); 'key' must name the column of asset keys "
                          "(layer/kind/name), or give 'prefix' for names")
    if unknown:
        log.warning("%s: %d features of %s are not in the city model (first: %s)", where, len(unknown), path.name,
                    unknown[0])
    return matched
