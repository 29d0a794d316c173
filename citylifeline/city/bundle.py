"""Load a city bundle: a directory whose ``city.yaml`` names the CRS, the layers and the sensors.

Example ``city.yaml``::

    name: Demo City
    crs: EPSG:4548            # projected, metres
    timezone: Asia/Shanghai
    layers:
      water:
        epanet: Net3           # a path relative to this file, a network bundled with WNTR, or epyt:L-TOWN.inp
        georef: {scale: 225.0, x0: 520000.0, y0: 3520000.0}
      places:
        geojson: places.geojson
    sensors: sensors.csv      # or a list of files
    districts: districts.geojson  # optional: polygons with a 'name' (WGS84); each sensor's district
    sensor_defaults:           # per kind, for cells left empty in sensors.csv
      pressure: {interval_s: 60, unit: MPa, hysteresis: 0.005, min_duration_s: 120}
    waterlogging:              # points where standing water is forecast (city.swmm.add_waterlogging_points)
      - {id: UP1, node: S-UP1, kind: underpass, name: Nanyi Rd railway underpass}
    attributes:                # asset attributes from the utilities' GIS files (city.attributes)
      - {file: assets.gpkg, layer: pipes, key: asset, columns: [install_year, material, depth_m, soil]}
    links:                     # what depends on what (cascade.coupling): [dependent, supplier] asset keys
      - [water/pump/WPU-1, tunnel/compartment/TC-1]

``load_city("demo")`` and ``load_city("ltown")`` load the bundles shipped in the package.
"""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import yaml
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from ..errors import ConfigError, NotFound
from .attributes import read_attributes
from .epanet import Georef, read_epanet
from .geojson import read_geojson
from .model import LAYER_NAMES, City
from .sensors import SensorRegistry, load_sensors_csv
from .swmm import add_waterlogging_points


class CityBundle:
    """A loaded city: the model and its sensor registry, plus where they came from."""

    def __init__(self, city: City, sensors: SensorRegistry, path: Path, config: dict[str, Any]) -> None:
        self.city = city
        self.sensors = sensors
        self.path = path
        self.config = config


SHIPPED = {"demo": "demo_city", "ltown": "ltown_city"}
"""The cities bundled with the package: the demo city, and BattLeDIM's L-Town."""


def demo_city_path(name: str = "demo") -> Path:
    """The directory of a city bundled with the package (``SHIPPED``)."""
    return Path(str(resources.files("citylifeline") / "data" / SHIPPED[name]))


def packaged_network(name: str) -> Path:
    """An EPANET network the ``epyt`` package ships (L-TOWN.inp, ...), found without importing epyt."""
    import importlib.util

    spec = importlib.util.find_spec("epyt")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"network 'epyt:{name}' needs the epyt package; install it (make setup)")
    path = Path(next(iter(spec.submodule_search_locations))) / "networks" / name
    if not path.is_file():
        raise ConfigError(f"epyt ships no network {name!r}; see {path.parent} for the ones it has")
    return path


def load_city(source: str | Path) -> CityBundle:
    """Load a city bundle from a directory (or its city.yaml), or a shipped one: ``"demo"``, ``"ltown"``."""
    path = demo_city_path(str(source)) if str(source) in SHIPPED else Path(source)
    if path.is_dir():
        path = path / "city.yaml"
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"city bundle {str(path)!r} not found; give a directory with a city.yaml "
                          "or 'demo'") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    base = path.parent
    for key in ("name", "crs", "layers"):
        if key not in config:
            raise ConfigError(f"{path}: missing '{key}'; see citylifeline/data/demo_city/city.yaml")
    city = City(str(config["name"]), str(config["crs"]), str(config.get("timezone", "UTC")))
    for name, spec in (config.get("layers") or {}).items():
        if name not in LAYER_NAMES:
            raise ConfigError(f"{path}: layers.{name}: unknown layer; use {', '.join(LAYER_NAMES)}")
        city.add_layer(_read_layer(name, spec or {}, base, city, f"{path}: layers.{name}"))
    if config.get("waterlogging"):
        add_waterlogging_points(city, config["waterlogging"], f"{path}: waterlogging")
    if config.get("attributes"):
        read_attributes(city, config["attributes"], base, f"{path}: attributes")
    city.links = read_links(config.get("links") or [], city, f"{path}: links")
    asset_layer = {a.key: a.layer for a in city.assets()}
    asset_xy = {a.key: a.xy for a in city.assets()}
    specs = []
    files = config.get("sensors") or []
    defaults = config.get("sensor_defaults") or {}
    for name in [files] if isinstance(files, str) else files:
        specs += load_sensors_csv(base / str(name), defaults, asset_layer, asset_xy)
    if config.get("districts"):
        city.districts = read_districts(base / str(config["districts"]), city)
        specs = [s if s.district else replace(s, district=city.district_at(s.x, s.y)) for s in specs]
    return CityBundle(city, SensorRegistry(specs), path, config)


def read_links(rows: Any, city: City, where: str) -> list[tuple[str, str]]:
    """The declared dependencies: a list of [dependent, supplier] asset keys of the city."""
    if not isinstance(rows, list):
        raise ConfigError(f"{where}: give a list of [dependent, supplier] pairs of asset keys, not {rows!r}")
    out = []
    for i, row in enumerate(rows):
        if not (isinstance(row, list | tuple) and len(row) == 2 and all(isinstance(k, str) for k in row)):
            raise ConfigError(f"{where}[{i}]: {row!r} is not a [dependent, supplier] pair of asset keys; "
                              "write e.g. [water/pump/WPU-1, tunnel/compartment/TC-1]")
        for key in row:
            try:
                city.asset(key)
            except NotFound:
                raise ConfigError(f"{where}[{i}]: no asset {key!r} in the city; keys are layer/kind/name "
                                  "(GET /api/v1/assets lists them)") from None
        out.append((row[0], row[1]))
    return out


def read_districts(path: Path, city: City) -> dict[str, BaseGeometry]:
    """The district polygons of a GeoJSON file (WGS84, each feature with a ``name``), in the city CRS."""
    try:
        features = orjson.loads(path.read_bytes())["features"]
        out = {}
        for k, f in enumerate(features):
            name = str((f.get("properties") or {}).get("name") or "").strip()
            if not name:
                raise ConfigError(f"{path}: feature {k} has no 'name' property; every district needs one")
            area = shape(f["geometry"])
            out[name] = city.geometry_from_wgs84(area)
        return out
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"{path}: cannot read the districts ({type(e).__name__}: {e}); give a GeoJSON "
                          "FeatureCollection of polygons with a 'name' property each") from None


def _read_layer(name: str, spec: dict[str, Any], base: Path, city: City, where: str):  # type: ignore[no-untyped-def]
    if "epanet" in spec:
        source = str(spec["epanet"])
        if source.startswith("epyt:"):
            source = str(packaged_network(source.removeprefix("epyt:")))
        elif (base / source).is_file():
            source = str(base / source)
        geo = spec.get("georef") or {}
        try:
            georef = Georef(float(geo.get("scale", 1.0)), float(geo.get("x0", 0.0)), float(geo.get("y0", 0.0)))
        except (TypeError, ValueError):
            raise ConfigError(f"{where}.georef: scale, x0 and y0 must be numbers, got {geo!r}") from None
        return read_epanet(source, name, georef)
    if "swmm" in spec:
        from .swmm import read_swmm

        return read_swmm(base / str(spec["swmm"]), name)
    if "geojson" in spec:
        files = spec["geojson"] if isinstance(spec["geojson"], list) else [spec["geojson"]]
        layer = read_geojson(base / str(files[0]), name, city, str(spec.get("crs", "EPSG:4326")))
        for more in files[1:]:
            layer.merge(read_geojson(base / str(more), name, city, str(spec.get("crs", "EPSG:4326"))))
        return layer
    raise ConfigError(f"{where}: say where the layer comes from: 'epanet: FILE', 'swmm: FILE' or 'geojson: FILE'")
