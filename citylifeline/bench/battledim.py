"""BattLeDIM's economic score for leak reports, computed as the organisers' scorer computes it.

The official scorer is MATLAB (KIOS-Research/BattLeDIM, ``Scoring Algorithm/Scoring_Algorithm.m``,
``functions/scoring_function.m`` and ``functions/nodeTopologicalDistance.m``, EUPL); this is its
arithmetic, rule by rule:

- times are 5-minute steps from the scored period's first step, rounded (``time2steps``); a
  report before that first step is ignored (no score, no cost);
- a report *matches* a leak when its step lies in [the leak's start step, its end step] (ends
  included; a leak running before the period began has a negative start step) and its pipe is
  within ``MATCH_M`` (300 m) of the leaking pipe: 0 for the pipe itself, otherwise the shortest
  path between their end nodes plus half of each pipe's length;
- the shortest paths run over the links as EPANET reports their lengths — pumps and valves have
  none, and a zero entry of the scorer's adjacency matrix is no edge, so a pump or valve joins
  nothing and another pressure zone is out of reach; where two links join the same nodes the one
  later in EPANET's order sets the length;
- reports are taken in time order; of the leaks a report matches, those not yet found are
  candidates and the *nearest* of them is found by it (a report near both a found leak and an
  unfound one finds the unfound one); a report that matches only leaks already found earns and
  costs nothing; a report that matches none costs ``CREW_EUR``;
- a report that finds a leak earns ``EUR_PER_M3`` for each m³ of the leak's outflow series from
  the row before the report's step to the end (MATLAB's ``timeSeries(td:end)``, 1-based, and
  ``td = 1`` for a report at step 0) minus ``CREW_EUR`` × distance / 300 m;
- the perfect score is that of reporting every leak on its own pipe at its start step (a leak
  already running, at the first step).

EPyT-Flow (PyPI ``epyt-flow``, the BattLeDIM authors' toolkit; read at 0.17.3,
``data/benchmarks/battledim.compute_evaluation_score``) scores differently, so it is not used:
it gives a report to the nearest leak in time with no 300 m limit, counts a leak's water without
dividing its 5-minute m³/h samples by 12, lets a second report of a found leak earn again when it
names another pipe, adds half the length of the leaking pipe only, and downloads the network's
distances and the leak series at run time.  Its figures cannot be compared with the
leaderboard's; these can.

Reference figures of the official scorer (its ``results_reports``) on the 2019 year, checked
where the data allows in tests/test_battledim.py: the perfect submission €523,153.82 (23 found,
0 false, 0 missed); the organisers' test submission of repeated reports €9,547.81 (1 found, 1
false, 22 missed).
"""

from __future__ import annotations

import math
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
    """Distances between pipes along the network, as the official scorer measures them (see above)."""

    def __init__(self, wn) -> None:  # type: ignore[no-untyped-def]
        self.wn = wn
        lengths: dict[frozenset[str], float] = {}
        for name in wn.pipe_name_list + wn.pump_name_list + wn.valve_name_list:  # EPANET's link order
            link = wn.get_link(name)
            lengths[frozenset((link.start_node_name, link.end_node_name))] = _length(link)  # the later link sets it
        self.graph = nx.Graph()
        self.graph.add_nodes_from(wn.node_name_list)
        self.graph.add_weighted_edges_from(((*pair, w) for pair, w in lengths.items() if w > 0 and len(pair) == 2),
                                           weight="length")

    def __call__(self, p: str, q: str, cutoff_m: float = 10 * MATCH_M) -> float:
        if p == q:
            return 0.0
        lp, lq = self.wn.get_link(p), self.wn.get_link(q)
        best = np.inf
        for a in (lp.start_node_name, lp.end_node_name):
            reach = nx.single_source_dijkstra_path_length(self.graph, a, cutoff=cutoff_m, weight="length")
            for b in (lq.start_node_name, lq.end_node_name):
                best = min(best, reach.get(b, np.inf))
        return float(best + _length(lp) / 2 + _length(lq) / 2)


def _length(link) -> float:  # type: ignore[no-untyped-def]
    """A link's length as EPANET reports it: pumps and valves have none."""
    return float(getattr(link, "length", 0.0) or 0.0) if link.link_type == "Pipe" else 0.0


def score(reports: Sequence[Report], year: LeakYear, run: YearRun, distance: PipeDistance) -> Score:
    """Score ``reports`` against the leaks of ``year``, whose outflows ``run`` simulated (rows from its first step)."""
    step_ms = year.step_s * 1000
    first_ms = int(run.t_ms[0])

    def step(t_ms: int) -> int:
        return math.floor((t_ms - first_ms) / step_ms + 0.5)  # MATLAB's round: halves away from zero

    remaining = np.flip(np.cumsum(np.flip(run.leak_m3h * (year.step_s / 3600.0), axis=0), axis=0), axis=0)

    def water_m3(td: int, k: int) -> float:
        row = max(td, 1) - 1  # timeSeries(td:end), 1-based; td = 0 counts from the first row
        return float(remaining[row, k]) if row < len(remaining) else 0.0

    spans = [(step(leak.start_ms), step(leak.end_ms)) for leak in year.leaks]
    last = len(run.t_ms) - 1
    out = Score(perfect_euros=EUR_PER_M3 * sum(water_m3(max(a, 0), k) for k, (a, _) in enumerate(spans) if a <= last))
    found: set[int] = set()
    for r in sorted(reports, key=lambda r: r.t_ms):
        td = step(r.t_ms)
        if td < 0:
            continue  # before the scored period: ignored
        matched = {}
        for k, (a, b) in enumerate(spans):
            if a <= td <= b:
                d = distance(r.pipe, year.leaks[k].link)
                if d <= MATCH_M:
                    matched[k] = d
        if not matched:
            out.false_positives += 1
            out.euros -= CREW_EUR
            continue
        fresh = {k: d for k, d in matched.items() if k not in found}
        if not fresh:
            continue  # only leaks already found: earns and costs nothing
        k = min(fresh, key=fresh.__getitem__)
        d = fresh[k]
        found.add(k)
        out.euros += EUR_PER_M3 * water_m3(td, k) - CREW_EUR * d / MATCH_M
        out.true_positives += 1
        out.detect_s.append((r.t_ms - year.leaks[k].start_ms) / 1000)
        out.distance_m.append(d)
    out.missed = sum(1 for k, (a, _) in enumerate(spans) if k not in found and a <= last)
    return out
