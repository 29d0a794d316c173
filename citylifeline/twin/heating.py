"""The district-heating twin: a documented simplified model of the loop's temperatures and pressures.

pandapipes can solve heat transport, but for a single loop the physics fits in a few lines and
runs in milliseconds, so it is written out here:

- Load: each substation's households need 1.4 kW × (18 °C − outdoor)/20 for space heating
  (none above 18 °C) plus 0.35 kW of hot water following the daily pattern ``DHW``.
- Plant: supply temperature from the outdoor-reset curve ``70 + 1.25 × (15 − T_out)`` (60–95 °C;
  60 °C for hot water only in the warm season); circulation set for a design ΔT of 25 K
  (15 K in summer) with a floor of ``MIN_FLOW_KGS``.
- Loop: supply flow falls from substation to substation along the loop; the supply pressure
  falls with Darcy–Weisbach friction ∝ m² from the plant's 0.80 MPa, the return rises back
  from the static pressure 0.25 MPa held by the make-up pump; heat is lost to the ground
  (U = 0.4 W/m²K) and the water takes L/v to travel, so a temperature change at the plant
  reaches the far end later.
- ``heat_leak`` of ``magnitude`` kg/s at a pipe or junction: the make-up pump replaces the lost
  water (make-up flow rises by the leak), the extra flow through the pipes upstream of the
  leak costs pressure, and around the hole the pressure sags (``LEAK_SAG_PA_PER_KGS``, fading
  over ``LEAK_SAG_M``), so the differential pressure beyond it collapses.
"""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar

import numpy as np

from ..batch import F64, I64
from ..errors import ConfigError
from .base import Signals, TwinContext, moved
from .realism import noise_sigma

CP = 4186.0
RHO = 975.0
DIAMETER_M = 0.3
FRICTION = 0.02
SUPPLY_PA, STATIC_PA = 8.0e5, 2.5e5
U_W_M2K = 0.4
SOIL_C = 15.0
SPACE_KW, DHW_KW = 1.4, 0.35
DHW = (0.3, 0.2, 0.2, 0.2, 0.3, 0.8, 1.8, 1.9, 1.2, 0.8, 0.7, 0.9,
       1.0, 0.8, 0.6, 0.6, 0.8, 1.2, 1.9, 2.2, 1.9, 1.4, 0.9, 0.5)
MIN_FLOW_KGS = 8.0
NORMAL_MAKEUP_KGS = 0.03  # evaporation and small losses of a tight network
LEAK_SAG_PA_PER_KGS = 8000.0
LEAK_SAG_M = 400.0
STEP_S = 60
ROLES = {"HTS": "supply temperature", "HTR": "return temperature", "HPS": "supply pressure",
         "HPR": "return pressure", "HF": "circulation flow", "HM": "make-up flow"}
"""What a heating sensor measures, from its id's prefix (HTS-01, HPR-01, HM-01 …)."""


class HeatingTwin:
    """Supply/return temperatures, pressures and flows of the heating loop."""

    lifeline: ClassVar[str] = "heating"
    incident_types: ClassVar[tuple[str, ...]] = ("heat_leak",)

    def simulate(self, ctx: TwinContext) -> Signals:
        """See ``LifelineTwin.simulate``."""
        began = time.perf_counter()
        layer = ctx.bundle.city.layers["heating"]
        stations = sorted((float(a.props["loop_m"]), float(a.props["households"])) for a in layer.assets.values()
                           if a.kind == "substation")
        loop_len = max(float(a.props.get("loop_m", 0)) for a in layer.assets.values()) + 150.0
        n = math.ceil(ctx.scenario.duration_s / STEP_S)
        off: F64 = np.arange(n, dtype=np.float64) * float(STEP_S)
        t_grid = ctx.scenario.start_ms + (off * 1000).astype(np.int64)
        actual = self._run(ctx, layer, stations, loop_len, off, t_grid, ctx.incidents)
        base = self._run(ctx, layer, stations, loop_len, off, t_grid, []) if ctx.incidents else actual
        series: dict[str, tuple[I64, F64]] = {}
        expected: dict[str, list[str]] = {i.id: [] for i in ctx.incidents}
        for s in ctx.sensors:
            t = ctx.times(s)
            k = ctx.grid_index(t, STEP_S, n)
            v, b = actual[s.id][k], base[s.id][k]
            series[s.id] = (t, v)
            for inc in ctx.incidents:
                on = ctx.offsets_s(t) >= inc.start_s + inc.growth_s
                if on.any() and moved(v[on], b[on], noise_sigma(s.kind, b[on])):
                    expected[inc.id].append(s.id)
        truth = [ctx.truth_for(inc, expected[inc.id]) for inc in ctx.incidents]
        return Signals.from_series(series, truth, time.perf_counter() - began)

    def _run(self, ctx: TwinContext, layer: Any, stations: list[tuple[float, float]], loop_len: float, off: F64,
             t_grid: I64, leaks: list[Any]) -> dict[str, F64]:
        t_out = ctx.air_temperature_c(t_grid)
        heating_on = ctx.scenario.weather.mean_c < 15.0
        hour = ((ctx.start_hour + off / 3600) % 24).astype(int)
        per_hh_kw = (SPACE_KW * np.clip((18.0 - t_out) / 20.0, 0, None) * heating_on
                     + DHW_KW * np.asarray(DHW)[hour] / np.mean(DHW))
        households = np.array([h for _, h in stations])
        at_m = np.array([s for s, _ in stations])
        supply_c = np.clip(70 + 1.25 * (15 - t_out), 60, 95) if heating_on else np.full(len(off), 60.0)
        dt_design = 25.0 if heating_on else 15.0
        load_w = per_hh_kw[:, None] * households[None, :] * 1000  # (time, station)
        m_station = load_w / (CP * dt_design)
        m_total = np.maximum(m_station.sum(axis=1), MIN_FLOW_KGS)
        leak_kgs = np.zeros(len(off))
        leak_at = []
        for inc in leaks:
            leak_kgs = leak_kgs + inc.magnitude * inc.size(off)
            leak_at.append((float(layer.assets[inc.place].props.get("loop_m", _pipe_loop_m(layer, inc.place))), inc))
        area = math.pi * DIAMETER_M**2 / 4
        k_fric = FRICTION / DIAMETER_M / (2 * RHO * area**2)  # Pa per metre per (kg/s)²
        return_c = supply_c - load_w.sum(axis=1) / (CP * m_total)
        out: dict[str, F64] = {}
        for s in ctx.sensors:
            role = s.id.split("-")[0]
            if role not in ROLES:
                raise ConfigError(f"heating sensor {s.id}: its id must start with one of {', '.join(ROLES)}")
            a = layer.assets[s.asset]
            pos = float(a.props.get("loop_m", 0.0)) if a.kind != "plant" else 0.0
            if role in ("HF", "HM"):
                out[s.id] = ((m_total + leak_kgs) if role == "HF" else (NORMAL_MAKEUP_KGS + leak_kgs)) / RHO
            elif role == "HTR":
                out[s.id] = _lag(return_c, loop_len / (m_total.mean() / (RHO * area)))
            elif role == "HTS":
                upstream = at_m < pos
                m_here = m_total - m_station[:, upstream].sum(axis=1)
                travel_s = pos / max(float(m_here.mean()) / (RHO * area), 0.05)
                loss = np.exp(-U_W_M2K * math.pi * DIAMETER_M * pos / (np.maximum(m_here, 1.0) * CP))
                out[s.id] = SOIL_C + (_lag(supply_c, travel_s) - SOIL_C) * loss
            else:
                sag = sum((LEAK_SAG_PA_PER_KGS * inc.magnitude * inc.size(off) * math.exp(-abs(pos - p) / LEAK_SAG_M)
                           for p, inc in leak_at), np.zeros(len(off)))
                if role == "HPR":
                    out[s.id] = STATIC_PA + k_fric * m_total**2 * (loop_len - pos) - 0.3 * sag
                else:  # the supply line carries the whole flow, leak included, up to the sensor (an upper bound)
                    out[s.id] = SUPPLY_PA - k_fric * (m_total + leak_kgs) ** 2 * pos - sag
        return out


def _lag(x: F64, delay_s: float) -> F64:
    """``x`` delayed by ``delay_s`` (whole steps; the start holds the first value)."""
    k = round(delay_s / STEP_S)
    return x if k <= 0 else np.concatenate([np.full(min(k, len(x)), x[0]), x[: max(len(x) - k, 0)]])


def _pipe_loop_m(layer: Any, key: str) -> float:
    """Position along the loop of a pipe (its start junction's)."""
    a = layer.assets[key]
    return float(layer.assets[a.props["start"]].props.get("loop_m", 0.0)) if "start" in a.props else 0.0
