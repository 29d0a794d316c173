"""A bridge's first frequency compensated for temperature, and a damage index with a stated false-alarm rate.

A bridge getting weaker loses a percent or two of its natural frequencies, under daily and seasonal
swings from temperature several times larger (DOMAIN.md §2: KW51's retrofit moved its modes
1.4–2.6 %, 10–20 residual spreads once temperature was regressed out; an arch bridge's dynamic
regression and control charts saw shifts of a few mHz).  So, per bridge:

- **Compensation**: the identified first frequency regressed on the deck thermometer's reading
  passed through first-order lags of ``LAGS_H`` hours (a distributed-lag, ARX-like regression).
  The girder's mass makes its temperature lag the air by hours, and no one lag is right for every
  bridge and weather; the regression weighs the lags as the bridge's own history says (on the
  twin, a single best lag left a temperature-dependent bias of 0.1–0.2 % in summer).  Least
  squares with a little ridge (the lags are collinear), kept as sufficient statistics (XᵀX, Xᵀy,
  yᵀy), so the state is a few numbers.
- **Frost**: below 0 °C the asphalt and the bearings stiffen and the frequency rises steeply
  (Peeters & De Roeck, *Earthquake Eng. Struct. Dyn.* 30:149–171, 2001, Z24's year).  The knee sits
  on the girder's temperature, which no thermometer reads, so a cold night's surface predicts a
  stiffening the girder has not reached and a drop appears that is no damage.  A window whose
  lagged temperatures go below ``FROST_MARGIN_C`` is neither learnt nor judged (the chart holds);
  in Hefei that is some winter nights.
- **What it learns from**: every window of the first ``LEARN_DAYS``, then a window only where its
  temperature (1 °C bins of the longest lag) has fewer than ``BIN_WINDOWS`` reference windows and
  the chart is quiet.  A season not yet seen is learnt as it comes — its first half day at each new
  degree is learnt, not judged, the price of learning online.  A temperature already learnt is
  never learnt again, so a slow loss of stiffness is not learnt away.
- **Damage index**: each window's residual over its prediction's spread — the reference spread
  times √(1 + x(XᵀX)⁻¹xᵀ), larger where the temperatures lie outside those learnt — clipped at
  ±``CLIP`` (a misidentified peak is one window's outlier), into a one-sided lower CUSUM (a weaker
  bridge has a lower frequency).  It is tuned to a drop of ``DESIGN_DROP`` (1.5 % of f1, a 3 % loss of
  stiffness): k is half of it in spreads; h is set by Siegmund's approximation for an in-control
  average run length of ``ARL0_DAYS``.  After an alarm, the drop is estimated as the mean residual
  since the CUSUM last stood at zero (its change point); the chart re-arms when it returns there.

Measured on the bridge twin (``twin.bridgeyear``, the 2nd St bridge, a year from a different day
of the year for each seed; 2026-12-06): designed for one false alarm in two years, seeds 201–212
gave 1.08 a bridge-year (the residuals are not independent: the temperature model's errors come
in runs), so ``ARL0_DAYS`` is ten years; then seeds 201–212 gave 0.25 and held-out seeds 301–324
0.17 false alarms a bridge-year.  A 3 % loss of stiffness, at once: alarmed after 0.5–1.7 h (seeds
101 and 303, spring and summer); 10 %: after 20 min; 3 % grown over a week: after 2.7–3.9 days.
PCA without a thermometer and cointegration (DOMAIN.md) were not tried.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...batch import F64, I64

LAGS_H = (0.0, 1.5, 3.0, 6.0, 12.0)  # the thermometer's reading smoothed by each; the best fit is used
LEARN_DAYS = 7
BIN_WINDOWS = 72  # half a day of ten-minute windows per degree
BIN_LO_C, BIN_HI_C = -30, 50
DESIGN_DROP = 0.015
ARL0_DAYS = 3650.0
CLIP = 5.0
RIDGE = 1e-3
QUIET_Z = 3.0
FROST_MARGIN_C = 2.0  # a window whose lagged temperatures go below this is neither learnt nor judged
WINDOWS_A_DAY = 144
FREQ_WINDOW_S = 600  # a frequency is identified from ten minutes of acceleration


def cusum_limit(k: float, arl0: float) -> float:
    """The limit h of a one-sided CUSUM with reference k (in spreads) whose in-control average run
    length is ``arl0`` steps, by Siegmund's approximation ARL = (e^{2kb} − 2kb − 1)/(2k²), b = h + 1.166."""
    def arl(h: float) -> float:
        b = 2 * k * (h + 1.166)
        return (math.exp(min(b, 700)) - b - 1) / (2 * k * k)

    lo, hi = 0.0, 100.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if arl(mid) < arl0 else (lo, mid)
    return hi


@dataclass
class Alarm:
    """The chart's alarm: when, the drop of the compensated frequency (a fraction), the CUSUM in
    spreads, and when the drop began (the CUSUM's change point)."""

    t_ms: int
    drop: float
    sigmas: float
    since_ms: int


def identify_f1(raw: F64, hz: float, nominal_hz: float, window_s: int = FREQ_WINDOW_S) -> F64:
    """The first frequency in each ``window_s`` of raw acceleration sampled at ``hz``: the peak of the
    Hann-windowed spectrum between 0.7 and 1.3 of the nominal first frequency, interpolated by a
    parabola through the log amplitudes either side (peak picking, the method of the SHM gateways
    that report an identified frequency; a damped mode's peak sits within its half-power band).
    On the twin's first mode under wind and traffic: 0.83–0.91 % spread in ten minutes
    (``twin.bridgeyear.FREQ_ID_SIGMA``)."""
    step = round(window_s * hz)
    freqs = np.fft.rfftfreq(step, 1 / hz)
    band = np.flatnonzero((freqs > 0.7 * nominal_hz) & (freqs < 1.3 * nominal_hz))
    window = np.hanning(step)
    out = []
    for start in range(0, len(raw) - step + 1, step):
        spec = np.abs(np.fft.rfft(raw[start:start + step] * window))
        i = int(band[np.argmax(spec[band])])
        y0, y1, y2 = np.log(spec[i - 1:i + 2] + 1e-30)
        curve = y0 - 2 * y1 + y2
        out.append(freqs[i] + (0.5 * (y0 - y2) / curve if curve != 0 else 0.0) * (freqs[1] - freqs[0]))
    return np.array(out)


def features(lagged_c: F64) -> F64:
    """The regression's columns: 1 and the thermometer's reading through each lag (``LAGS_H``)."""
    t = np.asarray(lagged_c, dtype=np.float64)
    return np.concatenate([np.ones((*t.shape[:-1], 1)), t], axis=-1)


class FrequencyChart:
    """One bridge's compensation and damage chart; fed windows in time order (see the module docstring)."""

    def __init__(self) -> None:
        n = len(LAGS_H) + 1
        self.xtx = np.zeros((n, n))
        self.xty = np.zeros(n)
        self.yty = 0.0
        self.bins = np.zeros(BIN_HI_C - BIN_LO_C, dtype=np.int64)
        self.lagged = np.full(len(LAGS_H), np.nan)
        self.first_ms = self.last_ms = self.run_from_ms = -1
        self.s, self.run_sum, self.run_n, self.alarmed = 0.0, 0.0, 0, False
        self.last_residual = math.nan
        self.judged_ms = -1  # the latest window judged (not learnt only, not frost); not checkpointed: read at once

    # -- the model ------------------------------------------------------------------------
    def coef(self) -> F64:
        n = max(self.xtx[0, 0], 1.0)
        ridge = RIDGE * n * np.diag(np.r_[0.0, np.ones(len(self.xty) - 1)])
        return np.asarray(np.linalg.solve(self.xtx + ridge + 1e-12 * np.eye(len(self.xty)), self.xty),
                          dtype=np.float64)

    def spread(self) -> float:
        """The relative spread of the reference windows about the model (NaN before ten)."""
        n = self.xtx[0, 0]
        if n < 10:
            return math.nan
        b = self.coef()
        rss = self.yty - 2 * b @ self.xty + b @ self.xtx @ b
        return math.sqrt(max(rss, 0.0) / (n - len(b))) / (self.xty[0] / n)

    def leverage(self, x: F64) -> float:
        """x (XᵀX)⁻¹ xᵀ: how far a window's temperatures lie from those learnt (a prediction's
        variance is the spread's square times one plus it: extrapolating is uncertain)."""
        a = self.xtx + RIDGE * max(self.xtx[0, 0], 1.0) * np.diag(np.r_[0.0, np.ones(len(x) - 1)])
        return float(x @ np.linalg.solve(a + 1e-12 * np.eye(len(x)), x))

    def limit(self) -> float:
        """The CUSUM's limit h at the reference spread (NaN before ten windows)."""
        sigma = self.spread()
        if not math.isfinite(sigma) or sigma <= 0:
            return math.nan
        return cusum_limit(round(DESIGN_DROP / sigma / 2, 3), ARL0_DAYS * WINDOWS_A_DAY)

    def learning(self, t_ms: int) -> bool:
        return self.first_ms < 0 or t_ms - self.first_ms < LEARN_DAYS * 86_400_000

    # -- the stream -----------------------------------------------------------------------
    def update(self, t_ms: I64, f_hz: F64, deck_c: F64) -> list[Alarm]:
        """Take the next windows (identified frequency, deck thermometer); the alarms they raise."""
        out = []
        h_by_k: dict[float, float] = {}
        for t, f, c in zip(np.asarray(t_ms).tolist(), np.asarray(f_hz).tolist(), np.asarray(deck_c).tolist(),
                           strict=True):
            if not (math.isfinite(f) and math.isfinite(c)):
                continue
            lagged = self._lag(t, c)
            if self.first_ms < 0:
                self.first_ms = t
            if lagged.min() < FROST_MARGIN_C:  # frost: not learnt, not judged
                continue
            x = features(lagged)
            b = int(np.clip(math.floor(lagged[-1]) - BIN_LO_C, 0, len(self.bins) - 1))
            if self.learning(t):
                self._learn(x, f, b)
                continue
            sigma = self.spread() * math.sqrt(1 + self.leverage(x))
            r = f / float(x @ self.coef()) - 1
            self.last_residual, self.judged_ms = r, t
            z = max(-CLIP, min(CLIP, r / sigma))
            k = round(DESIGN_DROP / sigma / 2, 3)
            h = h_by_k.setdefault(k, cusum_limit(k, ARL0_DAYS * WINDOWS_A_DAY))
            if self.s == 0.0:
                self.run_sum, self.run_n, self.run_from_ms = 0.0, 0, t
            self.s = max(0.0, self.s - z - k)
            self.run_sum, self.run_n = self.run_sum + r, self.run_n + 1
            if self.s > h and not self.alarmed:
                self.alarmed = True
                out.append(Alarm(t, -self.run_sum / self.run_n, self.s, self.run_from_ms))
            elif self.s == 0.0:
                self.alarmed = False
            if self.bins[b] < BIN_WINDOWS and self.s < h / 2 and abs(z) < QUIET_Z:
                self._learn(x, f, b)
        return out

    def _lag(self, t_ms: int, deck_c: float) -> F64:
        """The thermometer's reading through each lag (a gap of over six hours starts them again)."""
        tau = np.array(LAGS_H)
        if self.last_ms < 0 or t_ms - self.last_ms > 6 * 3_600_000 or not np.isfinite(self.lagged).all():
            self.lagged = np.full(len(tau), deck_c)
        else:
            a = np.exp(-(t_ms - self.last_ms) / 3_600_000 / np.maximum(tau, 1e-9))
            self.lagged = a * self.lagged + (1 - a) * deck_c
        self.last_ms = t_ms
        return self.lagged

    def _learn(self, x: F64, f: float, b: int) -> None:
        self.xtx += np.outer(x, x)
        self.xty += x * f
        self.yty += f * f
        self.bins[b] += 1

    # -- state ------------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        scalars = np.array([self.first_ms, self.last_ms, self.run_from_ms, self.s, self.run_sum, self.run_n,
                            float(self.alarmed), self.last_residual, self.yty])
        return {"xtx": self.xtx.copy(), "xty": self.xty.copy(), "bins": self.bins.copy(),
                "lagged": self.lagged.copy(), "scalars": scalars}

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        self.xtx, self.xty = arrays["xtx"].copy(), arrays["xty"].copy()
        self.bins, self.lagged = arrays["bins"].copy(), arrays["lagged"].copy()
        sc = arrays["scalars"]
        self.first_ms, self.last_ms, self.run_from_ms = int(sc[0]), int(sc[1]), int(sc[2])
        self.s, self.run_sum, self.run_n, self.alarmed = float(sc[3]), float(sc[4]), int(sc[5]), bool(sc[6])
        self.last_residual, self.yty = float(sc[7]), float(sc[8])
