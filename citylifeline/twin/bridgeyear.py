"""A bridge's year, day by day: weather, lawful and overloaded traffic, damage that grows, repairs.

What a lifeline centre's bridge analyst must see through, simulated fast enough for months of one
bridge in minutes (``BridgeYear.day``: one day at a time, each from its own seed, so any day can be
had alone).  The bridge is a simply supported prestressed-concrete box girder of span L, bending
stiffness EI and mass m per metre (``citygen.structures``: first frequency f1 = π/(2L²)·√(EI/m)),
with a strain gauge on the bottom flange under each web at midspan, a thermometer in the deck, an
accelerometer whose gateway reports the RMS of each minute and the first frequency identified in
each ten minutes.

**Weather** (``air_c``): Hefei's climate — an annual mean of about 16 °C, about 3 °C in January
and 29 °C in July (the China Meteorological Administration's normals for Hefei), a daily range of
about 8 °C (warmest at 14:00), and day-to-day weather as a first-order autoregression with a
3-day memory and a 2.5 °C spread (assumed: the order of synoptic anomalies in the Yangtze basin).
The deck's surface, where its thermometer is, follows the air with a lag of 1.5 h; the girder's
effective temperature, which sets its stiffness and its length, with a lag of 6 h (a first-order
lag, as the mass of a concrete box girder slows its response: Emerson, *The calculation of the
distribution of temperature in bridges*, TRRL LR 561, 1973).  So a thermometer reading is not the
temperature that counts, as on a real bridge.

**Temperature and the frequency** (``f1_factor``): concrete's modulus falls about 0.15 % of f1 per
°C of warming; below 0 °C the asphalt and the bearings stiffen and the frequency rises steeply.
Z24's year shows that bilinear shape with its knee near 0 °C (Peeters & De Roeck, *Earthquake Eng.
Struct. Dyn.* 30:149–171, 2001); the slope below it, 1.2 % per °C, is of Z24's order, not fitted to
it.  Vehicles on the span add their mass: f1 ∝ 1/√(1 + M_vehicles / (m·L)).

**Traffic** (``vehicles``): cars, vans, buses and the six lorry classes of GB 1589-2016 (*Limits of
dimensions, axle load and masses for motor vehicles, trailers and combination vehicles*), with their
gross-weight limits — two axles 18 t, three 25 t, four 31 t, five (articulated) 43 t, six
(articulated) 49 t; axle loads in proportion to the standard's axle limits (steer axle 7 t, a
tandem 18 t, a tridem 24 t) and typical axle spacings.  A lorry runs empty (about 35 % of its limit)
or loaded (about 88 %, spread 8 %): the empty and loaded modes of lorry weights that weigh-in-motion
records show (seven years of a Chinese national freeway's: *Effects of revised toll-by-weight policy
on truck overloading behavior and bridge infrastructure damage using weigh-in-motion data*, Adv.
Civ. Eng. 2019:5910463, which also saw the overloaded share fall after the 2016 revision);
``OVERLOAD_SHARE`` of the loaded ones exceed the limit by an exponential excess (mean 18 %).  On the
six-lane Jinzhai Rd bridge that gives about 100 overloaded lorries a day, of the order of Hefei's
Zhaohe bridge (over 4,700 in a month, 2021).  Lorries keep mostly to the night: Chinese cities
keep heavy goods vehicles out of their cores by day (the hours here, 07:00–21:00, are assumed);
cars follow the usual two-peaked day.  Speeds
30–60 km/h; each vehicle keeps its lane and at least ``HEADWAY_S`` behind the one ahead.

**Strain** (``strain``): at midspan under each web, and at a quarter of the span on the axis (the
pair gives a vehicle's speed, as a bridge weigh-in-motion system's axle detectors do).  Each
axle's moment by the influence line (at midspan P·a'/2, a' its distance to the nearer support),
on the gauge under each web in proportion 1 + ``TORSION``·e·y/(w/2)² (e the lane's and y the web's
offset from the axis: the eccentric-load rule for a torsionally stiff box), over E·W; the
vehicle's dynamic increment at f1 with JTG D60-2015's impact factor μ = 0.1767 ln f1 − 0.0157
(§4.3.2); the bearings' restraint of the deck's thermal strain (``RESTRAINT``, α = 1e-5/°C) and
the gauge's noise (``GAUGE_NOISE_UE``).  A 49 t lorry at midspan of the 80 m Jinzhai Rd bridge
strains its bottom flange by about 6 µε: a big prestressed box carries mostly its own weight.
The span is statically determinate, so a stiffness loss changes the strain only where it is: at
a gauge inside the damaged length by 1/(1 − loss).

**Axles** (``axles``): bridge weigh-in-motion systems find the axles with strain gauges under the
deck slab near a support ("nothing on the road" axle detection, as SiWIM does: Žnidarič et al.,
*Transp. Res. Procedia* 2016), sampled at hundreds of Hz, on two lines a few metres apart; the
gateway reports each axle's passage, lane and speed, which is what the year gives (a few
milliseconds' timing error, one axle in 200 missed).

**Damage** (``Damage``): bending stiffness lost over a length around a point, growing linearly
over its growth time and restored at its repair; the first frequency falls by the Rayleigh quotient
of the first mode, Δf/f = ½·ln(1 − loss·∫sin²(πx/L) over the length / (L/2)) to first order
(a loss over the whole span: f ∝ √(1 − loss)).  A seized bearing restrains the deck's thermal
strain (``bearing`` kind: the restraint rises from 5 % to ``SEIZED_RESTRAINT``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.signal import lfilter

from ..batch import F64, I64
from ..units import E_CONCRETE_C50_PA, G_MS2
from .bridge import on_span

E_PA = E_CONCRETE_C50_PA
ALPHA_PER_C = 1e-5
MEAN_C = 16.0
SURFACE_LAG_H = 1.5  # the deck surface's (the thermometer's) time constant behind the air
BULK_LAG_H = 6.0  # a concrete box girder's effective temperature's
RESTRAINT = 0.05  # share of free thermal strain the sliding bearings and the gauge's compensation leave
SEIZED_RESTRAINT = 0.5
TORSION = 0.3
GAUGES = ("midspan, west web", "midspan, east web", "quarter span, on the axis")
AXLE_DETECTOR_M = 2.0  # the axle detector's first line: under the deck slab, this far onto the span
AXLE_LINES_M = 4.0  # and its second, this far beyond the first (the pair gives each axle's speed)
AXLE_JITTER_MS = 2.0  # its gateway samples the slab's strain at 512 Hz and reports each axle's passage
AXLE_MISSED = 0.005
STRAIN_HZ = 20  # the gauges' rate as the gateway sends it (a lorry crosses a 70 m span in 4–8 s)
GAUGE_NOISE_UE = 0.5  # fibre-Bragg gauges resolve about 1 pm ≈ 0.8 µε; resistance gauges with bridge amplifiers better
FREQ_WINDOW_S = 600
FREQ_ID_SIGMA = 0.0085
"""Relative spread of a first frequency identified from ten minutes of acceleration: measured on the
gateway's own method (``analysis.bridge.modal.identify_f1``, the FFT peak of 50 Hz samples of the first mode under
wind and these traffic days: 0.83 % on the Jinzhai Rd bridge, 0.91 % on the 2nd St bridge), which
the year draws instead of simulating every sample (``test_bridgeyear`` checks the two agree)."""
DAY_MS = 86_400_000
OVERLOAD_SHARE = 0.06  # of loaded lorries
OVERLOAD_EXCESS = 0.18  # mean excess over the limit, of the overloaded
HEADWAY_S = 1.0  # the least time gap a driver leaves behind the vehicle ahead in the lane
HOURLY = {  # vehicles an hour per lane at the day's peak
    "car": 700.0, "lorry": 40.0}


@dataclass(frozen=True)
class VehicleClass:
    """A kind of vehicle: its axle spacings (m, front to back), each axle's share of the gross
    weight, its lawful gross weight (t; GB 1589-2016), its share of lorries or of light traffic,
    and its empty weight as a fraction of the limit."""

    name: str
    spacing_m: tuple[float, ...]
    axle_share: tuple[float, ...]
    limit_t: float
    share: float
    empty: float = 0.35


def _shares(limits: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(x / sum(limits) for x in limits)


LIGHT = (VehicleClass("car", (2.7,), (0.55, 0.45), 2.5, 0.86, 0.6),
         VehicleClass("van", (3.3,), (0.45, 0.55), 4.5, 0.10, 0.5),
         VehicleClass("bus", (6.0,), (0.35, 0.65), 18.0, 0.04, 0.6))
LORRIES = (VehicleClass("2-axle", (4.5,), _shares((7, 11.5)), 18.0, 0.30),
           VehicleClass("3-axle", (4.3, 1.35), _shares((7, 9, 9)), 25.0, 0.15),
           VehicleClass("4-axle", (1.9, 4.2, 1.35), _shares((7, 7, 9, 9)), 31.0, 0.10),
           VehicleClass("5-axle", (3.6, 1.35, 7.2, 1.35), _shares((7, 9, 9, 9, 9)), 43.0, 0.10),
           VehicleClass("6-axle", (3.6, 1.35, 7.2, 1.3, 1.3), _shares((7, 9, 9, 8, 8, 8)), 49.0, 0.35))
CLASSES = LIGHT + LORRIES


@dataclass(frozen=True)
class Bridge:
    """A monitored span: its properties as the city model has them (``citygen.structures``)."""

    name: str
    span_m: float
    ei_nm2: float
    mass_kg_m: float
    section_modulus_m3: float
    lanes: int
    width_m: float

    @classmethod
    def from_props(cls, name: str, props: dict[str, Any]) -> Bridge:
        return cls(name, float(props["span_m"]), float(props["ei_nm2"]), float(props["mass_kg_m"]),
                   float(props["section_modulus_m3"]), int(props["lanes"]), float(props["width_m"]))

    @property
    def f1_hz(self) -> float:
        return math.pi / (2 * self.span_m**2) * math.sqrt(self.ei_nm2 / self.mass_kg_m)

    def lane_offsets_m(self) -> F64:
        """Each lane's centre from the deck's axis (3.5 m lanes, symmetric)."""
        return np.asarray((np.arange(self.lanes) - (self.lanes - 1) / 2) * 3.5, dtype=np.float64)

    def web_offsets_m(self) -> F64:
        """The two gauged webs, a quarter of the width either side of the axis."""
        return np.array([-self.width_m / 4, self.width_m / 4])

    def distribution(self) -> F64:
        """Webs × lanes: the share of a lane's moment strain at each web's gauge (1 on the axis)."""
        w2 = (self.width_m / 2) ** 2
        return np.asarray(1 + TORSION * np.outer(self.web_offsets_m(), self.lane_offsets_m()) / w2)


@dataclass(frozen=True)
class Damage:
    """Bending stiffness lost (``loss``, a fraction of EI) over ``length_m`` around ``x_m`` from the
    south support, growing linearly from ``start_ms`` over ``grow_ms``, until ``repair_ms``;
    ``kind`` "bearing": a seized bearing instead (``loss`` is then ignored)."""

    start_ms: int
    grow_ms: int
    loss: float
    x_m: float
    length_m: float
    repair_ms: int | None = None
    kind: str = "stiffness"

    def size(self, t_ms: I64) -> F64:
        """How far grown, 0 to 1, at each time."""
        grown = np.clip((np.asarray(t_ms) - self.start_ms) / max(self.grow_ms, 1), 0.0, 1.0)
        return np.where((self.repair_ms is None) | (np.asarray(t_ms) < (self.repair_ms or 0)), grown, 0.0)

    def mode_share(self, span_m: float) -> float:
        """The share of the first mode's strain energy in the damaged length (∫sin² over it / (L/2))."""
        a, b = max(self.x_m - self.length_m / 2, 0.0), min(self.x_m + self.length_m / 2, span_m)
        k = math.pi / span_m
        return ((b - a) / 2 - (math.sin(2 * k * b) - math.sin(2 * k * a)) / (4 * k)) / (span_m / 2)

    def covers(self, x_m: float) -> bool:
        return abs(x_m - self.x_m) <= self.length_m / 2


@dataclass
class Vehicles:
    """The vehicles that crossed (the truth a weigh-in-motion estimate is scored on)."""

    entry_ms: I64
    lane: I64
    cls: I64  # index into ``CLASSES``
    gross_kg: F64
    speed_ms: F64

    def overloaded(self) -> np.ndarray:
        limit = np.array([c.limit_t for c in CLASSES])[self.cls] * 1000
        return np.asarray((self.cls >= len(LIGHT)) & (self.gross_kg > limit))


@dataclass
class BridgeDay:
    """One day of the bridge's sensors, and its truth."""

    t0_ms: int
    strain_ue: F64  # gauges (``GAUGES``) × samples at ``STRAIN_HZ`` from t0
    freq_t_ms: I64
    f1_hz: F64  # identified, every ``FREQ_WINDOW_S``
    deck_c: F64  # the deck thermometer, at ``freq_t_ms``
    accel_rms_ms2: F64  # each minute's RMS acceleration
    vehicles: Vehicles
    ei_factor: F64  # the true stiffness left, at ``freq_t_ms``
    axle_t_ms: I64  # each axle the axle detector's gateway reported: when it passed
    axle_lane: I64  # in which lane
    axle_speed_ms: F64  # and how fast

    def strain_t_ms(self) -> I64:
        return self.t0_ms + (np.arange(self.strain_ue.shape[1]) * 1000 // STRAIN_HZ).astype(np.int64)


def _keep_distance(veh: Vehicles) -> I64:
    """Entry times moved later where a vehicle would come within ``HEADWAY_S`` of the one ahead in
    its lane (measured from that one's rear axle): drivers keep their distance, Poisson arrivals do not."""
    length_m = np.array([sum(c.spacing_m) for c in CLASSES])[veh.cls]
    entry = veh.entry_ms.astype(np.float64).copy()
    for lane in np.unique(veh.lane):
        idx = np.flatnonzero(veh.lane == lane)
        clear = -np.inf
        for i in idx:
            entry[i] = max(entry[i], clear + HEADWAY_S * 1000)
            clear = entry[i] + length_m[i] / veh.speed_ms[i] * 1000  # the rear axle passes the entry
    return entry.astype(np.int64)


def axles(veh: Vehicles, rng: np.random.Generator) -> tuple[I64, I64, F64]:
    """The axle detector's reports (time, lane, speed), in time order: each axle crossing its first
    line ``AXLE_DETECTOR_M`` onto the span, timed to ``AXLE_JITTER_MS`` and missed with
    ``AXLE_MISSED``; the speed from the time it takes to the second line ``AXLE_LINES_M`` on."""
    times, lanes, speeds = [], [], []
    for c, vc in enumerate(CLASSES):
        sel = np.flatnonzero(veh.cls == c)
        for off in np.concatenate([[0.0], np.cumsum(vc.spacing_m)]):
            times.append(veh.entry_ms[sel] + (off + AXLE_DETECTOR_M) / veh.speed_ms[sel] * 1000)
            lanes.append(veh.lane[sel])
            speeds.append(veh.speed_ms[sel])
    t, lane, v = np.concatenate(times), np.concatenate(lanes), np.concatenate(speeds)
    kept = rng.random(len(t)) >= AXLE_MISSED
    t, lane, v = t[kept], lane[kept], v[kept]
    jitter = rng.uniform(-AXLE_JITTER_MS, AXLE_JITTER_MS, (2, len(t)))
    dt_ms = AXLE_LINES_M / v * 1000 + jitter[1] - jitter[0]
    order = np.argsort(t + jitter[0], kind="stable")
    return (np.round(t + jitter[0]).astype(np.int64)[order], lane[order].astype(np.int64),
            (AXLE_LINES_M / dt_ms * 1000)[order])


def f1_factor(deck_c: F64) -> F64:
    """The first frequency at a deck temperature, relative to 15 °C (bilinear, see the docstring)."""
    t = np.asarray(deck_c, dtype=np.float64)
    return np.asarray(1 - 0.0015 * (t - 15.0) + 0.012 * np.maximum(-t, 0.0))


def _lag(hourly: F64, tau_h: float) -> F64:
    """A first-order lag of an hourly series (time constant ``tau_h`` hours), started at its first value."""
    a = math.exp(-1 / tau_h)
    out, _ = lfilter([1 - a], [1, -a], hourly, zi=[a * hourly[0]])
    return np.asarray(out, dtype=np.float64)


class BridgeYear:
    """``days`` days of one bridge from ``start_ms`` (local midnight), with damage and a seed.
    ``tz_hours``: the city's offset from UTC, for the hours of its day."""

    def __init__(self, bridge: Bridge, start_ms: int, days: int, damages: tuple[Damage, ...] = (),
                 seed: int = 0, tz_hours: float = 8.0) -> None:
        self.bridge, self.start_ms, self.days, self.damages, self.seed = bridge, start_ms, days, damages, seed
        self.tz_ms = int(tz_hours * 3_600_000)
        rng = np.random.default_rng([seed, 0])
        hours = days * 24 + 48
        phi = math.exp(-1 / 72)  # a 3-day memory
        shocks = rng.normal(0.0, 2.5 * math.sqrt(1 - phi**2), hours)
        weather = np.empty(hours)
        weather[0] = rng.normal(0.0, 2.5)
        for h in range(1, hours):
            weather[h] = phi * weather[h - 1] + shocks[h]
        self._weather = weather  # hourly anomaly, from two days before the start
        air = self.air_c(self.start_ms + (np.arange(hours) - 48) * 3_600_000)
        self._surface = _lag(air, SURFACE_LAG_H)
        self._bulk = _lag(air, BULK_LAG_H)

    def air_c(self, t_ms: I64) -> F64:
        """The air temperature (°C) at each time."""
        t = np.asarray(t_ms, dtype=np.float64)
        local = t + self.tz_ms
        doy = (local / DAY_MS) % 365.25
        hour = (local / 3_600_000) % 24
        seasonal = MEAN_C - 13.0 * np.cos(2 * np.pi * (doy - 15) / 365.25)  # mid-January 3 °C, mid-July 29 °C
        diurnal = 4.0 * np.cos(2 * np.pi * (hour - 14) / 24)
        h = np.clip((t - self.start_ms) / 3_600_000 + 48, 0, len(self._weather) - 1)
        return np.asarray(seasonal + diurnal + np.interp(h, np.arange(len(self._weather)), self._weather))

    def _hourly(self, series: F64, t_ms: I64) -> F64:
        h = np.clip((np.asarray(t_ms, dtype=np.float64) - self.start_ms) / 3_600_000 + 48, 0, len(series) - 1)
        return np.asarray(np.interp(h, np.arange(len(series)), series))

    def deck_c(self, t_ms: I64) -> F64:
        """What the deck's thermometer reads (its surface: the air, ``SURFACE_LAG_H`` late)."""
        return self._hourly(self._surface, t_ms)

    def bulk_c(self, t_ms: I64) -> F64:
        """The girder's effective temperature, which sets its stiffness and length (``BULK_LAG_H`` late)."""
        return self._hourly(self._bulk, t_ms)

    def ei_factor(self, t_ms: I64, x_m: float | None = None) -> F64:
        """The stiffness left: at a section ``x_m``, or the first mode's (Rayleigh) when None."""
        out = np.ones(len(np.asarray(t_ms)))
        for d in self.damages:
            if d.kind != "stiffness":
                continue
            grown = d.loss * d.size(t_ms)
            if x_m is None:
                out *= 1 - grown * d.mode_share(self.bridge.span_m)
            elif d.covers(x_m):
                out *= 1 - grown
        return out

    def restraint(self, t_ms: I64) -> F64:
        r = np.full(len(np.asarray(t_ms)), RESTRAINT)
        for d in self.damages:
            if d.kind == "bearing":
                r += (SEIZED_RESTRAINT - RESTRAINT) * d.size(t_ms)
        return r

    def vehicles(self, day: int, rng: np.random.Generator) -> Vehicles:
        """The day's traffic (``day`` counted from the start)."""
        t0 = self.start_ms + day * DAY_MS
        minutes = np.arange(1440)
        hour = ((t0 + self.tz_ms + minutes * 60_000) / 3_600_000) % 24
        peaks = np.exp(-((hour - 8) / 1.3) ** 2) + 0.9 * np.exp(-((hour - 18) / 1.6) ** 2)
        car_rate = HOURLY["car"] * (0.08 + 0.55 * ((hour > 6) & (hour < 23)) + 0.45 * peaks) / 60
        lorry_rate = HOURLY["lorry"] * np.where((hour >= 21) | (hour < 7), 1.0, 0.12) / 60
        lanes = self.bridge.lanes
        out: list[tuple[np.ndarray, ...]] = []
        for rate, group, first in ((car_rate, LIGHT, 0), (lorry_rate, LORRIES, len(LIGHT))):
            n = rng.poisson(rate * lanes)
            entry = (np.repeat(minutes, n) + rng.random(int(n.sum()))) * 60_000
            k = rng.choice(len(group), len(entry), p=np.array([c.share for c in group]))
            limit = np.array([c.limit_t for c in group])[k] * 1000
            empty = np.array([c.empty for c in group])[k]
            if first:  # lorries: empty or loaded, some overloaded
                loaded = rng.random(len(k)) < 0.6
                frac = np.where(loaded, rng.normal(0.88, 0.08, len(k)), rng.normal(empty, 0.05, len(k)))
                over = loaded & (rng.random(len(k)) < OVERLOAD_SHARE)
                frac = np.where(over, 1 + rng.exponential(OVERLOAD_EXCESS, len(k)), np.minimum(frac, 0.995))
                # heavier lorries keep to the slower, outer lanes
                lane = np.where(rng.random(len(k)) < 0.7, np.where(rng.random(len(k)) < 0.5, 0, lanes - 1),
                                rng.integers(0, lanes, len(k)))
            else:
                frac = rng.normal(empty + (1 - empty) * 0.4, 0.07, len(k))
                lane = rng.integers(0, lanes, len(k))
            gross = np.maximum(frac, 0.2) * limit
            speed = rng.uniform(30, 60, len(k)) / 3.6
            out.append((entry.astype(np.int64) + t0, lane.astype(np.int64), (k + first).astype(np.int64), gross, speed))
        cols = [np.concatenate(c) for c in zip(*out, strict=True)]
        order = np.argsort(cols[0], kind="stable")
        veh = Vehicles(*(c[order] for c in cols))
        veh.entry_ms = _keep_distance(veh)
        order = np.argsort(veh.entry_ms, kind="stable")
        return Vehicles(*(getattr(veh, f)[order] for f in Vehicles.__dataclass_fields__))

    def day(self, day: int, extra: Vehicles | None = None, strain: bool = True) -> BridgeDay:
        """Day ``day``'s sensors (``extra``: vehicles added to its traffic, e.g. a test's lorry;
        not ``strain``: the frequencies, temperatures and accelerations only, fifty times faster)."""
        t0 = self.start_ms + day * DAY_MS
        veh = self.vehicles(day, np.random.default_rng([self.seed, 1, day]))
        if extra is not None:
            cols = [np.concatenate([getattr(veh, f), getattr(extra, f)]) for f in Vehicles.__dataclass_fields__]
            order = np.argsort(cols[0], kind="stable")
            veh = Vehicles(*(c[order] for c in cols))
        rng = np.random.default_rng([self.seed, 2, day])
        freq_t = t0 + np.arange(0, DAY_MS, FREQ_WINDOW_S * 1000, dtype=np.int64)
        deck, bulk = self.deck_c(freq_t), self.bulk_c(freq_t)
        ei = self.ei_factor(freq_t)
        on_span = self._mass_on_span(veh, freq_t)
        f1 = self.bridge.f1_hz * np.sqrt(ei) * f1_factor(bulk) / np.sqrt(1 + on_span / (self.bridge.mass_kg_m
                                                                                        * self.bridge.span_m))
        f1 = f1 * (1 + rng.normal(0.0, FREQ_ID_SIGMA, len(f1)))
        # each minute's RMS: 2 mm/s² of wind and ground noise, and the traffic's share, in proportion
        # to the tonnes crossing over the deck's mass per metre (assumed: a few cm/s² at the peaks)
        tonnes = np.bincount(((veh.entry_ms - t0) // 60_000).clip(0, 1439), weights=veh.gross_kg / 1000,
                             minlength=1440)
        rms = np.hypot(0.002, 3.0 * tonnes / self.bridge.mass_kg_m) * rng.lognormal(0, 0.1, 1440)
        deck_read = deck + rng.normal(0, 0.2, len(deck))
        gauges = (self.strain(t0, veh, np.random.default_rng([self.seed, 3, day])) if strain
                  else np.zeros((len(GAUGES), 0)))
        axle_t, axle_lane, axle_v = axles(veh, np.random.default_rng([self.seed, 4, day]))
        return BridgeDay(t0, gauges, freq_t, f1, deck_read, rms, veh, ei, axle_t, axle_lane, axle_v)

    def _mass_on_span(self, veh: Vehicles, t_ms: I64) -> F64:
        """The mean vehicle mass on the span over each window starting at ``t_ms``."""
        stay_ms = self.bridge.span_m / veh.speed_ms * 1000
        k = np.clip(np.searchsorted(t_ms, veh.entry_ms, side="right") - 1, 0, len(t_ms) - 1)
        return np.bincount(k, weights=veh.gross_kg * stay_ms, minlength=len(t_ms)) / (FREQ_WINDOW_S * 1000)

    def strain(self, t0_ms: int, veh: Vehicles, rng: np.random.Generator) -> F64:
        """Strain (µε) at each gauge (``GAUGES``), ``STRAIN_HZ`` samples over the day from ``t0_ms``."""
        b = self.bridge
        n = DAY_MS // 1000 * STRAIN_HZ
        t = t0_ms + np.arange(n) * 1000 // STRAIN_HZ
        span, dt = b.span_m, 1.0 / STRAIN_HZ
        moment, quarter = np.zeros((b.lanes, n)), np.zeros(n)
        f1 = b.f1_hz
        mu = 0.1767 * math.log(f1) - 0.0157 if f1 >= 1.5 else 0.05
        for c, vc in enumerate(CLASSES):
            sel = np.flatnonzero(veh.cls == c)
            if not len(sel):
                continue
            offsets = np.concatenate([[0.0], np.cumsum(vc.spacing_m)])
            for off, share in zip(offsets, vc.axle_share, strict=True):
                # each axle enters ``off`` metres after the front one
                entry_s = (veh.entry_ms[sel] - t0_ms) / 1000 + off / veh.speed_ms[sel]
                who, k, tau = on_span(entry_s, span, veh.speed_ms[sel], dt, n)
                x = np.clip(veh.speed_ms[sel][who] * tau, 0, span)
                p = veh.gross_kg[sel][who] * share * G_MS2 * (1 + mu * np.sin(2 * np.pi * f1 * tau))
                lane = veh.lane[sel][who]
                moment += np.bincount(lane * n + k, weights=p * np.minimum(x, span - x) / 2,
                                      minlength=b.lanes * n).reshape(b.lanes, n)
                quarter += np.bincount(k, weights=p * np.where(x <= span / 4, 0.75 * x, (span - x) / 4), minlength=n)
        strain = np.vstack([b.distribution() @ moment / self.ei_factor(t, span / 2),
                            quarter / self.ei_factor(t, span / 4)]) / (E_PA * b.section_modulus_m3)
        thermal = ALPHA_PER_C * self.restraint(t) * (self.bulk_c(t) - 15.0)
        return np.asarray((strain + thermal) * 1e6 + rng.normal(0.0, GAUGE_NOISE_UE, strain.shape))
