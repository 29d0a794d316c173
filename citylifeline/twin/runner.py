"""Run a scenario through every lifeline's twin: readings (Parquet) and ground truth (JSON).

``simulate`` hands each lifeline twin its sensors and incidents, joins their true signals, and
turns them into delivered readings (``realism``).  ``write_run`` stores the readings in
delivery order — late and duplicated ones where the scenario says so — as ``readings.parquet``
(columns sensor, t, value, delivered) and what really happened as ``truth.json``.
"""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..city.bundle import CityBundle, load_city
from ..city.model import LIFELINES
from ..errors import ConfigError, NotFound
from . import realism
from .base import LifelineTwin, Signals, Truth, TwinContext
from .cascade import secondary
from .scenario import Scenario

TWINS = {"water": "citylifeline.twin.water:WaterTwin", "drainage": "citylifeline.twin.drainage:DrainageTwin",
         "gas": "citylifeline.twin.gas:GasTwin", "heating": "citylifeline.twin.heating:HeatingTwin",
         "bridge": "citylifeline.twin.bridge:BridgeTwin", "tunnel": "citylifeline.twin.tunnel:TunnelTwin"}
"""The twin of each lifeline (imported when needed: each pulls in its engineering library)."""


def twin_for(lifeline: str) -> LifelineTwin:
    """An instance of the lifeline's twin."""
    module, name = TWINS[lifeline].split(":")
    cls = getattr(importlib.import_module(module), name)
    twin: LifelineTwin = cls()
    return twin


@dataclass
class TwinRun:
    """A simulated scenario: delivered readings, truth, and where the time went."""

    scenario: Scenario
    readings: realism.Readings
    truth: list[Truth]
    sensors: int
    seconds: dict[str, float] = field(default_factory=dict)

    def truth_dict(self) -> dict[str, Any]:
        """What ``truth.json`` holds."""
        s = self.scenario
        return {"scenario": s.name, "description": s.description, "city": s.city, "start_ms": s.start_ms,
                "end_ms": s.end_ms, "seed": s.seed, "sensors": self.sensors, "readings": len(self.readings),
                "incidents": [t.to_dict() for t in self.truth], "faults": self.readings.faults,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


def simulate(scenario: Scenario, bundle: CityBundle | None = None,
             lifelines: tuple[str, ...] = LIFELINES) -> TwinRun:
    """Simulate ``scenario`` in its city for the given lifelines (default all)."""
    bundle = bundle or load_city(scenario.city)
    _check(scenario, bundle)
    parts: list[Signals] = []
    seconds: dict[str, float] = {}
    specs = [s for s in bundle.sensors.specs if s.layer in lifelines]
    for k, lifeline in enumerate(LIFELINES):
        sensors = [s for s in specs if s.layer == lifeline]
        incidents = [i for i in scenario.incidents if i.lifeline == lifeline]
        if lifeline not in lifelines or not (sensors or incidents):
            continue
        began = time.perf_counter()
        ctx = TwinContext(bundle, scenario, sensors, incidents, np.random.default_rng([scenario.seed, k]))
        parts.append(twin_for(lifeline).simulate(ctx))
        seconds[lifeline] = time.perf_counter() - began
    signals = Signals.concat(parts)
    signals.truth += secondary(signals.truth, bundle, scenario, np.random.default_rng([scenario.seed, len(LIFELINES)]))
    began = time.perf_counter()
    readings = realism.readings(signals, {s.id: s.kind for s in specs}, scenario)
    seconds["realism"] = time.perf_counter() - began
    return TwinRun(scenario, readings, signals.truth, len(specs), seconds)


def _check(scenario: Scenario, bundle: CityBundle) -> None:
    for inc in scenario.incidents:
        try:
            bundle.city.asset(inc.place)
        except NotFound:
            raise ConfigError(f"{scenario.source}: incident {inc.id}: place {inc.place!r} is not in the city "
                              "model; use an asset key such as water/junction/W-N0806") from None
    ids = set(bundle.sensors.ids)
    for f in scenario.faults:
        if f.sensor not in ids:
            raise ConfigError(f"{scenario.source}: fault on sensor {f.sensor!r}, which the city does not have")


def write_run(run: TwinRun, out: str | Path) -> tuple[Path, Path]:
    """Write ``readings.parquet`` and ``truth.json`` into directory ``out``."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    r = run.readings
    table = pa.table({"sensor": pa.array(r.sensor_id.astype(str)).dictionary_encode(),
                      "t": pa.array(r.t_ms, pa.timestamp("ms", tz="UTC")),
                      "value": pa.array(r.value, pa.float64()),
                      "delivered": pa.array(r.delivered_ms, pa.timestamp("ms", tz="UTC"))})
    readings_path, truth_path = d / "readings.parquet", d / "truth.json"
    pq.write_table(table, readings_path, compression="zstd")
    truth_path.write_text(json.dumps(run.truth_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    return readings_path, truth_path
