"""Heavy vehicles crossing a span, from one midspan strain gauge at the rate it reports (1 Hz and up).

Where a bridge has no axle detector and no high-rate strain for weigh-in-motion (``wim``), its
midspan gauge still sees every heavy vehicle: a load P crossing a simply supported span L raises the
midspan strain along the influence line, a triangle P·a'/(2·E·W) (a' the distance to the nearer
bearing) that peaks at P·L/(4·E·W) as it passes midspan.  So, per gauge, over the readings in time
order (a numba kernel, state in arrays):

- the **level without heavy vehicles** (the deck's temperature, a few µε a day, and the light
  traffic always on a busy span): a mean with the time constant ``BASE_TAU_S``, held while a heavy
  vehicle is on the span.  (Following the strain's minimum instead put the level at the noise's
  lowest: on the demo city's 1 Hz gauges, of 2 µε, every lorry then weighed 30–60 t too much.)
- the gauge's **noise**, tracked as the median of its reading-to-reading change outside crossings
  (a stochastic-approximation median: robust to the vehicles that pass);
- a **crossing** is a run of readings whose excess over that level passes ``ON_T`` tonnes' worth
  and ``ON_SIGMAS`` noise spreads (it ends below half of that).  Its readings, with two on either
  side, are fitted by least squares with the influence line's triangle, H·max(0, 1 − |t − t_c|/T),
  over a grid of speeds (T = L/2v, ``SPEEDS_MS``) and of apex times between the readings round the
  highest (``fit``); H, over the strain of one tonne at midspan, is the gross weight, and its
  uncertainty the noise over √Σφ² (several vehicles on the span at once read as their sum; one
  gauge cannot part them).  (The highest reading alone erred both ways: low by up to a fifth where
  the apex fell between readings at 1 Hz, high by the noise of the one reading picked for being
  highest; on the demo city's quiet day a 40 t lorry plus 4 spreads of noise weighed 85 t.)
- a **spike** (a fault: one reading far off) is a run of one reading with nothing on either side:
  a vehicle takes L/v seconds to cross (5 s on the demo city's 70 m spans at 50 km/h), so at 1 Hz a
  reading beside the peak holds ``SIDE_SHARE`` of it or more.

The fit gives the apex back between readings: the demo's 120 t vehicle at 8 m/s read 104 t from
its highest reading at 1 Hz.  Noise works the other way: the peak is the highest of
the noisy readings on the span.  The analyst reports a weight only beyond its thresholds by
several of its uncertainties (``analyst``); a gauge too noisy to tell a lawful lorry from an
overweight one says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from ...batch import F64, I32, I64

BASE_TAU_S = 600.0  # the level without heavy vehicles: a mean of this time constant
ON_T = 20.0  # a run starts above this weight (a heavy lorry; light traffic is not weighed) ...
ON_SIGMAS = 4.0  # ... and above this many of the gauge's noise spreads
NOISE_GAIN = 0.005  # the noise's median tracker moves by this share of itself per reading
SIDE_SHARE = 0.1  # a one-reading run whose neighbours hold less than this share of it is a spike
GAP_MS = 60_000  # a silence this long starts the level again
MEDIAN_ABS_DIFF = 0.9539  # the median of |x_t − x_{t−1}| of white noise of spread σ, in σ (0.6745·√2)
SPEEDS_MS = np.array([4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.5, 19.5])  # the fit's grid: 15–70 km/h (urban limits: 60)
BUFFER = 512  # readings kept per gauge for the fit (a run longer than this is fitted on its last ones)
STEPS = 10  # apex times tried per reading interval

STATE = ("base", "last_t", "last_x", "noise", "prev_ex", "run_n", "peak", "peak_t", "peak_prev", "peak_next",
         "buf_t", "buf_x", "pos")


def new_state(gauges: int) -> dict[str, np.ndarray]:
    """The kernel's state for ``gauges`` gauges (checkpointed as it is)."""
    return {"base": np.full(gauges, np.nan), "last_t": np.full(gauges, -1, np.int64), "last_x": np.zeros(gauges),
            "noise": np.zeros(gauges), "prev_ex": np.zeros(gauges), "run_n": np.zeros(gauges, np.int64),
            "peak": np.zeros(gauges), "peak_t": np.zeros(gauges, np.int64), "peak_prev": np.zeros(gauges),
            "peak_next": np.full(gauges, np.nan), "buf_t": np.zeros((gauges, BUFFER), np.int64),
            "buf_x": np.zeros((gauges, BUFFER)), "pos": np.zeros(gauges, np.int64)}


@numba.njit(cache=True, nogil=True)
def fit(t_ms, x, peak_t, half_span_m, speeds):  # type: ignore[no-untyped-def]
    """The influence line's triangle fitted to readings (times ms, excess strain): (H, 1/√Σφ²)."""
    n = len(t_ms)
    dt = (t_ms[n - 1] - t_ms[0]) / max(n - 1, 1)
    best, h_best, fac = -1.0, 0.0, np.inf
    for v in speeds:
        half_ms = half_span_m / v * 1000.0
        for k in range(-STEPS, STEPS + 1):
            tc = peak_t + k * dt / STEPS
            sxy, sxx = 0.0, 0.0
            for i in range(n):
                phi = 1.0 - abs(t_ms[i] - tc) / half_ms
                if phi > 0:
                    sxy += phi * x[i]
                    sxx += phi * phi
            if sxx > 0 and sxy > 0 and sxy * sxy / sxx > best:
                best, h_best, fac = sxy * sxy / sxx, sxy / sxx, 1.0 / np.sqrt(sxx)
    return h_best, fac


@numba.njit(cache=True, nogil=True)
def _crossings(g, t_ms, v, on_strain, half_span_m, speeds, base, last_t, last_x, noise, prev_ex,  # type: ignore[no-untyped-def]
               run_n, peak, peak_t, peak_prev, peak_next, buf_t, buf_x, pos,
               o_g, o_t, o_h, o_fac, o_n, o_prev, o_next, o_noise):
    n = 0
    tau_ms = BASE_TAU_S * 1000.0
    sigmas_per_diff = ON_SIGMAS / MEDIAN_ABS_DIFF
    for i in range(len(g)):
        j = g[i]
        t = t_ms[i]
        x = v[i]
        if last_t[j] < 0 or t - last_t[j] > GAP_MS or np.isnan(base[j]):
            base[j] = x
            run_n[j] = 0
            prev_ex[j] = 0.0
            last_t[j] = t
            last_x[j] = x
            continue
        dt = t - last_t[j]
        d = abs(x - last_x[j])
        ex = x - base[j]
        slot = pos[j] % BUFFER
        buf_t[j, slot], buf_x[j, slot] = t, ex
        pos[j] += 1
        on = max(on_strain[j], noise[j] * sigmas_per_diff)
        if run_n[j] > 0:
            if ex > on / 2:
                run_n[j] += 1
                if ex > peak[j]:
                    peak[j], peak_t[j], peak_prev[j], peak_next[j] = ex, t, prev_ex[j], np.nan
                elif np.isnan(peak_next[j]):
                    peak_next[j] = ex
            else:  # the run is over: fitted on its readings, two before it and this one
                m = min(run_n[j] + 3, BUFFER, pos[j])
                idx = (pos[j] - m + np.arange(m)) % BUFFER
                h, fac = fit(buf_t[j, idx].astype(np.float64), buf_x[j, idx], float(peak_t[j]), half_span_m[j],
                             speeds)
                o_g[n], o_t[n], o_h[n], o_fac[n], o_n[n] = j, peak_t[j], h, fac, run_n[j]
                o_prev[n], o_next[n] = peak_prev[j], ex if np.isnan(peak_next[j]) else peak_next[j]
                o_noise[n] = noise[j] / MEDIAN_ABS_DIFF
                n += 1
                run_n[j] = 0
        elif ex > on and noise[j] > 0:
            run_n[j] = 1
            peak[j], peak_t[j], peak_prev[j], peak_next[j] = ex, t, prev_ex[j], np.nan
        if run_n[j] == 0:
            base[j] += (x - base[j]) * (dt / (tau_ms + dt))  # 1 − e^(−dt/τ) to first order: readings ≪ τ apart
            if noise[j] == 0.0:
                noise[j] = d
            else:
                noise[j] *= 1.0 + NOISE_GAIN if d > noise[j] else 1.0 - NOISE_GAIN
        prev_ex[j] = x - base[j] if run_n[j] == 0 else ex
        last_t[j] = t
        last_x[j] = x
    return n


@dataclass
class Crossings:
    """Heavy crossings completed: the gauge, the highest reading's time, the fitted triangle's height
    (excess strain), its uncertainty (strain), the readings in the run, and whether it is a spike."""

    gauge: I32
    t_ms: I64
    height: F64
    sigma: F64
    readings: I64
    spike: npt.NDArray[np.bool_]


def crossings(gauge: I32, t_ms: I64, strain: F64, on: F64, half_span_m: F64, state: dict[str, np.ndarray]
              ) -> Crossings:
    """Feed readings (``gauge`` numbers, in time order); the crossings they complete.  ``on``: each
    gauge's excess strain for ``ON_T`` tonnes; ``half_span_m``: half its span."""
    m = len(gauge)
    out = (np.empty(m, np.int32), np.empty(m, np.int64), np.empty(m), np.empty(m), np.empty(m, np.int64),
           np.empty(m), np.empty(m), np.empty(m))
    s = state
    k = _crossings(gauge, t_ms, strain, on, half_span_m, SPEEDS_MS, s["base"], s["last_t"], s["last_x"], s["noise"],
                   s["prev_ex"], s["run_n"], s["peak"], s["peak_t"], s["peak_prev"], s["peak_next"], s["buf_t"],
                   s["buf_x"], s["pos"], *out)
    g, t, runs = out[0][:k], out[1][:k], out[4][:k]
    h, fac, before, after, noise = (np.asarray(a[:k], np.float64) for a in out[2:4] + out[5:])
    spike = (runs == 1) & (np.maximum(before, after) < SIDE_SHARE * h)
    return Crossings(g, t, h, noise * fac, runs, spike)
