"""``citylifeline bench cascade``: how long the coupling of a city, an incident's cascade and the risk
map take, on the demo city and on ``tiles`` × ``tiles`` demo cities side by side (116,000 assets at 8 ×
8; 100,000 assets on the risk map at 10 × 10).

The big city is the demo city copied side by side (``tiled_city``): every layer's assets moved by
``SPACING_M`` per copy, each sensor with them.  An incident is made on each of a sample of sensors
(its lifeline, its asset, as the correlator would open it) and its cascade analysed as the correlator
does when it opens; the times are per incident.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from ..cascade.chains import Cascader
from ..cascade.coupling import couple
from ..city.bundle import load_city
from ..city.model import City, Layer
from ..city.sensors import SensorRegistry
from ..risk.riskmap import CELL_M, RiskBase, assess
from ..warn.model import Incident
from .report import machine

SPACING_M = 3000.0
INCIDENTS = 200


def tiled_city(city: City, registry: SensorRegistry, tiles: int) -> tuple[City, SensorRegistry]:
    """``tiles`` × ``tiles`` copies of ``city`` and its sensors side by side (names suffixed ``~i-j``).
    Only what the cascade, coupling and risk need is copied: each asset's geometry and attributes (a
    line's ends renamed with it), the links, and the sensors."""
    from dataclasses import replace

    out = City(f"{city.name} × {tiles * tiles}", city.crs.to_string(), city.timezone)
    specs = []
    for i in range(tiles):
        for j in range(tiles):
            dx, dy, tag = i * SPACING_M, j * SPACING_M, f"~{i}-{j}"
            for name, layer in city.layers.items():
                copy = out.layers.get(name) or Layer(name)
                for a in layer.assets.values():
                    props = {k: (v + tag if k in ("start", "end") and isinstance(v, str) else v)
                             for k, v in a.props.items()}
                    copy.add_feature(a.kind, a.name + tag, _moved(a.geometry, dx, dy), **props)
                out.layers[name] = copy
            out.links += [(a + tag, b + tag) for a, b in city.links]
            specs += [replace(s, id=s.id + tag, asset=s.asset + tag, x=s.x + dx, y=s.y + dy) for s in registry.specs]
    return out, SensorRegistry(specs)


def _moved(g: BaseGeometry, dx: float, dy: float) -> BaseGeometry:
    return shapely.transform(g, lambda xy: xy + np.array([dx, dy]))


def _incidents(registry: SensorRegistry, n: int, seed: int = 0) -> list[Incident]:
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(registry), size=min(n, len(registry)), replace=False)
    return [Incident(k, registry.layer[i], 2, "new", "", 0, 0, 0, 0, float(registry.x[i]), float(registry.y[i]),
                     sensors=[registry.ids[i]], assets=[registry.asset[i]]) for k, i in enumerate(pick)]


def measure(city: City, registry: SensorRegistry) -> dict[str, Any]:
    """Coupling time, and per-incident cascade times (p50, p99, max) over a sample of sensors."""
    t = time.perf_counter()
    coupling = couple(city)
    coupling_s = time.perf_counter() - t
    cascader = Cascader(city, registry, coupling)
    times, chains, people = [], [], 0
    for inc in _incidents(registry, INCIDENTS):
        t = time.perf_counter()
        c = cascader.analyse(inc)
        times.append(time.perf_counter() - t)
        chains.append(len(c.chains))
        people += c.reaches_people is not None
    ms = np.array(times) * 1000
    assets = sum(len(layer.assets) for layer in city.layers.values())
    return {"assets": assets, "sensors": len(registry), "edges": len(coupling.src), "coupling_s": round(coupling_s, 2),
            "incidents": len(times), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1), "max_ms": round(float(ms.max()), 1),
            "chains_mean": round(float(np.mean(chains)), 1), "reach_people": people}


def measure_risk(city: City) -> dict[str, Any]:
    """The risk map from nothing: the coupling, the static columns, an assessment and its grid (s each)."""
    t0 = time.perf_counter()
    coupling = couple(city)
    t1 = time.perf_counter()
    base = RiskBase(city, coupling)
    t2 = time.perf_counter()
    m = assess(base)
    cells = m.grid()
    t3 = time.perf_counter()
    return {"risk_assets": len(base), "coupling_s": round(t1 - t0, 2), "base_s": round(t2 - t1, 2),
            "assess_s": round(t3 - t2, 2), "total_s": round(t3 - t0, 2), "cells": len(cells), "by_colour": m.counts()}


def run(tiles: int = 8, risk_tiles: int = 10) -> dict[str, Any]:
    demo = load_city("demo")
    big_city, big_registry = tiled_city(demo.city, demo.sensors, tiles)
    risk_city = tiled_city(demo.city, demo.sensors, risk_tiles)[0] if risk_tiles != tiles else big_city
    return {"date": date.today().isoformat(), "machine": machine(), "tiles": tiles, "risk_tiles": risk_tiles,
            "demo": measure(demo.city, demo.sensors), "big": measure(big_city, big_registry),
            "risk_demo": measure_risk(demo.city), "risk_big": measure_risk(risk_city)}


def markdown(r: dict[str, Any]) -> str:
    risk_rows = "\n".join(
        f"| {name} | {m['risk_assets']:,} | {m['coupling_s']} s | {m['base_s']} s | {m['assess_s']} s | "
        f"**{m['total_s']} s** | {m['cells']:,} | " + " / ".join(f"{m['by_colour'][c]:,}"
                                                              for c in ("red", "orange", "yellow", "blue")) + " |"
        for name, m in (("demo city", r["risk_demo"]), (f"{r['risk_tiles'] ** 2} demo cities", r["risk_big"])))
    rows = "\n".join(
        f"| {name} | {m['assets']:,} | {m['sensors']:,} | {m['edges']:,} | {m['coupling_s']} s | {m['incidents']} | "
        f"{m['p50_ms']} ms | {m['p99_ms']} ms | {m['max_ms']} ms | {m['chains_mean']} | {m['reach_people']} |"
        for name, m in (("demo city", r["demo"]), (f"{r['tiles'] ** 2} demo cities side by side", r["big"])))
    return f"""<!-- cascade -->
## Cascades: the coupling of the lifelines and what each incident threatens next

`{r['command']}` on {r['date']} ({r['machine']}).  An incident is made on each of {INCIDENTS} sensors drawn
at random (its lifeline and asset, as the correlator opens one) and its cascade analysed as the
correlator does at once; the goal is < 200 ms per incident on the demo city and < 2 s on a city of
100,000 assets.  The big city is the demo city copied {r['tiles']} × {r['tiles']} times side by side
(`bench/cascade.py: tiled_city`).

| City | Assets | Sensors | Coupling edges | Coupling built | Incidents | Cascade p50 | p99 | max | Chains | To people |
|---|---|---|---|---|---|---|---|---|---|---|
{rows}

The four-colour risk map from nothing (the goal: < 5 s for 100,000 assets).  The coupling is built
once per city (the cascades share it); the static columns again when the city changes; an assessment
(history, works, live incidents) and its grid of {CELL_M:.0f} m cells at every refresh.

| City | On the map | Coupling | Static columns | Assessment and grid | Total | Cells | Red / orange / yellow / blue |
|---|---|---|---|---|---|---|---|
{risk_rows}
"""
