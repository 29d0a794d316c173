"""The streaming anomaly score: three views of each sensor's normal behaviour, one calibrated score.

For every reading of a sensor the kernel asks three questions, each answered in robust
deviations (a residual divided by an exponentially weighted mean absolute deviation):

- **level**: how far is the value from the sensor's recent level (slow EWMA)?
- **season**: how far is it from what this sensor usually reads at this time of day and day of
  the week (24 hourly slots, interpolated, plus an offset per weekday, learned online) — used
  once the slots have seen a few days and only while they explain the data better than the
  plain level does;
- **forecast**: how far is it from the one-step forecast (the last value plus the smoothed
  trend), which catches spikes, steps and sudden changes of variance.

A two-sided CUSUM on the chosen baseline's standardised residual adds a change-point view
(slow drifts and small persistent shifts).  The strongest view's deviation, on a log scale
(log(1 + |z|), which tames heavy tails), is then *calibrated per sensor*: the larger of its
short-term mean and the reading's own value is compared with the sensor's long-run mean and
spread of it (the anomaly-likelihood idea of Ahmad et al., 2017), and the score is
-log10 of that Gaussian tail over 10, capped at 1; so one threshold means the same on a noisy
sensor and on a quiet one.  Every estimate is a plain mean until its EWMA's memory has filled,
so the first readings (when the scales are still near zero) do not inflate it for long.
A score is given only when it exceeds the sensor's decaying peak of recent scores by the factor
``P_RISE``, so one anomaly episode raises one alarm unless it grows clearly stronger.

All state is in per-sensor arrays (``F`` float64 columns, ``SEASON`` float32 slots); the
kernel is numba-compiled and processes a batch in one pass.
"""

from __future__ import annotations

import math

import numba
import numpy as np

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
SLOTS = 24

# float64 state columns
(N, PREV_T, PREV_V, MU, MAD, DMAD, TREND, ERR_L, ERR_S, CUP, CDN, A_MEAN, A_VAR, A_SHORT, QUIET, DT,
 REPEATS) = range(17)
NF = 17
# per-slot float32 columns: mean, mean absolute deviation, visits
WEEKDAYS = 7
S_MEAN, S_MAD, S_SEEN, S_WEEKDAY = 0, SLOTS, 2 * SLOTS, 3 * SLOTS  # ... and an offset per day of the week
NS = 3 * SLOTS + WEEKDAYS

WARM_N = 10  # readings before the scales mean anything: no calibration, no clipping

# views, named in explanations (``anomaly.explain``)
VIEW_LEVEL, VIEW_SEASON, VIEW_FORECAST, VIEW_CHANGE = 0, 1, 2, 3

# parameters: a float64 vector, so the benchmark can try values without recompiling.  The values
# were chosen on the tuning half of the shared NAB data only (see citylifeline.bench.nab_run).
(P_ALPHA_LEVEL, P_ALPHA_SCALE, P_ALPHA_SEASON, P_SEASON_DAYS, P_CUSUM_K, P_CUSUM_H, P_ALPHA_LONG,
 P_ALPHA_SHORT, P_REFRACTORY, P_WARMUP, P_FLOOR_REL, P_SD_FLOOR, P_POINT_WEIGHT, P_FLOOR_MAD, P_CLIP,
 P_MEMORY_DECAY, P_WARMUP_MS, P_RISE, P_ALPHA_WEEK, P_FROZEN) = range(20)
DEFAULTS = np.array([
    0.000823026,  # level EWMA weight per reading (memory ~1,200 readings)
    0.00825909,  # weight of the scale (mean absolute deviation) estimates
    0.0432352,  # seasonal slot weight per day of visits
    2.0,   # days a slot must have seen before the season view is used
    12.7656,   # CUSUM allowance, robust deviations
    17.026,    # CUSUM decision level
    0.000273327,  # weight of the long-run distribution of deviations (memory ~3,700 readings)
    0.231106,     # weight of the short-term mean of deviations
    132.229,  # readings for an episode's peak score to decay by e
    50.0,  # readings before any score is given
    1.22402e-06,    # scale floor, relative to the level
    0.017438,    # floor of the long-run spread of deviations (log units)
    0.681541,     # weight of a single reading's deviation against the short-term mean
    0.0440873,  # scale floor, relative to the level's own mean absolute deviation
    1.9207,    # residuals beyond this many deviations move the estimates only this far
    1.0 - 1.0 / 20_000,  # per reading: a false-alarm memory fades over ~20,000 readings (2 weeks at 1/min)
    86_400_000.0,  # and a day of data (ms) before any score: a daily cycle is seen once first
    2.57817,  # a new score must exceed that decaying peak by this factor (one alarm per episode)
    0.861942,   # weight of a day-of-week offset per day of visits
    15.0,  # a value repeated exactly this many times is a frozen transmitter: nothing is learned from it
])
# per sensor and direction (0 down, 1 up): the score an operator called a false alarm (fading),
# then the score of the last alarm raised
MEM_FALSE, MEM_LAST = 0, 2
MEMORY_KEYS = 4


@numba.njit(cache=True, nogil=True, inline="always")
def _slot_weights(t_ms):  # type: ignore[no-untyped-def]
    h = (t_ms % DAY_MS) / HOUR_MS - 0.5
    if h < 0.0:
        h += SLOTS
    i0 = int(h) % SLOTS
    w = h - math.floor(h)
    return i0, (i0 + 1) % SLOTS, w


@numba.njit(cache=True, nogil=True)
def score_kernel(sensor, t_ms, value, p, f, season, memory, threshold,  # type: ignore[no-untyped-def]
                 o_score, o_expected, o_z, o_view, o_alarm, o_usual):
    """Score each reading (time order per sensor); fills the output columns and updates state.

    ``o_expected`` is the baseline the reading was compared with, ``o_z`` the signed robust
    deviation of the strongest view and ``o_view`` which view it was; ``o_usual`` is the signed
    deviation from the usual value alone (this hour's, else the level), NaN while the sensor is
    warming up, which is what the AI review of rule warnings reads.  ``o_alarm`` is set
    where a score is given (see the module) and reaches ``threshold``, and is higher than one
    the operators called a false alarm for this sensor and direction (``memory``, see
    ``AnomalyDetector.learn_false_alarm``; its margin above ``threshold`` fades by ``P_MEMORY_DECAY`` per
    reading)."""
    for i in range(len(sensor)):
        s = sensor[i]
        t = t_ms[i]
        v = value[i]
        o_score[i] = 0.0
        o_expected[i] = np.nan
        o_z[i] = 0.0
        o_view[i] = -1
        o_alarm[i] = False
        o_usual[i] = np.nan
        if v != v:  # NaN: no information, no update
            continue
        st = f[s]
        n = st[N]
        if n == 0.0:
            st[MU] = v
            st[PREV_V] = v
            st[PREV_T] = t
            st[N] = 1.0
            for k in range(SLOTS):
                season[s, S_MEAN + k] = v
            continue
        floor = p[P_FLOOR_REL] * (abs(st[MU]) + 1e-12) + p[P_FLOOR_MAD] * st[MAD] + 1e-12
        dt = t - st[PREV_T]
        if dt > 0:
            st[DT] = dt if st[DT] == 0.0 else st[DT] + 0.05 * (dt - st[DT])
        # ---- the three views -----------------------------------------------------------------
        r_l = v - st[MU]
        z_l = r_l / (st[MAD] + floor)
        i0, i1, w = _slot_weights(t)
        day = int(t // DAY_MS + 3) % WEEKDAYS  # 1970-01-01 was a Thursday: 0 is Monday
        weekly = n * st[DT] >= 8.0 * DAY_MS  # the offsets are used once every weekday has been seen
        h_hat = (1.0 - w) * season[s, S_MEAN + i0] + w * season[s, S_MEAN + i1]
        s_hat = h_hat + season[s, S_WEEKDAY + day] if weekly else h_hat
        s_mad = (1.0 - w) * season[s, S_MAD + i0] + w * season[s, S_MAD + i1]
        seen = min(season[s, S_SEEN + i0], season[s, S_SEEN + i1])
        r_s = v - s_hat
        z_s = r_s / (s_mad + floor)
        use_season = seen >= p[P_SEASON_DAYS] and st[ERR_S] < st[ERR_L]
        forecast = st[PREV_V] + st[TREND]
        r_f = v - forecast
        z_f = r_f / (st[DMAD] + floor)
        z_base = z_s if use_season else z_l
        # ---- change point: two-sided CUSUM on the baseline residual, reset when it decides --------
        zc = min(max(z_base, -20.0), 20.0)
        st[CUP] = max(0.0, st[CUP] + zc - p[P_CUSUM_K])
        st[CDN] = max(0.0, st[CDN] - zc - p[P_CUSUM_K])
        z_c = 3.0 * min(max(st[CUP], st[CDN]) / p[P_CUSUM_H], 2.0)  # 3 deviations at the decision level
        if z_c >= 3.0:
            st[CUP] = 0.0
            st[CDN] = 0.0
        # ---- strongest view ------------------------------------------------------------------
        view = VIEW_SEASON if use_season else VIEW_LEVEL
        z = z_base
        expected = s_hat if use_season else st[MU]
        if abs(z_f) > abs(z):
            z = z_f
            view = VIEW_FORECAST
            expected = forecast
        if z_c > abs(z):
            z = z_c if st[CUP] >= st[CDN] else -z_c
            view = VIEW_CHANGE
            expected = s_hat if use_season else st[MU]
        u = math.log1p(abs(z))  # deviations on a log scale, which tames heavy tails
        # ---- calibration against the sensor's own history of deviations -------------------------
        st[A_SHORT] += p[P_ALPHA_SHORT] * (u - st[A_SHORT])
        x = max(st[A_SHORT], u * p[P_POINT_WEIGHT])
        mean = st[A_MEAN]
        sd = math.sqrt(max(st[A_VAR], p[P_SD_FLOOR] ** 2))
        tail = 0.5 * math.erfc(((x - mean) / sd) / math.sqrt(2.0))  # how rarely it deviates this much
        if n > WARM_N:  # the scales are meaningless over the first readings
            al = max(p[P_ALPHA_LONG], 1.0 / (n - WARM_N))  # a plain mean until the EWMA's memory fills
            d = u - mean
            st[A_MEAN] += al * d
            st[A_VAR] = (1.0 - al) * (st[A_VAR] + al * d * d)
        calibrated = min(-math.log10(max(tail, 1e-300)) / 10.0, 1.0)  # 0.5: one chance in 100,000
        for k in (MEM_FALSE, MEM_FALSE + 1):  # a lesson fades towards the threshold (below it, it changes nothing)
            if memory[s, k] > threshold:
                memory[s, k] = threshold + (memory[s, k] - threshold) * p[P_MEMORY_DECAY]
        # one score per episode: a score counts only when it exceeds the decaying peak of recent ones
        # by the factor P_RISE (a new, clearly stronger surprise)
        if n >= p[P_WARMUP] and n * st[DT] >= p[P_WARMUP_MS]:
            o_usual[i] = z_base
            st[QUIET] *= 1.0 - 1.0 / p[P_REFRACTORY]
            up = 1 if z > 0.0 else 0
            if calibrated > st[QUIET] * p[P_RISE]:
                o_score[i] = calibrated
                st[QUIET] = calibrated
                if calibrated >= threshold and calibrated > memory[s, MEM_FALSE + up]:
                    o_alarm[i] = True
                    memory[s, MEM_LAST + up] = calibrated
            elif st[QUIET] >= threshold and calibrated > memory[s, MEM_LAST + up]:
                memory[s, MEM_LAST + up] = calibrated  # the peak of the episode (what a false alarm teaches)
        o_expected[i] = expected
        o_z[i] = z
        o_view[i] = view
        # ---- learn, unless the transmitter is frozen (the thawed value must meet the old normal) ----
        st[REPEATS] = st[REPEATS] + 1.0 if v == st[PREV_V] else 0.0
        if st[REPEATS] >= p[P_FROZEN]:
            st[PREV_T] = t
            st[N] = n + 1.0
            continue
        a = max(p[P_ALPHA_LEVEL], 1.0 / (n + 1.0))  # plain means until the EWMAs' memory fills
        b = max(p[P_ALPHA_SCALE], 1.0 / (n + 1.0))
        clip = p[P_CLIP] * (st[MAD] + floor) if n > WARM_N else abs(r_l)  # outliers move the scale less
        st[MAD] += b * (min(abs(r_l), clip) - st[MAD])
        st[MU] += a * max(min(r_l, clip), -clip)
        dclip = p[P_CLIP] * (st[DMAD] + floor) if n > WARM_N else abs(r_f)
        st[DMAD] += b * (min(abs(r_f), dclip) - st[DMAD])
        st[TREND] += a * ((v - st[PREV_V]) - st[TREND])
        st[ERR_L] += b * (min(abs(r_l), clip) - st[ERR_L])
        st[ERR_S] += b * (min(abs(r_s), p[P_CLIP] * (s_mad + floor) if seen >= 1 else abs(r_s)) - st[ERR_S])
        g = p[P_ALPHA_SEASON]
        per_hour = max(HOUR_MS / st[DT], 1.0) if st[DT] > 0.0 else 1.0  # readings per hour
        off = season[s, S_WEEKDAY + day]
        if seen >= 1.0:  # the day's offset learns what the hour slots do not explain
            rd = v - h_hat
            dclip = p[P_CLIP] * (s_mad + floor)
            season[s, S_WEEKDAY + day] += p[P_ALPHA_WEEK] / (per_hour * SLOTS) * (max(min(rd, dclip), -dclip) - off)
        for k, wk in ((i0, 1.0 - w), (i1, w)):
            if wk <= 0.0:
                continue
            gk = g * wk / per_hour if season[s, S_SEEN + k] >= 1.0 else wk
            rk = v - (off if weekly else 0.0) - season[s, S_MEAN + k]
            mk = season[s, S_MAD + k]
            kclip = p[P_CLIP] * (mk + floor) if season[s, S_SEEN + k] >= 2.0 else abs(rk)
            season[s, S_MEAN + k] += gk * max(min(rk, kclip), -kclip)
            season[s, S_MAD + k] += gk * (min(abs(rk), kclip) - mk)
            season[s, S_SEEN + k] += wk / per_hour  # in days: one hour's readings make one visit
        st[PREV_V] = v
        st[PREV_T] = t
        st[N] = n + 1.0
