"""The city model: lifeline layers, places, sensors, and their importers."""

from .bundle import CityBundle, demo_city_path, load_city
from .epanet import Georef, read_epanet
from .geojson import layer_to_geojson, read_geojson
from .model import LAYER_NAMES, LIFELINES, PLACES, Asset, City, Layer, asset_key
from .sensors import SensorRegistry, SensorSpec

__all__ = ["LAYER_NAMES", "LIFELINES", "PLACES", "Asset", "City", "CityBundle", "Georef", "Layer",
           "SensorRegistry", "SensorSpec", "asset_key", "demo_city_path", "layer_to_geojson",
           "load_city", "read_epanet", "read_geojson"]
