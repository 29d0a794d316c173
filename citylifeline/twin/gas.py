"""The gas twin: pandapipes drives network pressures and the regulator's flow; ``gas_methane``
drives methane (and ethane) in the underground spaces next to the mains.

Network.  The city's gas layer becomes a pandapipes net (methane; the regulator an external
grid; each junction a sink with its ``demand_m3h``), solved every ``SOLVE_STEP_S`` with the
load following the cooking day (``DAILY``) and the cold (+3 % per °C below 15 °C); readings in
between are interpolated.  The regulator's outlet follows the load within ±``SCHEDULE_SHARE``
(time-of-day pressure scheduling, 分时调压: higher at the meal peaks, lower at night, which
keeps the far ends supplied and leaks small at night).  A ``gas_leak`` adds a sink of its
magnitude (standard m³/h, growing over ``growth``) at its junction, or on a pipe ``at_m``
metres from the pipe's start (default: the middle) drawing from the nearer end; its flow
follows the absolute pressure there (choked flow, ``gas_methane`` [S4]).

Spaces.  A methane detector in a sewer manhole (``drainage/junction/…``) or a cable well
(``tunnel/cable_well/…``) reads biogas plus what the leaks put there (``gas_methane``); an
``ethane`` detector reads the leaks' ethane only.  A sensor is expected to see a leak when the
leak raises it by ``SEEN_LEL`` %LEL; a manhole whose biogas reaches ``DANGEROUS_BIOGAS_LEL`` is a
``sewer_gas`` truth of the drainage lifeline (the physics made it, as a storm makes waterlogging).
"""

from __future__ import annotations

import time
import warnings
import weakref
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from ..batch import F64, I64
from ..city.model import City, Layer
from . import gas_methane as gm
from .base import Signals, Truth, TwinContext, moved
from .realism import noise_sigma
from .scenario import Incident

SOLVE_STEP_S = 900
DAILY = (0.35, 0.3, 0.3, 0.3, 0.4, 0.9, 1.8, 1.7, 1.0, 0.8, 1.2, 1.9,
         1.6, 0.8, 0.6, 0.6, 0.9, 1.9, 2.1, 1.4, 1.0, 0.8, 0.6, 0.45)
DENSITY_KG_M3 = 0.72  # methane at standard conditions
ATMOSPHERE_BAR = 1.01325
SCHEDULE_SHARE = 0.02
DANGEROUS_BIOGAS_LEL = 20.0  # sewer biogas at the alarm level of GB 50838: an incident of its own
SEEN_LEL = 2.0  # a detector 'sees' a leak that raises it by this much (four times its noise)
SPACE_KINDS = {"drainage/junction": "sewer", "tunnel/cable_well": "cable_well"}


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
        detectors = [s for s in ctx.sensors if s.kind in ("methane", "ethane")]
        series: dict[str, tuple[I64, F64]] = {}
        truth_moved: dict[str, set[str]] = {i.id: set() for i in ctx.incidents}
        grid_t = np.arange(0.0, ctx.scenario.duration_s + SOLVE_STEP_S, SOLVE_STEP_S)
        leak_bar = np.zeros((len(grid_t), len(ctx.incidents)))
        if hydraulic or ctx.incidents:
            with_leaks, leak_bar = self._solve(ctx, layer, hydraulic, grid_t, ctx.incidents)
            without = self._solve(ctx, layer, hydraulic, grid_t, [])[0] if ctx.incidents else with_leaks
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
        sewer_gas = self._spaces(ctx, detectors, grid_t, leak_bar, series, truth_moved) if detectors else []
        truth = []
        for inc in ctx.incidents:
            x, y = leak_xy(ctx.bundle.city, inc)  # where the gas escapes, not the pipe's middle
            truth.append(replace(ctx.truth_for(inc, sorted(truth_moved[inc.id]), f"{inc.magnitude:g} m³/h gas leak"),
                                 x=x, y=y))
        return Signals.from_series(series, truth + sewer_gas, time.perf_counter() - began)

    @staticmethod
    def _spaces(ctx: TwinContext, detectors: list[Any], grid_t: F64, leak_bar: F64,
                series: dict[str, tuple[I64, F64]], truth_moved: dict[str, set[str]]) -> list[Truth]:
        """Methane and ethane in the spaces on a ``gm.STEP_S`` grid, sampled at each detector's times;
        returns the truth of dangerous sewer biogas (its own incident, for the drainage owner)."""
        sewer_gas: list[Truth] = []
        city = ctx.bundle.city
        spaces = [gm.Space(s.asset, space_kind(s.asset), *city.asset(s.asset).xy) for s in detectors]
        t_s = np.arange(0.0, ctx.scenario.duration_s + gm.STEP_S, gm.STEP_S)
        hours = ctx.start_hour + t_s / 3600
        weather = ctx.scenario.weather
        air, rain = weather.temperature_c(t_s, ctx.start_hour), weather.rain_mm_h(t_s)
        leaks = []
        for k, inc in enumerate(ctx.incidents):
            p_abs = np.interp(t_s, grid_t, leak_bar[:, k]) + ATMOSPHERE_BAR
            flow = inc.magnitude * inc.size(t_s) * p_abs / p_abs.mean()
            leaks.append(gm.Leak(*leak_xy(ctx.bundle.city, inc), flow))
        bio = gm.biogas(spaces, hours, air, rain, ctx.rng)
        lid = gm.lid_breathing(ctx.rng, len(t_s), len(spaces))
        by_leak = [gm.leak_gas(spaces, [leak], hours, rain, ctx.rng) for leak in leaks]
        leak_total = np.sum(by_leak, axis=0) if by_leak else np.zeros_like(bio)
        methane = np.minimum((bio + leak_total) * lid, gm.MAX_FRACTION)
        start = ctx.scenario.start_ms
        for j, s in enumerate(detectors):
            biogas = bio[:, j] * lid[:, j]
            if s.kind == "methane" and spaces[j].kind == "sewer" and biogas.max() >= DANGEROUS_BIOGAS_LEL * gm.LEL:
                on = np.flatnonzero(biogas >= DANGEROUS_BIOGAS_LEL * gm.LEL)
                sewer_gas.append(Truth(f"sewer-gas-{s.id}", "sewer_gas", "drainage", s.asset, spaces[j].x, spaces[j].y,
                                       start + round(t_s[on[0]] * 1000), start + round(t_s[on[-1]] * 1000), [s.id],
                                       round(float(biogas.max() / gm.LEL), 1),
                                       f"sewer biogas at {biogas.max() / gm.LEL:.0f} %LEL in {s.asset}"))
            t = ctx.times(s)
            row = ctx.grid_index(t, gm.STEP_S, len(t_s))
            value = methane[row, j] if s.kind == "methane" else leak_total[row, j] * lid[row, j] * gm.ETHANE_RATIO
            series[s.id] = (t, value)
            for inc, rise in zip(ctx.incidents, by_leak, strict=True):
                if s.kind == "methane" and rise[:, j].max() > SEEN_LEL * gm.LEL:
                    truth_moved[inc.id].add(s.id)
        return sewer_gas

    @staticmethod
    def _solve(ctx: TwinContext, layer: Layer, sensors: list[Any], grid_t: F64,
               leaks: list[Incident]) -> tuple[F64, F64]:
        """Sensor values (canonical) at each grid time, and the gauge pressure (bar) at each leak."""
        net, idx, sinks, base = _network(layer)
        import pandapipes as pp

        hours = ctx.start_hour + grid_t / 3600
        factor = _load_factor(hours, ctx.scenario.weather.temperature_c(grid_t, ctx.start_hour))
        leak_junctions = [idx[_leak_junction(layer, inc)] for inc in leaks]
        leak_sinks = [pp.create_sink(net, junction=j, mdot_kg_per_s=0.0) for j in leak_junctions]
        outlet = net.ext_grid["p_bar"].to_numpy().copy()
        schedule = 1 + SCHEDULE_SHARE * np.clip(factor / factor.mean() - 1, -1, 1)
        out = np.empty((len(grid_t), len(sensors)))
        at_leaks = np.zeros((len(grid_t), len(leaks)))
        for k, t_s in enumerate(grid_t):
            net.sink.loc[sinks, "mdot_kg_per_s"] = base * factor[k]
            net.ext_grid["p_bar"] = outlet * schedule[k]
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
            for j, junction in enumerate(leak_junctions):
                at_leaks[k, j] = float(net.res_junction.at[junction, "p_bar"])
        return out, at_leaks


def space_kind(asset: str) -> str:
    """'sewer' or 'cable_well' (or the asset's own kind) for a detector's space."""
    layer, kind = asset.split("/")[:2]
    return SPACE_KINDS.get(f"{layer}/{kind}", kind)


def leak_xy(city: City, inc: Incident) -> tuple[float, float]:
    """Where gas escapes: the junction, or the point ``at_m`` metres along the pipe (default its middle)."""
    a = city.asset(inc.place)
    if a.kind != "pipe":
        return a.xy
    at = float(inc.params.get("at_m", a.geometry.length / 2))
    p = a.geometry.interpolate(min(max(at, 0.0), a.geometry.length))
    return float(p.x), float(p.y)


def _leak_junction(layer: Layer, inc: Incident) -> str:
    """The junction a leak at a junction or pipe drains from (for a pipe, the nearer end)."""
    a = layer.assets[inc.place]
    if a.kind != "pipe":
        return str(a.name)
    at = float(inc.params.get("at_m", a.geometry.length / 2))
    end = a.props["start"] if at <= a.geometry.length / 2 else a.props["end"]
    return str(layer.assets[end].name)


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

