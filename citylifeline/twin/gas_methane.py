"""Methane in the underground spaces beside the gas mains: sewer biogas, and gas from a leaking main.

Everything is computed on one regular grid (``STEP_S``) as a (time × space) matrix, with
recursive filters run by ``scipy.signal.lfilter`` along time, so sixty days of every manhole
in town take seconds.  Values are volume fractions (1 %LEL = 0.0005).  Sources are in
``SOURCES`` below; the numbers the literature does not give are marked *estimate* there, with
the reasoning.

**Sewer biogas** (every sewer manhole; a quarter of cable wells, from organic silt in standing
water).  Each space has its own level at 20 °C, ``BIOGAS_MEDIAN_LEL`` × lognormal(σ =
``BIOGAS_SPREAD``), fixed by the space's name, so a few manholes in a city hold tens of %LEL
on a hot day [S1, S2].  It follows

- the sewer's temperature (the 24-hour mean of the air, damped: ``SEWER_TEMP``), at +``BIOGAS_PER_C``
  per °C, compounding (methanogenesis, Q10 ≈ 3 [S3]);
- the sewage flow's daily rhythm (``SEWAGE_DAILY``), inversely, to the power ``FLOW_POWER``:
  dissolved methane falls as the flow rises (shorter retention, more air [S1]), so headspace
  methane is highest at night and in the early morning;
- slow day-to-day changes of the sewage (a log-normal Ornstein–Uhlenbeck process, ``DRIFT``);
- surges (``SURGE``): a slug of warm or septic sewage from a pumping main or a septic tank
  raises a manhole's methane two- to four-fold over ½–1½ h and lets it fall back over hours
  [S1];
- rain, which flushes and dilutes the headspace (``RAIN_FLUSH_MM_H``).

**A leak** of Q standard m³/h (a ``gas_leak`` incident; its growth ramp, times line pressure
over its mean: at 0.3 MPa gauge the flow through a crack is choked, so the mass flow follows
the absolute pressure upstream [S4]) reaches a space d metres away

- after d / (``MIGRATION_M_H_PER_M3H`` × Q) hours: the front of gas displacing the air in the
  trench backfill, the path of least resistance [S5, S6] (a big leak arrives in minutes, a
  small one in hours);
- thinned to exp(−d/``DECAY_M``) of what it is at the pipe (``GAIN_PER_M3H`` per m³/h), times
  how well the space is fed (``VENTING``) and the soil's breathing: falling barometric pressure
  pulls soil gas out (``BARO_PUMPING`` per hPa/h, the semi-diurnal tide ``BARO_TIDE_HPA`` plus
  weather) and a wet surface caps the ground so gas moves sideways into spaces
  (``WET_BOOST`` after ``WET_MM`` of recent rain) [S5, S7];
- filling the space with its air-exchange time constant (``FILL_S``: a vented manhole lid
  breathes, a sealed cable well holds gas);
- and reaching the detector as a plume, not well mixed: leak gas at the detector fluctuates by
  ``PLUME_SIGMA`` (log-normal, ``PLUME_TAU_S``) [S8], partly common to all the spaces a leak
  feeds (the source pulsing, ``SOURCE_SIGMA``).

All gas in a space also breathes with the wind at the lid (``LID_SIGMA``), biogas included.

Pipeline gas carries ethane; biogas carries none.  An ``ethane`` sensor (a laser detector)
reads ``ETHANE_RATIO`` × the leak's methane [S9].

SOURCES
-------
[S1] Liu Y., Ni B.-J., Sharma K.R., Yuan Z. (2015) Methane emission from sewers. *Sci. Total
     Environ.* 524–525:40–51; Guisasola A. et al. (2008) Methane formation in sewer systems.
     *Water Research* 42:1421–1430 (dissolved CH4 in rising mains, released downstream).
[S2] Ding et al. (2023) *Appl. Sci.* 13:6295: ≥ 26 sewer-biogas explosions in central
     Chongqing 2004–2009 (manholes do reach the explosive range).
[S3] methanogenesis: apparent activation energy ~100 kJ/mol, Q10 ≈ 3.9 at 20–30 °C (Conrad R.,
     *Front. Microbiol.* 14:1232946, 2023); lake sediments Q10 = 2.4 (Kelly & Chynoweth,
     *Limnol. Oceanogr.* 26:891, 1981).  *Estimate*: Q10 = 3, +11 %/°C of the sewage.
     Dissolved CH4 ~1 mg/L in gravity sewers, negatively correlated with the daily flow (Short
     M.D. et al., *Sci. Total Environ.* 599–600:85–93, 2017).
[S4] orifice flow: choked when p_up/p_down > 1.89 (methane), mass flow ∝ p_up (absolute).
[S5] Gao B., Mitton M.K., Bell C., Zimmerle D., Deepagoda T.K.K.C., Hosken K., Smits K.M. (2021)
     Study of methane migration in the shallow subsurface from a gas pipe leak, *Elementa*
     9(1):00008 (CSU METEC, 0.5 and 0.85 kg/h): advection dominates within 1–1.5 m, diffusion
     beyond; moisture and texture raise local CH4.  Under a wet or sealed surface gas goes 3–4×
     farther and 3.5× faster (METEC, *ES&T Letters* 2024, SMU press release of July 2024).
[S6] *Estimate*: a mass balance of gas displacing all the air in a trench's backfill (air-filled
     porosity ~0.3, ~0.4 m² each side of the leak) moves the front at ~4 m/h per m³/h; gas
     flowing in preferential channels (fingering) fills about a quarter of those pores, so
     ~15 m/h per m³/h.  Check: belowground CH4 within 4 m rose within 3 h of a 37 → 89 g/h
     step (INSENSE network, ESCAPE model); 15 m/h per m³/h gives 4 m in ~2 h at 0.1 m³/h, the
     plain mass balance 7 h.  exp(−d/12 m) along the trench
     (through undisturbed soil the fall is far steeper: a CFD study of a leak into an adjacent
     space finds 90 % at 3 m and 0.9 % at 9 m; DOMAIN.md §1).
[S7] barometric pumping: landfill methane emission fell 2–3× over a 16 hPa rise (Czepiel P.M. et
     al., *Waste Manage.* 23:593, 2003); flux reverses about every 20 h with the pressure
     waves (Gebert J. & Groengroeft A., *Waste Manage.* 26:245, 2006).  The semi-diurnal tide is
     about 1 hPa at 30° N.  *Estimate*: ×(1 + 0.35 per hPa/h of fall).
[S8] Hefei adjacent-space data: leak methane is high and fluctuates strongly, biogas is low and
     steady (Huang P., Wu Z., Yuan M., Qian X., Zhang Q., *J. Safety & Environment* 19(2):
     211–217, 2019).
[S9] pipeline gas: CH4:C2H6 = 19 in Washington DC (Jackson R.B. et al., *ES&T* 48:2051, 2014);
     sewer emissions in Seoul C2/C1 < 0.005 (*Environ. Pollut.* 2023); leaks attributed by C2:C1
     in Hamburg and Utrecht (Maazallahi et al., *ACP* 20:14717, 2020).  *Estimate* for Chinese
     pipeline gas (West–East): 1–4 % ethane, C2/C1 ≈ 0.03.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from ..batch import F64
from ..units import METHANE_LEL_FRACTION

LEL = METHANE_LEL_FRACTION / 100  # 1 %LEL as a volume fraction
STEP_S = 60
# biogas
BIOGAS_MEDIAN_LEL = 1.0  # %LEL at 20 °C in the median manhole (500 ppm)
BIOGAS_SPREAD = 1.0  # σ of ln(level) between manholes: 1 in 100 holds 10× the median
SILT_SHARE = 0.25  # cable wells with organic silt that makes biogas
SILT_MEDIAN_LEL = 0.4
BIOGAS_PER_C = 0.11  # per °C of the sewage
SEWER_TEMP = (9.0, 0.6)  # sewer °C = a + b × (24-hour mean air °C)
SEWAGE_DAILY = (0.55, 0.45, 0.4, 0.38, 0.4, 0.5, 0.75, 1.1, 1.4, 1.5, 1.45, 1.35,
                1.3, 1.25, 1.15, 1.05, 1.0, 1.05, 1.2, 1.35, 1.4, 1.25, 1.0, 0.75)
FLOW_POWER = 0.5
DRIFT = (0.25, 18 * 3600.0)  # σ of ln(level), correlation time (s)
SURGE = (1 / (4 * 86400.0), (1.0, 3.0), (1800.0, 5400.0), (3600.0, 4 * 3600.0))  # rate /s, ×, rise s, fall s
RAIN_FLUSH_MM_H = 5.0
# leaks
MIGRATION_M_H_PER_M3H = 15.0
MIN_MIGRATION_M_H = 1.0  # diffusion's pace, whatever the leak
DECAY_M = 12.0
GAIN_PER_M3H = 0.0063
VENTING = {"cable_well": 1.0, "sewer": 0.6}
FILL_S = {"cable_well": 3600.0, "sewer": 1200.0}
BARO_TIDE_HPA = 1.0
BARO_WEATHER = (3.0, 2 * 86400.0)  # σ (hPa), correlation time (s)
BARO_PUMPING = 0.35  # per hPa/h of falling pressure
WET_BOOST = 1.5  # × (1 + this × wetness 0–1)
WET_DAYS = 1.5
WET_MM = 20.0
PLUME_SIGMA, PLUME_TAU_S = 0.35, 360.0
SOURCE_SIGMA, SOURCE_TAU_S = 0.2, 1200.0
LID_SIGMA, LID_TAU_S = 0.06, 240.0
MAX_FRACTION = 0.15  # the upper explosive limit; a space holds no more than the gas itself
ETHANE_RATIO = 0.03


@dataclass(frozen=True)
class Space:
    """A space with a methane (or ethane) detector: its kind ('sewer' or 'cable_well') and place."""

    key: str
    kind: str
    x: float
    y: float


@dataclass(frozen=True)
class Leak:
    """Gas escaping at (x, y): its flow at the pipe (m³/h) on the grid, from its start."""

    x: float
    y: float
    flow_m3h: F64


def own(key: str, salt: str) -> float:
    """A number in [0, 1) fixed by a space's key: its own sewage, its own silt."""
    return (zlib.crc32(f"{salt}:{key}".encode()) % 100_003) / 100_003


def _normal_from(u: float) -> float:
    """The standard normal quantile of ``u`` (clipped away from 0 and 1)."""
    from scipy.special import ndtri

    return float(ndtri(min(max(u, 1e-4), 1 - 1e-4)))


def biogas_level_lel(space: Space) -> float:
    """The space's own biogas at 20 °C and average sewage flow, %LEL (0 for a clean cable well)."""
    if space.kind == "sewer":
        return BIOGAS_MEDIAN_LEL * math.exp(BIOGAS_SPREAD * _normal_from(own(space.key, "sewage")))
    if own(space.key, "silt") < SILT_SHARE:
        return SILT_MEDIAN_LEL * math.exp(0.7 * _normal_from(own(space.key, "silt-level")))
    return 0.0


def ou(rng: np.random.Generator, n: int, m: int, sigma: float, tau_s: float) -> F64:
    """``m`` stationary Ornstein–Uhlenbeck paths of ``n`` steps (σ, correlation time ``tau_s``)."""
    a = math.exp(-STEP_S / tau_s)
    burn = min(int(5 * tau_s / STEP_S), 20_000)
    e = rng.standard_normal((n + burn, m)) * sigma * math.sqrt(1 - a * a)
    return lfilter([1.0], [1.0, -a], e, axis=0)[burn:]


def fill(driving: F64, tau_s: F64 | float) -> F64:
    """A space's concentration filling towards ``driving`` (time × space) with time constant ``tau_s``."""
    taus = np.broadcast_to(np.asarray(tau_s, dtype=float), (driving.shape[1],))
    out = np.empty_like(driving)
    for tau in np.unique(taus):
        cols = taus == tau
        a = math.exp(-STEP_S / tau)
        out[:, cols] = lfilter([1 - a], [1.0, -a], driving[:, cols], axis=0)
    return out


def sewer_temperature_c(air_c: F64) -> F64:
    """The sewage's temperature from the air's (grid series): its trailing 24-hour mean, damped."""
    day = int(86400 / STEP_S)
    padded = np.r_[np.full(day, air_c[:day].mean()), air_c]
    mean24 = np.convolve(padded, np.ones(day) / day, mode="valid")[1:]
    return SEWER_TEMP[0] + SEWER_TEMP[1] * mean24


def biogas(spaces: list[Space], hours: F64, air_c: F64, rain_mm_h: F64, rng: np.random.Generator) -> F64:
    """Biogas (volume fraction) in each space on the grid (``hours``: local clock hour of each step)."""
    n, m = len(hours), len(spaces)
    level = np.array([biogas_level_lel(s) for s in spaces]) * LEL
    if not level.any():
        return np.zeros((n, m))
    temp = np.exp(BIOGAS_PER_C * (sewer_temperature_c(air_c) - 20.0))
    h = hours % 24
    k = np.floor(h).astype(int)
    daily = np.asarray(SEWAGE_DAILY)
    flow = daily[k] + (daily[(k + 1) % 24] - daily[k]) * (h - k)  # smooth through the hour
    flow = (flow / daily.mean()) ** -FLOW_POWER
    drift = np.exp(ou(rng, n, m, DRIFT[0], DRIFT[1]) - DRIFT[0] ** 2 / 2)
    rain = 1.0 / (1.0 + fill(rain_mm_h[:, None], 3600.0)[:, 0] / RAIN_FLUSH_MM_H)
    return level * (temp * flow * rain)[:, None] * drift * surges(rng, n, m)


def surges(rng: np.random.Generator, n: int, m: int) -> F64:
    """Multipliers ≥ 1 (time × space): slugs of septic sewage, a smooth rise and a slow fall."""
    rate, (lo, hi), (r0, r1), (f0, f1) = SURGE
    out = np.ones((n, m))
    t = np.arange(n) * STEP_S
    count = rng.poisson(rate * n * STEP_S, m)
    for j in range(m):
        for _ in range(count[j]):
            t0, amp = rng.uniform(0, n * STEP_S), rng.uniform(lo, hi)
            rise, fall = rng.uniform(r0, r1), rng.uniform(f0, f1)
            u = t - t0
            up = 0.5 - 0.5 * np.cos(np.pi * np.clip(u / rise, 0, 1))
            shape = np.where(u < rise, up, np.exp(-np.maximum(u - rise, 0) / fall))
            out[:, j] += amp * np.where(u >= 0, shape, 0.0)
    return out


def barometric_hpa(hours: F64, rng: np.random.Generator) -> F64:
    """Station pressure anomaly (hPa): the semi-diurnal tide (highs near 10:00 and 22:00) plus weather."""
    tide = BARO_TIDE_HPA * np.cos(2 * np.pi * (hours - 10) / 12)
    return tide + ou(rng, len(hours), 1, BARO_WEATHER[0], BARO_WEATHER[1])[:, 0]


def soil_factor(hours: F64, rain_mm_h: F64, rng: np.random.Generator) -> F64:
    """How readily soil gas moves into the spaces, ~1: barometric pumping and a wet, capped surface."""
    baro = barometric_hpa(hours, rng)
    falling = -np.gradient(baro) * 3600 / STEP_S  # hPa/h, positive when falling
    wet = np.clip(lfilter([1.0], [1.0, -math.exp(-STEP_S / (WET_DAYS * 86400))], rain_mm_h * STEP_S / 3600)
                  / WET_MM, 0, 1)
    return np.clip(1 + BARO_PUMPING * falling, 0.3, 3.0) * (1 + WET_BOOST * wet)


def leak_gas(spaces: list[Space], leaks: list[Leak], hours: F64, rain_mm_h: F64,
             rng: np.random.Generator) -> F64:
    """Methane (volume fraction) the leaks put in each space, after migration, filling and plume."""
    n, m = len(hours), len(spaces)
    out = np.zeros((n, m))
    if not leaks:
        return out
    soil = soil_factor(hours, rain_mm_h, rng)
    tau = np.array([FILL_S.get(s.kind, 3600.0) for s in spaces])
    vent = np.array([VENTING.get(s.kind, 1.0) for s in spaces])
    for leak in leaks:
        d = np.hypot(np.array([s.x for s in spaces]) - leak.x, np.array([s.y for s in spaces]) - leak.y)
        reach = GAIN_PER_M3H * np.exp(-d / DECAY_M) * vent
        near = np.flatnonzero(reach * max(float(leak.flow_m3h.max()), 0.0) > 0.05 * LEL)
        if not len(near):
            continue
        speed_m_h = max(MIGRATION_M_H_PER_M3H * float(np.median(leak.flow_m3h[leak.flow_m3h > 0]))
                        if (leak.flow_m3h > 0).any() else 0.0, MIN_MIGRATION_M_H)
        delay = np.minimum(np.round(d[near] / speed_m_h * 3600 / STEP_S).astype(int), n)
        driving = np.zeros((n, len(near)))
        for c, lag in enumerate(delay):
            driving[lag:, c] = leak.flow_m3h[: n - lag] * soil[lag:] * reach[near[c]]
        source = np.exp(ou(rng, n, 1, SOURCE_SIGMA, SOURCE_TAU_S) - SOURCE_SIGMA ** 2 / 2)
        plume = np.exp(ou(rng, n, len(near), PLUME_SIGMA, PLUME_TAU_S) - PLUME_SIGMA ** 2 / 2)
        out[:, near] += fill(driving, tau[near]) * source * plume
    return out


def lid_breathing(rng: np.random.Generator, n: int, m: int) -> F64:
    """Multipliers ~1 (time × space): the wind airing each space through its lid."""
    return np.exp(ou(rng, n, m, LID_SIGMA, LID_TAU_S) - LID_SIGMA ** 2 / 2)
