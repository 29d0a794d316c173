"""Where the gas comes from: a grid search over every point of the gas mains near the spaces that
see a leak, scored by how well a leak there explains which spaces see gas, how much and when.

The forward model is the one the field uses for a leak into adjacent spaces (DOMAIN.md §1):
gas at a space d metres from the leak, in excess of its biogas, is Q × exp(−d / ``DECAY_M``) ×
how readily the space takes gas in (``INTAKE``), with Q unknown; it arrives after about
d / ``PACE_M_MIN`` minutes.  For each candidate point every ``STEP_M`` along the mains within
``SEARCH_M`` of a space judged leaking, log Q is fitted, and the misfit counts

- the spaces that see gas: the log of what they see against the model, σ = ``SIGMA_LOG`` (a
  plume fluctuates by about a factor of two over an hour: METEC, Elementa 2021);
- the watched spaces nearby that see nothing: the model must leave them under ``SEEN_LEL``;
- the order of arrival: a space that saw gas earlier should not be much farther.

Misfits become a posterior over the points (uniform prior per metre of main), summed per pipe:
the suspects, ranked, with a search centre (the posterior mean), a radius holding 90 % of it,
and the top pipe's share as the confidence.  Bayesian inversions with particle filters (Jing et
al., RESS 260, 2025) refine this with a CFD forward model; a grid over the mains is exact for
one leak and fast enough (thousands of points) for a city's incident.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...city.model import City

DECAY_M = 10.0
INTAKE = {"cable_well": 1.0, "sewer": 0.6}
SIGMA_LOG = 0.7
SEEN_LEL = 1.0
PACE_M_MIN = 0.5
SEARCH_M = 60.0
STEP_M = 2.0
MASS = 0.9


@dataclass
class Sighting:
    """A watched space near a leak: where it is, what it takes in, its excess (%LEL), when gas arrived."""

    key: str
    kind: str
    x: float
    y: float
    excess_lel: float  # 0 for a space that sees nothing
    since_min: float  # minute the gas arrived (nan if never)


@dataclass
class Suspects:
    """The search result: the centre, radius, confidence and the pipes ranked by probability."""

    x: float
    y: float
    radius_m: float
    confidence: float
    candidates: list[tuple[str, float]]  # (pipe key, probability)
    leak_lel: float  # what the fitted leak would give in a cable well at 1 m


class MainsGrid:
    """Points every ``STEP_M`` along the city's gas pipes (built once)."""

    def __init__(self, city: City) -> None:
        xs, ys, pipe = [], [], []
        self.pipes: list[str] = []
        layer = city.layers.get("gas")
        for a in layer.assets.values() if layer is not None else []:
            if a.kind != "pipe":
                continue
            line = a.geometry
            k = len(self.pipes)
            self.pipes.append(a.key)
            for at in np.arange(STEP_M / 2, max(line.length, STEP_M / 2) + 1e-9, STEP_M):
                p = line.interpolate(min(at, line.length))
                xs.append(p.x)
                ys.append(p.y)
                pipe.append(k)
        self.x, self.y = np.array(xs), np.array(ys)
        self.pipe = np.array(pipe, dtype=np.int64)

    def locate(self, seen: list[Sighting], quiet: list[Sighting]) -> Suspects | None:
        """The suspects given the spaces that see gas and the watched spaces near them that do not."""
        if not seen or not len(self.x):
            return None
        sx = np.array([s.x for s in seen])
        sy = np.array([s.y for s in seen])
        near = np.zeros(len(self.x), dtype=bool)
        for x, y in zip(sx, sy, strict=True):
            near |= np.hypot(self.x - x, self.y - y) <= SEARCH_M
        px, py, pipe = self.x[near], self.y[near], self.pipe[near]
        if not len(px):
            return None
        d = np.hypot(px[:, None] - sx[None, :], py[:, None] - sy[None, :])  # point × seen space
        intake = np.log([INTAKE.get(s.kind, 1.0) for s in seen])
        obs = np.log([max(s.excess_lel, SEEN_LEL) for s in seen])
        resid = obs[None, :] - intake[None, :] + d / DECAY_M
        log_q = resid.mean(axis=1)
        misfit = (((resid - log_q[:, None]) / SIGMA_LOG) ** 2).sum(axis=1)
        if quiet:
            qd = np.hypot(px[:, None] - np.array([s.x for s in quiet])[None, :],
                          py[:, None] - np.array([s.y for s in quiet])[None, :])
            qi = np.log([INTAKE.get(s.kind, 1.0) for s in quiet])
            over = log_q[:, None] + qi[None, :] - qd / DECAY_M - math.log(SEEN_LEL)
            misfit += ((np.maximum(over, 0.0) / SIGMA_LOG) ** 2).sum(axis=1)
        since = np.array([s.since_min for s in seen])
        if len(seen) > 1 and np.isfinite(since).sum() > 1:
            ok = np.isfinite(since)
            lag = since[ok] - since[ok].min()
            expect = d[:, ok] / PACE_M_MIN - (d[:, ok] / PACE_M_MIN).min(axis=1, keepdims=True)
            misfit += (((lag[None, :] - expect) / (15.0 + 0.5 * lag[None, :])) ** 2).sum(axis=1)
        w = np.exp(-(misfit - misfit.min()) / 2)
        w /= w.sum()
        cx, cy = float(w @ px), float(w @ py)
        r = np.hypot(px - cx, py - cy)
        o = np.argsort(r)
        radius = float(r[o][np.searchsorted(np.cumsum(w[o]), MASS)]) if len(o) else 0.0
        mass = np.bincount(pipe, weights=w, minlength=len(self.pipes))
        top = np.argsort(-mass)[:5]
        cands = [(self.pipes[k], float(mass[k])) for k in top if mass[k] > 1e-3]
        best = int(np.argmax(w))
        return Suspects(cx, cy, max(radius, STEP_M), float(mass[top[0]]), cands, float(math.exp(log_q[best])))
