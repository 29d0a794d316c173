"""Fatigue of a bridge's steel from its measured strain: rainflow counting, Miner's rule, remaining life.

- **Cycles**: rainflow counting (ASTM E1049-85) of each gauge's strain as it streams in, a numba
  kernel with its state in arrays per gauge (``count``): the ``rainflow`` package counts a whole
  record, and the live path has only the readings of a batch, so the counting is the standard's
  four-point form, which closes each full cycle as soon as its reversals are seen and keeps the
  open ones (the residue, a few reversals) on a stack per gauge; the residue counts a half cycle a
  range when the damage is read (``residue``), as the standard counts a record's.  The tests check
  it against the ``rainflow`` package.  Before the counting:
  - a **spike** (one reading ``SPIKE_SIGMAS`` of the gauge's noise off its level, its neighbours
    near the level, ``crossing``'s rule) is dropped, a reading late: a fault is no cycle;
  - a **hysteresis** of ``GATE_UE`` or eight of the gauge's noise spreads, whichever is larger,
    keeps only the reversals beyond it (over a day's 1.7 million samples at 20 Hz, reversals of
    four spreads were noise's 30,000 a day), so the counting sees a few thousand points a day.
    Cycles under the gate — the noise, the span's vibration under a lorry — are 0.8 MPa in the
    steel or less, where a tendon lasts 10¹⁰ cycles and more.
  A gauge must report at 10 Hz or more to see each lorry's cycle whole (a 70 m span crossed in 3.5 s:
  at 1 Hz the peak falls between readings); the analyst says where it does not (``ADEQUATE_HZ``).
- **Stress range**: the bonded steel beside a gauge strains as the concrete does, so its stress
  range is E_s·Δε (200 GPa).
- **S–N curve**: EN 1992-1-1 Table 6.4N for prestressing steel; the default is its lowest,
  post-tensioned curved tendons in steel ducts (N* = 10⁶, k₁ = 3, k₂ = 7, ΔσRsk = 120 MPa), as a box
  girder's tendons are; others by name (``DETAILS``).  The partial factor γs,fat = 1.15 (§2.4.2.4).
  N(Δσ) = N*·(ΔσRsk/γ/Δσ)^k, k = k₁ above ΔσRsk/γ and k₂ below.
- **Miner's rule**: the damage is Σ n/N; the remaining life, at the rate of the days counted, is
  (1 − D)/rate.  Only the damage since monitoring began is known; the assessment says so.

A big prestressed box carries mostly its own weight: a 49 t lorry strains the Jinzhai Rd bridge's
bottom flange by about 6 µε, 1.2 MPa in its tendons, far below where fatigue counts.  Fatigue
governs steel decks and their welds, for which ``DETAILS`` has EN 1993-1-9's category 71.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from ...batch import F64, I32, I64

E_STEEL_PA = 2.0e11
MPA_PER_UE = 1e-6 * E_STEEL_PA / 1e6  # the steel's stress range per µε of strain range
GAMMA_FAT = 1.15
GATE_UE = 4.0
GATE_SIGMAS = 8.0
ADEQUATE_HZ = 10.0
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Detail:
    """An S–N curve: N* cycles at ΔσRsk (MPa), slopes k1 above it and k2 below (k2 0: a cut-off)."""

    name: str
    n_star: float
    k1: float
    k2: float
    stress_mpa: float


DETAILS = {d.name: d for d in (
    Detail("tendon, curved in steel ducts", 1e6, 3, 7, 120.0),  # EN 1992-1-1 Table 6.4N
    Detail("tendon, straight in plastic ducts", 1e6, 5, 9, 185.0),
    Detail("reinforcing bar, straight", 1e6, 5, 9, 162.5),  # Table 6.3N
    Detail("steel, category 71", 2e6, 3, 5, 71.0),  # EN 1993-1-9: at 2·10⁶, m = 3, then 5 past 5·10⁶ (simplified)
)}
DEFAULT_DETAIL = "tendon, curved in steel ducts"


STACK = 64  # reversals kept per gauge for the rainflow's residue (past it the oldest is a half cycle)
SPIKE_SIGMAS = 10.0  # a reading this many noise spreads off, its neighbours by the level, is a spike
SIDE_SHARE = 0.1  # ... "by the level": within this share of its excess (``crossing.SIDE_SHARE``)
LEVEL_TAU_S = 600.0  # the level a spike is judged against: a mean of this time constant
GAP_MS = 60_000
STATE = ("level", "last_t", "held", "before", "tp", "extreme", "rising", "stack", "depth", "first_t", "readings",
         "spikes")


def new_state(gauges: int) -> dict[str, np.ndarray]:
    """The counting's state for ``gauges`` gauges (checkpointed as it is)."""
    return {"level": np.full(gauges, np.nan), "last_t": np.full(gauges, -1, np.int64),
            "held": np.full(gauges, np.nan), "before": np.full(gauges, np.nan), "tp": np.full(gauges, np.nan),
            "extreme": np.zeros(gauges), "rising": np.zeros(gauges, np.int8),
            "stack": np.zeros((gauges, STACK)), "depth": np.zeros(gauges, np.int64),
            "first_t": np.full(gauges, -1, np.int64), "readings": np.zeros(gauges, np.int64),
            "spikes": np.zeros(gauges, np.int64)}


@numba.njit(cache=True, nogil=True)
def _push(j, x, stack, depth, o_g, o_r, o_c, n):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """A turning point onto gauge j's stack; the cycles it closes by the four-point rule into the outputs."""
    if depth[j] == STACK:  # a residue this deep: its oldest range counts a half cycle
        o_g[n], o_r[n], o_c[n] = j, abs(stack[j, 1] - stack[j, 0]), 0.5
        n += 1
        stack[j, : STACK - 1] = stack[j, 1:].copy()
        depth[j] -= 1
    stack[j, depth[j]] = x
    depth[j] += 1
    while depth[j] >= 4:
        d = depth[j]
        a, b, c, e = stack[j, d - 4], stack[j, d - 3], stack[j, d - 2], stack[j, d - 1]
        inner = abs(c - b)
        if inner <= abs(b - a) and inner <= abs(e - c):  # b–c closes a full cycle inside a–e
            o_g[n], o_r[n], o_c[n] = j, inner, 1.0
            n += 1
            stack[j, d - 3] = e
            depth[j] -= 2
        else:
            break
    return n


@numba.njit(cache=True, nogil=True)
def _count(g, t_ms, v, scale, gate, sigma, level, last_t, held, before, tp, extreme, rising, stack, depth,  # type: ignore[no-untyped-def]
           first_t, readings, o_spike, o_g, o_r, o_c):  # pragma: no cover - compiled
    """Readings (gauge numbers, in time order; times ``scale`` in µε) through each gauge's spike check
    (one reading late), hysteresis (``gate``) and four-point rainflow; the cycles closed (gauge, range,
    count); the readings, the first one's time and the spikes dropped per gauge."""
    n = 0
    for i in range(len(g)):
        j = g[i]
        x = v[i] * scale
        t = t_ms[i]
        readings[j] += 1
        if first_t[j] < 0:
            first_t[j] = t
        if last_t[j] < 0 or t - last_t[j] > GAP_MS:
            level[j] = x if np.isnan(level[j]) else level[j]
        else:
            dt = t - last_t[j]
            level[j] += (held[j] - level[j]) * (dt / (LEVEL_TAU_S * 1000.0 + dt))  # 1 − e^(−dt/τ), first order
        last_t[j] = t
        p, pp = held[j], before[j]
        held[j] = x
        if np.isnan(p):
            continue
        ex = p - level[j]
        if (not np.isnan(pp) and abs(ex) > SPIKE_SIGMAS * sigma[j]
                and max(abs(pp - level[j]), abs(x - level[j])) < SIDE_SHARE * abs(ex)):
            o_spike[j] += 1
            held[j] = x
            continue  # p is a spike: dropped; its neighbours meet
        before[j] = p
        # the hysteresis filter on p (``turning_points``, one reading at a time)
        if np.isnan(tp[j]):
            tp[j], extreme[j], rising[j] = p, p, 0
        elif rising[j] == 0:
            if abs(p - tp[j]) > gate[j]:
                n = _push(j, tp[j], stack, depth, o_g, o_r, o_c, n)
                rising[j] = 1 if p > tp[j] else -1
                extreme[j] = p
        elif (p - extreme[j]) * rising[j] > 0:
            extreme[j] = p
        elif abs(extreme[j] - p) > gate[j]:
            n = _push(j, extreme[j], stack, depth, o_g, o_r, o_c, n)
            rising[j] = -rising[j]
            extreme[j] = p
    return n


@dataclass
class Cycles:
    """Rainflow cycles closed: the gauge, the strain range (µε), the count (1, or ½ for a residue's)."""

    gauge: I32
    range_ue: F64
    count: F64


def count(gauge: I32, t_ms: I64, strain: F64, gate_ue: F64, sigma_ue: F64, state: dict[str, np.ndarray],
          scale: float = 1.0) -> Cycles:
    """Feed readings (``gauge`` numbers, each gauge's in time order; ``strain`` times ``scale`` in µε);
    the cycles they close.  ``gate_ue`` and ``sigma_ue`` per gauge (the hysteresis and the noise's
    spread; inf: no spike check)."""
    m = len(gauge) + 1
    o_g, o_r, o_c = np.empty(m, np.int32), np.empty(m), np.empty(m)
    s = state
    k = _count(np.asarray(gauge, np.int32), np.asarray(t_ms, np.int64), np.asarray(strain, np.float64), scale,
               gate_ue, sigma_ue, s["level"], s["last_t"], s["held"], s["before"], s["tp"], s["extreme"],
               s["rising"], s["stack"], s["depth"], s["first_t"], s["readings"], s["spikes"], o_g, o_r, o_c)
    return Cycles(o_g[:k], o_r[:k], o_c[:k])


def residue(state: dict[str, np.ndarray], j: int) -> F64:
    """Gauge j's open half cycles: its stack's ranges and, beyond the last turning point, the
    excursion in progress (ASTM E1049 counts a record's residue a half cycle each)."""
    pts = state["stack"][j, : state["depth"][j]]
    if not np.isnan(state["tp"][j]) and state["rising"][j] != 0:
        pts = np.append(pts, state["extreme"][j])
    return np.abs(np.diff(pts))


def cycles_to_failure(stress_range_mpa: F64, detail: Detail) -> F64:
    """N for each stress range on the detail's S–N curve (with γs,fat)."""
    s = np.asarray(stress_range_mpa, dtype=np.float64)
    return cycles_each(s, *(np.full(len(s), x) for x in curve(detail)))


def curve(detail: Detail) -> tuple[float, float, float, float]:
    """The detail's curve as numbers: N*, k1, k2 (0: a cut-off), the knee's stress range with γs,fat (MPa)."""
    return detail.n_star, detail.k1, detail.k2, detail.stress_mpa / GAMMA_FAT


def cycles_each(stress_range_mpa: F64, n_star: F64, k1: F64, k2: F64, knee_mpa: F64) -> F64:
    """N for each stress range on its own curve (each cycle's gauge's detail)."""
    s = np.maximum(stress_range_mpa, 1e-9)
    k = np.where(s >= knee_mpa, k1, np.where(k2 > 0, k2, np.inf))
    return np.asarray(n_star * (knee_mpa / s) ** k)


def damage(strain_ue: F64, detail: Detail, gate_ue: float = GATE_UE) -> tuple[float, F64, F64]:
    """Miner's damage of one stretch of a gauge's strain (µε), its residue counted half: (D, ranges in
    MPa, counts).  No spike check (the spread is not known here)."""
    x = np.asarray(strain_ue, dtype=np.float64)
    state = new_state(1)
    c = count(np.zeros(len(x), np.int32), np.arange(len(x), dtype=np.int64), x, np.array([gate_ue]),
              np.array([np.inf]), state)
    c2 = count(np.zeros(1, np.int32), np.array([len(x)], np.int64), x[-1:], np.array([gate_ue]),
               np.array([np.inf]), state)  # the last reading out of the spike check's delay
    rest = residue(state, 0)
    ranges = np.concatenate([c.range_ue, c2.range_ue, rest]) * MPA_PER_UE
    counts = np.concatenate([c.count, c2.count, np.full(len(rest), 0.5)])
    return float(np.sum(counts / cycles_to_failure(ranges, detail))), ranges, counts


def remaining_years(used: float, per_day: float) -> float:
    """Years until Miner's sum reaches 1 at ``per_day``, from ``used``."""
    return math.inf if per_day <= 0 else max(1.0 - used, 0.0) / per_day / 365.25


def life_words(years: float) -> tuple[str, str]:
    """A remaining life in words (zh, en)."""
    if math.isnan(years):
        return "尚不可知（计数不足半天）", "not known yet (under half a day counted)"
    if years > 1000:
        return "超过 1000 年", "over 1,000 years"
    return f"约 {years:.0f} 年", f"about {years:.0f} years"


def fatigue_words(used: float, years: float, hz: float) -> dict[str, str]:
    """The fatigue reason: Miner's sum, the life left, and whether the gauges read fast enough."""
    if math.isnan(used):
        return {"zh": "疲劳：桥上无应变计", "en": "fatigue: no strain gauge on the bridge"}
    zh_life, en_life = life_words(years)
    text = {"zh": f"疲劳：监测以来 Miner 累积损伤 {used:.2g}，按当前速率剩余寿命：{zh_life}",
            "en": f"fatigue: Miner's sum {used:.2g} since monitoring began; life left at this rate: {en_life}"}
    if not hz >= ADEQUATE_HZ:
        text["zh"] += f"（应变仅 {hz:.2g} Hz，不足以完整计数车辆循环，需 ≥ {ADEQUATE_HZ:.0f} Hz：仅供参考）"
        text["en"] += f" (strain at only {hz:.2g} Hz misses lorries' cycles; {ADEQUATE_HZ:.0f} Hz needed: indicative)"
    return text


class Ledger:
    """Every strain gauge's fatigue since monitoring began: the counting's state (with each gauge's
    readings, first and latest time, spikes dropped); per gauge Miner's sum of its closed cycles, the
    cycles and the largest range, MPa (``sums``)."""

    def __init__(self, details: list[Detail]) -> None:
        self.details = details
        self.curves = np.array([curve(d) for d in details]).reshape(-1, 4).T.copy()
        self.state = new_state(len(details))
        self.sums = np.zeros((len(details), 3))

    def add(self, g: I32, t_ms: I64, strain: F64, ue: float, sigma: F64) -> None:
        """Readings (gauge numbers, each gauge's in time order; ``strain`` times ``ue`` in µε), each gauge's
        noise spread (in the readings' unit; 0: not known)."""
        sigma_ue = sigma * ue
        gate = np.maximum(GATE_UE, GATE_SIGMAS * sigma_ue)
        c = count(g, t_ms, strain, gate, np.where(sigma_ue > 0, sigma_ue, np.inf), self.state, ue)
        if not len(c.gauge):
            return
        mpa = c.range_ue * MPA_PER_UE
        np.add.at(self.sums[:, 0], c.gauge, c.count / cycles_each(mpa, *(x[c.gauge] for x in self.curves)))
        np.add.at(self.sums[:, 1], c.gauge, c.count)
        np.maximum.at(self.sums[:, 2], c.gauge, mpa)

    def of(self, j: int) -> tuple[float, float, float, float]:
        """Gauge j's Miner's sum (its residue counted half), days counted, readings a second, years left
        (NaN under half a day; inf: no end foreseen)."""
        first, last, readings = (int(self.state[k][j]) for k in ("first_t", "last_t", "readings"))
        used = float(self.sums[j, 0] + np.sum(0.5 / cycles_to_failure(residue(self.state, j) * MPA_PER_UE,
                                                                      self.details[j])))
        days = max(last - first, 0) / DAY_MS if first >= 0 else 0.0
        hz = (readings - 1) / (days * 86_400) if days > 0 else math.nan
        years = remaining_years(used, used / days) if days >= 0.5 else math.nan
        return used, days, float(hz), years

    def worst(self, gauges: I64) -> tuple[float, float, float]:
        """Of ``gauges``: the largest Miner's sum, the shortest life left and the slowest rate (NaN: none)."""
        if not len(gauges):
            return math.nan, math.nan, math.nan
        used, _, hz, years = np.array([self.of(int(j)) for j in gauges]).T

        def least(x: F64) -> float:
            x = x[~np.isnan(x)]
            return float(x.min()) if len(x) else math.nan
        return float(used.max()), least(years), least(hz)

    def summary(self, j: int, sensor_id: str) -> dict[str, Any]:
        """Gauge j for people (the API and the bridge page)."""
        used, days, hz, years = self.of(j)
        return {"sensor": sensor_id, "detail": self.details[j].name,
                "hz": round(hz, 2) if math.isfinite(hz) else None, "days": round(days, 2),
                "cycles": int(self.sums[j, 1]), "damage": float(f"{used:.3g}"),
                "damage_per_day": float(f"{used / days:.3g}") if days >= 0.5 else None,
                "remaining_years": round(years, 1) if math.isfinite(years) else None,
                "max_range_mpa": round(float(self.sums[j, 2]), 2), "spikes_dropped": int(self.state["spikes"][j]),
                "adequate": bool(hz >= ADEQUATE_HZ), "words": fatigue_words(used, years, hz)}

    def arrays(self) -> dict[str, np.ndarray]:
        return {"sums": self.sums.copy()} | {f"state.{k}": v.copy() for k, v in self.state.items()}

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        self.sums = arrays["sums"].copy()
        self.state = {k: arrays[f"state.{k}"].copy() for k in STATE}
