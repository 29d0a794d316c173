"""The gas analyst's minute-by-minute pass over every space: learn each space's biogas, find the
episodes, measure them, judge them, grade their danger.

Readings are binned into one-minute slots per space (the last reading of the minute); a minute
is analysed once readings ``LATE_MINUTES`` later have arrived, all spaces together, so that a
space can be compared with the city and with its neighbours at the same minute.  Everything a
space remembers is in the arrays of ``STATE`` (one row per space) and the two numbers of
``GLOBAL``; the numba kernel ``feed`` mutates them, so feeding a day in one batch or minute by
minute gives the same judgements.

Per space and minute (v: methane, %LEL):

- *expected biogas* b = the space's learned level for this hour of the day (``base``, learned
  from quiet minutes only) × the city's biogas factor now (``city``: the median over all sewer
  manholes of (v + 1)/(base + 1), smoothed): a hot spell, or the return of biogas after a storm
  flushed the sewers, moves every manhole together, and that is weather, not a leak (a leak
  moves a few spaces, which do not move the median);
- *excess* z = (v − b) / (noise + ``dev`` × (b + 1)), ``dev`` the space's learned spread;
  a one-sided CUSUM of z − ``CUSUM_K`` opens an episode past ``CUSUM_H`` and the episode ends
  after ``END_MINUTES`` with the CUSUM at zero;
- during an episode, over the last ``WINDOW`` minutes: the *level* log((v̄ + 1)/(b + 1)), the
  *fluctuation* log(mean |Δv| / what the space's own breathing and the detector's noise give
  at that level, as learned in quiet minutes), the *spread* (the strongest level among
  neighbours in an episode that began within ``SPREAD_MINUTES``) and the *ethane* ratio
  log10((C2/C1) / 0.005), where an ethane detector reports;
- the probability of a pipeline leak, logistic in those four (``judge.COEF``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
SLOTS = 4  # minutes held open for late readings
LATE_MINUTES = 2
WINDOW = 30
FEATURES = 4
CUSUM_K, CUSUM_H = 1.0, 8.0
Z_CAP = 4.0  # a single wild reading (a spiking detector) adds at most 3.5: it cannot open an episode alone
END_MINUTES = 30
SPREAD_MINUTES = 90
LEARN_RATE = 0.02  # per minute of the same hour: a day or two to learn
SPREAD_RATE = 0.005
NOISE_LEL = 0.5  # a methane detector's noise floor, %LEL (catalytic or IR: ±0.5 %LEL)
NOISE_SHARE = 0.02
BREATHING = 0.04  # the wind airing a space through its lid: a few % of its gas a minute
MIN_JUDGE_MINUTES = 3
SEWER_CLEAR_LEL = 10.0  # dangerous sewer gas is over below the confined-space entry limit (GB 30871)
GAP_SKIP_MINUTES = 180  # a silence longer than this is skipped, not walked minute by minute
ETHANE_PPM_PER_LEL = 500.0  # 1 %LEL of methane is 500 ppm

STATE: dict[str, tuple[type, float, int]] = {
    "pend": (np.float64, np.nan, SLOTS), "pend_eth": (np.float64, np.nan, SLOTS),
    "ring": (np.float64, np.nan, WINDOW), "ring_eth": (np.float64, np.nan, WINDOW),
    "base": (np.float64, np.nan, 24), "dev": (np.float64, 0.3, 1), "rough": (np.float64, 1.0, 1),
    "cusum": (np.float64, 0.0, 1), "ep_start": (np.int64, -1, 1), "quiet": (np.int64, 0, 1),
    "feat": (np.float64, 0.0, FEATURES), "p_leak": (np.float64, np.nan, 1), "level_lel": (np.float64, np.nan, 1),
    "expected_lel": (np.float64, np.nan, 1), "peak_lel": (np.float64, 0.0, 1),
    "leak_lv": (np.int8, 0, 1), "sewer_lv": (np.int8, 0, 1), "verdict": (np.int8, 0, 1),
}
"""Per space: name → (dtype, fill, columns)."""
GLOBAL = {"minute": -1, "city": 0.0}
VERDICTS = ("quiet", "leak", "biogas", "fault", "watching")
LEAK, SEWER = 1, 2  # event kinds in the kernel's output


@numba.njit(cache=True, nogil=True)
def _sigmoid(x):  # type: ignore[no-untyped-def]
    return 1.0 / (1.0 + math.exp(-x)) if x > -50 else 0.0


@numba.njit(cache=True, nogil=True)
def _noise(v):  # type: ignore[no-untyped-def]
    return math.sqrt(NOISE_LEL ** 2 + (NOISE_SHARE * v) ** 2)


@numba.njit(cache=True, nogil=True)
def _leak_level(lel, spread, sensitive):  # type: ignore[no-untyped-def]
    """Severity of a judged leak: its %LEL against GB 30871 (entry ≤ 10), GB 50838 (alarm 20,
    cut-off 35), raised where it has spread or people are near (``danger``)."""
    if lel >= 35.0 or (lel >= 20.0 and sensitive):
        return 4
    if lel >= 20.0 or (lel >= 10.0 and sensitive):
        return 3
    if lel >= 10.0 or spread:
        return 2
    return 1


@numba.njit(cache=True, nogil=True)
def _sewer_level(lel):  # type: ignore[no-untyped-def]
    """Severity of dangerous sewer gas: alarm 20 %LEL (GB 50838), 50 (GB/T 50493 second level), 100 (explosive)."""
    if lel >= 100.0:
        return 4
    if lel >= 50.0:
        return 3
    if lel >= 20.0:
        return 2
    return 0


@numba.njit(cache=True, nogil=True)
def feed(sp, is_eth, t_ms, v, glob_i, glob_f, tz_ms, biogas, sensitive, neighbours, coef, p_leak_on,  # type: ignore[no-untyped-def]
         pend, pend_eth, ring, ring_eth, base, dev, rough, cusum, ep_start, quiet, feat, p_leak,
         level_lel, expected_lel, peak_lel, leak_lv, sewer_lv, verdict,
         o_sp, o_t, o_kind, o_lv, o_act, o_val, o_p):
    """Feed readings (sorted by time) and analyse every minute they complete; returns (events written,
    readings consumed): it stops early when the output could overflow, to be called again."""
    n_out = 0
    room = len(o_sp) - 2 * pend.shape[0]
    for i in range(len(t_ms)):
        m = t_ms[i] // MINUTE_MS
        if glob_i[0] < 0:
            glob_i[0] = m
        while glob_i[0] + LATE_MINUTES < m:  # minutes now complete
            if n_out > room:
                return n_out, i
            if m - glob_i[0] > GAP_SKIP_MINUTES + SLOTS:
                empty = True
                for s in range(pend.shape[0]):
                    for k in range(SLOTS):
                        if not math.isnan(pend[s, k]):
                            empty = False
                if empty:
                    glob_i[0] = m - LATE_MINUTES - 1
                    continue
            n_out = _minute(glob_i[0], glob_f, tz_ms, biogas, sensitive, neighbours, coef, p_leak_on,
                            pend, pend_eth, ring, ring_eth, base, dev, rough, cusum, ep_start, quiet, feat,
                            p_leak, level_lel, expected_lel, peak_lel, leak_lv, sewer_lv, verdict,
                            o_sp, o_t, o_kind, o_lv, o_act, o_val, o_p, n_out)
            glob_i[0] += 1
        if m >= glob_i[0] and m - glob_i[0] < SLOTS:  # readings older than the open minutes are late
            if is_eth[i]:
                pend_eth[sp[i], m % SLOTS] = v[i]
            else:
                pend[sp[i], m % SLOTS] = v[i]
    return n_out, len(t_ms)


@numba.njit(cache=True, nogil=True)
def _minute(m, glob_f, tz_ms, biogas, sensitive, neighbours, coef, p_leak_on,  # type: ignore[no-untyped-def]
            pend, pend_eth, ring, ring_eth, base, dev, rough, cusum, ep_start, quiet, feat, p_leak,
            level_lel, expected_lel, peak_lel, leak_lv, sewer_lv, verdict,
            o_sp, o_t, o_kind, o_lv, o_act, o_val, o_p, n_out):
    n = pend.shape[0]
    slot = m % SLOTS
    col = m % WINDOW
    hour = ((m * MINUTE_MS + tz_ms) // HOUR_MS) % 24
    t_end = (m + 1) * MINUTE_MS
    vals = np.empty(n)
    for s in range(n):
        vals[s] = pend[s, slot]
        pend[s, slot] = np.nan
        ring[s, col] = vals[s]
        ring_eth[s, col] = pend_eth[s, slot]
        pend_eth[s, slot] = np.nan
    # each space's learned biogas for this hour (the mean of its other hours while this one is unlearned)
    learned = np.empty(n)
    for s in range(n):
        b = base[s, hour]
        if math.isnan(b):
            total, cnt = 0.0, 0
            for h in range(24):
                if not math.isnan(base[s, h]):
                    total += base[s, h]
                    cnt += 1
            if cnt:
                b = total / cnt
                base[s, hour] = b  # this hour starts from the space's other hours
        learned[s] = b
    # the city's biogas factor: every manhole against its learned level
    ratios = np.empty(n)
    k = 0
    for s in range(n):
        b = learned[s]
        if biogas[s] and not math.isnan(vals[s]) and not math.isnan(b):
            ratios[k] = math.log((vals[s] + 1.0) / (b + 1.0))
            k += 1
    if k >= 3:
        glob_f[0] += 0.1 * (np.median(ratios[:k]) - glob_f[0])
    factor = math.exp(glob_f[0])
    # each space: expected biogas, excess, episode
    for s in range(n):
        v = vals[s]
        b = learned[s]
        if math.isnan(v):
            continue
        if ep_start[s] < 0:
            level_lel[s] = v
        if math.isnan(b):  # the first reading of a space: its starting level
            base[s, hour] = v / factor
            continue
        b_exp = max((b + 1.0) * factor - 1.0, 0.0)
        expected_lel[s] = b_exp
        z = (v - b_exp) / (_noise(v) + dev[s] * (b_exp + 1.0))
        cusum[s] = max(0.0, cusum[s] + min(z, Z_CAP) - CUSUM_K)  # one wild reading cannot open an episode
        prev = ring[s, (m - 1) % WINDOW]
        if ep_start[s] < 0:
            if cusum[s] > CUSUM_H:
                ep_start[s] = m
                peak_lel[s] = v
                quiet[s] = 0
                verdict[s] = 4
            elif abs(z) < 2.0:  # learn from quiet minutes
                base[s, hour] += LEARN_RATE * ((v + 1.0) / factor - 1.0 - base[s, hour])
                dev[s] = min(max(dev[s] + SPREAD_RATE * (abs(math.log((v + 1.0) / (b_exp + 1.0))) - dev[s]),
                                 0.05), 1.0)
                if not math.isnan(prev):
                    ratio = abs(v - prev) / (1.128 * math.sqrt(2.0 * _noise(v) ** 2 + (BREATHING * v) ** 2))
                    rough[s] = min(max(rough[s] + 0.01 * (ratio - rough[s]), 0.5), 3.0)
        else:
            peak_lel[s] = max(peak_lel[s], v)
            quiet[s] = quiet[s] + 1 if cusum[s] == 0.0 else 0
            if verdict[s] == 2:  # a long biogas episode slowly becomes this space's usual
                base[s, hour] += 0.1 * LEARN_RATE * ((v + 1.0) / factor - 1.0 - base[s, hour])
    # features of the spaces in an episode
    for s in range(n):
        if ep_start[s] < 0:
            continue
        span = min(WINDOW, m - ep_start[s] + 1)
        tot, cnt, dsum, dcnt, eth = 0.0, 0, 0.0, 0, 0.0
        ecnt = 0
        last = np.nan
        recent, rcnt = 0.0, 0
        for j in range(span):
            x = ring[s, (m - span + 1 + j) % WINDOW]
            e = ring_eth[s, (m - span + 1 + j) % WINDOW]
            if not math.isnan(e):
                eth += e
                ecnt += 1
            if math.isnan(x):
                last = np.nan
                continue
            tot += x
            cnt += 1
            if j >= span - 5:
                recent += x
                rcnt += 1
            if not math.isnan(last):
                dsum += abs(x - last)
                dcnt += 1
            last = x
        if cnt == 0:
            continue
        mean = tot / cnt
        level_lel[s] = recent / rcnt if rcnt else mean
        b_exp = expected_lel[s]
        feat[s, 0] = math.log((mean + 1.0) / (b_exp + 1.0))
        feat[s, 1] = 0.0
        if dcnt >= 4:
            expect = rough[s] * 1.128 * math.sqrt(2.0 * _noise(mean) ** 2 + (BREATHING * mean) ** 2)
            feat[s, 1] = math.log(max(dsum / dcnt, 1e-9) / expect)
        feat[s, 3] = 0.0
        if ecnt and mean - b_exp > 1.0:
            c2c1 = (eth / ecnt) / ((mean - b_exp) * ETHANE_PPM_PER_LEL)
            feat[s, 3] = min(max(math.log10(max(c2c1, 1e-9) / 0.005), -2.0), 2.0)
    for s in range(n):
        if ep_start[s] < 0:
            continue
        best = 0.0
        for j in range(neighbours.shape[1]):
            o = neighbours[s, j]
            if o >= 0 and ep_start[o] >= 0 and abs(ep_start[o] - ep_start[s]) <= SPREAD_MINUTES:
                best = max(best, feat[o, 0])
        feat[s, 2] = best
    # judgement and events
    for s in range(n):
        if ep_start[s] < 0:
            continue
        lel = level_lel[s]
        if quiet[s] >= END_MINUTES:  # the episode is over
            if leak_lv[s] > 0:
                n_out = _emit(o_sp, o_t, o_kind, o_lv, o_act, o_val, o_p, n_out, s, t_end, LEAK, leak_lv[s], False,
                              lel, p_leak[s])
            if sewer_lv[s] > 0:
                n_out = _emit(o_sp, o_t, o_kind, o_lv, o_act, o_val, o_p, n_out, s, t_end, SEWER, sewer_lv[s], False,
                              lel, p_leak[s])
            ep_start[s] = -1
            leak_lv[s] = 0
            sewer_lv[s] = 0
            verdict[s] = 0
            cusum[s] = 0.0
            p_leak[s] = np.nan
            continue
        if m - ep_start[s] + 1 < MIN_JUDGE_MINUTES:
            continue
        x = coef[0]
        for f in range(FEATURES):
            x += coef[f + 1] * feat[s, f]
        p = _sigmoid(x)
        p_leak[s] = p
        flat = feat[s, 1] < -1.5 and lel > 2.0  # flatter than the detector's own noise: a stuck sensor
        if flat:
            verdict[s] = 3
        elif p >= p_leak_on or leak_lv[s] > 0:
            verdict[s] = 1
        else:
            verdict[s] = 2
        if verdict[s] == 1:
            lv = _leak_level(lel, feat[s, 2] > 0.7, sensitive[s])
            if lv > leak_lv[s]:
                leak_lv[s] = lv
                n_out = _emit(o_sp, o_t, o_kind, o_lv, o_act, o_val, o_p, n_out, s, t_end, LEAK, lv, True, lel, p)
            if sewer_lv[s] > 0:
                n_out = _emit(o_sp, o_t, o_kind, o_lv, o_act, o_val, o_p, n_out, s, t_end, SEWER, sewer_lv[s],
                              False, lel, p)
                sewer_lv[s] = 0
        elif verdict[s] == 2:
            lv = _sewer_level(lel)
            if lv > sewer_lv[s]:
                sewer_lv[s] = lv
                n_out = _emit(o_sp, o_t, o_kind, o_lv, o_act, o_val, o_p, n_out, s, t_end, SEWER, lv, True, lel, p)
            elif sewer_lv[s] > 0 and lel < SEWER_CLEAR_LEL:
                n_out = _emit(o_sp, o_t, o_kind, o_lv, o_act, o_val, o_p, n_out, s, t_end, SEWER, sewer_lv[s], False,
                              lel, p)
                sewer_lv[s] = 0
    return n_out


@numba.njit(cache=True, nogil=True)
def _emit(o_sp, o_t, o_kind, o_lv, o_act, o_val, o_p, n, s, t, kind, lv, active, lel, p):  # type: ignore[no-untyped-def]
    if n < len(o_sp):
        o_sp[n], o_t[n], o_kind[n], o_lv[n], o_act[n], o_val[n], o_p[n] = s, t, kind, lv, active, lel, p
        return n + 1
    return n
