"""The contract every lifeline's twin fulfils: a scenario in, true sensor values and truth out.

A ``LifelineTwin`` simulates one lifeline (water, drainage, gas, heating, bridges, tunnel) with
its engineering model and returns ``Signals``: the *true* value of each of its sensors at the
sensor's native sampling times (``TwinContext.times``), in the canonical SI unit, plus a
``Truth`` record for every incident it simulated (and for what its physics produced on its own,
such as the places a storm floods) naming the sensors that should see it.  Measurement noise,
rounding, device faults and late or duplicated delivery are added afterwards, the same way for
every lifeline (``citylifeline.twin.realism``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from ..batch import F64, I64
from ..city.bundle import CityBundle
from ..city.sensors import SensorSpec
from ..errors import ConfigError
from .scenario import Incident, Scenario


@dataclass
class Truth:
    """What really happened: an incident (injected or produced by the physics) and who should see it."""

    id: str
    type: str
    lifeline: str
    place: str  # asset key
    x: float
    y: float
    start_ms: int
    end_ms: int | None
    expected_sensors: list[str]
    magnitude: float = 0.0
    description: str = ""
    parent: str = ""  # a secondary effect's cause: the id of the truth it follows from (``twin.cascade``)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class Signals:
    """True values at native sampling times, as aligned columns, plus the truth."""

    sensor_id: npt.NDArray[np.object_]
    t_ms: I64
    value: F64
    truth: list[Truth] = field(default_factory=list)
    sim_s: float = 0.0  # wall seconds spent in the engineering model

    @classmethod
    def from_series(cls, series: dict[str, tuple[I64, F64]], truth: list[Truth] | None = None,
                    sim_s: float = 0.0) -> Signals:
        """Signals from {sensor id: (t_ms, true value)}."""
        if not series:
            return cls(np.array([], dtype=object), np.array([], np.int64), np.array([]), truth or [], sim_s)
        ids = np.concatenate([np.full(len(t), sid, dtype=object) for sid, (t, _) in series.items()])
        t = np.concatenate([np.asarray(t, np.int64) for t, _ in series.values()])
        v = np.concatenate([np.asarray(v, np.float64) for _, v in series.values()])
        return cls(ids, t, v, truth or [], sim_s)

    @classmethod
    def concat(cls, parts: list[Signals]) -> Signals:
        """All parts together."""
        return cls(np.concatenate([p.sensor_id for p in parts]) if parts else np.array([], dtype=object),
                   np.concatenate([p.t_ms for p in parts]) if parts else np.array([], np.int64),
                   np.concatenate([p.value for p in parts]) if parts else np.array([]),
                   [t for p in parts for t in p.truth], sum(p.sim_s for p in parts))


@dataclass
class TwinContext:
    """Everything a lifeline twin needs: the city, the scenario, its own sensors and incidents."""

    bundle: CityBundle
    scenario: Scenario
    sensors: list[SensorSpec]
    incidents: list[Incident]
    rng: np.random.Generator

    def times(self, spec: SensorSpec) -> I64:
        """A sensor's native sampling times over the scenario (epoch ms, every ``interval_s``)."""
        step_ms = round(spec.interval_s * 1000)
        n = math.ceil(self.scenario.duration_s * 1000 / step_ms)
        return self.scenario.start_ms + np.arange(n, dtype=np.int64) * step_ms

    def model_step_s(self) -> int:
        """The step of a model that reports every sensor: the shortest sensor interval, which
        every other interval must be a whole multiple of (so each sensor samples the model)."""
        step = int(min(s.interval_s for s in self.sensors))
        odd = [s.id for s in self.sensors if round(s.interval_s) % step]
        if odd:
            raise ConfigError(f"sensors {', '.join(odd)}: their intervals must be whole multiples of the "
                              f"shortest one ({step} s) for the {self.sensors[0].layer} twin")
        return step

    def sampled(self, values: F64, step_s: int) -> dict[str, tuple[I64, F64]]:
        """Each sensor's readings from a (time × sensor) matrix reported every ``step_s`` from
        the scenario start, taken at the sensor's own interval."""
        t_all = self.scenario.start_ms + np.arange(len(values), dtype=np.int64) * step_s * 1000
        return {s.id: (t_all[:: round(s.interval_s) // step_s], values[:: round(s.interval_s) // step_s, j])
                for j, s in enumerate(self.sensors)}

    def grid_index(self, t_ms: I64, step_s: float, n: int) -> npt.NDArray[np.int64]:
        """Where epoch-ms times fall on a regular grid of ``n`` steps from the scenario start."""
        return np.clip((np.asarray(t_ms) - self.scenario.start_ms) // round(step_s * 1000), 0, n - 1)

    def offsets_s(self, t_ms: I64) -> F64:
        """Seconds since the scenario start of epoch-ms times."""
        return (np.asarray(t_ms) - self.scenario.start_ms) / 1000.0

    @property
    def start_hour(self) -> float:
        """Local clock hour (fractional) at the scenario start, in the city's time zone."""
        dt = datetime.fromtimestamp(self.scenario.start_ms / 1000, ZoneInfo(self.bundle.city.timezone))
        return dt.hour + dt.minute / 60 + dt.second / 3600

    def air_temperature_c(self, t_ms: I64) -> F64:
        """Air temperature at epoch-ms times."""
        return self.scenario.weather.temperature_c(self.offsets_s(t_ms), self.start_hour)

    def truth_for(self, inc: Incident, expected: list[str], description: str = "") -> Truth:
        """The truth record of an injected incident, placed at its asset."""
        x, y = self.bundle.city.asset(inc.place).xy
        end = None if inc.end_s is None else self.scenario.start_ms + round(inc.end_s * 1000)
        start = self.scenario.start_ms + round(inc.start_s * 1000)
        return Truth(inc.id, inc.type, inc.lifeline, inc.place, x, y, start, end, expected, inc.magnitude, description)


class LifelineTwin(Protocol):
    """One lifeline's simulator (see the module docstring)."""

    lifeline: ClassVar[str]
    incident_types: ClassVar[tuple[str, ...]]

    def simulate(self, ctx: TwinContext) -> Signals:
        """True values of ``ctx.sensors`` at their native times, and the truth."""
        ...


def moved(actual: F64, baseline: F64, sigma: float | F64, k: float = 3.0) -> bool:
    """Whether an incident visibly moved a sensor: its median change over the compared window
    exceeds ``k`` noise standard deviations (the rule every twin uses for expected sensors)."""
    if len(actual) == 0:
        return False
    return bool(np.median(np.abs(np.asarray(actual) - np.asarray(baseline)) / sigma) > k)
