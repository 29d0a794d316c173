"""A water incident, analysed for the crew: where the leak is, which valves to close, who loses water.

When a water incident opens on pressure or flow warnings, the burst or leak behind it shows as
the change in the water sensors from the hour before its first warning to the readings since
(at most ``AFTER_MS``, up to now: not up to its last warning, for a burst that goes on keeps
the pressures down without warning again).  The network's model (``model.WaterModel``) takes out what the
demand and the operation changed over the same time; what is left, divided by each sensor's
noise (``NOISE``), is placed by leak-signature correlation in the operation measured at the
first warning (``leaks.LeakDetector.localise``).  The best pipe's valve segment gives the
isolation plan (``isolation.isolation_plan``; the city's valve records, else WNTR's strategic
layer), and the places served by the junctions left dry give the impact: households,
population, hospitals and schools.  An incident the water analyst judged a network change (a
``water_network_change`` event, and no leak or burst) is placed as a pipe shut
(``LeakDetector.closure``; ``kind``: ``network_change``): its segment's valves are the ones to
check, the outflow is the water re-routed.  Pipes shut by works orders are shut in the model for
their time (``WaterModel.shut``): what they change is expected.  A place is served by the water junctions within
``SERVED_M`` of its outline, and loses water in proportion to those that run dry.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ...city.model import City
from ...city.sensors import SensorRegistry
from ...twin.leakyear import Sensors, YearRun
from ...works import closures
from ..isolation import isolation_plan, strategic_layer
from .leaks import LeakDetector, Localisation
from .model import TO_MODEL_UNITS, city_channels, city_model

BASELINE_MS = 3_600_000  # the hour before the first warning
AFTER_MS = 3_600_000  # and at most the hour after it
STEP_S = 300
MIN_READINGS = 3  # 5-minute bins with a reading, before and after, to place anything
NOISE = {"pressure": 0.1, "level": 0.02}  # m; flows: FLOW_NOISE_REL of their mean, at least 1 m³/h
FLOW_NOISE_REL = 0.02
SERVED_M = 60.0
PLACE_KINDS = ("hospital", "school")
VALVE_OFFSET_M = 8.0


class WaterIncidentAnalyst:
    """Localisation, isolation and impact for a city's water incidents (see the module docstring)."""

    def __init__(self, city: City, registry: SensorRegistry, valves: pd.DataFrame | None = None) -> None:
        self.city = city
        layer = city.layers["water"]
        self.wn = layer.model
        self.columns = city_channels(registry)  # its household meters are not used here
        sensors = Sensors(tuple(n for _, n in self.columns["pressure"]), tuple(n for _, n in self.columns["flow"]),
                          tuple(n for _, n in self.columns["level"]), ())
        self.model = city_model(city, sensors, balance=False)  # minutes before and after: the records' demand
        self.valves = valves if valves is not None else strategic_layer(self.wn, seed=0)
        self.served = self._served_places()
        self._cache: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _served_places(self) -> list[tuple[Any, list[str]]]:
        """Every place with people or a use that matters, and the water junctions serving it."""
        junctions = [a for a in self.city.layers["water"].assets.values() if a.kind == "junction"]
        out = []
        for place in self.city.layers["places"].assets.values() if "places" in self.city.layers else []:
            if not place.props.get("households") and place.kind not in PLACE_KINDS:
                continue
            near = [j.name for j in junctions if place.geometry.distance(j.geometry) <= SERVED_M]
            if near:
                out.append((place, near))
        return out

    def analyse(self, store: Any, incident: Any, now_ms: int) -> dict[str, Any] | None:
        """The analysis of a water incident at ``now_ms`` (None for other lifelines), cached per incident
        and five minutes of its first hour: it sharpens as that hour's readings come in, then stays."""
        if incident.lifeline != "water":
            return None
        step = STEP_S * 1000
        t0 = int(incident.t_first_ms) // step * step
        end = min(t0 + AFTER_MS, int(now_ms) // step * step)
        kinds = {e.kind for e in store.events(incident.id)}
        shut = "water_network_change" in kinds and not kinds & {"water_leak", "water_burst"}
        works = closures(store.works_orders())
        key = (incident.id, t0, end, shut, works)
        with self._lock:
            if key not in self._cache:
                self.model.shut = works  # a pipe shut for works is part of what the model expects
                found = self._analyse(store, t0, end, shut)
                if found["status"] == "waiting":  # readings still arriving: ask again next time
                    return found
                self._cache = {k: v for k, v in self._cache.items() if k[0] != incident.id}
                self._cache[key] = found
            return self._cache[key]

    def _analyse(self, store: Any, t0: int, end: int, shut: bool = False) -> dict[str, Any]:
        """The change from the hour before ``t0`` (the first warning, on a 5-minute step) to ``end``,
        placed as a leak, or (``shut``, where a pipe shut explains it better) as a pipe shut."""
        t_ms = np.arange(t0 - BASELINE_MS, end + 1, STEP_S * 1000, dtype=np.int64)
        run = YearRun(t_ms, self._binned(store, "pressure", t_ms), self._binned(store, "flow", t_ms),
                      self._binned(store, "level", t_ms), np.zeros((len(t_ms), 0)), np.zeros((len(t_ms), 0)))
        measured = self.model.measured(run)
        resid = measured - self.model.expected(run)
        before, after = resid[t_ms < t0], resid[t_ms >= t0]
        seen = (np.isfinite(before).sum(axis=0) >= MIN_READINGS) & (np.isfinite(after).sum(axis=0) >= MIN_READINGS)
        if not seen[: len(self.columns["pressure"])].any():
            return {"status": "waiting", "reason": f"fewer than {MIN_READINGS} five-minute readings of the water "
                                                    "pressure sensors before and after the first warning"}
        sigma = np.array([NOISE["pressure"]] * len(self.columns["pressure"]) + [
            max(1.0, FLOW_NOISE_REL * float(np.nanmean(np.abs(measured[:, k]))) if np.isfinite(measured[:, k]).any()
                else 1.0) for k in range(len(self.columns["pressure"]), measured.shape[1])])
        change = np.where(seen, (np.nanmean(after, axis=0) - np.nanmean(before, axis=0)) / sigma, 0.0)
        row = int(np.searchsorted(t_ms, t0))
        first = self._fill(run, row)
        detector = LeakDetector.for_changes(self.model, self.model.signatures(at=(first, 0)), sigma)
        n = 1.0 / (1.0 / max(len(after), 1) + 1.0 / max(len(before), 1))
        closed = detector.closure(change, n) if shut else None
        where = closed[0] if closed is not None else detector.localise(change, n)
        plan = isolation_plan(self.wn, self.valves, where.pipe)
        return {"status": "placed", "kind": "network_change" if closed is not None else "leak",
                "localisation": self._where_json(where),
                "isolation": {"pipe": plan.pipe, "valves": [self._valve_json(v, p) for v, p in plan.valves],
                              "segment_pipes": list(plan.segment_pipes),
                              "junctions_without_water": len(plan.without_water),
                              "demand_lost_m3h": round(plan.demand_lost_m3h, 1)},
                "impact": self.impact(set(plan.without_water)),
                "based_on": {"from_ms": int(t_ms[0]), "first_warning_ms": t0, "to_ms": int(t_ms[-1]),
                             "sensors": int(seen.sum())}}

    def _binned(self, store: Any, kind: str, t_ms: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Each sensor of ``kind``'s median per 5-minute step ending at ``t_ms`` (m, or m³/h for flows)."""
        out = np.full((len(t_ms), len(self.columns[kind])), np.nan)
        step = STEP_S * 1000
        scale = TO_MODEL_UNITS[kind]
        for k, (i, _) in enumerate(self.columns[kind]):
            b = store.readings(i, int(t_ms[0]) - step, int(t_ms[-1]), 100_000)
            if len(b.t_ms) == 0:
                continue
            slot = np.searchsorted(t_ms, np.asarray(b.t_ms), side="left")
            values = np.asarray(b.value, dtype=np.float64) * scale
            for r in np.unique(slot[slot < len(t_ms)]):
                out[r, k] = float(np.median(values[slot == r]))
        return out  # flows as the meters read them: the model compares tank mains signed, the rest by size

    def _fill(self, run: YearRun, row: int) -> YearRun:
        """The operation at ``row`` (the first warning), gaps filled from the nearest reading, as a one-step run."""
        def at(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            v = a[row: row + 1].copy()
            for k in range(a.shape[1]):
                if not np.isfinite(v[0, k]):
                    finite = np.flatnonzero(np.isfinite(a[:, k]))
                    v[0, k] = a[finite[np.argmin(np.abs(finite - row))], k] if len(finite) else np.nan
            return v
        return YearRun(run.t_ms[row: row + 1], at(run.pressure_m), at(run.flow_m3h), at(run.level_m),
                       run.demand_m3h[row: row + 1], run.leak_m3h[row: row + 1])

    def _valve_json(self, node: str, pipe: str) -> dict[str, Any]:
        """A valve to close: on ``pipe`` next to ``node``, placed a few metres along the pipe for the map."""
        line = self.city.asset(f"water/pipe/{pipe}").geometry  # in the city's CRS, from the node's end
        if self.wn.get_link(pipe).start_node_name != node:
            line = line.reverse()
        (x, y), (ox, oy) = line.coords[0], line.coords[-1]
        d = math.hypot(ox - x, oy - y) or 1.0
        k = min(VALVE_OFFSET_M / d, 0.5)
        lon, lat = self.city.to_wgs84(x + k * (ox - x), y + k * (oy - y))
        return {"node": node, "pipe": pipe, "lon": float(lon), "lat": float(lat)}

    def _where_json(self, where: Localisation) -> dict[str, Any]:
        mid = self.city.asset(f"water/pipe/{where.pipe}").geometry.interpolate(0.5, normalized=True)  # city CRS
        lon, lat = self.city.to_wgs84(mid.x, mid.y)
        return {"pipe": where.pipe, "asset": f"water/pipe/{where.pipe}", "x": float(mid.x), "y": float(mid.y),
                "lon": float(lon), "lat": float(lat), "radius_m": round(where.radius_m, 1),
                "confidence": round(where.confidence, 3), "leak_m3h": round(where.leak_m3h, 1),
                "candidates": [{"pipe": p, "chance": round(c, 3)} for p, c in where.candidates]}

    def impact(self, dry: set[str]) -> dict[str, Any]:
        """Households, population and places left without water when the junctions ``dry`` are."""
        households = population = 0.0
        places = []
        for place, serving in self.served:
            share = sum(1 for j in serving if j in dry) / len(serving)
            if share == 0:
                continue
            households += share * float(place.props.get("households") or 0)
            population += share * float(place.props.get("population") or 0)
            if place.kind in PLACE_KINDS or share >= 0.5:
                places.append({"key": place.key, "kind": place.kind, "name": place.props.get("label") or place.name,
                               "share_without_water": round(share, 2), "population": place.props.get("population"),
                               "beds": place.props.get("beds"), "pupils": place.props.get("pupils")})
        places.sort(key=lambda p: (p["kind"] not in PLACE_KINDS, -p["share_without_water"]))
        return {"households": math.floor(households + 0.5), "population": math.floor(population + 0.5),
                "hospitals": sum(1 for p in places if p["kind"] == "hospital"),
                "schools": sum(1 for p in places if p["kind"] == "school"), "places": places}
