"""``citylifeline bench leaks``: a simulated year of a water network with its leaks, the model-based
detector run over it, and BattLeDIM's economic score.

The steps, each timed:

1. **History.**  Four leak-free fortnights of the year before (one per season) of the same real
   network (``mismatch_seed``) with other demand draws: the history a utility has after a leak
   survey.  The detector learns its calibration and thresholds from it, nothing else.
2. **The year.**  ``twin.leakyear.simulate_year`` with the leak list, then ``add_noise``.
3. **Detection** (``analysis.water.leaks.LeakDetector.detect``) over the whole year, then the score
   (``bench.battledim``) of its reports.
4. **Localisation speed**: one hour of readings, from the model run to the ranked pipes.

``generate_leaks`` writes a leak list in the same format for any network (random pipes, sizes
and times like BattLeDIM's), so the detector can be scored on years and networks it never saw.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.water.leaks import Finding, LeakDetector
from ..analysis.water.model import WaterModel
from ..analysis.water.watch import reports
from ..twin.leakyear import LeakYear, add_noise, load_leaks, load_sensors, simulate_year
from .battledim import MATCH_M, PipeDistance, Report, Score, score
from .report import machine, replace_section

DAY_MS = 86_400_000
HISTORY_DAYS = 15
HISTORY_STARTS_D = (0, 91, 182, 273)
MARKER = "<!-- bench/leaks -->"


@dataclass
class LeakBench:
    """One year's result."""

    name: str
    score: Score
    findings: list[Finding]
    leaks: list[dict[str, Any]]  # per true leak: link, kind, m³ lost, found after (days), distance (m)
    seconds: dict[str, float] = field(default_factory=dict)
    set_aside: list[str] = field(default_factory=list)  # pressure sensors taken for faulty (none is: no faults here)

    def median(self, key: str, abrupt: bool) -> float:
        """The median of ``key`` (e.g. ``report_days``) over the abrupt or incipient leaks found; NaN if none."""
        got = [r[key] for r in self.leaks if r["abrupt"] == abrupt and r[key] is not None]
        return float(np.median(got)) if got else float("nan")


def run(inp: Path, leaks: Path, sensors: Path, name: str, seed: int = 0, mismatch_seed: int = 1) -> LeakBench:
    """Simulate, detect and score one year (see the module docstring)."""
    import wntr

    year, placement = load_leaks(leaks), load_sensors(sensors)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    history = []
    for k, offset in enumerate(HISTORY_STARTS_D):
        t0 = year.start_ms - 365 * DAY_MS + offset * DAY_MS
        quiet = LeakYear(t0, t0 + HISTORY_DAYS * DAY_MS, year.step_s, ())
        history.append(add_noise(simulate_year(inp, quiet, placement, seed=1000 + 10 * seed + k,
                                               mismatch_seed=mismatch_seed, pattern_origin_ms=year.start_ms),
                                 seed=2000 + 10 * seed + k))
    truth = simulate_year(inp, year, placement, seed=seed, mismatch_seed=mismatch_seed)
    readings = add_noise(truth, seed=seed + 1)
    seconds["simulate"] = time.perf_counter() - clock
    model = WaterModel(inp, placement, year.start_ms)
    clock = time.perf_counter()
    detector = LeakDetector(model)
    seconds["signatures"] = time.perf_counter() - clock
    clock = time.perf_counter()
    detector.fit(history)
    seconds["fit"] = time.perf_counter() - clock
    clock = time.perf_counter()
    findings = reports(detector.detect(readings))
    seconds["detect"] = time.perf_counter() - clock
    seconds["localise_hour"] = localise_hour_s(detector, readings)
    distance = PipeDistance(wntr.network.WaterNetworkModel(str(inp)))
    result = score([Report(f.where.pipe, f.t_ms) for f in findings], year, truth, distance)
    aside = [placement.pressure_nodes[c] for c in sorted(detector.excluded)]
    return LeakBench(name, result, findings, _per_leak(year, truth, findings, distance), seconds, aside)


def localise_hour_s(detector: LeakDetector, readings: Any, repeats: int = 5) -> float:
    """Seconds to localise one hour of readings (the median of ``repeats``): model run, residual, ranking."""

    n = len(readings.t_ms)
    times = []
    for k in range(repeats):
        a = (n // (repeats + 1)) * (k + 1)
        hour = readings.rows(a, a + 12)
        clock = time.perf_counter()
        detector.localise_window(hour)
        times.append(time.perf_counter() - clock)
    return float(np.median(times))


def _per_leak(year: LeakYear, truth: Any, findings: list[Finding], distance: PipeDistance) -> list[dict[str, Any]]:
    step_h = year.step_s / 3600
    rows = []
    for k, leak in enumerate(year.leaks):
        hits = [f for f in findings
                if leak.start_ms <= f.t_ms <= leak.end_ms and distance(f.where.pipe, leak.link) <= MATCH_M]
        first = hits[0] if hits else None
        rows.append({
            "link": leak.link, "abrupt": leak.abrupt, "lost_m3": float(truth.leak_m3h[:, k].sum() * step_h),
            "report_days": (first.t_ms - leak.start_ms) / DAY_MS if first else None,
            "alarm_days": (max(first.alarm_ms, leak.start_ms) - leak.start_ms) / DAY_MS if first else None,
            "alarm_readings": (int((first.alarm_ms - leak.start_ms) // (year.step_s * 1000)) + 1
                               if first and first.alarm_ms >= leak.start_ms else None),
            "distance_m": distance(first.where.pipe, leak.link) if first else None,
        })
    return rows


def generate_leaks(inp: Path, seed: int, start: str, end: str, abrupt: int = 6, incipient: int = 8) -> dict[str, Any]:
    """A leak list for ``inp`` in BattLeDIM's format: random pipes, sizes, starts, growth and repairs."""
    import wntr

    wn = wntr.network.WaterNetworkModel(str(inp))
    rng = np.random.default_rng(seed)
    pipes = [p for p in wn.pipe_name_list if wn.get_link(p).length > 20]
    t0 = datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp() * 1000
    t1 = datetime.fromisoformat(end).replace(tzinfo=UTC).timestamp() * 1000

    def when(ms: float) -> str:
        ms = min(ms, t1) // 300_000 * 300_000
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")

    leaks = []
    for k, link in enumerate(rng.choice(pipes, abrupt + incipient, replace=False)):
        begin = t0 + rng.uniform(0.03, 0.9) * (t1 - t0)  # (a year: from the 11th day to the end of November)
        if k < abrupt:
            leaks.append({"link": str(link), "start": when(begin), "end": when(begin + rng.uniform(5, 30) * DAY_MS),
                          "diameter_m": round(float(rng.uniform(0.015, 0.023)), 5), "type": "abrupt",
                          "peak": when(begin)})
        else:
            peak = begin + rng.uniform(3, 100) * DAY_MS
            stop = t1 if rng.random() < 0.3 else peak + rng.uniform(1, 40) * DAY_MS  # some last the year out
            leaks.append({"link": str(link), "start": when(begin), "end": when(stop),
                          "diameter_m": round(float(rng.uniform(0.008, 0.023)), 5), "type": "incipient",
                          "peak": when(peak)})
    leaks.sort(key=lambda e: str(e["start"]))
    return {"period": {"start": start, "end": end, "step_minutes": 5}, "leaks": leaks}


def table(results: list[LeakBench]) -> str:
    """The results as a markdown table, one column per year."""
    def fmt(v: float, spec: str) -> str:
        return "—" if v != v else format(v, spec)

    rows = [("euros (of the perfect score)", lambda r: f"€{r.score.euros:,.0f} of €{r.score.perfect_euros:,.0f} "
                                                       f"(**{100 * r.score.fraction_of_perfect:.0f} %**)"),
            ("leaks found / in the year", lambda r: f"{r.score.true_positives} / {len(r.leaks)}"),
            ("false reports", lambda r: str(r.score.false_positives)),
            ("missed leaks", lambda r: str(r.score.missed)),
            ("sensors set aside as faulty (none is)", lambda r: ", ".join(r.set_aside) or "none"),
            ("abrupt: median readings to the alarm", lambda r: fmt(r.median("alarm_readings", True), ".0f")),
            ("abrupt: median days to the report", lambda r: fmt(r.median("report_days", True), ".2f")),
            ("incipient: median days to the alarm", lambda r: fmt(r.median("alarm_days", False), ".1f")),
            ("incipient: median days to the report", lambda r: fmt(r.median("report_days", False), ".1f")),
            ("median localisation distance (m)", lambda r: fmt(float(np.median(r.score.distance_m))
                                                               if r.score.distance_m else float("nan"), ".0f")),
            ("one hour localised in (s)", lambda r: f"{r.seconds['localise_hour']:.3f}"),
            ("simulate / signatures / fit / detect (s)", lambda r: " / ".join(
                f"{r.seconds[k]:.0f}" for k in ("simulate", "signatures", "fit", "detect")))]
    head = "| | " + " | ".join(r.name for r in results) + " |\n|---|" + "---:|" * len(results) + "\n"
    return head + "".join(f"| {label} | " + " | ".join(f(r) for r in results) + " |\n" for label, f in rows)


def per_leak_table(r: LeakBench) -> str:
    out = f"{r.name}, leak by leak:\n\n| pipe | kind | m³ lost | alarm after (days) | reported after (days) | " \
          "distance (m) |\n|---|---|---:|---:|---:|---:|\n"
    for x in r.leaks:
        def f(v: float | None, spec: str) -> str:
            return "missed" if v is None else format(v, spec)
        out += (f"| {x['link']} | {'abrupt' if x['abrupt'] else 'incipient'} | {x['lost_m3']:,.0f} | "
                f"{f(x['alarm_days'], '.2f')} | {f(x['report_days'], '.2f')} | {f(x['distance_m'], '.0f')} |\n")
    return out


def write_docs(results: list[LeakBench], command: str) -> None:
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    text = (f"{MARKER}\n## Leak detection and localisation (BattLeDIM's economic score)\n\n"
            f"`{command}` on {machine()}, {date}.\n\n" + table(results) + "\n"
            + "\n".join(per_leak_table(r) for r in results))
    replace_section(MARKER, text)


def save_leaks(doc: dict[str, Any], path: Path) -> None:
    Path(path).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
