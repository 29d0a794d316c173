"""The bridge twin: traffic, temperature and damage drive midspan strain, deflection and vibration.

Each bridge is a simply supported beam (span L, bending stiffness EI, mass m per metre, first
frequency f1 = π/(2L²)·√(EI/m); ``citygen.structures``).  Traffic crosses as a Poisson stream
per lane (busy at the morning and evening peaks, light at night) of cars, vans and trucks at
40–60 km/h; each vehicle's quasi-static effect at midspan comes from the influence lines —
moment P·a'/2 (strain = M/(E·W)) and deflection P·a'(3L²−4a'²)/(48EI), a' = min(a, L−a) — and
the deck's temperature adds restrained thermal strain and a hogging deflection from the sun's
gradient.  Vibration is the first mode, a lightly damped resonator driven by wind and ground
noise and kicked by every vehicle, simulated at 50 Hz; like a real SHM gateway, the edge
reports the RMS acceleration of each minute and the first frequency identified (FFT peak) in
each ten minutes, not the raw samples.  Heat softens the deck (−0.1 % of f1 per °C); a deck
thermometer reads its temperature.

Incidents: ``bridge_overload`` — one vehicle of ``magnitude`` tonnes crossing slowly at its
start; ``bridge_damage`` — EI loses ``magnitude`` (a fraction) over ``growth``: f1 falls by
√(1−loss) and strain and deflection under the same traffic rise by 1/(1−loss).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.signal import lfilter

from ..analysis.bridge.modal import identify_f1
from ..batch import F64, I64
from ..units import E_CONCRETE_C50_PA, G_MS2
from .base import Signals, TwinContext, moved
from .realism import noise_sigma
from .scenario import Incident

E_PA = E_CONCRETE_C50_PA
ALPHA = 1e-5  # thermal expansion of concrete, 1/°C
RESTRAINT = 0.05  # share of free thermal strain left after the bearings and the gauge's compensation
DAMPING = 0.02
RAW_HZ = 50
WINDOW_S = 600
KICK_MS2_PER_T = 7.8e-4 * 20000  # impulse per tonne of vehicle, scaled by 1/mass per metre
AMBIENT = 5e-4 * 20000
OVERLOAD_SPEED_MS = 8.0


@dataclass
class Traffic:
    """Vehicles crossing: entry time (s from the scenario start), mass (kg), speed (m/s)."""

    entry_s: F64
    mass_kg: F64
    speed_ms: F64


def traffic(rng: np.random.Generator, lanes: int, duration_s: float, start_hour: float) -> Traffic:
    """A day's Poisson traffic on a bridge with ``lanes`` lanes."""
    minutes = math.ceil(duration_s / 60)
    hour = (start_hour + np.arange(minutes) / 60) % 24
    per_lane_h = 40 + 250 * ((hour > 6) & (hour < 22)) + 660 * (np.exp(-((hour - 8) / 1.5) ** 2)
                                                                + np.exp(-((hour - 18) / 1.8) ** 2))
    counts = rng.poisson(per_lane_h * lanes / 60)
    entry = np.repeat(np.arange(minutes) * 60.0, counts) + rng.random(int(counts.sum())) * 60
    kind = rng.random(len(entry))
    mass_t = np.where(kind < 0.8, rng.normal(1.6, 0.3, len(entry)),
                      np.where(kind < 0.92, rng.normal(3.5, 0.7, len(entry)),
                               np.minimum(rng.lognormal(math.log(15), 0.5, len(entry)), 49.0)))
    speed = rng.uniform(40, 60, len(entry)) / 3.6
    keep = entry < duration_s
    return Traffic(entry[keep], np.maximum(mass_t[keep], 0.8) * 1000, speed[keep])


def with_vehicle(tr: Traffic, entry_s: float, mass_kg: float, speed_ms: float) -> Traffic:
    """The traffic with one more vehicle."""
    return Traffic(np.append(tr.entry_s, entry_s), np.append(tr.mass_kg, mass_kg), np.append(tr.speed_ms, speed_ms))


def on_span(entry_s: F64, span_m: float, speed_ms: F64, dt: float, n: int) -> tuple[I64, I64, F64]:
    """Every sample a load is on the span: for loads entering at ``entry_s`` (s from the first of
    ``n`` samples ``dt`` apart), (the load, the sample, the seconds since it entered), one row each."""
    first = np.ceil(entry_s / dt).astype(np.int64)
    count = np.maximum(np.floor((entry_s + span_m / speed_ms) / dt).astype(np.int64) - first + 1, 0)
    who = np.repeat(np.arange(len(count)), count)
    k = np.repeat(first, count) + (np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count))
    ok = (k >= 0) & (k < n)
    who, k = who[ok], k[ok]
    return who, k, k * dt - entry_s[who]


def quasi_static(tr: Traffic, t_s: F64, span_m: float, ei: float, w_m3: float) -> tuple[F64, F64]:
    """(strain, deflection m) at midspan at times ``t_s`` (regularly spaced) from the traffic."""
    dt = float(t_s[1] - t_s[0]) if len(t_s) > 1 else 1.0
    t0 = float(t_s[0])
    veh, k, tau = on_span(tr.entry_s - t0, span_m, tr.speed_ms, dt, len(t_s))
    a = np.clip(tr.speed_ms[veh] * tau, 0, span_m)
    a = np.minimum(a, span_m - a)
    p = tr.mass_kg[veh] * G_MS2
    strain = np.bincount(k, weights=p * a / 2 / (E_PA * w_m3), minlength=len(t_s))
    deflection = np.bincount(k, weights=p * a * (3 * span_m**2 - 4 * a**2) / (48 * ei), minlength=len(t_s))
    return strain.astype(np.float64), deflection.astype(np.float64)


def vibration(tr: Traffic, duration_s: float, f1_of_window: F64, mass_kg_m: float,
              rng: np.random.Generator, hz: int = RAW_HZ) -> F64:
    """Vertical midspan acceleration at ``hz`` (m/s²): the first mode, window by window (the wind's
    force is white at the sampling rate, scaled so its spectrum near f1 does not depend on it)."""
    n = round(duration_s * hz)
    force = rng.normal(0.0, AMBIENT / mass_kg_m * math.sqrt(RAW_HZ / hz), n)
    idx = np.clip(np.round(tr.entry_s * hz).astype(np.int64), 0, n - 1)
    np.add.at(force, idx, KICK_MS2_PER_T / mass_kg_m * tr.mass_kg / 1000 * rng.choice([-1.0, 1.0], len(idx)))
    out = np.empty(n)
    state = np.zeros(2)
    step = WINDOW_S * hz
    for w, start in enumerate(range(0, n, step)):
        omega_t = 2 * math.pi * f1_of_window[min(w, len(f1_of_window) - 1)] / hz
        r = math.exp(-DAMPING * omega_t)
        a = [1.0, -2 * r * math.cos(omega_t), r * r]
        out[start:start + step], state = lfilter([1.0], a, force[start:start + step], zi=state)
    return out


class BridgeTwin:
    """Strain, deflection, acceleration RMS and first frequency of each bridge."""

    lifeline: ClassVar[str] = "bridge"
    incident_types: ClassVar[tuple[str, ...]] = ("bridge_overload", "bridge_damage")

    def simulate(self, ctx: TwinContext) -> Signals:
        """See ``LifelineTwin.simulate``."""
        began = time.perf_counter()
        layer = ctx.bundle.city.layers["bridge"]
        series: dict[str, tuple[I64, F64]] = {}
        expected: dict[str, list[str]] = {i.id: [] for i in ctx.incidents}
        for key, asset in layer.assets.items():
            sensors = [s for s in ctx.sensors if s.asset == key]
            incidents = [i for i in ctx.incidents if i.place == key]
            if not sensors:
                continue
            actual, base = self._bridge(ctx, asset.props, sensors, incidents)
            for s in sensors:
                series[s.id] = actual[s.id]
                for inc in incidents:
                    if self._moved(ctx, inc, s, actual[s.id], base[s.id]):
                        expected[inc.id].append(s.id)
        truth = [ctx.truth_for(inc, expected[inc.id]) for inc in ctx.incidents]
        return Signals.from_series(series, truth, time.perf_counter() - began)

    def _bridge(self, ctx: TwinContext, props: dict[str, Any], sensors: list[Any],
                incidents: list[Incident]) -> tuple[dict[str, tuple[I64, F64]], dict[str, tuple[I64, F64]]]:
        span, ei, w, m, f0 = (float(props[k]) for k in ("span_m", "ei_nm2", "section_modulus_m3", "mass_kg_m", "f1_hz"))
        rng = ctx.rng
        base_tr = traffic(rng, int(props["lanes"]), ctx.scenario.duration_s, ctx.start_hour)
        tr = base_tr
        for inc in incidents:
            if inc.type == "bridge_overload":
                tr = with_vehicle(tr, inc.start_s, inc.magnitude * 1000, OVERLOAD_SPEED_MS)
        noise_seed = int(rng.integers(2**31))
        actual: dict[str, tuple[I64, F64]] = {}
        base: dict[str, tuple[I64, F64]] = {}
        for which, traffic_, damaged in (("actual", tr, incidents), ("base", base_tr, [])):
            stiff = self._stiffness(damaged)
            for s in sensors:
                t = ctx.times(s)
                off = ctx.offsets_s(t)
                if s.kind in ("strain", "displacement"):
                    strain, defl = quasi_static(traffic_, off, span, ei, w)
                    deck = self._deck_c(ctx, t)
                    if s.kind == "strain":
                        v = strain / stiff(off) + ALPHA * RESTRAINT * (deck - 20.0)
                    else:
                        v = defl / stiff(off) - ALPHA * self._gradient_c(ctx, t) * span**2 / (8 * 3.5)
                elif s.kind == "temperature":  # the deck thermometer
                    v = self._deck_c(ctx, t)
                else:
                    v = self._dynamic(ctx, s.kind, t, traffic_, stiff, f0, m, noise_seed)
                (actual if which == "actual" else base)[s.id] = (t, v)
        return actual, base

    @staticmethod
    def _stiffness(incidents: list[Incident]) -> Any:
        damage = [i for i in incidents if i.type == "bridge_damage"]

        def factor(off: F64) -> F64:
            f = np.ones(len(off))
            for inc in damage:
                f *= 1 - inc.magnitude * inc.size(off)
            return f

        return factor

    def _dynamic(self, ctx: TwinContext, kind: str, t: I64, tr: Traffic, stiff: Any, f0: float, m: float,
                 seed: int) -> F64:
        windows = np.arange(0, ctx.scenario.duration_s, WINDOW_S)
        deck = self._deck_c(ctx, ctx.scenario.start_ms + (windows * 1000).astype(np.int64))
        f1 = f0 * np.sqrt(stiff(windows)) * (1 - 0.001 * (deck - 20.0))
        raw = vibration(tr, ctx.scenario.duration_s, f1, m, np.random.default_rng(seed))
        off = ctx.offsets_s(t)
        if kind == "acceleration":
            per = RAW_HZ * 60
            rms = np.sqrt(np.mean(raw[: len(raw) // per * per].reshape(-1, per) ** 2, axis=1))
            return rms[np.clip((off // 60).astype(int), 0, len(rms) - 1)]
        found = identify_f1(raw, RAW_HZ, f0)
        return found[np.clip((off // WINDOW_S).astype(int), 0, len(found) - 1)]

    @staticmethod
    def _deck_c(ctx: TwinContext, t: I64) -> F64:
        """Deck temperature: the air's, two hours late and a little damped."""
        lagged = ctx.air_temperature_c(np.asarray(t) - 2 * 3600_000)
        return 0.8 * lagged + 0.2 * ctx.scenario.weather.mean_c

    @staticmethod
    def _gradient_c(ctx: TwinContext, t: I64) -> F64:
        """Top-to-bottom temperature difference from the sun (°C, up to 2 °C), 08:00–18:00."""
        hour = (ctx.start_hour + ctx.offsets_s(t) / 3600) % 24
        return 2.0 * np.clip(np.sin(np.pi * (hour - 8) / 10), 0, None) * ((hour > 8) & (hour < 18))

    @staticmethod
    def _moved(ctx: TwinContext, inc: Incident, spec: Any, actual: tuple[I64, F64], base: tuple[I64, F64]) -> bool:
        t, v = actual
        off = ctx.offsets_s(t)
        sigma = noise_sigma(spec.kind, base[1])
        if inc.type == "bridge_overload":
            window = (off >= inc.start_s - 1) & (off <= inc.start_s + 120)
            return bool(window.any() and np.max(np.abs(v[window] - base[1][window]) / sigma[window]) > 3)
        end = ctx.scenario.duration_s if inc.end_s is None else inc.end_s
        window = (off >= inc.start_s + inc.growth_s) & (off < end)
        return moved(v[window], base[1][window], sigma[window])
