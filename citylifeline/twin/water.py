"""The water twin: EPANET (through WNTR) drives the pressure, flow and tank-level sensors.

The city's water network (``water.inp`` of the city bundle) runs from a warm-up day before the
scenario (see ``hydraulics``) at the finest sensor interval, with a real city's demand (varying
day to day and hour to hour) on a network a little unlike its records (``hydraulics.vary_demand``);
each sensor then takes its own native times.  Incidents:

- ``burst`` at a junction: an orifice to the atmosphere of ``magnitude`` m diameter, opening at
  its start (pressure-driven: ``hydraulics.add_burst``);
- ``leak`` at a junction: an incipient leak growing to ``magnitude`` L/s over ``growth``
  (``hydraulics.add_leak``);
- ``valve_closure`` on a pipe: the pipe shut from start to end (``hydraulics.close_pipe``).

The truth of each names the sensors it visibly moves: compared with the same scenario without
incidents, their median change over the incident's telling window — the first ten minutes of a
burst or closure, the last quarter of a leak — exceeds three standard deviations of the sensor's
noise (``realism.noise_sigma``).
"""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar

import numpy as np

from ..batch import F64, I64
from ..city.bundle import CityBundle
from ..errors import ConfigError
from . import hydraulics
from .base import Signals, Truth, TwinContext, moved
from .realism import noise_sigma
from .scenario import Incident

FAST_WINDOW_S = 600.0


def network_path(bundle: CityBundle) -> str:
    """The water network source of a city bundle (a path, or a WNTR bundled network name)."""
    spec = (bundle.config.get("layers") or {}).get("water") or {}
    if "epanet" not in spec:
        raise ConfigError(f"{bundle.path}: the city has no water layer from an EPANET file")
    source = str(spec["epanet"])
    local = bundle.path.parent / source
    return str(local) if local.is_file() else source


def element(asset_key: str) -> str:
    """The EPANET element name of a ``water/<kind>/<name>`` asset key."""
    return asset_key.split("/", 2)[2]


class WaterTwin:
    """Pressure, flow and level sensors of the water network, from EPANET."""

    lifeline: ClassVar[str] = "water"
    incident_types: ClassVar[tuple[str, ...]] = ("burst", "leak", "valve_closure")

    def simulate(self, ctx: TwinContext) -> Signals:
        """See ``LifelineTwin.simulate``."""
        if not ctx.sensors:
            return Signals.from_series({})
        began = time.perf_counter()
        source = network_path(ctx.bundle)
        step = ctx.model_step_s()
        n_steps = math.ceil(ctx.scenario.duration_s / step)
        pairs = [(s.kind, element(s.asset)) for s in ctx.sensors]
        wn = hydraulics.load_network(source)
        for s, (kind, el) in zip(ctx.sensors, pairs, strict=True):
            hydraulics.check_sensor(wn, s.id, kind, el)
        warm = hydraulics.warmup_s(ctx.scenario.start_ms, ctx.bundle.city.timezone,
                                   float(wn.options.time.start_clocktime))
        hydraulics.vary_demand(wn, ctx.rng, warm + ctx.scenario.duration_s)
        baseline = hydraulics.run(wn, warm, n_steps, step, pairs).values if ctx.incidents else None
        run_s = warm + ctx.scenario.duration_s
        for i, inc in enumerate(ctx.incidents):
            self._inject(wn, i, inc, warm, run_s)
        actual = hydraulics.run(wn, warm, n_steps, step, pairs).values
        t_all = ctx.scenario.start_ms + np.arange(n_steps, dtype=np.int64) * step * 1000
        series = ctx.sampled(actual, step)
        truth = [self._truth(ctx, inc, actual, baseline, t_all) for inc in ctx.incidents] if baseline is not None \
            else []
        return Signals.from_series(series, truth, time.perf_counter() - began)

    @staticmethod
    def _inject(wn: Any, i: int, inc: Incident, warm: int, run_s: float) -> None:
        el = element(inc.place)
        at = warm + inc.start_s
        end = None if inc.end_s is None else warm + inc.end_s
        if inc.type == "burst":
            hydraulics.add_burst(wn, i, el, at, inc.magnitude)
        elif inc.type == "leak":
            hydraulics.add_leak(wn, i, el, at, inc.growth_s, inc.magnitude / 1000.0, end, run_s)
        elif inc.type == "valve_closure":
            hydraulics.close_pipe(wn, i, el, at, end)
        else:
            raise ConfigError(f"incident {inc.id}: the water twin does not simulate {inc.type!r}")

    @staticmethod
    def _truth(ctx: TwinContext, inc: Incident, actual: F64, baseline: F64, t_all: I64) -> Truth:
        offsets = ctx.offsets_s(t_all)
        end = ctx.scenario.duration_s if inc.end_s is None else inc.end_s
        if inc.type == "leak":
            window = (offsets >= inc.start_s + 0.75 * (end - inc.start_s)) & (offsets < end)
        else:
            window = (offsets >= inc.start_s) & (offsets < min(inc.start_s + FAST_WINDOW_S, end))
        expected = [s.id for j, s in enumerate(ctx.sensors)
                    if moved(actual[window, j], baseline[window, j], noise_sigma(s.kind, baseline[window, j]))]
        return ctx.truth_for(inc, expected)

