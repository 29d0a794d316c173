"""The leak detector watching a stream of readings (``LeakWatch``): its windows, the leaks it
suspects and reports, their bookkeeping, and a pipe shut told apart from a leak.

The method — residuals, calibration, the windows, placing, bookkeeping, changes — is in
``leaks``' docstring (items 3 to 6 run here); ``leaks.LeakDetector`` gives this watch its
calibration, evidence and localisation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy.optimize import nnls

from ...twin.leakyear import YearRun
from .leaks import (
    CHANGE_MARGIN,
    KIND_CODES,
    WINDOWS,
    Finding,
    LeakDetector,
    Localisation,
    Window,
    _baseline,
    _Basis,
    _change,
)
from .night import BASE_NIGHTS

ACTIVE_FRACTION = 0.25  # a found leak whose change is below this fraction of its placed size is not changing
SAME_LEAK_M = 300.0
PLACE_SIGMAS = 8.0  # a leak is reported once the channels that say where point along its pipe's signature this clearly
REPLACE_GROWTH = 2.0  # a reported leak is placed again each time its fitted outflow has doubled
CHANGE_INFLOW_SIGMAS = 3.0  # a change draws no more water: the metered areas' inflow within this many spreads
DAY_READINGS = 288
CONFIRM = {"burst": 36, "leak": 144}  # readings gathered after an alarm before placing a leak: 3 h, 12 h
CONFIRM_SOLVED = 3
"""Readings after its alarm before a burst is placed by the model solved (where the metered areas'
balance measures its outflow: ``_burst_where``): 15 minutes, if the areas drew more water than the
same minutes a day before (or too little history is kept to say: ``_no_more_water``), else after
``CONFIRM``'s 3 hours as any burst (a 140 m³/h burst on Net3, beside its ~700 m³/h of use, is not
seen so soon, and was then taken for a pipe shut).  A road over a burst can give way within
the hour (the twin's over 50–630 m³/h bursts: 16–160 min, median 50), and a burst's first minutes,
before the tanks and pumps answer it, place it best: on development seeds 1–3 (21 bursts) 14 were
first reported within 300 m after 3 readings, 12 after 6, 9 after 36 (3 h); none of the other values
was tried on the seeds kept for scoring."""


@dataclass
class _Known:
    """A leak suspected (alarmed, not yet placed) or reported."""

    pipe: int
    alarm_row: int
    start_row: int  # the first reading of the window that alarmed
    kind: str
    evidence: float
    base: npt.NDArray[np.float64]  # the mean residual before the alarm
    base_readings: int
    next_row: int  # when to try placing it
    reported: bool = False
    placed_m3h: float = 0.0
    last_active: int = 0
    alarm_ms: int = 0
    sign: float = 1.0  # a change's: its closure signature's sign (which end lost the water)



class LeakWatch:
    """A detector watching a stream of readings: fed run after run (any lengths), it reports what
    ``LeakDetector.detect`` reports over their concatenation.  It keeps the last ``keep`` readings
    (the longest window's span and two days more, for placing suspects) and the leaks it knows;
    rows are counted from the first reading it was fed."""

    def __init__(self, detector: LeakDetector, keep: int = WINDOWS[-1].span + 576) -> None:
        assert detector.cal is not None, "fit the detector on leak-free history first"
        self.d, self.keep = detector, keep
        self.known: list[_Known] = []
        self.first = 0  # the row of the tail's first reading
        self.rows = 0  # readings fed so far
        self.tail: YearRun | None = None
        self.cum = np.zeros((1, detector.model.channels))  # prefix sums of z, cum[0] just before the tail
        self.set_aside: list[tuple[int, int, float]] = []  # sensor faults found: (channel, ms, its change in spreads)

    def feed(self, run: YearRun, z: npt.NDArray[np.float64] | None = None, detect: bool = True) -> list[Finding]:
        """Consume the next readings; the leaks they report (none, and nothing learnt of leaks, when
        not ``detect``: readings taken as leak-free, to fill the windows)."""
        d = self.d
        cal = d.cal
        assert cal is not None
        z = d.z(run) if z is None else z
        self.tail = run if self.tail is None else self.tail.joined(run)
        self.cum = np.vstack([self.cum, self.cum[-1] + np.cumsum(z, axis=0)])
        found: list[Finding] = []
        for t in range(self.rows, self.rows + len(z) if detect else self.rows):
            i = t - self.first  # the reading's place in the tail
            for k in [k for k in self.known if not k.reported and t >= k.next_row]:
                self._place(k, found, t)
            if t % 12 == 0:
                self._track(found, t)
            for win in WINDOWS:
                if t + 1 < win.span or t % win.every:
                    continue
                u, n = _change(self.cum, i, win)
                c = self._sensor_fault(u, n, win, t) if d.model.areas else None
                if c is not None:  # one sensor's change, no leak's: set aside, and the moment looked at again
                    self._set_aside(c, t, float(u[c]))
                    u, n = _change(self.cum, i, win)
                if win.kind != "burst":  # within an hour only a new burst changes much, whatever else leaks
                    u = self._unexplained(u)
                best = d._evidence(u, n)
                if best <= cal.thresholds[win.name] or best < win.coherence * float(u @ u) * n:
                    continue
                j = d.sig.pipes.index(d.localise(u, n).pipe)
                near = self._near(j)
                if near is not None:
                    near.last_active = t
                    if not near.reported:
                        near.pipe = j  # the leak already suspected, placed better
                        if win.kind == "burst" and near.kind != "burst":  # seen first by a slower window
                            near.kind, near.start_row, near.base_readings = "burst", t - win.readings + 1, win.base
                            near.base = _baseline(self.cum, i, win)
                            near.next_row = min(near.next_row, t + self._confirm("burst"))
                    continue
                self.known.append(_Known(j, t, t - win.readings + 1, win.kind, best, _baseline(self.cum, i, win),
                                         win.base, t + self._confirm(win.kind), last_active=t, alarm_ms=self._t_ms(t)))
                break
        self.rows += len(z)
        self._trim()
        return found

    def _confirm(self, kind: str) -> int:
        """Readings after an alarm of ``kind`` before it is placed (``CONFIRM``, ``CONFIRM_SOLVED``)."""
        return CONFIRM_SOLVED if kind == "burst" and self.d.model.areas else CONFIRM[kind]

    def _sensor_fault(self, u: npt.NDArray[np.float64], n: float, win: Window, t: int) -> int | None:
        """The pressure channel to set aside now: the window's change ``u`` (worth ``n`` readings) is past
        its threshold (coherent or not: a sensor's own jump is not), one channel carries it that no
        leak explains (``LeakDetector.faulty_channel``), and the metered areas drew no more water over
        the window nor over its last two readings.  The water check is what keeps a burst at a
        transmitter's own node (the demo city's 120 L/s at WP-16 moves WP-16 far more than the others,
        in ways no linear signature fits) from being taken for its fault, at once, though diluted in
        the hour window's mean; so where the water drawn cannot be told (no metered areas: L-Town,
        with household meters, had four of its transmitters set aside beside leaks), nothing is."""
        d = self.d
        assert d.cal is not None
        if d._evidence(u, n) <= d.cal.thresholds[win.name]:
            return None
        c = d.faulty_channel(u)
        if c is None or not all(self._no_more_water(t - r + 1, t, unknown=False) for r in {win.readings, 2}):
            return None
        return c

    def _set_aside(self, c: int, t: int, change: float) -> None:
        """Leave channel ``c`` out (``leave_out``) and tell it as the sensor's fault (``set_aside``)."""
        self.leave_out(c)
        self.set_aside.append((c, self._t_ms(t), change))

    def leave_out(self, c: int) -> None:
        """Leave channel ``c`` out from now on (``LeakDetector.exclude``), from the windows' sums and the
        suspects' baselines too."""
        self.d.exclude(c)
        self.cum[:, c] = 0.0
        for k in self.known:
            k.base[c] = 0.0

    def state(self) -> dict[str, np.ndarray]:
        """What the watch remembers, as arrays (``load`` takes them back)."""
        assert self.tail is not None
        known = self.known
        ints = np.array([[k.pipe, k.alarm_row, k.start_row, KIND_CODES.index(k.kind), k.base_readings, k.next_row,
                          k.reported, k.last_active, k.alarm_ms] for k in known], np.int64).reshape(len(known), 9)
        floats = np.array([[k.evidence, k.placed_m3h, k.sign] for k in known], np.float64).reshape(len(known), 3)
        base = np.array([k.base for k in known], np.float64).reshape(len(known), self.d.model.channels)
        return {"rows": np.array([self.first, self.rows], np.int64), "cum": self.cum.copy(),
                **{f"tail.{f}": getattr(self.tail, f).copy() for f in YearRun.__dataclass_fields__},
                "known.ints": ints, "known.floats": floats, "known.base": base}

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        """Take back what ``state`` gave."""
        self.first, self.rows = (int(v) for v in arrays["rows"])
        self.cum = arrays["cum"].copy()
        self.tail = YearRun(*(arrays[f"tail.{f}"].copy() for f in YearRun.__dataclass_fields__))
        self.known = [_Known(int(i[0]), int(i[1]), int(i[2]), KIND_CODES[int(i[3])], float(f[0]), b.copy(),
                             int(i[4]), int(i[5]), bool(i[6]), float(f[1]), int(i[7]), int(i[8]),
                             float(f[2]) if len(f) > 2 else 1.0)
                      for i, f, b in zip(arrays["known.ints"], arrays["known.floats"], arrays["known.base"],
                                         strict=True)]

    def _trim(self) -> None:
        """Forget the readings older than ``keep``."""
        assert self.tail is not None
        drop = len(self.tail.t_ms) - self.keep
        if drop > 0:
            self.tail = self.tail.rows(drop)
            self.cum = self.cum[drop:]
            self.first += drop

    def _t_ms(self, t: int) -> int:
        assert self.tail is not None
        return int(self.tail.t_ms[t - self.first])

    def _since(self, k: _Known, t: int) -> tuple[npt.NDArray[np.float64], float]:
        """What changed from before ``k``'s alarm to now (at most the last day), and its readings' worth."""
        start = max(k.start_row, t - 287, self.first)
        r = t - start + 1
        return ((self.cum[t - self.first + 1] - self.cum[start - self.first]) / r - k.base,
                1.0 / (1.0 / r + 1.0 / k.base_readings))

    def _unexplained(self, u: npt.NDArray[np.float64], skip: _Known | None = None) -> npt.NDArray[np.float64]:
        """``u`` less its best non-negative fit by the known leaks' signatures (but ``skip``'s): their growth."""
        fit = [k for k in self.known if k is not skip]
        if not fit:
            return u
        basis = np.array([k.sign * self.d._shut.s[k.pipe] if k.kind == "change" else self.d._b.s[k.pipe]
                          for k in fit]).T
        q, _ = nnls(basis, u)
        return u - basis @ q

    def _near(self, j: int, skip: _Known | None = None) -> _Known | None:
        xy = self.d.sig.pipe_xy
        return next((k for k in self.known if k is not skip and np.linalg.norm(xy[k.pipe] - xy[j]) < SAME_LEAK_M),
                    None)

    def _basis_at(self, row: int) -> _Basis:
        """The signatures in the operation measured at ``row`` (or the oldest reading kept, if it is gone)."""
        assert self.tail is not None
        return self.d._basis_at(self.tail, max(row, self.first) - self.first, key=row)

    def _place(self, k: _Known, found: list[Finding], t: int) -> None:
        """Place a suspected leak from what changed since before its alarm, and report it once the
        pressures point at a pipe clearly enough (or fold it into a leak already reported there)."""
        d = self.d
        if (k.kind == "burst" and t - k.alarm_row < CONFIRM["burst"]
                and self._no_more_water(k.start_row, t, unknown=False)):
            k.next_row = k.alarm_row + CONFIRM["burst"]  # the balance does not see its water: placed as any burst
            return
        u, n = self._since(k, t)
        if k.kind != "burst":  # within hours of a burst, the growth of other leaks is too small to fit out
            u = self._unexplained(u, skip=k)
        if k.kind == "burst" or k.alarm_row - k.start_row < 12:  # a short change: in the operation of its moment
            where = d.localise(u, n, self._basis_at(k.alarm_row))
        else:  # a day's change is seen over many operating states: the day's average signatures
            where = d.localise(u, n)
        if where.where_sigmas < PLACE_SIGMAS:
            k.pipe = d.sig.pipes.index(where.pipe)
            k.next_row = t + 12  # the channels that say where do not yet: try again in an hour
            return
        if k.kind == "burst" and d.model.areas:
            where = self._burst_where(k, u, n, where, t)
        k.pipe = d.sig.pipes.index(where.pipe)
        if self._near(k.pipe, skip=k) is not None:
            self.known.remove(k)
            return
        shut = d.closure(u, n) if k.kind == "burst" or k.alarm_row - k.start_row < 12 else None
        if shut is not None and self._no_more_water(k.start_row, t) and self._could_shut(u, k):
            # a pipe shut, at once as a valve is, no water lost, and moving the sensors as its closure would
            where, k.sign = shut
            k.kind, k.pipe = "change", d.sig.pipes.index(where.pipe)
            if self._near(k.pipe, skip=k) is not None:
                self.known.remove(k)
                return
        k.reported, k.placed_m3h, k.last_active = True, where.leak_m3h, t
        found.append(Finding(k.alarm_ms, self._t_ms(t), k.kind, k.evidence, where))

    def _burst_where(self, k: _Known, u: npt.NDArray[np.float64], n: float, linear: Localisation, t: int
                     ) -> Localisation:
        """A burst placed by the model solved with its outflow at each candidate junction
        (``LeakDetector.place_burst``), in the operation half way through what changed since its
        alarm.  The outflow is how much more the metered areas drew since the alarm than in the
        hour before it (the balance sees a burst's water, whatever its place), or the linear
        estimate where that did not rise.  Only where the demand comes from the areas' balance:
        the way a burst's water is spread there is what the linear signatures miss (``place_burst``),
        and a city with household meters (L-Town) was not measured with it."""
        assert self.tail is not None
        d = self.d
        row, now = max(k.alarm_row, self.first) - self.first, t - self.first
        inflow = self._inflow()
        before = inflow[max(row - k.base_readings - 2, 0): max(row - 2, 0)]
        after = inflow[row + 1: now + 1]
        rose = float(np.nanmean(after) - np.nanmean(before)) if len(before) and len(after) else math.nan
        q = rose if math.isfinite(rose) and rose > 0 else linear.leak_m3h
        if q <= 0:
            return linear
        junctions = d.burst_candidates(u)
        change = d.model.burst_change(self.tail, (row + now) // 2, junctions, q)
        return d.place_burst(u, n, junctions, change, q, linear)

    def _could_shut(self, u: npt.NDArray[np.float64], k: _Known) -> bool:
        """Whether the model, closing in turn each pipe whose closure signature fits the change
        ``u`` best (in the operation of ``k``'s alarm), finds one whose closure explains it better
        than any leak, by ``CHANGE_MARGIN`` (``LeakDetector.shut_fits``).  The signatures rank; the
        model says how far a closure moves the sensors: the pipe first in rank may carry little
        (Net3's 109, carrying 215 m³/h, was placed on 114, carrying 41)."""
        assert self.tail is not None
        d = self.d
        row = max(k.alarm_row, self.first) - self.first
        fits = d.shut_fits(u, d.model.closure_change(self.tail, row, d.closure_pipes(u)))
        return float(fits.max()) >= d.leak_fit(u) + CHANGE_MARGIN

    def night_leak(self, rise_m3h: float, sigmas: float, junctions: frozenset[str], tonight: npt.NDArray[np.bool_],
                   before: npt.NDArray[np.bool_], reported: Sequence[Finding] = ()) -> Finding | None:
        """A metered area's night inflow rose (``night.NightLog.judge``): water is being lost there, as a
        utility's night-flow alarm says, whether or not the windows have placed it.  The leak is
        the one suspected, reported or seen growing in the area since the nights of its baseline
        began (the latest: a suspect is reported now, placed as it stands; a leak reported is placed again,
        an update unless it moved further than ``SAME_LEAK_M``), else a new one placed by what
        changed from the nights before (``before``: rows of the tail) to this one (``tonight``).
        That one is still the leak of an earlier finding (``reported``, the latest in the area
        since the baseline began) that this watch does not know: the analyst makes a new watch
        at each day's refit while it learns, and took a leak's further rise on the next nights
        for a new leak each time (BattLeDIM's p257, three reports in 2018).  (A new watch that
        took over the old one's leaks instead lost one of five leaks of BattLeDIM's first 120
        days: a report kept fits the next leak beside it out of the windows.)  Placed among the
        area's pipes (``junctions``), with the night's rise as its size (the balance measures the
        water; the pressures only say where); ``sigmas``, the rise in its spreads, is a new leak's
        evidence.  None when the tail holds none of that night."""
        d = self.d
        assert self.tail is not None
        if not tonight.any() or not before.any():
            return None
        t = self.rows - 1
        ends = [d.sig.junctions[e] if e >= 0 else "" for e in d._ends[:, 0]]
        inside = np.array([e in junctions for e in ends], dtype=np.float64)[:, None]
        area = _Basis(d._b.s * inside, d._b.unit * inside, d._b.where * inside)
        since = t - (BASE_NIGHTS + 1) * DAY_READINGS
        mine = [k for k in self.known if k.kind != "change" and max(k.alarm_row, k.last_active) >= since
                and inside[k.pipe, 0] > 0]
        k = max(mine, key=lambda k: max(k.alarm_row, k.last_active)) if mine else None
        if k is None:
            z = np.diff(self.cum, axis=0)
            now, base = z[tonight].mean(axis=0), z[before].mean(axis=0)
            n = 1.0 / (1.0 / int(tonight.sum()) + 1.0 / int(before.sum()))
            where = d.localise(now - base, n, area)
            start = self.first + int(np.argmax(tonight))
            k = _Known(d.sig.pipes.index(where.pipe), t, start, "leak", sigmas, base, int(before.sum()), t,
                       last_active=t, alarm_ms=self._t_ms(t))
            self.known.append(k)
            was = k.pipe
        else:
            u, n = self._since(k, t)
            where = d.localise(self._unexplained(u, skip=k), n, area)
            was, k.pipe, k.last_active = k.pipe, d.sig.pipes.index(where.pipe), t
        if not k.reported:
            since_ms = self._t_ms(max(since, self.first))
            earlier = [f for f in reported if f.kind != "change" and f.t_ms >= since_ms
                       and inside[d.sig.pipes.index(f.where.pipe), 0] > 0]
            if earlier:  # the same leak, as the incident it opened knows it
                k.reported, k.alarm_ms, was = True, earlier[-1].alarm_ms, d.sig.pipes.index(earlier[-1].where.pipe)
        update = k.reported and float(np.linalg.norm(d.sig.pipe_xy[k.pipe] - d.sig.pipe_xy[was])) <= SAME_LEAK_M
        k.reported, k.placed_m3h = True, max(k.placed_m3h, where.leak_m3h)
        return Finding(k.alarm_ms, self._t_ms(t), k.kind, k.evidence, replace(where, leak_m3h=rise_m3h), update,
                       night_m3h=rise_m3h)

    def _no_more_water(self, start_row: int, t: int, unknown: bool = True) -> bool:
        """Whether the metered areas drew no more water since a change began (``start_row``) than in
        the same hours a day before, within ``CHANGE_INFLOW_SIGMAS`` spreads of that day-to-day difference (over
        the readings kept).  A leak's water is drawn through the meters, a pipe shut's is not; where
        the demand comes from the areas' balance (no household meters) this is the only place the
        inflow is seen: the model spreads it over the junctions (a burst larger than the city's use
        moves every pressure so far from the model's linear signatures that a closure fits as well).
        ``unknown`` where it cannot be told: the model has no metered areas (the inflow meters are
        then channels of the change), or fewer than two days are kept."""
        lo, hi = start_row - self.first, t - self.first + 1
        if not self.d.model.areas or lo < 2 * DAY_READINGS:
            return unknown
        total = self._inflow()
        rise = total[DAY_READINGS:] - total[:-DAY_READINGS]  # on the same clock, a day apart
        width = hi - lo
        mean = np.convolve(np.nan_to_num(rise[: lo - DAY_READINGS]), np.ones(width) / width, mode="valid")
        spread = float(np.std(mean)) if len(mean) > 1 else math.inf
        return bool(abs(float(np.nanmean(rise[lo - DAY_READINGS: hi - DAY_READINGS]))) <= CHANGE_INFLOW_SIGMAS * spread)

    def _inflow(self) -> npt.NDArray[np.float64]:
        """The metered areas' inflow over the readings kept, m³/h per reading (``night.area_inflow``)."""
        from .night import area_inflow

        assert self.tail is not None
        return np.asarray(np.sum([area_inflow(a, self.tail) for a in self.d.model.areas], axis=0), dtype=np.float64)

    def _track(self, found: list[Finding], t: int) -> None:
        """Hourly: place again each reported leak that has doubled since it was placed (incipient
        leaks are placed while small): reported again if it moved further than ``SAME_LEAK_M``, else
        an update; forget leaks that have not changed for longer than the longest window looks back."""
        d = self.d
        for k in list(self.known):
            if t - k.last_active > WINDOWS[-1].span:
                self.known.remove(k)
                continue
            if not k.reported or k.kind == "change":  # a change is forgotten once every window's baseline has it
                continue
            u, n = self._since(k, t)
            where = d.localise(self._unexplained(u, skip=k), n)
            if where.leak_m3h > ACTIVE_FRACTION * k.placed_m3h:
                k.last_active = t
            if where.leak_m3h < REPLACE_GROWTH * k.placed_m3h or where.where_sigmas < PLACE_SIGMAS:
                continue
            j = d.sig.pipes.index(where.pipe)
            moved = float(np.linalg.norm(d.sig.pipe_xy[j] - d.sig.pipe_xy[k.pipe]))
            k.pipe, k.placed_m3h = j, where.leak_m3h
            if self._near(j, skip=k) is None:
                found.append(Finding(k.alarm_ms, self._t_ms(t), k.kind, k.evidence, where, update=moved <= SAME_LEAK_M))


def reports(findings: list[Finding]) -> list[Finding]:
    """The leaks reported (BattLeDIM's rule): not the updates of a leak already reported, nor the
    network's changes."""
    return [f for f in findings if not f.update and f.kind != "change"]


