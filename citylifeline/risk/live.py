"""The risk map as the platform keeps it: the city's static columns built once, the store's history and
the live state read at most every ``REFRESH_S``, and the answers the API and the weekly list give.

History: the incidents of the past ``HISTORY_DAYS`` on each asset, the warning events of the past
``ALARM_DAYS`` on its sensors (the newest ``MAX_EVENTS``), the assets whose sensors have open faults.
Live: the open incidents (their assets fail now) and what their cascades reach, and the construction
sites in force (``risk.sites``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import shapely

from .. import levels
from ..cascade.chains import Cascader
from ..store.base import IncidentFilter, Store
from ..warn.lifecycle import ACTIVE_STATES
from . import factors as fx
from .riskmap import CELL_M, RiskBase, RiskInputs, RiskMap, Site, assess

REFRESH_S = 30.0
HISTORY_DAYS = 365
ALARM_DAYS = 90
MAX_EVENTS = 100_000
WARNING_KINDS = ("threshold", "rate", "anomaly", "gas_leak", "sewer_gas", "water_leak", "water_burst",
                 "bridge_damage", "bridge_overload", "waterlogging_forecast")
DAY_MS = 86_400_000
WATCH = {"gas": ("燃气管: 两侧窨井/电缆井设甲烷监测", "gas main: methane detectors in the wells beside it"),
         "water": ("供水管: 压力与漏损噪声监测", "water main: pressure and leak-noise loggers"),
         "heating": ("热力管: 温度与压力监测", "heating pipe: temperature and pressure"),
         "drainage": ("排水: 液位计与雨量计", "drainage: level gauges and a rain gauge"),
         "bridge": ("桥梁: 应变、挠度与振动", "bridge: strain, deflection and vibration"),
         "tunnel": ("管廊: 可燃气体、温湿度与水位", "tunnel: gas, temperature, humidity and sump level")}


class RiskService:
    """The live risk map of one city (module docstring)."""

    def __init__(self, cascader: Cascader, store: Store, clock: Callable[[], int],
                 sites: Callable[[], list[Site]] = list) -> None:
        self.cascader = cascader
        self.city = cascader.city
        self.registry = cascader.registry
        self.store = store
        self.clock = clock
        self.sites = sites
        self.base = RiskBase(self.city, cascader.coupling)
        self._lock = threading.Lock()
        self._map: RiskMap | None = None
        self._at = -1e9

    def current(self) -> RiskMap:
        """The map now (read again after ``REFRESH_S``, or after ``invalidate``)."""
        with self._lock:
            if self._map is None or time.monotonic() - self._at > REFRESH_S:
                self._map = assess(self.base, self.inputs())
                self._at = time.monotonic()
            return self._map

    def invalidate(self) -> None:
        """Read the store again at the next question (a site registered or ended)."""
        with self._lock:
            self._map = None

    def inputs(self) -> RiskInputs:
        """The store's history and the live state (module docstring)."""
        now = self.clock()
        reg = self.registry
        incidents: dict[str, int] = {}
        for inc in self.store.incidents(IncidentFilter(since_ms=now - HISTORY_DAYS * DAY_MS, limit=1_000_000)):
            for a in set(inc.assets):
                incidents[a] = incidents.get(a, 0) + 1
        alarms: dict[str, int] = {}
        for e in self.store.events(since_ms=now - ALARM_DAYS * DAY_MS, limit=MAX_EVENTS):
            if e.active and e.kind in WARNING_KINDS and e.sensor < len(reg):
                a = e.asset or reg.asset[e.sensor]
                alarms[a] = alarms.get(a, 0) + 1
        faulty = {reg.asset[t.sensor] for t in self.store.open_tickets() if t.sensor < len(reg)}
        failing: dict[str, int] = {}
        cascade: dict[str, float] = {}
        for inc in self.store.active_incidents():
            if inc.state not in ACTIVE_STATES:
                continue
            for a in inc.assets:
                failing[a] = max(failing.get(a, 0), inc.level)
            for chain in self.cascader.analyse(inc).chains:
                for s in chain:
                    cascade[s.asset] = max(cascade.get(s.asset, 0.0), s.likelihood)
        return RiskInputs(incidents, alarms, faulty, failing, cascade, self.sites())

    # ---- answers ------------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Assets per colour, and the grid of areas as GeoJSON (WGS84) coloured by their worst asset."""
        m = self.current()
        cells = m.grid()
        feats = []
        for c in cells:
            box = shapely.box(c["x0"], c["y0"], c["x0"] + c["size_m"], c["y0"] + c["size_m"])
            lon, lat = self.city.to_wgs84(*np.asarray(box.exterior.coords).T)
            feats.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
                [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat, strict=True)]]},
                "properties": {"risk": c["risk"], "level": levels.roman(c["level"]),
                               "colour": levels.COLOUR[c["level"]], "assets": c["assets"]}})
        return {"assets": len(self.base), "by_colour": m.counts(), "cell_m": CELL_M,
                "cells": {"type": "FeatureCollection", "features": feats}}

    def assets_geojson(self, min_level: int = 1, layer: str = "") -> dict[str, Any]:
        """The assets at ``min_level`` (1 blue … 4 red) or worse, as GeoJSON in WGS84 with L, S, R, colour."""
        m, b = self.current(), self.base
        rows = np.flatnonzero((m.level >= min_level) & ((b.layer == layer) if layer else True))
        world = self.city.geometry_to_wgs84(b.geoms[rows])
        feats = [{"type": "Feature", "geometry": orjson.loads(g),
                  "properties": {"key": b.keys[i], "layer": str(b.layer[i]), "likelihood": int(m.likelihood[i]),
                                 "severity": int(m.severity[i]), "risk": int(m.risk[i]),
                                 "level": levels.roman(int(m.level[i])), "colour": levels.COLOUR[int(m.level[i])]}}
                 for i, g in zip(rows, shapely.to_geojson(world, indent=None) if len(rows) else [], strict=True)]
        return {"type": "FeatureCollection", "features": feats}

    def top(self, n: int = 20) -> list[dict[str, Any]]:
        """The ``n`` highest risks with their reasons, the sensors watching them and what would watch them."""
        m = self.current()
        return [self.describe(i, m) for i in m.top(n)]

    def asset(self, key: str) -> dict[str, Any]:
        """One asset's risk and its reasons (KeyError for an asset the map does not hold)."""
        return self.describe(self.base.index[key], self.current())

    def describe(self, i: int, m: RiskMap) -> dict[str, Any]:
        b, a = self.base, self.base.assets[i]
        lon, lat = self.city.to_wgs84(b.x[i], b.y[i])
        sensors = [self.registry.ids[s] for s in self.cascader.sensors_of.get(a.key, [])]
        zh, en = WATCH.get(a.layer, ("", ""))
        return {"key": a.key, "layer": a.layer, "kind": a.kind, "name": str(a.props.get("label") or a.name),
                "lon": float(lon), "lat": float(lat), "f_per_year": round(float(m.f_per_year[i]), 4),
                "per": "km" if a.kind in fx.PIPE_KINDS else "asset",
                "likelihood": int(m.likelihood[i]), "severity": int(m.severity[i]), "risk": int(m.risk[i]),
                "level": levels.roman(int(m.level[i])), "colour": levels.COLOUR[int(m.level[i])],
                "reasons": [{"zh": z, "en": e} for z, e in m.reasons(i)], "sensors": sensors,
                "watch": None if sensors else {"zh": f"无监测设备; 建议{zh}",
                                               "en": f"no sensor watches it; place {en}"}}
