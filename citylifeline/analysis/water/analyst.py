"""The water analyst: leaks and bursts found live on the network's hydraulic model.

For a city whose water layer is an EPANET model with pressure (and flow, tank level, household
meter) sensors on it, the committed readings are averaged into the model's 5-minute steps
(``STEP_MS``; a step closes once readings ``LATE_STEPS`` steps later have come, so late ones
still count; a utility's history, one export per kind of sensor, is merged by time on the way
in: ``offline.interleaved``), and every closed step is run through the model at its measured
demand and operation (``model.WaterModel.expected``, one EPANET project kept open) and handed to
the leak detector (``watch.LeakWatch``).  Its life, as a utility follows it:

1. **learning**: the first days' steps are the history it calibrates on (they are taken as
   leak-free; ``night`` tells a utility what was already leaking).  After a day it fits what it
   can (``LeakDetector.fit(partial=True)``): bursts are watched from then on; the hour window
   after a week, the day window after twenty days (``leaks.MIN_HISTORY_DAYS``).  It fits again
   each day until ``CALIBRATION_DAYS``;
2. **watching**: the calibration is kept; ``recalibrate`` (after a known change of the network)
   starts learning again.

From the first night on, whatever its phase, it keeps each metered area's minimum night flow
(``night.NightLog``): the night inflow against legitimate night use, which is the leakage already
running, that no change detector sees (in ``status``: ``night``); once a night's hours are over, an
area whose night inflow rose beyond its night-to-night spread (``NightLog.judge``) has a new
leak: the one the watch suspects or has reported there, else one it places from that night's
change (``LeakWatch.night_leak``), reported with the night's rise as its size.

A leak reported becomes a ``water_burst`` or ``water_leak`` event on the pressure sensor nearest
the suspected pipe, graded by its size, with the place, the search radius and the estimated
outflow in words (中文 / English).  Each later estimate of the same leak (grown, placed again
near by or moved: ``leaks.Finding.update``) is an event on that same sensor, so it joins the
leak's incident and its timeline shows the estimate narrowing.  The rule warnings of the water
sensors are kept: they still open incidents of their own (a pressure below the service limit is
a fact, whatever its cause).  A change that a pipe shut explains better than any leak
(``LeakDetector.closure``: no water lost, only re-routed) is a ``water_network_change`` event,
level IV, "check the valves": a valve left shut or closed without a works order, not a leak.
A pressure transmitter whose change no leak explains (``LeakDetector.faulty_channel``) is set
aside and told as a ``drift`` fault: a maintenance ticket, never an incident (``status``:
``set_aside``; it is used again once the analyst learns again, ``recalibrate``).  So is a sensor
the health detectors find frozen (``sensor_faults``), from the step of the fault's time; and a
finding is never put on a sensor set aside.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from ...batch import ReadingBatch
from ...city.model import City
from ...city.sensors import SensorRegistry
from ...errors import ConfigError
from ...settings import Config
from ...twin.leakyear import Sensors, YearRun
from ...warn.model import Event, Incident
from ...works import WorksOrder, closures
from ..base import Analyst, per_reading
from .leaks import KIND_CODES, WINDOWS, Finding, LeakDetector, Localisation
from .model import BALANCE_STEPS, CHANNEL_GROUPS, TO_MODEL_UNITS, city_channels, city_model
from .night import NightLog, NightRise, fed_areas
from .watch import LeakWatch

log = logging.getLogger(__name__)
STEP_MS = 300_000
LATE_STEPS = 1
OPEN_STEPS = 12  # steps held open for late readings (a ring: an hour)
DAY_STEPS = 288
CALIBRATION_DAYS = 21
GAP_FILL_STEPS = DAY_STEPS  # a silence up to a day is kept as empty steps; a longer one is skipped
BIG_LEAK_M3H = 36.0  # 10 L/s
FINDINGS_KEPT = 20  # the latest findings, for the status (and kept across a restart)
GROUP_FIELDS = ("pressure_m", "flow_m3h", "level_m", "demand_m3h")  # YearRun's column groups, CHANNEL_GROUPS' order


class WaterAnalyst(Analyst):
    """Leaks and bursts on the water network's model, live (see the module docstring)."""

    name = "water"
    lifeline = "water"
    kinds = ("water_burst", "water_leak", "water_network_change", "drift")

    def __init__(self, city: City, registry: SensorRegistry, config: Config) -> None:
        super().__init__(city, registry, config)
        self.column = np.full(len(registry), -1, np.int32)  # sensor → column of a step's row
        wn = getattr(city.layers.get("water"), "model", None)
        names = city_channels(registry) if wn is not None else {g: [] for g in CHANNEL_GROUPS}
        self.sensors = Sensors(*(tuple(n for _, n in names[g]) for g in CHANNEL_GROUPS))
        order = [i for g in CHANNEL_GROUPS for i, _ in names[g]]
        self.column[order] = np.arange(len(order), dtype=np.int32)
        self.order = np.array(order, np.int32)  # column → sensor (the model's channels are the first columns)
        self.column_ids = np.array([registry.ids[i] for i in order], dtype=np.str_)  # a checkpoint's sensors
        self.edges = np.cumsum([0, *(len(names[g]) for g in CHANNEL_GROUPS)])  # each group's columns
        self.scale = np.array([TO_MODEL_UNITS[g] for g in CHANNEL_GROUPS for _ in names[g]])
        self.signed = np.array([g != "demand"  # a household meter counts how much; the model signs the rest
                                for g in CHANNEL_GROUPS for _ in names[g]])
        self.width = len(order)
        self.pressure_sensors = np.array([i for i, _ in names["pressure"]], np.int32)
        self.enabled = wn is not None and len(self.pressure_sensors) > 0
        self.model = city_model(city, self.sensors) if self.enabled else None
        self.night: NightLog | None = None
        if self.model is not None:
            self.night = NightLog(self.model, self.model.areas or fed_areas(self.model), self.tz_ms, STEP_MS)
        self.detector: LeakDetector | None = None
        self.watch: LeakWatch | None = None
        self._lock = threading.Lock()
        self.faulty: dict[int, int] = {}  # column → the time (ms) its sensor was found faulty (``sensor_faults``)
        self._reset()

    def _reset(self) -> None:
        """Start learning from nothing."""
        self.open_step = -1
        self.acc_sum = np.zeros((OPEN_STEPS, self.width))
        self.acc_n = np.zeros((OPEN_STEPS, self.width), np.int32)
        self.history: list[np.ndarray] = []  # closed steps: t, readings row, expected row
        self.fit_rows = 0  # history rows of the calibration in use
        self.watch = None
        self.findings: list[Finding] = []
        self.reported_on: dict[int, int] = {}  # a leak's alarm (ms) → the sensor its first report was on
        self.failure = ""  # the last failure of a model run or calibration, for the status
        self.last_steps: YearRun | None = None  # the last steps' readings (for the water balance)

    # ---- the live path --------------------------------------------------------------------------
    def judged(self) -> npt.NDArray[np.bool_]:
        """None: the water sensors' own rule warnings still open incidents."""
        return np.zeros(len(self.registry), dtype=bool)

    def update(self, batch: ReadingBatch) -> list[Event]:
        """Average the water readings into steps; run each closed step through the model and the detector."""
        if not self.enabled or not len(batch):
            return []
        col = per_reading(self.column, batch.sensor)
        rows = np.flatnonzero(col >= 0)
        if not len(rows):
            return []
        step = batch.t_ms[rows] // STEP_MS
        order = np.argsort(step, kind="stable")
        rows, step = rows[order], step[order]
        value = batch.value[rows] * self.scale[col[rows]]
        events: list[Event] = []
        with self._lock:
            cuts = np.flatnonzero(np.diff(step)) + 1
            for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(step)], strict=True):
                s = int(step[lo])
                if self.open_step < 0:
                    self.open_step = s
                if s < self.open_step:
                    continue  # later than the steps still open: not counted
                events += self._close_until(s - OPEN_STEPS)  # the ring must have room for step s
                slot = s % OPEN_STEPS
                c = col[rows[lo:hi]]
                np.add.at(self.acc_sum[slot], c, value[lo:hi])
                np.add.at(self.acc_n[slot], c, 1)
                events += self._close_until(s - 1 - LATE_STEPS)
        return events

    def _close_until(self, last: int) -> list[Event]:
        """Close every open step up to ``last``; the events they cause."""
        events: list[Event] = []
        pending = None
        while self.open_step <= last:
            if last - self.open_step > GAP_FILL_STEPS:
                pending = bool(self.acc_n.any()) if pending is None else pending
                if not pending:  # a long silence: skipped
                    self.open_step = last + 1
                    break
            slot = self.open_step % OPEN_STEPS
            n = self.acc_n[slot]
            row = np.where(n > 0, self.acc_sum[slot] / np.maximum(n, 1), np.nan)
            self.acc_sum[slot] = 0.0
            self.acc_n[slot] = 0
            events += self._step(self.open_step * STEP_MS, np.where(self.signed, row, np.abs(row)))
            self.open_step += 1
        return events

    def sensor_faults(self, faults: list[Event]) -> None:
        """Pressure transmitters found frozen: left out from the step of the fault's time (``_leave_out``)
        until the analyst learns again (``recalibrate``, once repaired), though the value moves again
        (a logger holding the last value may resume; its transmitter's calibration is in doubt).
        Pressures only, as in ``LeakDetector.faulty_channel``: a flow meter or a household meter
        reads a flat zero while its pump or its household is off, as it should."""
        with self._lock:
            for e in faults:
                c = int(self.column[e.sensor]) if e.sensor < len(self.column) else -1
                if 0 <= c < self.edges[1]:  # the pressure columns come first
                    self.faulty.setdefault(c, e.t_ms)

    def _leave_out(self, t_ms: int) -> None:
        """The columns found faulty by the end of the step at ``t_ms`` left out of the detector and the watch
        (before a detector is made: at its first calibration, ``_fit``)."""
        if self.detector is None:
            return
        for c, since in self.faulty.items():
            if since < t_ms + STEP_MS and c not in self.detector.excluded:
                if self.watch is not None:
                    self.watch.leave_out(c)
                else:
                    self.detector.excluded.add(c)

    def _step(self, t_ms: int, row: npt.NDArray[np.float64]) -> list[Event]:
        """One closed step through the model, the calibration lifecycle and the watch."""
        assert self.model is not None
        self._leave_out(t_ms)
        run = self._run(np.array([t_ms], np.int64), row[None, :])
        expected = np.full(self.model.channels, np.nan)  # an empty step: nothing to compare
        before = self._before(run)
        if self.night is not None and before is not None:
            self.night.add(before, run)
        if np.isfinite(row).any():
            try:
                expected = self.model.expected(run, keep_open=True, before=before)[0]
            except Exception as exc:  # EPANET refused the step: skipped, the readings are kept
                self._failed("the model run", exc)
                self.model.close()
        if len(self.history) < CALIBRATION_DAYS * DAY_STEPS:
            self.history.append(np.concatenate([[float(t_ms)], row, expected]))
            if len(self.history) >= DAY_STEPS and len(self.history) - self.fit_rows >= DAY_STEPS:
                try:
                    self._fit(len(self.history))
                except (np.linalg.LinAlgError, ValueError, ConfigError) as exc:  # tried again in a day
                    self.fit_rows = len(self.history)
                    self._failed("the calibration", exc)
                return []  # the watch was primed with the history, this step included
        if self.watch is None:
            return []
        assert self.detector is not None
        told = len(self.watch.set_aside)
        found = self.watch.feed(run, self.detector.z(run, expected[None, :]))
        events = [*(self._fault(c, t, change) for c, t, change in self.watch.set_aside[told:]),
                  *map(self._event, found)]
        for rise in self.night.judge(t_ms) if self.night is not None else []:
            f = self._night_leak(rise)
            if f is not None and self.night is not None:
                found.append(f)
                events.append(self._event(f, rise.words(self.night.areas[rise.area].name)))
        self.findings = (self.findings + found)[-FINDINGS_KEPT:]
        return events

    def _night_leak(self, rise: NightRise) -> Finding | None:
        """A metered area's night inflow rose: the leak it means, placed by the watch among the area's pipes."""
        assert self.watch is not None and self.watch.tail is not None and self.night is not None
        tonight, before = self.night.rows(self.watch.tail.t_ms, rise)
        return self.watch.night_leak(rise.rise_m3h, rise.sigmas, frozenset(self.night.areas[rise.area].junctions),
                                     tonight, before, self.findings)

    def _before(self, run: YearRun) -> YearRun | None:
        """The steps just before ``run``'s, up to ``BALANCE_STEPS`` (for the water balance), keeping
        ``run`` among them for the next; None after a gap."""
        was = self.last_steps
        if was is not None and int(run.t_ms[0] - was.t_ms[-1]) != STEP_MS:
            was = None
        self.last_steps = run if was is None else was.joined(run).rows(-BALANCE_STEPS)
        return was

    def _failed(self, what: str, exc: Exception) -> None:
        """Keep going, and say why in the status (the log has the detail)."""
        log.warning("water analyst: %s failed: %s", what, exc)
        self.failure = f"{what}: {type(exc).__name__}: {exc}"

    def _run(self, t_ms: npt.NDArray[np.int64], rows: npt.NDArray[np.float64]) -> YearRun:
        """Steps' readings as the model's run: pressures, flows, tank levels, household meters."""
        p, f, lv, d = (rows[:, self.edges[k]:self.edges[k + 1]] for k in range(len(CHANNEL_GROUPS)))
        return YearRun(t_ms, p, f, lv, d, np.zeros((len(t_ms), 0)))

    def _fit(self, rows: int) -> None:
        """Calibrate on the first ``rows`` steps of history and prime a new watch with them."""
        assert self.model is not None
        h = np.array(self.history[:rows])
        run = self._run(h[:, 0].astype(np.int64), h[:, 1:1 + self.width])
        expected = h[:, 1 + self.width:]
        if self.detector is None:
            self.detector = LeakDetector(self.model)
            self.detector.excluded |= {c for c, since in self.faulty.items() if since <= h[-1, 0]}
        self.detector.fit([run], partial=True, expected=[expected])
        self.fit_rows = rows
        self.watch = LeakWatch(self.detector)
        self.watch.feed(run, self.detector.z(run, expected), detect=False)  # the history is taken as leak-free

    def works(self, orders: list[WorksOrder]) -> None:
        """The pipes the works orders shut are closed in the model for their time (``WaterModel.shut``):
        the change they make is expected, not a leak nor a network change."""
        if self.model is not None:
            with self._lock:
                self.model.shut = closures(orders)

    def recalibrate(self) -> None:
        """Learn again from the next days (after a known change of the network, or the sensors set
        aside repaired): every sensor counts again."""
        with self._lock:
            self._reset()
            self.faulty.clear()
            if self.detector is not None:
                self.detector.excluded.clear()

    def where_xy(self, pipe: str) -> tuple[float, float]:
        """A pipe's midpoint in the city's coordinates (the model's own may be unreferenced)."""
        p = self.city.asset(f"water/pipe/{pipe}").geometry.interpolate(0.5, normalized=True)
        return float(p.x), float(p.y)

    def _event(self, f: Finding, night: tuple[str, str] | None = None) -> Event:
        """A finding as an event on the pressure sensor nearest its pipe (a leak's later estimates on
        the sensor of its first report), about the pipe; ``night``: the night-flow rise that reported it,
        in words."""
        reg = self.registry
        xy = np.array([self.city.asset(reg.asset[i]).xy for i in self.pressure_sensors])
        x, y = self.where_xy(f.where.pipe)
        far = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
        aside = sorted(c for c in (self.detector.excluded if self.detector is not None else ())
                       if c < len(far))
        if len(aside) < len(far):
            far[aside] = np.inf  # a faulty sensor carries no finding: its incident would name it
        i = int(self.pressure_sensors[int(np.argmin(far))])
        q = f.where.leak_m3h
        level = 3 if f.kind == "burst" else 2 if q >= BIG_LEAK_M3H and f.kind == "leak" else 1
        first = self.reported_on.setdefault(f.alarm_ms, i)
        kind = "water_network_change" if f.kind == "change" else f"water_{f.kind}"
        e = Event(sensor=first, sensor_id=reg.ids[first], t_ms=f.t_ms, kind=kind, level=level,
                  active=True, value=q / 3600, ref=0.0, message="", detail=f.where.confidence,
                  asset=f"water/pipe/{f.where.pipe}")  # where the water escapes: its incident's cascade starts there
        e.message = self.message(f, again=first != i or f.update)
        if night is not None:
            zh, en = e.message.split(" / ", 1)
            e.message = f"{night[0]}；模型定位：{zh} / {night[1]}; the model places it: {en}"
        return e

    def _fault(self, channel: int, t_ms: int, change: float) -> Event:
        """A sensor set aside by the watch (``LeakDetector.faulty_channel``): a maintenance ticket, not a leak."""
        i = int(self.order[channel])
        sid = self.registry.ids[i]
        return Event(sensor=i, sensor_id=sid, t_ms=t_ms, kind="drift", level=1,
                     active=True, value=change, ref=0.0, detail=change,
                     message=(f"{sid} 读数偏离管网水力模型 {abs(change):.0f} 倍噪声，而其他传感器未随之变化，不像漏水："
                              "疑似传感器漂移或故障，已暂不用于漏损分析，请检查校准 / "
                              f"{sid} moved {abs(change):.0f} spreads from the network's hydraulic model while "
                              "the other sensors did not, as no leak does: suspected drift or fault; left out of "
                              "the leak analysis; check and calibrate it"))

    @staticmethod
    def message(f: Finding, again: bool = False) -> str:
        """The finding in words, 中文 / English (``again``: a later estimate of a leak reported)."""
        w = f.where
        ls = w.leak_m3h / 3.6
        others = "、".join(p for p, _ in w.candidates[1:4])
        if f.kind == "change":
            return (f"疑似阀门关闭（管网变化，非漏水：无水量损失）：管道 {w.pipe} 附近（搜索半径 {w.radius_m:.0f} m，"
                    f"可能性 {w.confidence:.0%}），约 {ls:.1f} L/s 改道{'，其次 ' + others if others else ''}；"
                    "请核实阀门状态 / "
                    f"suspected valve closure (a change of the network, not a leak: no water lost) near pipe {w.pipe} "
                    f"(search within {w.radius_m:.0f} m, {w.confidence:.0%} likely), about {ls:.1f} L/s re-routed"
                    f"{', next ' + ', '.join(p for p, _ in w.candidates[1:4]) if others else ''}; check the valves")
        zh_kind, en_kind = ("疑似爆管", "suspected burst") if f.kind == "burst" else ("疑似管道漏水", "suspected leak")
        if again:
            zh_kind, en_kind = f"估计更新（{zh_kind}）", f"estimate updated ({en_kind})"
        return (f"{zh_kind}：管道 {w.pipe} 附近（搜索半径 {w.radius_m:.0f} m，可能性 {w.confidence:.0%}），"
                f"估计漏水 {ls:.1f} L/s{'，其次 ' + others if others else ''}；依据水力模型残差 / "
                f"{en_kind} near pipe {w.pipe} (search within {w.radius_m:.0f} m, {w.confidence:.0%} likely), "
                f"about {ls:.1f} L/s lost{', next ' + ', '.join(p for p, _ in w.candidates[1:4]) if others else ''}; "
                "from the hydraulic model's residuals")

    # ---- checkpoint ---------------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, np.ndarray]:
        """Open steps, the history learnt from, and the watch's memory."""
        with self._lock:
            out: dict[str, np.ndarray] = {
                   f"{self.name}.steps": np.array([self.open_step, self.fit_rows], np.int64),
                   f"{self.name}.acc_sum": self.acc_sum.copy(), f"{self.name}.acc_n": self.acc_n.copy(),
                   f"{self.name}.history": np.array(self.history, np.float64) if self.history else np.zeros((0, 1)),
                   f"{self.name}.sensors": self.column_ids,
                   f"{self.name}.set_aside": np.array(sorted(self.detector.excluded if self.detector else ()),
                                                      np.int64),
                   f"{self.name}.reported_on": np.array(sorted(self.reported_on.items()), np.int64).reshape(-1, 2),
                   f"{self.name}.faulty": np.array(sorted(self.faulty.items()), np.int64).reshape(-1, 2),
                   f"{self.name}.last_steps": np.zeros((0, 1 + self.width)) if self.last_steps is None else
                   np.column_stack([self.last_steps.t_ms, *(getattr(self.last_steps, g) for g in GROUP_FIELDS)])}
            if self.night is not None:
                out[f"{self.name}.nights"], out[f"{self.name}.night_alarms"] = self.night.state()
            out |= _findings_state(self.name, self.findings)
            if self.watch is not None:
                out |= {f"{self.name}.watch.{k}": v for k, v in self.watch.state().items()}
            return out

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Load a checkpoint taken with the same water sensors (else start learning again)."""
        ids = arrays.get(f"{self.name}.sensors")
        if ids is None or not np.array_equal(ids, self.column_ids):
            return
        with self._lock:
            self.open_step, fit_rows = (int(v) for v in arrays[f"{self.name}.steps"])
            self.acc_sum = arrays[f"{self.name}.acc_sum"].copy()
            self.acc_n = arrays[f"{self.name}.acc_n"].copy()
            self.history = list(arrays[f"{self.name}.history"])
            self.reported_on = {int(a): int(i) for a, i in arrays.get(f"{self.name}.reported_on", np.zeros((0, 2)))}
            self.faulty = {int(c): int(t) for c, t in arrays.get(f"{self.name}.faulty", np.zeros((0, 2)))}
            if self.night is not None:
                self.night.load(arrays.get(f"{self.name}.nights", np.zeros((0, 7))),
                                arrays.get(f"{self.name}.night_alarms"))
            self.findings = _findings_loaded(self.name, arrays)
            last = arrays.get(f"{self.name}.last_steps")
            self.last_steps = self._run(last[:, 0].astype(np.int64), last[:, 1:]) if last is not None and len(last) \
                else None
            aside = arrays.get(f"{self.name}.set_aside", np.zeros(0, np.int64))
            if len(aside) and self.model is not None:
                self.detector = self.detector or LeakDetector(self.model)
                self.detector.excluded = {int(c) for c in aside}
            if fit_rows:
                self._fit(fit_rows)
                assert self.watch is not None
                self.watch.load({k.split(".watch.", 1)[1]: v for k, v in arrays.items() if ".watch." in k})

    # ---- for people -------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The calibration's progress, the windows watching, and the leaks known."""
        with self._lock:
            days = len(self.history) / DAY_STEPS
            ready = self.detector.ready() if self.detector is not None and self.fit_rows else {
                w.name: False for w in WINDOWS}
            phase = "off" if not self.enabled else "watching" if len(self.history) >= CALIBRATION_DAYS * DAY_STEPS \
                else "learning"
            words = {"off": ("无水力模型或压力传感器", "no hydraulic model or pressure sensors"),
                     "learning": ("学习中：用最初几天的数据校准模型", "learning: calibrating on the first days"),
                     "watching": ("监测中", "watching")}[phase]
            leaks = [{"pipe": f.where.pipe, "kind": f.kind, "alarm_ms": f.alarm_ms, "reported_ms": f.t_ms,
                      "leak_m3h": round(f.where.leak_m3h, 1), "radius_m": round(f.where.radius_m),
                      "night_m3h": round(f.night_m3h, 1)}
                     for f in self.findings]
            return {"phase": phase, "words": {"zh": words[0], "en": words[1]},
                    "history_days": round(days, 2), "calibration_days": CALIBRATION_DAYS,
                    "ready_fraction": round(min(days / CALIBRATION_DAYS, 1.0), 3), "windows": ready,
                    "sensors": {g: int(self.edges[k + 1] - self.edges[k]) for k, g in enumerate(CHANNEL_GROUPS)},
                    "leaks": leaks, "set_aside": [str(self.column_ids[c]) for c in sorted(
                        self.detector.excluded if self.detector is not None else ())],
                    "night": self.night.report() if self.night is not None else [],
                    "last_failure": self.failure or None}

    def analyse(self, incident: Incident, store: Any) -> dict[str, Any] | None:
        """None: every water incident, this analyst's included, is analysed for the crew by
        ``incident.WaterIncidentAnalyst`` (the change since its first warning placed, the valves,
        who loses water; ``GET /incidents/{id}`` → ``water``); the finding itself is in the
        event's words and in ``status``."""
        return None


def _findings_state(name: str, findings: list[Finding]) -> dict[str, np.ndarray]:
    """Findings as arrays: their numbers, and their pipes with the short lists (``pipe:chance …``)."""
    numbers = np.array([[f.alarm_ms, f.t_ms, KIND_CODES.index(f.kind), f.evidence, f.update, w.x, w.y, w.radius_m,
                         w.confidence, w.leak_m3h, w.where_sigmas, f.night_m3h] for f in findings for w in [f.where]],
                       np.float64).reshape(len(findings), 12)
    words = np.array([" ".join(f"{p}:{c!r}" for p, c in f.where.candidates) for f in findings], dtype=np.str_)
    return {f"{name}.findings": numbers, f"{name}.findings.candidates": words}


def _findings_loaded(name: str, arrays: dict[str, np.ndarray]) -> list[Finding]:
    """Take back what ``_findings_state`` gave (none from a checkpoint older than it)."""
    out = []
    for row, words in zip(arrays.get(f"{name}.findings", np.zeros((0, 12))),
                          arrays.get(f"{name}.findings.candidates", np.zeros(0, np.str_)), strict=True):
        candidates = tuple((p, float(c)) for p, c in (w.rsplit(":", 1) for w in str(words).split()))
        where = Localisation(candidates[0][0], float(row[5]), float(row[6]), float(row[7]), float(row[8]), candidates,
                             float(row[9]), float(row[10]))
        out.append(Finding(int(row[0]), int(row[1]), KIND_CODES[int(row[2])], float(row[3]), where,
                           update=bool(row[4]), night_m3h=float(row[11]) if len(row) > 11 else 0.0))
    return out
