"""The gas benchmark's cases: leaks beside monitored spaces, and long leak-free summers.

- ``leak_cases``: each a scenario with one ``gas_leak`` on a gas pipe (or at a joint) at most
  ``max_distance_m`` from a monitored space, of a size drawn log-uniformly from ``sizes_m3h``,
  starting at a random hour of the first day and growing over 0–30 minutes, on a random day of
  the year's weather (mean 2–33 °C), sometimes after rain.  Each case lasts until
  ``FOLLOW_S`` after the leak begins.
- ``summer_cases``: ``days``-long summer scenarios (mean 26–34 °C, swing 6–12 °C, a storm now
  and then) with no leak at all, over a city whose every manhole and cable well has a methane
  detector (``dense``): every biogas episode of every manhole is judged.

Cases are drawn from a seed; the seeds used for building the analyst and for scoring it are in
docs/benchmarks.md.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import Any

import numpy as np

from ..city.bundle import CityBundle
from ..city.sensors import SensorRegistry
from ..twin.scenario import Scenario, scenario_from_dict

FOLLOW_S = 3 * 3600
START = "2026-{month:02d}-{day:02d}T00:00:00+08:00"


def monitored_spaces(bundle: CityBundle) -> list[tuple[str, float, float]]:
    """(asset, x, y) of every space with a methane detector of the gas lifeline."""
    out = {}
    for spec in bundle.sensors.specs:
        if spec.kind == "methane" and spec.layer == "gas" and not spec.asset.startswith("gas/"):
            out[spec.asset] = bundle.city.asset(spec.asset).xy
    return [(a, x, y) for a, (x, y) in sorted(out.items())]


def leak_places(bundle: CityBundle, max_distance_m: float) -> list[tuple[str, float, str]]:
    """Every (gas pipe, metres from its start, space) with the point within ``max_distance_m`` of the space."""
    layer = bundle.city.layers["gas"]
    out = []
    for space, x, y in monitored_spaces(bundle):
        for pipe, _ in layer.nearby(x, y, max_distance_m):
            if pipe.kind != "pipe":
                continue
            line = pipe.geometry
            for at in np.arange(0.0, line.length + 0.01, 1.0):
                p = line.interpolate(at)
                if math.hypot(p.x - x, p.y - y) <= max_distance_m:
                    out.append((pipe.key, float(at), space))
    return out


def leak_cases(bundle: CityBundle, seed: int, n: int, sizes_m3h: tuple[float, float] = (1.0, 10.0),
               max_distance_m: float = 10.0) -> list[Scenario]:
    """``n`` leak scenarios (see the module docstring)."""
    rng = np.random.default_rng([seed, 25])
    places = leak_places(bundle, max_distance_m)
    out = []
    for k in range(n):
        pipe, at, _ = places[int(rng.integers(len(places)))]
        month, day = int(rng.integers(1, 13)), int(rng.integers(1, 28))
        mean = 17.5 - 15.5 * math.cos(2 * math.pi * (month - 1.5) / 12) + rng.normal(0, 2)
        start_s = float(rng.uniform(3, 30)) * 3600
        rain: list[dict[str, Any]] = [{"start": f"{int(start_s - rng.uniform(1, 12) * 3600)}s", "duration": "2h",
                 "peak_mm_h": float(rng.uniform(10, 60))}] if rng.random() < 0.2 else []
        size = math.exp(rng.uniform(math.log(sizes_m3h[0]), math.log(sizes_m3h[1])))
        out.append(scenario_from_dict({
            "name": f"gas-leak-{seed}-{k}", "start": START.format(month=month, day=day), "seed": seed * 1000 + k,
            "duration": f"{int(start_s + FOLLOW_S)}s",
            "weather": {"temperature_c": {"mean": round(mean, 1), "swing": float(rng.uniform(4, 10))},
                        "rain": [r for r in rain if int(r["start"][:-1]) > 0]},
            "incidents": [{"id": f"leak-{k}", "type": "gas_leak", "place": pipe, "at_m": at,
                           "start": f"{int(start_s)}s", "magnitude": round(size, 3),
                           "growth": f"{int(rng.uniform(0, 1800))}s"}]}))
    return out


def summer_cases(seed: int, n: int, days: int) -> list[Scenario]:
    """``n`` leak-free summer scenarios of ``days`` days each."""
    rng = np.random.default_rng([seed, 26])
    out = []
    for k in range(n):
        storms = [{"start": f"{int(rng.uniform(0, days * 86400))}s", "duration": f"{int(rng.uniform(1, 4) * 3600)}s",
                   "peak_mm_h": float(rng.uniform(10, 80))} for _ in range(int(rng.poisson(days / 4)))]
        out.append(scenario_from_dict({
            "name": f"gas-summer-{seed}-{k}", "start": START.format(month=int(rng.integers(6, 9)), day=1),
            "seed": seed * 1000 + 500 + k, "duration": f"{days}d",
            "weather": {"temperature_c": {"mean": float(rng.uniform(26, 34)), "swing": float(rng.uniform(6, 12))},
                        "rain": storms}}))
    return out


def dense(bundle: CityBundle) -> CityBundle:
    """The city with a methane detector in every sewer manhole and cable well beside the gas mains."""
    template = next(s for s in bundle.sensors.specs if s.kind == "methane" and s.layer == "gas")
    specs = [s for s in bundle.sensors.specs if not (s.kind == "methane" and s.layer == "gas")]
    gas = bundle.city.layers["gas"]
    for layer, kind, prefix in (("drainage", "junction", "DM"), ("tunnel", "cable_well", "DC")):
        for a in bundle.city.layers[layer].assets.values():
            if a.kind == kind and gas.nearby(*a.xy, 15.0):
                specs.append(replace(template, id=f"{prefix}-{a.name}", asset=a.key, x=a.xy[0], y=a.xy[1],
                                     name=f"methane {a.key}"))
    out = copy.copy(bundle)
    out.sensors = SensorRegistry(specs)
    return out


def describe_case(s: Scenario) -> dict[str, Any]:
    """The case's leak, for the report."""
    inc = s.incidents[0] if s.incidents else None
    return {"scenario": s.name, "seed": s.seed, "mean_c": s.weather.mean_c,
            **({"pipe": inc.place, "at_m": inc.params.get("at_m"), "m3h": inc.magnitude} if inc else {})}
