"""The scenario scorer: run scenarios through the twin and the platform, compare with the truth.

For each scenario: simulate it (``twin.runner``), replay its delivered readings through the
platform's pipeline (``offline.replay``, exactly what ``citylifeline replay`` does), and match
the incidents the platform raised with the incidents that really happened.  A true incident is
*found* by the earliest platform incident of the same lifeline that is active during it — it
begins at most ``EARLY_MS`` (a waterlogging: ``FORECAST_EARLY_MS``) before the truth and before
the truth ends (plus ``LATE_MS``), and
was still being updated at the truth's start (less ``GRACE_MS``, for clocks) — and either shares
a sensor with the truth's expected sensors or lies within ``MATCH_RADIUS_M`` of its place.  One
platform incident may find several truths (a storm floods several catchments and the platform
reports one waterlogging incident); those are counted as *merged*.  "Time to warn" is from the
true start to the incident's first event, negative when the platform warned before the truth
began (rain gauges and outfall flows rise before the streets flood).  Platform incidents that
find nothing but share a sensor with a truth that another incident found, while it went on, are
*duplicates* (one burst split into several incidents); the rest are *false*; those made only of
sensors with injected device faults are also counted as *faults raised as incidents*.  A truth
no sensor could see (no expected sensors) is *unobservable* — unless it is a waterlogging that an
incident at its place found (the drainage forecast of a street no gauge watches): reported, not
counted as missed.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.drainage.rain import CityGauges
from ..city.bundle import CityBundle, load_city
from ..city.model import LIFELINES
from ..errors import NotFound
from ..forecasts import RainForecastRecord
from ..offline import replay
from ..settings import Config
from ..twin.rainforecast import rain_forecasts
from ..twin.runner import TwinRun, simulate, write_run
from ..twin.scenario import Scenario
from .cascades import CascadeScore, score_cascades

GRACE_MS = 5 * 60_000
EARLY_MS = 3600_000  # a warning up to an hour ahead (rain before a flood) counts; an older incident does not
FORECAST_EARLY_MS = 2 * 3600_000  # ... two hours for a waterlogging truth: the drainage forecast's horizon
LATE_MS = 3600_000
MATCH_RADIUS_M = 500.0  # 'nearby': under the next bridge or tunnel compartment is not
DAY_MS = 86_400_000


@dataclass
class LifelineScore:
    """Counts for one lifeline (or overall)."""

    truths: int = 0
    found: int = 0
    merged: int = 0
    missed: int = 0
    unobservable: int = 0
    duplicates: int = 0
    false: int = 0
    faults_as_incidents: int = 0
    detect_s: list[float] = field(default_factory=list)
    location_m: list[float] = field(default_factory=list)
    sensor_days: float = 0.0

    def add(self, other: LifelineScore) -> None:
        """Accumulate ``other`` into this score."""
        for name in ("truths", "found", "merged", "missed", "unobservable", "duplicates", "false",
                     "faults_as_incidents",
                     "sensor_days"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.detect_s += other.detect_s
        self.location_m += other.location_m

    @property
    def false_per_1000_sensor_days(self) -> float:
        """False incidents per 1,000 sensor-days."""
        return 1000.0 * self.false / self.sensor_days if self.sensor_days else 0.0

    def row(self) -> dict[str, Any]:
        """A table row."""
        def med(xs: list[float]) -> float:
            return float(np.median(xs)) if xs else math.nan

        return {"truths": self.truths, "found": self.found, "merged": self.merged, "missed": self.missed,
                "unobservable": self.unobservable, "duplicates": self.duplicates,
                "false": self.false, "faults_as_incidents": self.faults_as_incidents,
                "median_detect_s": med(self.detect_s), "median_location_m": med(self.location_m),
                "false_per_1000_sensor_days": self.false_per_1000_sensor_days}


@dataclass
class ScenarioScore:
    """A scenario's scores by lifeline, with the matches that produced them."""

    scenario: str
    by_lifeline: dict[str, LifelineScore]
    matches: list[dict[str, Any]]
    readings: int
    sim_s: float
    replay_s: float
    cascades: CascadeScore = field(default_factory=CascadeScore)
    incidents: list[dict[str, Any]] = field(default_factory=list)  # the replay's, where kept (``replay_run``)
    events: list[dict[str, Any]] = field(default_factory=list)


def merged(name: str, scores: list[ScenarioScore]) -> ScenarioScore:
    """Several scenarios' scores as one row (the generated cases of one seed)."""
    by: dict[str, LifelineScore] = {n: LifelineScore() for n in LIFELINES}
    cascades = CascadeScore()
    for sc in scores:
        for n, ls in sc.by_lifeline.items():
            by[n].add(ls)
        cascades.add(sc.cascades)
    return ScenarioScore(name, by, [m for sc in scores for m in sc.matches], sum(sc.readings for sc in scores),
                         sum(sc.sim_s for sc in scores), sum(sc.replay_s for sc in scores), cascades)


def score_run(run: TwinRun, incidents: list[dict[str, Any]], bundle: CityBundle,
              events: list[dict[str, Any]] | None = None) -> ScenarioScore:
    """Match platform ``incidents`` (``Incident.to_dict()`` rows) with the run's truth; ``events``: the
    replay's, for the cascades as the incidents stood (``bench.cascades``)."""
    s = run.scenario
    by: dict[str, LifelineScore] = {name: LifelineScore() for name in LIFELINES}
    days = s.duration_s * 1000 / DAY_MS
    for spec in bundle.sensors.specs:
        by[spec.layer].sensor_days += days
    used: set[int] = set()
    matches: list[dict[str, Any]] = []
    for t in sorted(run.truth, key=lambda t: t.start_ms):
        if t.parent:  # a secondary effect: foreseen or not (``bench.cascades``), not an incident to find
            continue
        sc = by[t.lifeline]
        sc.truths += 1
        end = (t.end_ms or s.end_ms) + LATE_MS
        early = FORECAST_EARLY_MS if t.type == "waterlogging" else EARLY_MS
        candidates = [i for i in incidents if i["lifeline"] == t.lifeline
                      and t.start_ms - early <= i["t_first_ms"] <= end
                      and i["t_last_ms"] >= t.start_ms - GRACE_MS and _related(i, t)]
        if not t.expected_sensors and (not candidates or t.type != "waterlogging"):  # no sensor could see it, nor
            # (a waterlogging of a street no gauge watches) the drainage forecast foresee it
            sc.unobservable += 1
            matches.append({"truth": t.id, "type": t.type, "result": "unobservable"})
            continue
        if not candidates:
            sc.missed += 1
            matches.append({"truth": t.id, "type": t.type, "result": "missed"})
            continue
        inc = min(candidates, key=lambda i: (i["id"] in used, i["t_first_ms"]))  # a fresh one if there is one
        sc.merged += inc["id"] in used
        used.add(inc["id"])
        sc.found += 1
        sc.detect_s.append((inc["t_first_ms"] - t.start_ms) / 1000)
        sc.location_m.append(_location_error(inc, t.place, bundle))
        matches.append({"truth": t.id, "type": t.type, "result": "found", "incident": inc["id"],
                        "detect_s": sc.detect_s[-1], "location_m": sc.location_m[-1]})
    faulty = {f["sensor"] for f in run.readings.faults}
    for inc in incidents:
        if inc["id"] in used:
            continue
        sc = by[inc["lifeline"]]
        twin = next((t for t in run.truth if t.lifeline == inc["lifeline"] and not t.parent
                     and set(inc["sensors"]) & set(t.expected_sensors)
                     and t.start_ms - EARLY_MS <= inc["t_first_ms"] <= (t.end_ms or s.end_ms) + LATE_MS
                     and inc["t_last_ms"] >= t.start_ms - GRACE_MS), None)
        if twin is not None:  # another incident about something real that one incident already covers
            sc.duplicates += 1
            matches.append({"incident": inc["id"], "lifeline": inc["lifeline"], "result": "duplicate",
                            "truth": twin.id, "title": inc["title"]})
            continue
        sc.false += 1
        if set(inc["sensors"]) <= faulty:
            sc.faults_as_incidents += 1
        matches.append({"incident": inc["id"], "lifeline": inc["lifeline"], "result": "false", "title": inc["title"]})
    return ScenarioScore(s.name, by, matches, len(run.readings), sum(v for k, v in run.seconds.items()), 0.0,
                         score_cascades(run.truth, incidents, matches, bundle, events=events))


def _related(inc: dict[str, Any], t: Any) -> bool:
    if set(inc["sensors"]) & set(t.expected_sensors):
        return True
    return math.dist((inc["x"], inc["y"]), (t.x, t.y)) <= MATCH_RADIUS_M


def _location_error(inc: dict[str, Any], place: str, bundle: CityBundle) -> float:
    """Metres along the network (straight where there is none) from the truth's place to the
    nearest asset of the incident."""
    city = bundle.city
    try:
        target = city.asset(place)
    except NotFound:
        return math.nan
    best = math.inf
    for key in inc["assets"]:
        try:
            best = min(best, city.distance_m(city.asset(key), target, cutoff_m=20_000.0))
        except NotFound:
            continue
    return best


def run_scenario(scenario: Scenario, config: Config | None = None, bundle: CityBundle | None = None,
                 rain_forecasts: bool = True) -> ScenarioScore:
    """Simulate, replay and score one scenario."""
    bundle = bundle or load_city(scenario.city)
    return replay_run(simulate(scenario, bundle), config or Config.load(environ={}), bundle, rain_forecasts)


def replay_run(run: TwinRun, config: Config, bundle: CityBundle, rain_forecasts: bool = True,
               keep: bool = False) -> ScenarioScore:
    """Replay one simulated run through the platform with ``config`` and score it; with the rain forecasts
    the twin's meteorological service would have pushed (``twin.rainforecast``), unless not ``rain_forecasts``;
    ``keep``: the replay's incidents and events kept on the score (to score its cascades again)."""
    with tempfile.TemporaryDirectory(prefix="cl-score-") as tmp:
        readings, _ = write_run(run, tmp)
        result = replay(bundle, config, files=[readings],
                        rain_forecasts=twin_forecasts(run.scenario, bundle) if rain_forecasts else ())
    score = score_run(run, result.incidents, bundle, result.events)
    score.replay_s = result.report.seconds
    if keep:
        score.incidents, score.events = result.incidents, result.events
    return score


def twin_forecasts(scenario: Scenario, bundle: CityBundle) -> list[RainForecastRecord]:
    """The rain forecasts of a scenario as the store would keep them (none for a city without a drainage model)."""
    gauges = CityGauges.of(bundle.city, bundle.sensors)
    if gauges is None or not gauges.ids:
        return []
    docs = rain_forecasts(scenario, sorted(gauges.ids))
    return [gauges.parse(d).record(k + 1, int(d["issued"]), "twin") for k, d in enumerate(docs)]


def table(scores: list[ScenarioScore]) -> str:
    """The Markdown table of the scores: per scenario and lifeline, then overall by lifeline."""
    head = ("| scenario | lifeline | truths | found | of them merged | missed | unobservable | duplicates | false | "
            "faults as incidents | median time to warn | median location error | false / 1000 sensor-days |\n"
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    lines = []
    total: dict[str, LifelineScore] = {name: LifelineScore() for name in LIFELINES}
    for sc in scores:
        for name, ls in sc.by_lifeline.items():
            total[name].add(ls)
            if ls.truths or ls.false:
                lines.append(_line(sc.scenario, name, ls))
    everything = LifelineScore()
    for name, ls in total.items():
        everything.add(ls)
        lines.append(_line("**all**", name, ls))
    lines.append(_line("**all**", "**all**", everything))
    return head + "\n".join(lines) + "\n"


def total(scores: list[ScenarioScore]) -> LifelineScore:
    """Every lifeline of every scenario in one score."""
    out = LifelineScore()
    for sc in scores:
        for ls in sc.by_lifeline.values():
            out.add(ls)
    return out


def comparison(variants: dict[str, list[ScenarioScore]]) -> str:
    """A Markdown table of overall scores, one row per variant (e.g. with and without the AI detector)."""
    lines = ["| detectors | truths | found | missed | duplicates | false | false / 1000 sensor-days | "
             "median time to warn |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, scores in variants.items():
        r = total(scores).row()
        warn = "–" if math.isnan(r["median_detect_s"]) else f"{r['median_detect_s'] / 60:.1f} min"
        lines.append(f"| {name} | {r['truths']} | {r['found']} | {r['missed']} | {r['duplicates']} | {r['false']} | "
                     f"{r['false_per_1000_sensor_days']:.2f} | {warn} |")
    return "\n".join(lines) + "\n"


def _line(scenario: str, lifeline: str, ls: LifelineScore) -> str:
    r = ls.row()

    def minutes(s: float) -> str:
        return "–" if math.isnan(s) else f"{s / 60:.1f} min"

    def metres(m: float) -> str:
        return "–" if math.isnan(m) else ("∞" if math.isinf(m) else f"{m:.0f} m")

    return (f"| {scenario} | {lifeline} | {r['truths']} | {r['found']} | {r['merged']} | {r['missed']} | "
            f"{r['unobservable']} | {r['duplicates']} | "
            f"{r['false']} | {r['faults_as_incidents']} | {minutes(r['median_detect_s'])} | "
            f"{metres(r['median_location_m'])} | {r['false_per_1000_sensor_days']:.2f} |")


def scenario_paths(names: list[str] | None = None) -> list[Path]:
    """The shipped scenarios (all, or those named)."""
    from ..twin.scenario import scenarios_dir

    paths = sorted(scenarios_dir().glob("*.yaml"))
    return [p for p in paths if not names or p.stem in names]


MARK = "<!-- citylifeline bench scenarios -->"


def write_docs(scores: list[ScenarioScore], text: str) -> None:
    """Replace the scenario-scorer section of docs/benchmarks.md."""
    import datetime as dt

    from .report import machine, replace_section

    runs = "\n".join(f"| {s.scenario} | {s.readings:,} | {s.sim_s:.1f} s | {s.replay_s:.1f} s |" for s in scores)
    md = f"""{MARK}
## Scenario scorer: the platform's warnings against the twin's truth

- Command: `citylifeline bench scenarios --write-docs --compare --generated 51 52 53` (every shipped
  scenario, with the AI detector and without it; and the generated multi-lifeline cases of the seeds
  kept for scoring, `bench/cascade_cases.py`, replayed with the demo's analysts, water included: one
  row per seed; `citylifeline bench cascade-choice` chose the cascade's threshold on seeds 1–3.
  Seeds 41–43 were scored once and looked at before a leak no analyst has placed started its cascade
  where it was first seen and chains were judged by the mechanisms the twin models; seeds 51–53 were
  scored once, in total only, before a burst was placed 15 minutes after its alarm rather than 3 hours
  (their effects foreseen late sent us to look at the timing on seeds 1–3); seeds 61–63 were first
  scored on 671fe50, after that change)
- Machine: {machine()}
- Date: {dt.date.today().isoformat()}

What each row counts is explained in `citylifeline/bench/scenarios.py`: a true incident is found by
the earliest platform incident of its lifeline that is active during it and shares a sensor with
the sensors that should see it (or lies within 500 m); "time to warn" is from the true start to
that incident's first event (negative: warned before it began); "location error" is along the
network from the true place to the incident's nearest asset.  The first table (detectors compared)
is over the shipped scenarios only; the others hold the generated seeds too.  The cascade table's
columns are explained in `citylifeline/bench/cascades.py`.

{text}
| scenario | readings | simulation | replay through the platform |
|---|---:|---:|---:|
{runs}
"""
    replace_section(MARK, md)
