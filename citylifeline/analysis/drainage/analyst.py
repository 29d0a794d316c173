"""The drainage analyst: waterlogging forecast on the city's own SWMM model, live.

"Warning before the water is on the road": every five minutes of readings (``STEP_MS``; a step
closes once readings ``LATE_MS`` past its end have come) the analyst

1. runs the city's SWMM model over that step with the rain its gauges measured (the *now-run*,
   ``model.SwmmModel.step``, from the last step's hotstart: 6 ms on the demo city).  Beginning
   from the model's dry-weather state, it follows the sewers through every storm;
2. while it rains, or rain is forecast, or a place is wet or warned, forecasts the next
   ``HORIZON_STEPS`` (two hours) from that state, once per rain scenario (``rain.RainOutlook``:
   the members of the latest forecast a meteorological service pushed, else the nowcast of its
   own gauges), and reads the water at each watched place (``places``): the waterlogging points
   the city declared, and each catchment's manholes;
3. judges each place: the share of scenarios in which the water passes its warning depth within the
   horizon (a catchment: any manhole overflowing by more than 20 L/s).  Past ``WARN_SHARE``, the
   place is warned: a ``waterlogging_forecast`` event on the place's sensor, with when (the median
   first time among the scenarios that pass it), how deep (median peak, 10–90 % band), where the
   rain comes from, graded by the peak depth over the warning depth times the place's importance
   (``grade``).  A later forecast that moves the time by ``RETIME_MS`` or more, or changes the level,
   is another event on it (the incident's timeline follows the storm); once no scenario passes the
   depth and the place is dry again, an event clears it ("withdrawn" if it never came).

While it rains and for ``DRAIN_MS`` after (the sewers draining), the fixed limits of the drainage
level, flow and rain sensors are evidence, not incidents (``judged_from_ms``): the forecast
judges whether the network copes.  In dry weather they open incidents as before (a level high with
no rain is a blockage or an inflow, which no rain forecast explains).

The model is the city's own, and the city is not quite its model: each level gauge on a model node
is compared with the now-run at each step (``status``: ``gauges``), and its error is added to its
node's water now and ahead, fading over ``ERROR_TAU_S`` (a simple data assimilation: error updating,
as operational flood forecasts are updated; the model's state itself is not nudged).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from ...batch import NEVER_MS, NO_TIME, ReadingBatch
from ...city.model import City
from ...city.sensors import SensorRegistry
from ...forecasts import RainForecastRecord
from ...settings import Config
from ...warn.model import Event, Incident
from ..base import Analyst, per_reading
from .model import REPORT_S, SCAN_S, STEP_S, SwmmModel
from .places import WATCHED_KINDS, Watched, street_depth, watched_places
from .rain import RainForecast, RainOutlook

STEP_MS = STEP_S * 1000
LATE_MS = STEP_MS  # a step closes once readings a step past its end have come
RING = 4  # open steps kept
HORIZON_STEPS = 24  # two hours ahead
HISTORY_STEPS = 24  # two hours of rain kept, for the nowcast and the status
WET_MM_H = 0.5  # rain at or above this is rain
DRAIN_MS = 3 * 3600 * 1000  # the sewers drain for three hours after the rain
WARN_SHARE = 0.5  # the share of rain scenarios that must pass a place's depth to warn it
RETIME_MS = 15 * 60 * 1000
DRY_SHARE = 0.5  # a place is dry again below this share of its warning depth
MAX_MEMBERS = 5  # a larger ensemble is thinned to this many (evenly by rank of total rain): 0.7 s a forecast
RESTART_MS = 86_400_000  # readings resuming after a day's silence: the now-run starts again from dry weather
GAP_STEPS = 3  # a silent rain gauge's last step is held this long, then taken as no rain
ERROR_TAU_S = 3600.0
"""A level gauge's error against the model, added to its node's forecast, fades with this time: the
updating of operational flood forecasts by an autoregressive error model (WMO Manual on flood
forecasting and warning, WMO-No. 1072, 2011; Refsgaard, Nordic Hydrology 28:65, 1997).  The model's
error comes from the city's sewers and rain field being other than the model's; it persists over the
hour of a storm's rise and passes with it."""
LEADS_S: npt.NDArray[np.float64] = (np.arange(HORIZON_STEPS * STEP_S // REPORT_S, dtype=np.float64) + 1) * REPORT_S
SEVERITY_BOUNDS = (3.0, 6.0, 12.0)  # importance × peak/depth at which III, II, I begin
M_S_TO_MM_H = 3_600_000.0  # a rain gauge's canonical m/s in mm/h


def _num(v: float) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 3)


def grade(importance: int, peak_m: float, depth_m: float) -> int:
    """A warned place's level (a severity: IV = 1 … I = 4) from its importance (1–5) and the forecast
    peak over its warning depth: a road at its depth is IV, an underpass (4) at its depth III, at twice
    it II, at three times it I; a hospital entrance (5) at its depth III."""
    score = importance * peak_m / depth_m
    return 1 + int(np.searchsorted(SEVERITY_BOUNDS, score, side="right"))


class DrainageAnalyst(Analyst):
    """Waterlogging forecast at every watched place (see the module docstring)."""

    name = "drainage"
    lifeline = "drainage"
    kinds = ("waterlogging_forecast",)

    def __init__(self, city: City, registry: SensorRegistry, config: Config) -> None:
        super().__init__(city, registry, config)
        self._lock = threading.RLock()
        self.tz = ZoneInfo(city.timezone)
        layer = city.layers.get("drainage")
        self.places, nodes, gauge_col = watched_places(city, registry) if layer is not None and layer.model \
            else ([], [], {})
        self.model = SwmmModel.of_file(layer.model, nodes) if self.places and layer is not None else None
        gauges = self.model.gauges if self.model else []
        n = len(registry)
        self.role = np.full(n, -1, np.int16)  # a rain sensor's gauge (0…), a level sensor -2, else -1
        for i in range(n):
            if registry.layer[i] != "drainage" or registry.kind[i] not in WATCHED_KINDS:
                continue
            name = registry.asset[i].rsplit("/", 1)[-1]
            if registry.kind[i] == "rainfall":
                self.role[i] = gauges.index(name) if name in gauges else (0 if gauges else -1)
            else:
                self.role[i] = -2
        self.gauge_ids = {registry.ids[i]: gauges[self.role[i]] for i in range(n) if self.role[i] >= 0}
        self.outlook = RainOutlook()
        self._parsed: dict[int, RainForecast] = {}  # the forecasts given, by record id
        g, p = len(gauges), len(self.places)
        self.step_ms = np.array([NO_TIME], np.int64)  # the first open step's start
        self.seen_ms = np.array([NO_TIME], np.int64)  # the newest reading time
        self.ring_sum = np.zeros((g, RING))
        self.ring_n = np.zeros((g, RING), np.int64)
        self.gauges = sorted(gauge_col)  # the level gauges on model nodes (registry indices)
        self.gauge_col = np.array([gauge_col[i] for i in self.gauges], np.int64)  # ... their nodes' columns
        self.gauge_of = np.full(n, -1, np.int64)  # a sensor's slot among them
        self.gauge_of[self.gauges] = np.arange(len(self.gauges))
        self.level_sum = np.zeros((len(self.gauges), RING))
        self.level_n = np.zeros((len(self.gauges), RING), np.int64)
        self.levels = np.full((len(self.gauges), 3), np.nan)  # per gauge: observed, model, the error carried (m)
        self.untrusted = np.zeros(len(self.gauges), np.bool_)  # gauges the health detectors found frozen
        self.rain_off = np.zeros(n, np.bool_)  # rain sensors they found frozen (registry indices)
        self.point_gauge = np.array([int(self.gauge_of[w.gauge]) if w.gauge >= 0 else -1 for w in self.places],
                                    np.int64)
        self.rain = np.full((g, HISTORY_STEPS), np.nan)  # the last steps' rain, mm/h, newest last
        self.wet = np.array([NEVER_MS, NO_TIME], np.int64)  # the wet spell's first and last rain reading
        self.hot = np.zeros(0, np.uint8)  # the model's state at the first open step's start
        self.warned = np.zeros(p, np.int8)  # level warned (0: none)
        self.when_ms = np.full(p, NO_TIME, np.int64)  # when the water is expected to pass the depth
        self.share = np.zeros(p)
        self.now_m = np.zeros(p)  # the now-run's water at each place (catchment: overflow, m³/s)
        self.band = np.full((p, 3, HORIZON_STEPS), np.nan)  # 10, 50, 90 % of the water ahead, per step
        self.forecast_ms = np.array([NO_TIME, 0], np.int64)  # the last forecast's time and its cost (µs)
        self.source = ""

    # ---- the contract ------------------------------------------------------------------------------
    def judged(self) -> npt.NDArray[np.bool_]:
        """The drainage level, flow and rain sensors, while a forecast model runs."""
        return (self.role != -1) & (self.model is not None)

    def judged_from_ms(self) -> npt.NDArray[np.int64]:
        """From the latest wet spell's first rain (never before any rain)."""
        return np.where(self.judged(), self.wet[0], NEVER_MS).astype(np.int64)

    def judged_until_ms(self) -> npt.NDArray[np.int64]:
        """Until ``DRAIN_MS`` after the latest wet spell's last rain (spells within one batch are one)."""
        end = NEVER_MS if self.wet[0] == NEVER_MS else int(self.wet[1]) + DRAIN_MS
        return np.full(len(self.registry), end, dtype=np.int64)

    def rain_forecasts(self, forecasts: list[RainForecastRecord]) -> None:
        """The newest rain forecasts (each time one comes, and before a restart's replay)."""
        with self._lock:
            self._parsed = {r.id: self._parsed.get(r.id) or RainForecast.of_record(r) for r in forecasts}
            self.outlook.take(list(self._parsed.values()))

    def sensor_faults(self, faults: list[Event]) -> None:
        """A level gauge found frozen corrects nothing from then on, and a rain gauge's rain is no longer
        taken (its model gauge takes the other gauges' mean, or, with none, no rain after ``GAP_STEPS``),
        until the analyst starts again."""
        for e in faults:
            if e.sensor >= len(self.gauge_of):
                continue
            if self.role[e.sensor] >= 0:
                self.rain_off[e.sensor] = True
            g = int(self.gauge_of[e.sensor])
            if g >= 0:
                self.untrusted[g] = True
                self.levels[g, 2] = 0.0

    def resize(self, registry: SensorRegistry) -> None:
        """Start again with the new registry, keeping the forecasts given."""
        parsed = self._parsed
        super().resize(registry)
        self._parsed = parsed
        self.outlook.take(list(parsed.values()))

    def recalibrate(self) -> None:
        """Start the now-run again from the model's dry weather at the next readings (nothing is learnt)."""
        self.resize(self.registry)

    def update(self, batch: ReadingBatch) -> list[Event]:
        """Take the readings of the drainage sensors; close the steps they complete (module docstring)."""
        if self.model is None or not len(batch):
            return []
        role = per_reading(self.role, batch.sensor)
        mine = role != -1
        if not mine.any():
            return []
        with self._lock:
            return self._update(batch.take(mine), role[mine])

    def _update(self, b: ReadingBatch, role: npt.NDArray[np.int16]) -> list[Event]:
        events: list[Event] = []
        rain = (role >= 0) & ~per_reading(self.rain_off, b.sensor)
        mm_h = b.value * M_S_TO_MM_H
        wet_t = b.t_ms[rain & (mm_h >= WET_MM_H)]
        if len(wet_t):
            if self.wet[0] == NEVER_MS or self.seen_ms[0] > self.wet[1] + DRAIN_MS:
                self.wet[0] = int(wet_t.min())  # a new wet spell
            self.wet[1] = max(int(self.wet[1]), int(wet_t.max()))
        if self.step_ms[0] == NO_TIME:
            self._start(int(b.t_ms.min()))
        order = np.argsort(b.t_ms, kind="stable")
        t, role, mm_h = b.t_ms[order], role[order], mm_h[order]
        sensor, value = b.sensor[order], b.value[order]
        at = 0
        while at < len(t):  # a step closes at the first reading past its end and lateness, after all before it
            j = int(np.searchsorted(t, int(self.step_ms[0]) + STEP_MS + LATE_MS, side="left"))
            if j > at:
                self._collect(t[at:j], role[at:j], mm_h[at:j], sensor[at:j], value[at:j])
                self.seen_ms[0] = max(int(self.seen_ms[0]), int(t[j - 1]))
                at = j
            if at < len(t):
                self.seen_ms[0] = max(int(self.seen_ms[0]), int(t[at]))
                if self.seen_ms[0] - self.step_ms[0] > RESTART_MS:  # a long silence: start again, dry
                    self._start(int(self.seen_ms[0]))
                while self.seen_ms[0] >= self.step_ms[0] + STEP_MS + LATE_MS:
                    events += self._close()
        return events

    def _start(self, t_ms: int) -> None:
        """Begin the now-run at the step of ``t_ms`` from the model's dry-weather state."""
        assert self.model is not None
        self.step_ms[0] = t_ms // STEP_MS * STEP_MS
        self.hot = np.frombuffer(self.model.warm(self._local(int(self.step_ms[0]))), np.uint8).copy()
        self.ring_sum[:] = 0
        self.ring_n[:] = 0
        self.level_sum[:] = 0
        self.level_n[:] = 0

    def _collect(self, t: npt.NDArray[np.int64], role: npt.NDArray[np.int16], mm_h: npt.NDArray[np.float64],
                 sensor: npt.NDArray[np.int32], value: npt.NDArray[np.float64]) -> None:
        step = (t - self.step_ms[0]) // STEP_MS
        inside = (step >= 0) & (step < RING)
        ok = (role >= 0) & inside & np.isfinite(mm_h) & ~per_reading(self.rain_off, sensor)
        slot = (self.step_ms[0] // STEP_MS + step[ok]) % RING
        np.add.at(self.ring_sum, (role[ok], slot), mm_h[ok])
        np.add.at(self.ring_n, (role[ok], slot), 1)
        gauge = per_reading(self.gauge_of, sensor)
        ok = (gauge >= 0) & inside & np.isfinite(value)
        ok[ok] = ~self.untrusted[gauge[ok]]
        slot = (self.step_ms[0] // STEP_MS + step[ok]) % RING
        np.add.at(self.level_sum, (gauge[ok], slot), value[ok])
        np.add.at(self.level_n, (gauge[ok], slot), 1)

    def _close(self) -> list[Event]:
        """Run the model over the first open step; forecast from its end when it is wet."""
        assert self.model is not None
        t0 = int(self.step_ms[0])
        slot = (t0 // STEP_MS) % RING
        n = self.ring_n[:, slot]
        mm_h = np.where(n > 0, self.ring_sum[:, slot] / np.maximum(n, 1), np.nan)
        held = self.rain[:, -GAP_STEPS:]
        last = np.array([r[~np.isnan(r)][-1] if (~np.isnan(r)).any() else 0.0 for r in held])
        others = float(np.nanmean(mm_h)) if (~np.isnan(mm_h)).any() else np.nan
        used = np.where(~np.isnan(mm_h), mm_h, others if np.isfinite(others) else last)  # a silent gauge: the
        # others' mean, or with none its own last step for a while
        self.ring_sum[:, slot] = 0
        self.ring_n[:, slot] = 0
        observed = np.where(self.level_n[:, slot] > 0, self.level_sum[:, slot] / np.maximum(self.level_n[:, slot], 1),
                            np.nan)
        self.level_sum[:, slot] = 0
        self.level_n[:, slot] = 0
        self.rain = np.concatenate([self.rain[:, 1:], mm_h[:, None]], axis=1)
        hot, run = self.model.step(self.hot.tobytes(), self._local(t0), used)
        self.hot = np.frombuffer(hot, np.uint8).copy()
        self.step_ms[0] = t0 + STEP_MS
        self._assimilate(observed, run.depth_m[:, self.gauge_col].mean(axis=0))
        for k, w in enumerate(self.places):
            self.now_m[k] = (run.flood_m3s[-1, list(w.manholes)].max() if w.is_catchment
                             else float(street_depth(run.depth_m[-1:, w.node] + self._error(k, 0.0), w.full_m,
                                               w.street_per_m)[0]))
        if not self._forecasting(t0 + STEP_MS):
            return self._judge(t0 + STEP_MS, None)
        return self._judge(t0 + STEP_MS, self._forecast(t0 + STEP_MS))

    def _assimilate(self, observed: npt.NDArray[np.float64], model: npt.NDArray[np.float64]) -> None:
        """Each level gauge's error against the now-run (its step's mean against the model's): the error
        carried, which decays over ``ERROR_TAU_S`` while the gauge is silent or faulty."""
        carried = self.levels[:, 2] * np.exp(-STEP_S / ERROR_TAU_S)
        fresh = observed - model
        self.levels[:, 0], self.levels[:, 1] = observed, model
        self.levels[:, 2] = np.where(self.untrusted, 0.0, np.where(np.isfinite(fresh), fresh, np.nan_to_num(carried)))

    def _error(self, k: int, lead_s: float | npt.NDArray[np.float64]) -> float | npt.NDArray[np.float64]:
        """The gauge error to add to place ``k``'s node depth ``lead_s`` ahead (none without a gauge)."""
        g = int(self.point_gauge[k])
        if g < 0:
            return 0.0
        return float(np.nan_to_num(self.levels[g, 2])) * np.exp(-np.asarray(lead_s) / ERROR_TAU_S)

    def _forecasting(self, at_ms: int) -> bool:
        recent = np.nan_to_num(self.rain[:, -12:]).max(initial=0.0) >= WET_MM_H
        f = self.outlook.latest(at_ms, HORIZON_STEPS)
        coming = f is not None and float(f.mm_h.max(initial=0.0)) >= WET_MM_H
        bars = np.array([w.bar for w in self.places])
        return bool(recent or coming or self.warned.any() or (self.now_m >= DRY_SHARE * bars).any())

    def _forecast(self, at_ms: int) -> npt.NDArray[np.float64]:
        """Per scenario and place, the water ahead (scenarios × places × reports: m on the street, or
        a catchment's largest manhole overflow, m³/s, every ``SCAN_S``, held over its reports)."""
        assert self.model is not None
        began = time.perf_counter()
        members, self.source = self.outlook.scenarios(at_ms, self.rain, HORIZON_STEPS)
        if len(members) > MAX_MEMBERS:  # thin evenly by rank of the total rain
            order = np.argsort(members.sum(axis=(1, 2)), kind="stable")
            members = members[order[np.linspace(0, len(order) - 1, MAX_MEMBERS).round().astype(int)]]
        reports = HORIZON_STEPS * STEP_S // REPORT_S
        out = np.full((len(members), len(self.places), reports), np.nan)
        start = self._local(at_ms)
        ordered = self.source == "nowcast"  # members in the order of their rain, everywhere (rain.nowcast)
        median = len(members) // 2
        first = [median] if ordered else list(range(len(members)))
        self._run(members, first, start, out)
        if ordered:
            rest = [k for k in range(len(members)) if k != median]
            if self._notable(out[median]):
                self._run(members, rest, start, out)
            else:  # the median leaves every place dry: the others only bracket it
                out[rest] = out[median]
        self.forecast_ms[:] = (at_ms, int((time.perf_counter() - began) * 1e6))
        return out

    def _run(self, members: npt.NDArray[np.float64], which: list[int], start: datetime,
             out: npt.NDArray[np.float64]) -> None:
        """Forecast the members ``which`` and put each place's water ahead in ``out``."""
        assert self.model is not None
        reports = out.shape[2]
        for k, run in zip(which, self.model.forecasts(self.hot.tobytes(), start, [members[k] for k in which]),
                          strict=True):
            scans = np.repeat(run.flood_m3s, SCAN_S // REPORT_S, axis=0)[:reports]
            for j, w in enumerate(self.places):
                out[k, j] = scans[:, list(w.manholes)].max(axis=1) if w.is_catchment \
                    else street_depth(run.depth_m[:, w.node] + self._error(j, LEADS_S[:reports]), w.full_m,
                                    w.street_per_m)

    def _notable(self, ahead: npt.NDArray[np.float64]) -> bool:
        """Whether water ahead (places × reports) comes near any place's depth, or a place is warned."""
        bars = np.array([w.bar for w in self.places])
        return bool(self.warned.any() or (np.nanmax(ahead, axis=1) >= DRY_SHARE * bars).any())

    def _judge(self, at_ms: int, ahead: npt.NDArray[np.float64] | None) -> list[Event]:
        events = []
        for k, w in enumerate(self.places):
            bar = w.bar
            now = float(self.now_m[k])
            if ahead is None:
                share, when, peak = 0.0, NO_TIME, now
                self.band[k] = np.nan
            else:
                series = ahead[:, k]
                passes = series >= bar
                crossing = passes.any(axis=1)
                share = float(crossing.mean())
                first = np.where(crossing, passes.argmax(axis=1), -1)
                when = at_ms + int(np.median(first[crossing]) + 1) * REPORT_S * 1000 if crossing.any() else NO_TIME
                peak = float(np.median(series.max(axis=1)))
                steps = series[:, STEP_S // REPORT_S - 1:: STEP_S // REPORT_S]
                self.band[k] = np.percentile(steps, (10, 50, 90), axis=0)
            if now >= bar:  # wet now: the water is there
                share, when, peak = 1.0, at_ms if self.when_ms[k] == NO_TIME or self.when_ms[k] > at_ms else \
                    int(self.when_ms[k]), max(peak, now)
            self.share[k] = share
            depth = peak if not w.is_catchment else self._catchment_depth(peak, w.depth_m)
            level = grade(w.importance, depth, w.depth_m) if share >= WARN_SHARE else 0
            e = self._change(k, w, at_ms, level, when, depth, now)
            if e is not None:
                events.append(e)
        return events

    @staticmethod
    def _catchment_depth(overflow_m3s: float, depth_m: float) -> float:
        """A catchment's overflow as water on its road: the road's warning depth ``depth_m`` at 20 L/s, twice
        it at 100 L/s, three times at 300 L/s and beyond (a manhole that spouts a main's flow floods the street)."""
        return depth_m * float(np.interp(np.log10(max(overflow_m3s, 1e-6)), np.log10([0.02, 0.1, 0.3]), [1, 2, 3]))

    def _change(self, k: int, w: Watched, at_ms: int, level: int, when: int, depth: float, now: float
                ) -> Event | None:
        was, was_when = int(self.warned[k]), int(self.when_ms[k])
        dry = now < DRY_SHARE * (w.bar)
        if level == 0 and was and dry:
            self.warned[k], self.when_ms[k] = 0, NO_TIME
            came = was_when != NO_TIME and was_when <= at_ms
            return self._event(k, w, at_ms, was, False, depth, when,
                               "积水已退 the water has gone" if came else
                               "预警撤销 warning withdrawn: no longer forecast")
        if level == 0:
            return None
        level = max(level, was) if was and not dry else level  # a warning is not lowered while the water stands
        came = was_when != NO_TIME and was_when <= at_ms  # once the water has come, only its level is news
        moved = was_when == NO_TIME or (not came and abs(when - was_when) >= RETIME_MS)
        if level == was and not moved:
            return None
        self.warned[k] = level
        self.when_ms[k] = was_when if came else when
        return self._event(k, w, at_ms, int(self.warned[k]), True, depth, when, "")

    def _event(self, k: int, w: Watched, at_ms: int, level: int, active: bool, depth: float, when: int,
               note: str) -> Event:
        sid = self.registry.ids[w.sensor] if w.sensor >= 0 else ""
        lo, hi = self.band[k, 0], self.band[k, 2]
        band = "" if np.isnan(hi).all() else f"（{np.nanmax(lo):.2f}–{np.nanmax(hi):.2f} m）"
        clock = datetime.fromtimestamp(when / 1000, self.tz).strftime("%H:%M") if when != NO_TIME else "?"
        minutes = max(0, (when - at_ms) // 60_000) if when != NO_TIME else 0
        what = "超过 20 L/s 的检查井冒溢 manholes overflowing" if w.is_catchment else \
            f"积水 {depth:.2f} m{band} water on the street"
        if active:
            text = (f"{w.name}: 预计 {clock}（{minutes} 分钟后）{what}，警戒 {w.depth_m:.2f} m，"
                    f"{self.share[k] * 100:.0f}% 雨情方案 / expected by {clock} (in {minutes} min), warning depth "
                    f"{w.depth_m:.2f} m, in {self.share[k] * 100:.0f}% of rain scenarios; "
                    f"rain: {self.source or 'gauges'}")
        else:
            text = f"{w.name}: {note}"
        return Event(w.sensor, sid, at_ms, "waterlogging_forecast", level, active, round(depth, 3), w.depth_m,
                     text, detail=float(minutes), asset=w.key)

    def _local(self, t_ms: int) -> datetime:
        return datetime.fromtimestamp(t_ms / 1000, self.tz).replace(tzinfo=None)

    # ---- state ------------------------------------------------------------------------------------
    ARRAYS = ("step_ms", "seen_ms", "ring_sum", "ring_n", "level_sum", "level_n", "levels", "untrusted", "rain_off",
              "rain", "wet", "hot", "warned", "when_ms", "share", "now_m", "band", "forecast_ms")

    def checkpoint(self) -> dict[str, np.ndarray]:
        """The now-run's state (its hotstart's bytes), the open steps, the rain kept and each place's warning."""
        with self._lock:
            out = {f"{self.name}.{a}": np.array(getattr(self, a), copy=True) for a in self.ARRAYS}
            out[f"{self.name}.places"] = np.array([w.key for w in self.places], dtype=np.str_)
            out[f"{self.name}.source"] = np.array([self.source], dtype=np.str_)
            return out

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Load a checkpoint of the same places (a city whose places changed starts again)."""
        keys = arrays.get(f"{self.name}.places")
        if keys is None or [str(k) for k in keys] != [w.key for w in self.places]:
            return
        with self._lock:
            for a in self.ARRAYS:  # an array a checkpoint lacks (an older version's) keeps its start
                if f"{self.name}.{a}" in arrays:
                    setattr(self, a, np.array(arrays[f"{self.name}.{a}"], copy=True))
            self.source = str(arrays[f"{self.name}.source"][0])

    def analyse(self, incident: Incident, store: Any) -> dict[str, Any] | None:
        """For a waterlogging incident: each warned place's forecast, its band and the time left."""
        with self._lock:
            mine = [k for k, w in enumerate(self.places) if w.key in incident.assets]
            if not mine or incident.lifeline != "drainage":
                return None
            return {"analyst": self.name, "places": [self._place(k) for k in mine], "rain": self._rain()}

    def status(self) -> dict[str, Any]:
        """Every watched place's water now and ahead, and the rain."""
        with self._lock:
            return {"places": [self._place(k) for k in range(len(self.places))], "rain": self._rain(),
                    "forecast_ms": int(self.forecast_ms[0]) if self.forecast_ms[0] != NO_TIME else None,
                    "forecast_s": round(int(self.forecast_ms[1]) / 1e6, 3),
                    "model_time_ms": int(self.step_ms[0]) if self.step_ms[0] != NO_TIME else None,
                    "gauges": [{"sensor": self.registry.ids[i], "observed_m": _num(self.levels[g, 0]),
                                "model_m": _num(self.levels[g, 1]), "error_m": _num(self.levels[g, 2])}
                               for g, i in enumerate(self.gauges)]}

    def _place(self, k: int) -> dict[str, Any]:
        w = self.places[k]
        lon, lat = self.city.to_wgs84(w.x, w.y)
        band = self.band[k]
        return {"key": w.key, "name": w.name, "kind": w.kind, "catchment": w.is_catchment,
                "lon": round(float(lon), 6), "lat": round(float(lat), 6), "depth_m": w.depth_m,
                "bar": w.bar,
                "unit": "m3/s" if w.is_catchment else "m",
                "importance": w.importance, "sensor": self.registry.ids[w.sensor] if w.sensor >= 0 else None,
                "now": round(float(self.now_m[k]), 3), "share": round(float(self.share[k]), 2),
                "level": int(self.warned[k]),
                "when_ms": int(self.when_ms[k]) if self.when_ms[k] != NO_TIME else None,
                "ahead": None if np.isnan(band).all() else {
                    "step_s": STEP_S, "p10": np.round(band[0], 3).tolist(), "p50": np.round(band[1], 3).tolist(),
                    "p90": np.round(band[2], 3).tolist()}}

    def _rain(self) -> dict[str, Any]:
        assert self.model is not None or not self.places
        return {"gauges": self.model.gauges if self.model else [], "step_s": STEP_S, "source": self.source or None,
                "observed_mm_h": [[None if np.isnan(v) else round(float(v), 2) for v in r] for r in self.rain]}
