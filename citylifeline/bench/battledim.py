"""BattLeDIM's economic score for leak reports (as described in ../shared/bench/README.md).

A detector reports (pipe, time) pairs.  A report is a *true positive* when its time falls
between a leak's start and end and its pipe lies within ``MATCH_M`` (300 m) of the leaking pipe
along the network: the shortest path between their nodes plus half of each pipe's length (0 for
the pipe itself).  It earns ``EUR_PER_M3`` for every m³ the leak still loses from the report to
the end of the simulated period, minus the crew's search, ``CREW_EUR`` × distance / 300 m.  A
second report of a leak already found earns nothing; any other report costs ``CREW_EUR``.
The perfect score reports every leak at its start on its own pipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from ..twin.leakyear import LeakYear, YearRun

MATCH_M = 300.0
EUR_PER_M3 = 0.8
CREW_EUR = 500.0


@dataclass(frozen=True)
class Report:
    """A detector's claim: a leak on or near ``pipe`` at ``t_ms``."""

    pipe: str
    t_ms: int


@dataclass
class Score:
    """The economic score and its parts."""

    euros: float = 0.0
    perfect_euros: float = 0.0
    true_positives: int = 0
    false_positives: int = 0
    missed: int = 0
    detect_s: list[float] = field(default_factory=list)  # per leak found: report time − leak start
    distance_m: list[float] = field(default_factory=list)

    @property
    def fraction_of_perfect(self) -> float:
        return self.euros / self.perfect_euros if self.perfect_euros else 0.0


class PipeDistance:
    """Distances between pipes along the network, as the score defines them."""

    def __init__(self, wn) -> None:  # type: ignore[no-untyped-def]
        self.wn = wn
        self.graph = nx.Graph()
        for name in wn.pipe_name_list + wn.pump_name_list + wn.valve_name_list:
            link = wn.get_link(name)
            length = float(getattr(link, "length", 0.0) or 0.0)
            a, b = link.start_node_name, link.end_node_name
            if not self.graph.has_edge(a, b) or self.graph[a][b]["length"] > length:
                self.graph.add_edge(a, b, length=length)

    def __call__(self, p: str, q: str, cutoff_m: float = 10 * MATCH_M) -> float:
        if p == q:
            return 0.0
        lp, lq = self.wn.get_link(p), self.wn.get_link(q)
        best = np.inf
        for a in (lp.start_node_name, lp.end_node_name):
            reach = nx.single_source_dijkstra_path_length(self.graph, a, cutoff=cutoff_m, weight="length")
            for b in (lq.start_node_name, lq.end_node_name):
                best = min(best, reach.get(b, np.inf))
        return float(best + lp.length / 2 + lq.length / 2)


def score(reports: Sequence[Report], year: LeakYear, run: YearRun, distance: PipeDistance) -> Score:
    """Score ``reports`` against the leaks of ``year``, whose outflows ``run`` simulated."""
    step_h = year.step_s / 3600.0
    remaining = np.flip(np.cumsum(np.flip(run.leak_m3h * step_h, axis=0), axis=0), axis=0)  # m³ from each row on
    out = Score(perfect_euros=EUR_PER_M3 * float(sum(
        remaining[int(np.searchsorted(run.t_ms, leak.start_ms)), k] if leak.start_ms <= run.t_ms[-1] else 0.0
        for k, leak in enumerate(year.leaks))))
    found: set[int] = set()
    for r in sorted(reports, key=lambda r: r.t_ms):
        match = None
        for k, leak in enumerate(year.leaks):
            if leak.start_ms <= r.t_ms <= leak.end_ms:
                d = distance(r.pipe, leak.link)
                if d <= MATCH_M and (match is None or d < match[1]):
                    match = (k, d)
        if match is None:
            out.false_positives += 1
            out.euros -= CREW_EUR
            continue
        k, d = match
        if k in found:
            continue  # a second report of a found leak earns nothing
        found.add(k)
        row = min(int(np.searchsorted(run.t_ms, r.t_ms)), len(run.t_ms) - 1)
        out.euros += EUR_PER_M3 * float(remaining[row, k]) - CREW_EUR * d / MATCH_M
        out.true_positives += 1
        out.detect_s.append((r.t_ms - year.leaks[k].start_ms) / 1000)
        out.distance_m.append(d)
    out.missed = sum(1 for k, leak in enumerate(year.leaks) if k not in found and leak.start_ms <= run.t_ms[-1])
    return out
