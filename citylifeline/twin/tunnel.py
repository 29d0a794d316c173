"""The utility-tunnel twin: box models of each compartment's air and sump.

Per compartment (``citygen.structures``): the air temperature sits near the ground's (18 °C)
with a damped, six-hour-late echo of the weather and 2 °C from the cables; relative humidity
rises after rain as water seeps through the joints (12-hour memory) and falls as the air warms;
methane in the gas cabin follows dC/dt = Q/V − n·C (a leak of Q m³/h into the cabin's volume V,
ventilated n times an hour); oxygen is what the methane leaves of 20.9 %; the sump fills with
seepage (more after rain) and any inflow, its pump starting at ``PUMP_ON_M`` and stopping at
``PUMP_OFF_M``, and once the pit is full the water spreads over the compartment's floor.

Incidents: ``tunnel_gas_leak`` (``magnitude`` m³/h into the compartment's gas cabin) and
``tunnel_flooding`` (``magnitude`` m³/h of water into the compartment, e.g. a burst main).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from ..batch import F64, I64
from .base import Signals, TwinContext, moved
from .realism import noise_sigma

SOIL_C = 18.0
CABLE_HEAT_C = 2.0
O2 = 0.209
SEEPAGE_M3H = 0.04
RAIN_SEEPAGE_M3H_PER_MM_H = 0.02
PUMP_ON_M, PUMP_OFF_M, PUMP_M3H = 0.8, 0.2, 25.0
STEP_S = 60


def _ewma(x: F64, step_s: float, tau_s: float) -> F64:
    """First-order lag of a regularly sampled series."""
    a = 1 - np.exp(-step_s / tau_s)
    from scipy.signal import lfilter

    out, _ = lfilter([a], [1, a - 1], x, zi=[x[0] * (1 - a)])
    return out


class TunnelTwin:
    """Temperature, humidity, O2, methane and sump level in each compartment."""

    lifeline: ClassVar[str] = "tunnel"
    incident_types: ClassVar[tuple[str, ...]] = ("tunnel_flooding", "tunnel_gas_leak")

    def simulate(self, ctx: TwinContext) -> Signals:
        """See ``LifelineTwin.simulate``."""
        began = time.perf_counter()
        layer = ctx.bundle.city.layers["tunnel"]
        n = int(np.ceil(ctx.scenario.duration_s / STEP_S))
        grid_off: F64 = np.arange(n, dtype=np.float64) * float(STEP_S)
        grid_t = ctx.scenario.start_ms + (grid_off * 1000).astype(np.int64)
        air = ctx.air_temperature_c(grid_t)
        rain = ctx.scenario.weather.rain_mm_h(grid_off)
        wet = _ewma(rain, STEP_S, 12 * 3600)
        series: dict[str, tuple[I64, F64]] = {}
        expected: dict[str, list[str]] = {i.id: [] for i in ctx.incidents}
        for key, asset in layer.assets.items():
            sensors = [s for s in ctx.sensors if s.asset == key]
            if asset.kind != "compartment" or not sensors:
                continue
            mine = [i for i in ctx.incidents if i.place == key]
            actual = self._compartment(asset.props, grid_off, air, wet, rain, mine)
            base = self._compartment(asset.props, grid_off, air, wet, rain, []) if mine else actual
            for s in sensors:
                t = ctx.times(s)
                k = ctx.grid_index(t, STEP_S, n)
                v, b = actual[s.kind][k], base[s.kind][k]
                series[s.id] = (t, v)
                for inc in mine:
                    on = ctx.offsets_s(t) >= inc.start_s
                    if on.any() and moved(v[on], b[on], noise_sigma(s.kind, b[on])):
                        expected[inc.id].append(s.id)
        truth = [ctx.truth_for(inc, expected[inc.id]) for inc in ctx.incidents]
        return Signals.from_series(series, truth, time.perf_counter() - began)

    @staticmethod
    def _compartment(props: dict[str, Any], off: F64, air: F64, wet: F64, rain: F64,
                     incidents: list[Any]) -> dict[str, F64]:
        temp = SOIL_C + CABLE_HEAT_C + 0.3 * (_ewma(air, STEP_S, 6 * 3600) - SOIL_C)
        humidity = np.clip(0.72 + 0.012 * wet - 0.01 * (temp - 20.0), 0.3, 0.99)
        volume = float(props["gas_cabin_m3"])
        ach = float(props["vent_ach"])
        gas_in = np.zeros(len(off))
        water_in = SEEPAGE_M3H + RAIN_SEEPAGE_M3H_PER_MM_H * _ewma(rain, STEP_S, 3 * 3600)
        for inc in incidents:
            if inc.type == "tunnel_gas_leak":
                gas_in += inc.magnitude * inc.size(off)
            else:
                water_in = water_in + inc.magnitude * inc.size(off)
        methane = np.minimum(_ewma(gas_in / (ach * volume), STEP_S, 3600 / ach), 1.0)
        level = _sump(water_in, float(props["sump_area_m2"]), float(props["sump_depth_m"]),
                      float(props["floor_area_m2"]))
        return {"temperature": temp, "humidity": humidity, "methane": methane, "gas_fraction": O2 * (1 - methane),
                "level": level}


def _sump(inflow_m3h: F64, area_m2: float, depth_m: float, floor_m2: float) -> F64:
    """Water level in the sump (m above its floor) minute by minute, with its pump."""
    out = np.empty(len(inflow_m3h))
    h, pumping = 0.3, False
    for k, q in enumerate(inflow_m3h):
        pumping = (pumping or h >= PUMP_ON_M) and h > PUMP_OFF_M
        net_m3 = (q - (PUMP_M3H if pumping else 0.0)) * STEP_S / 3600
        area = area_m2 if h < depth_m else floor_m2  # a full pit spills over the floor
        h = max(h + net_m3 / area, 0.0)
        out[k] = h
    return out
