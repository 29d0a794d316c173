"""Choosing the cascade's listing threshold on generated scenarios, and scoring it on seeds kept aside.

``cascade.chains.LIST_P``, the likelihood from which an effect is listed, trades secondary effects
foreseen against chains that come to nothing.  It is chosen on the generated cases
(``cascade_cases``) of the development seeds (``DEV_SEEDS``), replayed once through the platform as
the demo runs it (every analyst, water included), then scored for each value of ``GRID`` without
replaying (``bench.cascades``): the value under which the cascades from the true place foresee the
most effects while neither they nor the incidents' cascades list more than ``SPURIOUS_MAX``
spurious chains per primary or incident (ties: the larger value, fewer chains).  The mechanisms'
other constants (``cascade.templates``) are a priori; those the generated cases could price did not
move the score (the gas decay: a gas incident starts from the spaces where its gas was measured).
Leave-one-seed-out over the development seeds says whether the choice carries to a seed it was not
made on; the seeds kept for scoring (``SCORE_SEEDS``) are scored by ``citylifeline bench scenarios
--generated``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..cascade.chains import LIST_P, Cascader
from ..cascade.coupling import couple
from ..city.bundle import CityBundle
from ..demo import DEMO_ANALYSTS
from ..settings import Config
from ..twin.base import Truth
from ..twin.runner import simulate
from ..twin.scenario import Scenario
from .cascade_cases import cascade_cases
from .cascades import CascadeScore, score_cascades
from .scenarios import ScenarioScore, replay_run

DEV_SEEDS = (1, 2, 3)
SCORE_SEEDS = (51, 52, 53)
CASES = 8
GRID = (0.02, 0.03, 0.05, 0.07, 0.1, 0.2)
SPURIOUS_MAX = 1.0  # per primary or incident: half the bound, a margin for seeds not seen


@dataclass
class Case:
    """A generated case replayed once: its truth, and the score of its replay with the replay's
    incidents and events (``scenarios.replay_run``)."""

    scenario: Scenario
    truth: list[Truth]
    score: ScenarioScore


def config() -> Config:
    """The platform as the demo city runs it: every analyst, the water analyst included."""
    return Config.load(environ={}, analysts=DEMO_ANALYSTS)


def run_case(scenario: Scenario, bundle: CityBundle) -> Case:
    """Simulate ``scenario``, replay it through the platform and score it."""
    run = simulate(scenario, bundle)
    return Case(scenario, run.truth, replay_run(run, config(), bundle, keep=True))


def run_seeds(bundle: CityBundle, seeds: tuple[int, ...], cases: int = CASES,
              progress: Any = None) -> dict[int, list[Case]]:
    """Every case of every seed, replayed."""
    out: dict[int, list[Case]] = {}
    for seed in seeds:
        out[seed] = []
        for scenario in cascade_cases(bundle, seed, cases):
            if progress:
                progress(scenario.name)
            out[seed].append(run_case(scenario, bundle))
    return out


def score(cases: list[Case], bundle: CityBundle, list_p: float = LIST_P, coupling: Any = None) -> CascadeScore:
    """The cascade score of ``cases`` with ``list_p``."""
    cascader = Cascader(bundle.city, bundle.sensors, coupling or couple(bundle.city), list_p)
    out = CascadeScore()
    for c in cases:
        out.add(score_cascades(c.truth, c.score.incidents, c.score.matches, bundle, cascader, c.score.events))
    return out


def grid(cases: list[Case], bundle: CityBundle) -> dict[float, CascadeScore]:
    """The score under every value of ``GRID``."""
    coupling = couple(bundle.city)
    return {p: score(cases, bundle, p, coupling) for p in GRID}


def pooled(grids: list[dict[float, CascadeScore]]) -> dict[float, CascadeScore]:
    """Several seeds' grids summed."""
    out = {p: CascadeScore() for p in GRID}
    for g in grids:
        for p, c in g.items():
            out[p].add(c)
    return out


def spurious(c: CascadeScore) -> float:
    """Spurious chains per primary from its true place, or per incident, whichever is more."""
    return max(c.placed_spurious / c.roots if c.roots else 0.0, c.spurious / c.incidents if c.incidents else 0.0)


def choose(scores: dict[float, CascadeScore]) -> float:
    """The value that foresees most from the true place within ``SPURIOUS_MAX`` (ties: the larger)."""
    fit = {p: c for p, c in scores.items() if spurious(c) <= SPURIOUS_MAX} or scores
    return min(fit, key=lambda p: (-fit[p].placed_foreseen, -p))


def leave_one_seed_out(grids: dict[int, dict[float, CascadeScore]]) -> list[dict[str, Any]]:
    """For each seed of ``grids`` (its score under each value): the value chosen on the others, and its
    score on that seed beside the shipped one's."""
    out = []
    for seed, g in grids.items():
        chosen = choose(pooled([other for s, other in grids.items() if s != seed]))
        out.append({"seed": seed, "chosen": chosen, "score": g[chosen], "shipped": g[LIST_P]})
    return out


def run(seeds: tuple[int, ...] = DEV_SEEDS, cases: int = CASES) -> dict[str, Any]:
    """Replay the development seeds' cases; the grid pooled over them, the choice and leave-one-seed-out."""
    import sys
    import time
    from datetime import date

    from ..city.bundle import load_city
    from .report import machine

    began = time.perf_counter()
    bundle = load_city("demo")
    by_seed = run_seeds(bundle, seeds, cases, lambda name: print(f"  {name} …", file=sys.stderr, flush=True))
    grids = {seed: grid(cs, bundle) for seed, cs in by_seed.items()}
    every = pooled(list(grids.values()))
    return {"date": date.today().isoformat(), "machine": machine(), "seeds": list(seeds), "cases": cases,
            "grid": every, "chosen": choose(every), "loso": leave_one_seed_out(grids),
            "minutes": (time.perf_counter() - began) / 60}


def markdown(r: dict[str, Any]) -> str:
    def row(name: str, c: CascadeScore) -> str:
        per = f"{c.placed_spurious / c.roots:.2f}" if c.roots else "–"
        inc = f"{c.spurious / c.incidents:.2f}" if c.incidents else "–"
        return (f"| {name} | {c.effects} | {c.placed_foreseen} | {per} | {c.placed_chains / max(c.roots, 1):.1f} | "
                f"{c.foreseen} | {c.misplaced} | {inc} | {c.chains / max(c.incidents, 1):.1f} |")

    head = ("| secondary effects | from the true place: foreseen | spurious per primary | chains per primary | "
            "end to end: foreseen | listed elsewhere (root misplaced) | spurious per incident | chains per incident |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    grid_rows = "\n".join(row(f"{p:g}" + (" (shipped)" if p == LIST_P else ""), c) for p, c in r["grid"].items())
    loso = "\n".join(row(f"seed {x['seed']}: {x['chosen']:g} chosen on the others", x["score"]) for x in r["loso"])
    return f"""<!-- cascade choice -->
## Cascades: the listing threshold chosen on generated scenarios

`{r['command']}` on {r['date']} ({r['machine']}), {r['minutes']:.0f} min.  {r['cases']} generated cases per
development seed ({", ".join(map(str, r['seeds']))}; `bench/cascade_cases.py`: a gas leak beside the
spaces and/or a water main burst, after a day of quiet network), each replayed once through the
platform with the demo's analysts, then scored for each `LIST_P` (`bench/cascade_cv.py`).  "From the
true place": the cascade of a burst started from the main its water escapes from, of a gas leak from
the spaces its incident holds; "end to end": the cascade of the incident that found the primary, as the
platform would show it.  Chosen: **{r['chosen']:g}** (the most effects foreseen from the true place with at
most {SPURIOUS_MAX:g} spurious chain per primary and per incident).  The seeds kept for scoring
({", ".join(map(str, SCORE_SEEDS))}) are in the scenario scorer's section.

| LIST_P {head}
{grid_rows}

Leave one seed out: the value chosen on the other development seeds, scored on the one left out.

| seed {head}
{loso}
"""
