"""The gas twin: pandapipes drives network pressures and the regulator's flow; a soil-migration
model drives methane in the underground spaces next to the mains.

Network.  The city's gas layer becomes a pandapipes net (methane; the regulator an external
grid at its outlet pressure; each junction a sink with its ``demand_m3h``), solved every
``SOLVE_STEP_S`` with the load following the cooking day (``DAILY``) and the cold (+3 % per
°C below 15 °C); readings in between are interpolated.  A ``gas_leak`` adds a sink of its
magnitude (standard m³/h, growing over ``growth``) at its junction or pipe.

Methane (volume fraction; 1 %LEL = 0.0005) in a sewer manhole or cable well at distance d from
a leak.  Gas from a medium-pressure main travels through the trench backfill at about
``MIGRATION_M_H`` (preferential paths make it faster than through undisturbed soil) and thins
with distance as exp(−d/``DECAY_M``); the space fills towards that level with a time constant
(``FILL_S``: a vented manhole lid breathes, a sealed cable well holds gas) and up to
``GAIN_PER_M3H`` × leak rate at the pipe: a 5 m³/h leak 3 m away gives ~50 %LEL in a cable
well within a few hours and nothing 150 m away.  Sewer biogas, which is not a leak: every
manhole holds a little methane from sewage (``BIOGAS_LEL`` %LEL, different in each manhole),
steady, more when warm (+6 % per °C, compounding) and with the sewage flow; cable wells hold none.
"""

from __future__ import annotations

import math
import time
import warnings
import weakref
import zlib
from typing import Any, ClassVar

import numpy as np

from ..batch import F64, I64
from ..city.model import Layer
from ..units import METHANE_LEL_FRACTION
from .base import Signals, TwinContext, moved
from .realism import noise_sigma
from .scenario import Incident

SOLVE_STEP_S = 900
DAILY = (0.35, 0.3, 0.3, 0.3, 0.4, 0.9, 1.8, 1.7, 1.0, 0.8, 1.2, 1.9,
         1.6, 0.8, 0.6, 0.6, 0.9, 1.9, 2.1, 1.4, 1.0, 0.8, 0.6, 0.45)
DENSITY_KG_M3 = 0.72  # methane at standard conditions
MIGRATION_M_H = 10.0
DECAY_M = 12.0
GAIN_PER_M3H = 0.0063  # volume fraction per m³/h of leak at the pipe, before distance and venting
FILL_S = {"cable_well": 7200.0, "junction": 1800.0}
VENTING = {"cable_well": 1.0, "junction": 0.6}
MAX_FRACTION = 0.15
BIOGAS_LEL = 2.0
BIOGAS_PER_C = 0.06  # methanogenesis: +6 % per °C, compounding (about ×1.8 per 10 °C)
LEL = METHANE_LEL_FRACTION / 100  # 1 %LEL as a volume fraction
SEEN_LEL = 5.0  # a detector 'sees' a leak that raises it by this much


def _load_factor(hours: F64, temp_c: F64) -> F64:
    daily = np.asarray(DAILY)[(np.floor(hours) % 24).astype(int)] / np.mean(DAILY)
    return daily * (1 + 0.03 * np.maximum(0.0, 15.0 - temp_c))


class GasTwin:
    """Gas pressures and flow from pandapipes; methane from leaks and biogas."""

    lifeline: ClassVar[str] = "gas"
    incident_types: ClassVar[tuple[str, ...]] = ("gas_leak",)

    def simulate(self, ctx: TwinContext) -> Signals:
        """See ``LifelineTwin.simulate``."""
        began = time.perf_counter()
        layer = ctx.bundle.city.layers["gas"]
        hydraulic = [s for s in ctx.sensors if s.kind in ("pressure", "flow")]
        methane = [s for s in ctx.sensors if s.kind == "methane"]
        series: dict[str, tuple[I64, F64]] = {}
        truth_moved: dict[str, set[str]] = {i.id: set() for i in ctx.incidents}
        if hydraulic:
            grid_t = np.arange(0.0, ctx.scenario.duration_s + SOLVE_STEP_S, SOLVE_STEP_S)
            with_leaks = self._solve(ctx, layer, hydraulic, grid_t, ctx.incidents)
            without = self._solve(ctx, layer, hydraulic, grid_t, []) if ctx.incidents else with_leaks
            for j, s in enumerate(hydraulic):
                t = ctx.times(s)
                off = ctx.offsets_s(t)
                v = np.interp(off, grid_t, with_leaks[:, j])
                series[s.id] = (t, v)
                base = np.interp(off, grid_t, without[:, j])
                for inc in ctx.incidents:
                    on = off >= inc.start_s
                    if moved(v[on], base[on], noise_sigma(s.kind, base[on])):
                        truth_moved[inc.id].add(s.id)
        for s in methane:
            t = ctx.times(s)
            kind = s.asset.split("/")[1]
            x, y = ctx.bundle.city.asset(s.asset).xy
            bio = self._biogas(ctx, s.asset, kind, t)
            leak = np.zeros(len(t))
            for inc in ctx.incidents:
                rise = self._leak_methane(ctx, inc, kind, math.dist((x, y), _place_xy(ctx, inc)), t)
                if rise.max() > SEEN_LEL * LEL:
                    truth_moved[inc.id].add(s.id)
                leak += rise
            series[s.id] = (t, np.minimum(bio + leak, MAX_FRACTION))
        truth = [ctx.truth_for(inc, sorted(truth_moved[inc.id]), f"{inc.magnitude:g} m³/h gas leak")
                 for inc in ctx.incidents]
        return Signals.from_series(series, truth, time.perf_counter() - began)

    @staticmethod
    def _solve(ctx: TwinContext, layer: Layer, sensors: list[Any], grid_t: F64, leaks: list[Incident]) -> F64:
        """Sensor values (canonical) at each grid time."""
        net, idx, sinks, base = _network(layer)
        import pandapipes as pp

        hours = ctx.start_hour + grid_t / 3600
        factor = _load_factor(hours, ctx.scenario.weather.temperature_c(grid_t, ctx.start_hour))
        leak_junctions = [idx[_leak_junction(layer, inc.place)] for inc in leaks]
        leak_sinks = [pp.create_sink(net, junction=j, mdot_kg_per_s=0.0) for j in leak_junctions]
        out = np.empty((len(grid_t), len(sensors)))
        for k, t_s in enumerate(grid_t):
            net.sink.loc[sinks, "mdot_kg_per_s"] = base * factor[k]
            for sink, inc in zip(leak_sinks, leaks, strict=True):
                net.sink.at[sink, "mdot_kg_per_s"] = float(inc.size(np.array([t_s]))[0]) * inc.magnitude \
                    * DENSITY_KG_M3 / 3600
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pp.pipeflow(net, use_numba=False)
            for j, s in enumerate(sensors):
                name = s.asset.split("/", 2)[2]
                if s.kind == "pressure":
                    out[k, j] = float(net.res_junction.at[idx[name], "p_bar"]) * 1e5
                else:
                    out[k, j] = float(net.res_pipe.at[int(net.pipe.index[net.pipe.name == name][0]),
                                                     "mdot_from_kg_per_s"]) / DENSITY_KG_M3
        return out

    @staticmethod
    def _leak_methane(ctx: TwinContext, inc: Incident, kind: str, distance_m: float, t: I64) -> F64:
        """Methane a leak adds in a space ``distance_m`` away (first-order filling, vectorised)."""
        off = ctx.offsets_s(t)
        arrival = inc.start_s + distance_m / MIGRATION_M_H * 3600
        source = GAIN_PER_M3H * inc.magnitude * math.exp(-distance_m / DECAY_M) * VENTING.get(kind, 1.0)
        if source < 1e-6:
            return np.zeros(len(t))
        size = inc.size(off - (arrival - inc.start_s))
        driving = source * size
        dt = np.diff(off, prepend=off[0])
        alpha = 1 - np.exp(-dt / FILL_S.get(kind, 3600.0))
        out = np.empty(len(t))
        c = 0.0
        for k in range(len(t)):  # a short recursion per sensor: the spaces are few
            c += alpha[k] * (driving[k] - c)
            out[k] = c
        return out

    @staticmethod
    def _biogas(ctx: TwinContext, asset: str, kind: str, t: I64) -> F64:
        if kind != "junction":
            return np.zeros(len(t))
        own = 0.5 + (zlib.crc32(asset.encode()) % 1000) / 1000  # each manhole its own sewage
        temp = ctx.air_temperature_c(t)
        hours = ctx.start_hour + ctx.offsets_s(t) / 3600
        flow = 0.7 + 0.3 * np.asarray(DAILY)[(np.floor(hours) % 24).astype(int)] / np.mean(DAILY)
        return BIOGAS_LEL * LEL * own * np.exp(BIOGAS_PER_C * (temp - 20)) * flow


def _place_xy(ctx: TwinContext, inc: Incident) -> tuple[float, float]:
    return ctx.bundle.city.asset(inc.place).xy


def _leak_junction(layer: Layer, place: str) -> str:
    """The junction a leak at a junction or pipe drains from."""
    a = layer.assets[place]
    name = a.props.get("start", a.key) if a.kind == "pipe" else a.key
    return str(layer.assets[name].name)


_NETS: weakref.WeakKeyDictionary[Layer, Any] = weakref.WeakKeyDictionary()  # one build per loaded layer


def _network(layer: Layer) -> tuple[Any, dict[str, int], list[int], F64]:
    """A fresh pandapipes net of the layer: (net, junction index by name, demand sinks, base kg/s)."""
    import copy

    import pandapipes as pp

    cached = _NETS.get(layer)
    if cached is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = pp.create_empty_network(fluid="methane")
            idx = {}
            for a in layer.assets.values():
                if a.kind in ("junction", "regulator"):
                    idx[a.name] = pp.create_junction(net, pn_bar=3.0, tfluid_k=288.15,
                                                     height_m=float(a.props.get("elevation_m", 10.0)), name=a.name)
                    if a.kind == "regulator":
                        pp.create_ext_grid(net, junction=idx[a.name], p_bar=float(a.props["outlet_pressure_mpa"]) * 10,
                                           t_k=288.15)
            for a in layer.assets.values():
                if a.kind == "pipe":
                    pp.create_pipe_from_parameters(net, from_junction=idx[layer.assets[a.props["start"]].name],
                                                   to_junction=idx[layer.assets[a.props["end"]].name],
                                                   length_km=a.props["length_m"] / 1000,
                                                   inner_diameter_mm=float(a.props["diameter_m"]) * 1000, k_mm=0.01,
                                                   name=a.name)
            loads = [(idx[a.name], float(a.props.get("demand_m3h", 0.0))) for a in layer.assets.values()
                     if a.kind == "junction" and a.props.get("demand_m3h", 0.0) > 0]
            sinks = [pp.create_sink(net, junction=j, mdot_kg_per_s=q * DENSITY_KG_M3 / 3600) for j, q in loads]
            base = np.array([q * DENSITY_KG_M3 / 3600 for _, q in loads])
        cached = _NETS[layer] = (net, idx, sinks, base)
    net, idx, sinks, base = cached
    return copy.deepcopy(net), idx, sinks, base

