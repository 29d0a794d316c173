"""Fatigue of a bridge's steel from its measured strain: rainflow counting, Miner's rule, remaining life.

- **Cycles**: ASTM E1049-85 rainflow counting (the ``rainflow`` package) of each gauge's strain,
  a day at a time (a day's leftover half cycles count a half each, as the standard counts a
  record's residue; the cycles that span midnight are the deck's daily warming, a few µε).
  First the turning points beyond a hysteresis of ``GATE_UE`` (eight of the gauges' noise
  spreads: over a day's 1.7 million samples, reversals of four spreads were noise's 30,000 a day),
  found by a numba kernel, so the counting sees a few thousand points a day.  Cycles under the
  gate — the noise, the span's vibration under a lorry — are 0.8 MPa in the steel or less, where
  a tendon lasts 10¹⁰ cycles and more.
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

import numba
import numpy as np
import rainflow

from ...batch import F64

E_STEEL_PA = 2.0e11
GAMMA_FAT = 1.15
GATE_UE = 4.0


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


@numba.njit(cache=True)
def turning_points(x: F64, gate: float) -> F64:  # pragma: no cover - compiled
    """The series' turning points that reverse by more than ``gate`` (a hysteresis filter)."""
    out = np.empty(len(x))
    if len(x) == 0:
        return out[:0]
    n = 0
    last = x[0]
    extreme = x[0]
    rising = 0  # 0: not yet known
    for v in x[1:]:
        if rising == 0:
            if v - last > gate:
                rising = 1
                out[n] = last
                n += 1
                extreme = v
            elif last - v > gate:
                rising = -1
                out[n] = last
                n += 1
                extreme = v
        elif rising == 1:
            if v > extreme:
                extreme = v
            elif extreme - v > gate:
                out[n] = extreme
                n += 1
                rising = -1
                extreme = v
        else:
            if v < extreme:
                extreme = v
            elif v - extreme > gate:
                out[n] = extreme
                n += 1
                rising = 1
                extreme = v
    out[n] = extreme
    return out[: n + 1]


def cycles_to_failure(stress_range_mpa: F64, detail: Detail) -> F64:
    """N for each stress range on the detail's S–N curve (with γs,fat)."""
    s = np.maximum(np.asarray(stress_range_mpa, dtype=np.float64), 1e-9)
    knee = detail.stress_mpa / GAMMA_FAT
    k = np.where(s >= knee, detail.k1, detail.k2 if detail.k2 > 0 else np.inf)
    return np.asarray(detail.n_star * (knee / s) ** k)


def damage(strain_ue: F64, detail: Detail) -> tuple[float, F64, F64]:
    """Miner's damage of one stretch of a gauge's strain (µε), with its cycles: (D, ranges in MPa, counts)."""
    points = turning_points(np.ascontiguousarray(strain_ue, dtype=np.float64), GATE_UE)
    if len(points) < 2:
        return 0.0, np.zeros(0), np.zeros(0)
    found = list(rainflow.extract_cycles(points))
    ranges = np.array([c[0] for c in found]) * 1e-6 * E_STEEL_PA / 1e6
    counts = np.array([c[2] for c in found])
    return float(np.sum(counts / cycles_to_failure(ranges, detail))), ranges, counts


def remaining_years(used: float, per_day: float) -> float:
    """Years until Miner's sum reaches 1 at ``per_day``, from ``used``."""
    return math.inf if per_day <= 0 else max(1.0 - used, 0.0) / per_day / 365.25
