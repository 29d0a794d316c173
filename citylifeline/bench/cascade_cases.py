"""Generated multi-lifeline scenarios for the cascade score (issue 29): primaries whose secondary
effects the twin makes happen (``twin.cascade``), drawn from a seed over the demo city.

Each case is ``HOURS`` long, on a random day of the year's weather, after ``HISTORY_S`` of quiet
network (the water analyst watches for bursts once it has a day of history: ``analysis.water.analyst``),
with one or two primaries starting in its first ``START_H`` hours:

- a gas leak (probability ``GAS_P``) on a gas pipe at most ``GAS_REACH_M`` from a monitored space
  (``gas_cases.leak_places``), 1–10 m³/h log-uniform, growing over 0–30 min: its gas may reach
  the spaces around it;
- a water main bursting (probability ``WATER_P``; at least one primary per case) at any junction
  of the network, an orifice of 0.04–0.15 m: its water may wash out the road, and a gas main over
  it may break (on the demo city every water main crosses or runs beside a gas main: the two are
  laid under each street).  Slow leaks are left out: the road over one gives way after days, and
  the analyst needs a week of history to find one (the shipped ``slow_leak`` scenario).

The seeds used while choosing the cascade's constants and those kept for scoring are in
docs/benchmarks.md (``bench.cascade_cv``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..city.bundle import CityBundle
from ..twin.scenario import Scenario, scenario_from_dict
from .gas_cases import START, leak_places

HOURS = 12
START_H = 4.0
GAS_P = 0.6
WATER_P = 0.7
GAS_REACH_M = 20.0
HISTORY_S = 26 * 3600.0


def water_places(bundle: CityBundle) -> list[str]:
    """Every junction of the water network with a main (``twin.cascade`` undermines its widest)."""
    from ..twin.cascade import main_of

    return [a.key for a in sorted(bundle.city.layers["water"].assets.values(), key=lambda a: a.key)
            if a.kind == "junction" and main_of(bundle, a.key) is not None]


def cascade_cases(bundle: CityBundle, seed: int, n: int) -> list[Scenario]:
    """``n`` cases of ``seed`` (module docstring)."""
    rng = np.random.default_rng([seed, 29])
    gas = leak_places(bundle, GAS_REACH_M)
    water = water_places(bundle)
    out = []
    for k in range(n):
        month, day = int(rng.integers(1, 13)), int(rng.integers(1, 28))
        mean = 17.5 - 15.5 * math.cos(2 * math.pi * (month - 1.5) / 12) + rng.normal(0, 2)
        incidents: list[dict[str, Any]] = []
        with_gas = rng.random() < GAS_P
        if with_gas:
            pipe, at, _ = gas[int(rng.integers(len(gas)))]
            incidents.append({"id": f"gas-{k}", "type": "gas_leak", "place": pipe, "at_m": round(at, 1),
                              "start": f"{int(rng.uniform(0.5, START_H) * 3600)}s",
                              "magnitude": round(math.exp(rng.uniform(0.0, math.log(10.0))), 2),
                              "growth": f"{int(rng.uniform(0, 1800))}s"})
        if not with_gas or rng.random() < WATER_P:
            incidents.append({"id": f"burst-{k}", "type": "burst", "place": water[int(rng.integers(len(water)))],
                              "start": f"{int(rng.uniform(0.5, START_H) * 3600)}s",
                              "magnitude": round(float(rng.uniform(0.04, 0.15)), 3)})
        out.append(scenario_from_dict({
            "name": f"cascade-{seed}-{k}", "city": "demo", "start": START.format(month=month, day=day),
            "seed": seed * 1000 + k, "duration": f"{HOURS}h",
            "weather": {"temperature_c": {"mean": round(float(mean), 1), "swing": float(rng.uniform(4, 10))}},
            "incidents": incidents,
            "delivery": {"late_fraction": 0.005, "late_delay": "5min", "duplicate_fraction": 0.002}}
        ).preceded_by(HISTORY_S))
    return out
