"""Scenarios: what happens in the demo city over a period — weather, incidents, sensor faults.

A scenario is a YAML file (``citylifeline/data/scenarios/*.yaml``)::

    name: burst
    description: A water main bursts on Changjiang Avenue at 08:30.
    city: demo                        # a city bundle, as for `citylifeline serve --city`
    start: 2026-06-03T00:00:00+08:00  # optional; `twin feed` moves it so the scenario ends now
    duration: 1d                      # 90s, 30min, 6h, 2d, 1d6h … or a number of seconds
    seed: 1
    weather:
      temperature_c: {mean: 26, swing: 8}          # daily cycle, coolest at 05:00
      rain:
        - {start: 14h, duration: 2h, peak_mm_h: 80}
    incidents:
      - {type: burst, place: water/junction/J0806, start: 8h30min, magnitude: 0.12}
      - {type: leak, place: water/junction/J1003, start: 2h, magnitude: 2.0, growth: 12h}
    faults:
      - {sensor: P-03, type: stuck, start: 10h}
    delivery: {late_fraction: 0.01, late_delay: 10min, duplicate_fraction: 0.005}

Times inside a scenario (``start`` of an incident, ``growth``, ``end``) are offsets from the
scenario start.  ``magnitude`` is in the unit the incident type documents (``INCIDENT_TYPES``);
``growth`` is how long the incident takes to reach it (0: at once); ``end`` is when it stops
(default: never, within the scenario).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..batch import F64
from ..errors import ConfigError

INCIDENT_TYPES: dict[str, tuple[str, str]] = {
    "burst": ("water", "pipe burst at a junction; magnitude: equivalent orifice diameter, m"),
    "leak": ("water", "slow incipient leak at a junction; magnitude: leak flow at full size, L/s"),
    "valve_closure": ("water", "a pipe shut (valve closed); magnitude ignored"),
    "gas_leak": ("gas", "gas escaping from a main into the soil; magnitude: m³/h at full size"),
    "heat_leak": ("heating", "district-heating pipe leak; magnitude: lost water, kg/s"),
    "bridge_overload": ("bridge", "an overweight vehicle crossing; magnitude: gross mass, t"),
    "bridge_damage": ("bridge", "loss of bending stiffness; magnitude: fraction lost (0.1 = 10 %)"),
    "tunnel_flooding": ("tunnel", "water entering a tunnel compartment; magnitude: inflow, m³/h"),
    "tunnel_gas_leak": ("tunnel", "gas leaking inside a tunnel compartment; magnitude: m³/h"),
}
"""Incident types, the lifeline that simulates each, and what ``magnitude`` means.  Storms are
weather, not incidents: the drainage model decides where the water floods."""

FAULT_TYPES = ("stuck", "drift", "dropout", "spike", "clock_skew", "noise")
"""Sensor faults: ``stuck`` repeats the last value; ``drift`` adds ``magnitude`` × the sensor's
normal range per day; ``dropout`` sends nothing; ``spike`` adds isolated spikes of ``magnitude``
× the normal range about once an hour; ``clock_skew`` shifts time stamps by ``magnitude``
seconds; ``noise`` multiplies the noise by ``magnitude``."""

INCIDENT_KEYS = ("id", "type", "place", "start", "magnitude", "growth", "end")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|min|s)")
_UNIT_S = {"d": 86400.0, "h": 3600.0, "min": 60.0, "s": 1.0}


def parse_duration(value: object, where: str) -> float:
    """Seconds of '1d6h', '30min', '90s' or a plain number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d*)?", text):  # seconds, as written on a command line
        return float(text)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ConfigError(f"{where}: {value!r} is not a duration; write e.g. 90s, 30min, 6h, 1d6h or seconds")
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


@dataclass(frozen=True)
class RainEvent:
    """A storm: a triangular hyetograph peaking at ``peak_mm_h`` a third of the way through."""

    start_s: float
    duration_s: float
    peak_mm_h: float


@dataclass(frozen=True)
class Weather:
    """Air temperature (daily cycle) and rain over the scenario."""

    mean_c: float = 20.0
    swing_c: float = 8.0
    rain: tuple[RainEvent, ...] = ()

    def temperature_c(self, t_s: F64, start_hour: float) -> F64:
        """Air temperature at scenario offsets ``t_s``; coolest at 05:00, warmest at 17:00."""
        hour = (start_hour + np.asarray(t_s) / 3600.0) % 24
        return self.mean_c - self.swing_c / 2 * np.cos(2 * np.pi * (hour - 5) / 24)

    def rain_mm_h(self, t_s: F64) -> F64:
        """Rain intensity (mm/h) at scenario offsets ``t_s``."""
        t = np.asarray(t_s, dtype=float)
        out = np.zeros_like(t)
        for ev in self.rain:
            u = (t - ev.start_s) / ev.duration_s
            rise = np.clip(u / (1 / 3), 0, 1)
            fall = np.clip((1 - u) / (2 / 3), 0, 1)
            out += ev.peak_mm_h * np.where(u < 1 / 3, rise, fall) * ((u >= 0) & (u <= 1))
        return out


@dataclass(frozen=True)
class Incident:
    """Something that happens to a lifeline asset (see ``INCIDENT_TYPES``)."""

    id: str
    type: str
    place: str
    start_s: float
    magnitude: float
    growth_s: float = 0.0
    end_s: float | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def lifeline(self) -> str:
        """The lifeline whose twin simulates it."""
        return INCIDENT_TYPES[self.type][0]

    def size(self, t_s: F64) -> F64:
        """Fraction of full magnitude at scenario offsets ``t_s`` (0 before, ramping over growth)."""
        t = np.asarray(t_s, dtype=float)
        ramp = np.ones_like(t) if self.growth_s <= 0 else np.clip((t - self.start_s) / self.growth_s, 0, 1)
        on = (t >= self.start_s) & (t < (math.inf if self.end_s is None else self.end_s))
        return np.where(on, ramp, 0.0)


@dataclass(frozen=True)
class SensorFault:
    """A device fault injected into one sensor's readings (see ``FAULT_TYPES``)."""

    sensor: str
    type: str
    start_s: float
    end_s: float | None = None
    magnitude: float = 0.0


@dataclass(frozen=True)
class Delivery:
    """How readings reach the platform: some late, some twice."""

    late_fraction: float = 0.0
    late_delay_s: float = 600.0
    duplicate_fraction: float = 0.0


@dataclass(frozen=True)
class Scenario:
    """A whole scenario, as loaded from YAML."""

    name: str
    city: str
    start_ms: int
    duration_s: float
    seed: int = 0
    description: str = ""
    weather: Weather = Weather()
    incidents: tuple[Incident, ...] = ()
    faults: tuple[SensorFault, ...] = ()
    delivery: Delivery = Delivery()
    source: str = ""

    @property
    def end_ms(self) -> int:
        """Scenario end, epoch ms."""
        return self.start_ms + round(self.duration_s * 1000)

    def shifted(self, start_ms: int) -> Scenario:
        """The same scenario starting at ``start_ms`` (the live feed ends it at now)."""
        from dataclasses import replace

        return replace(self, start_ms=start_ms)

    def preceded_by(self, seconds: float) -> Scenario:
        """The same happenings at the same times, in a run that begins ``seconds`` earlier: quiet
        days before them, in one run of the twin (a utility's history, with no seam at its end)."""
        from dataclasses import replace

        def later(x: Any) -> Any:
            return replace(x, start_s=x.start_s + seconds, end_s=None if x.end_s is None else x.end_s + seconds)

        return replace(self, start_ms=self.start_ms - round(seconds * 1000), duration_s=self.duration_s + seconds,
                       incidents=tuple(later(i) for i in self.incidents), faults=tuple(later(f) for f in self.faults),
                       weather=replace(self.weather, rain=tuple(replace(r, start_s=r.start_s + seconds)
                                                                for r in self.weather.rain)))


def scenarios_dir() -> Path:
    """Where the shipped scenarios live."""
    return Path(str(resources.files("citylifeline") / "data" / "scenarios"))


def load_scenario(source: str | Path) -> Scenario:
    """A scenario from a YAML file, or by the name of a shipped one ('burst', 'city_day' …)."""
    path = Path(source)
    if not path.is_file():
        shipped = scenarios_dir() / f"{source}.yaml"
        if not shipped.is_file():
            names = sorted(p.stem for p in scenarios_dir().glob("*.yaml"))
            raise ConfigError(f"scenario {str(source)!r} not found; give a YAML file or one of {', '.join(names)}")
        path = shipped
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    return scenario_from_dict(doc, str(path))


def scenario_from_dict(doc: dict[str, Any], where: str = "scenario") -> Scenario:
    """A ``Scenario`` from its parsed YAML (errors name the file and the field)."""
    unknown = set(doc) - {"name", "description", "city", "start", "duration", "seed", "weather", "incidents",
                          "faults", "delivery"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    if "duration" not in doc:
        raise ConfigError(f"{where}: 'duration' is missing; e.g. duration: 1d")
    start = doc.get("start", "2026-06-03T00:00:00+08:00")
    try:
        start_dt = start if isinstance(start, datetime) else datetime.fromisoformat(str(start))
    except ValueError:
        raise ConfigError(f"{where}: start={start!r} is not ISO-8601; e.g. 2026-06-03T00:00:00+08:00") from None
    if start_dt.tzinfo is None:
        raise ConfigError(f"{where}: start={start!r} has no UTC offset; add one, e.g. +08:00")
    w = doc.get("weather") or {}
    temp = w.get("temperature_c") or {}
    rain = tuple(RainEvent(parse_duration(r["start"], f"{where}: weather.rain[{i}].start"),
                           parse_duration(r["duration"], f"{where}: weather.rain[{i}].duration"),
                           float(r["peak_mm_h"])) for i, r in enumerate(w.get("rain") or []))
    incidents = []
    for i, inc in enumerate(doc.get("incidents") or []):
        at = f"{where}: incidents[{i}]"
        kind = inc.get("type")
        if kind not in INCIDENT_TYPES:
            raise ConfigError(f"{at}: type {kind!r} is unknown; use one of {', '.join(INCIDENT_TYPES)}")
        if "place" not in inc or "start" not in inc:
            raise ConfigError(f"{at}: needs 'place' (an asset key such as water/junction/J0806) and 'start'")
        extra = {k: v for k, v in inc.items() if k not in INCIDENT_KEYS}
        incidents.append(Incident(
            id=str(inc.get("id") or f"{kind}-{i + 1}"), type=kind, place=str(inc["place"]),
            start_s=parse_duration(inc["start"], f"{at}.start"), magnitude=float(inc.get("magnitude", 0.0)),
            growth_s=parse_duration(inc.get("growth", 0), f"{at}.growth"),
            end_s=parse_duration(inc["end"], f"{at}.end") if inc.get("end") is not None else None, params=extra))
    faults = []
    for i, f in enumerate(doc.get("faults") or []):
        at = f"{where}: faults[{i}]"
        if f.get("type") not in FAULT_TYPES:
            raise ConfigError(f"{at}: type {f.get('type')!r} is unknown; use one of {', '.join(FAULT_TYPES)}")
        faults.append(SensorFault(str(f["sensor"]), f["type"], parse_duration(f["start"], f"{at}.start"),
                                  parse_duration(f["end"], f"{at}.end") if f.get("end") is not None else None,
                                  float(f.get("magnitude", 0.0))))
    d = doc.get("delivery") or {}
    return Scenario(
        name=str(doc.get("name") or Path(where).stem), city=str(doc.get("city", "demo")),
        start_ms=round(start_dt.timestamp() * 1000), duration_s=parse_duration(doc["duration"], f"{where}: duration"),
        seed=int(doc.get("seed", 0)), description=str(doc.get("description", "")),
        weather=Weather(float(temp.get("mean", 20.0)), float(temp.get("swing", 8.0)), rain),
        incidents=tuple(incidents), faults=tuple(faults),
        delivery=Delivery(float(d.get("late_fraction", 0.0)),
                          parse_duration(d.get("late_delay", 600), f"{where}: delivery.late_delay"),
                          float(d.get("duplicate_fraction", 0.0))),
        source=where)
