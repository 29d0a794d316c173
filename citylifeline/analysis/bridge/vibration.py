"""A bridge's raw acceleration, as its accelerometer sends it, into the first frequency every ten minutes.

Structural-health accelerometers sample at 50–200 Hz and send blocks of samples (``ingest.payload``'s
``blocks``); where a bridge's gateway does not identify the frequency itself, the analyst does:
each bridge's samples are placed in the current ten-minute window (``modal.FREQ_WINDOW_S``) by their
time, and when a sample of a later window comes, the window closes and its first frequency is
identified (``modal.identify_f1``: the spectrum's peak near the nominal first frequency, the city
model's ``f1_hz``).  A window with under ``MIN_SHARE`` of its samples (a gateway down, a link
lost) identifies nothing; missing samples are zeros about the window's mean, which lowers the
peak but does not move it (a sample sent twice counts once).  Samples older than the window being
filled come too late and are left out of the identification (they are stored like any reading).
The state is one window of samples per bridge: 60,000 floats at 100 Hz.
"""

from __future__ import annotations

import numpy as np

from ...batch import F64, I64
from .modal import FREQ_WINDOW_S, identify_f1

MIN_SHARE = 0.9
RAW_MAX_INTERVAL_S = 0.05  # an acceleration sensor reporting this often or more sends raw samples (≥ 20 Hz)


class RawWindows:
    """Per bridge, the window of raw acceleration being filled (see the module docstring)."""

    def __init__(self, hz: F64, nominal_hz: F64) -> None:
        self.hz = np.asarray(hz, np.float64)
        self.nominal_hz = np.asarray(nominal_hz, np.float64)
        size = int(np.nan_to_num(self.hz, nan=0.0).max(initial=0.0) * FREQ_WINDOW_S)
        self.samples = np.zeros((len(self.hz), size))
        self.have = np.zeros((len(self.hz), size), bool)
        self.filled = np.zeros(len(self.hz), np.int64)
        self.window_ms = np.full(len(self.hz), -1, np.int64)

    def add(self, b: int, t_ms: I64, accel_ms2: F64) -> list[tuple[int, float]]:
        """Bridge b's samples (in time order); each window they close: (its end, ms; its first frequency, Hz)."""
        step_ms = FREQ_WINDOW_S * 1000
        win = t_ms // step_ms * step_ms
        n = round(self.hz[b] * FREQ_WINDOW_S)
        out = []
        for w in np.unique(win[win >= self.window_ms[b]]).tolist():
            if w != self.window_ms[b]:
                out += self._close(b, n)
                self.window_ms[b], self.filled[b] = w, 0
                self.samples[b, :n], self.have[b, :n] = 0.0, False
            sel = win == w
            k = np.minimum(np.round((t_ms[sel] - w) * self.hz[b] / 1000).astype(np.int64), n - 1)
            self.samples[b, k], self.have[b, k] = accel_ms2[sel], True
            self.filled[b] += int(sel.sum())
        return out

    def _close(self, b: int, n: int) -> list[tuple[int, float]]:
        if self.window_ms[b] < 0 or self.have[b, :n].sum() < MIN_SHARE * n:
            return []
        have = self.have[b, :n]
        x = np.where(have, self.samples[b, :n] - self.samples[b, :n][have].mean(), 0.0)
        f = identify_f1(x, float(self.hz[b]), float(self.nominal_hz[b]))
        return [(int(self.window_ms[b]) + FREQ_WINDOW_S * 1000, float(f[0]))] if len(f) else []

    def state(self) -> dict[str, np.ndarray]:
        return {"samples": self.samples.copy(), "have": self.have.copy(), "filled": self.filled.copy(),
                "window_ms": self.window_ms.copy()}

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        if arrays["samples"].shape == self.samples.shape:
            self.samples, self.have = arrays["samples"].copy(), arrays["have"].copy()
            self.filled = arrays["filled"].copy()
            self.window_ms = arrays["window_ms"].copy()
