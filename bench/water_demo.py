"""Benchmark: the water analyst on the demo city, which has no household meters (as most cities).

For each seed, ``--days`` leak-free days of the city's water sensors (the twin: use varying day
to day and hour to hour on a network a little unlike its records; 22 days, so that the analyst has
calibrated all its windows, as on a utility's history) are followed, in one run, by one of the
shipped water scenarios (with its sensor faults); everything goes through ``WaterAnalyst`` as the
pipeline hands it readings, the demand from the metered areas' water balance.  Compared in the same
run: a metered area's night inflow rising beyond its night-to-night spread reports a leak
(``night.NightLog.judge``, placed by ``LeakWatch.night_leak``: the current way), against the
model's windows alone (the way before).  ``slow_leak`` has a drifting transmitter (WP-09) by its leak;
``city_day`` shuts a valve for works (unannounced here), told as a network change.

    python bench/water_demo.py [--days 22] [--seeds 31,32,33] [--write-docs]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from citylifeline.analysis.water import night  # noqa: E402
from citylifeline.analysis.water.analyst import WaterAnalyst  # noqa: E402
from citylifeline.batch import ReadingBatch  # noqa: E402
from citylifeline.bench.report import bench_command, machine, replace_section  # noqa: E402
from citylifeline.city import load_city  # noqa: E402
from citylifeline.settings import Config  # noqa: E402
from citylifeline.twin.runner import simulate  # noqa: E402
from citylifeline.twin.scenario import load_scenario  # noqa: E402

MARK = "<!-- bench:water-demo -->"
SCENARIOS = ("slow_leak", "burst", "city_day")
SAME_PLACE_M = 300.0
ALARM_SIGMAS = night.ALARM_SIGMAS


def batch(scn, bundle) -> ReadingBatch:  # type: ignore[no-untyped-def]
    """The scenario's water readings in the order they are delivered."""
    r = simulate(scn, bundle, lifelines=("water",)).readings
    idx = {s: i for i, s in enumerate(bundle.sensors.ids)}
    order = np.argsort(r.delivered_ms, kind="stable")
    return ReadingBatch.of(np.array([idx[s] for s in r.sensor_id[order]], np.int32), r.t_ms[order], r.value[order])


def one(name: str, days: int, seed: int, nights: bool) -> dict[str, object]:
    bundle = load_city("demo")
    # one run: the leak-free days, then the scenario's (its incidents and faults as many days later)
    scn = replace(load_scenario(name), seed=seed).preceded_by(days * 86400)
    a = WaterAnalyst(bundle.city, bundle.sensors, Config.load(environ={}))
    assert a.model is not None
    night.ALARM_SIGMAS = ALARM_SIGMAS if nights else math.inf  # the way before: the model's windows alone
    began = time.perf_counter()
    b = batch(scn, bundle)
    for lo in range(0, len(b), 20_000):
        a.update(b.slice(lo, min(lo + 20_000, len(b))))
    water = [i for i in scn.incidents if i.lifeline == "water" and i.type in ("burst", "leak")]
    hits, false, last, by_night = [], 0, {}, [0, 0]
    began_ms = [scn.start_ms + i.start_s * 1000 for i in water]
    valves = [i for i in scn.incidents if i.type == "valve_closure"]
    shut = {"closures": len(valves), "found": 0, "false": 0}
    for f in a.findings:
        xy = np.array(a.where_xy(f.where.pipe))
        if f.kind == "change":  # a network change: of a valve the scenario shut, or false
            on = [v for v in valves if f.t_ms >= scn.start_ms + v.start_s * 1000
                  and np.hypot(*(np.array(a.where_xy(v.place.split("/")[2])) - xy)) <= SAME_PLACE_M]
            shut["found" if on else "false"] += 1
            continue
        dist = [float(np.hypot(*(np.array(bundle.city.asset(i.place).xy) - xy))) for i in water]
        near = [k for k in range(len(water)) if f.t_ms >= began_ms[k] and dist[k] <= SAME_PLACE_M]
        if near and not f.update:
            hits.append((water[near[0]].id, (f.t_ms - began_ms[near[0]]) / 3_600_000))
        elif not f.update:
            false += 1  # a report (an update re-estimates a leak reported: BattLeDIM's rule)
        if f.night_m3h > 0 and not f.update:  # reported by the night flow: of a leak running then, or false
            by_night[0 if any(f.t_ms >= b for b in began_ms) else 1] += 1
        if dist:
            last[f.alarm_ms] = min(dist)  # where the leak's latest estimate puts it
    found = {k: h for k, h in reversed(hits)}
    assert a.detector is not None and a.detector.cal is not None
    faulty = {f.sensor for f in scn.faults}
    aside = a.status()["set_aside"]
    shut["aside"] = f"{sum(x in faulty for x in aside)} / {sum(x.startswith('W') for x in faulty)}, " \
                    f"{sum(x not in faulty for x in aside)} healthy"
    return {"found": found, "false": false, "shut": shut, "by_night": by_night, "leaks": len(water),
            "seconds": time.perf_counter() - began, "thresholds": dict(a.detector.cal.thresholds), "last_m": [d for d in last.values() if d <= 1000]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=22)
    ap.add_argument("--seeds", default="31,32,33")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for name in SCENARIOS:
        for nights in (True, False):
            got = [one(name, args.days, s, nights) for s in seeds]
            found = sum(len(g["found"]) for g in got)
            hours = [h for g in got for h in g["found"].values()]
            last = [d for g in got for d in g["last_m"]]
            thresholds = " / ".join(f"{np.median([g['thresholds'][w] for g in got]):.0f}"
                                    for w in ("2 readings", "hour", "day"))
            shut = {k: sum(g["shut"][k] for g in got) for k in ("closures", "found", "false")}
            aside = "; ".join(str(g["shut"]["aside"]) for g in got)
            by_night = [sum(g["by_night"][k] for g in got) for k in (0, 1)]
            rows.append(f"| {name} | {'alarms' if nights else 'off (before)'} | {by_night[0]}, {by_night[1]} | "
                        f"{found} / {sum(g['leaks'] for g in got)} | "
                        f"{np.median(hours) if hours else float('nan'):.1f} | {sum(g['false'] for g in got)} | "
                        f"{shut['found']} / {shut['closures']}, {shut['false']} false | {aside} | "
                        f"{np.median(last) if last else float('nan'):.0f} | {thresholds} | "
                        f"{sum(g['seconds'] for g in got):.0f} |")
            print(rows[-1], flush=True)
    md = f"""{MARK}
## Water: the live analyst on the demo city without household meters (bench/water_demo.py)

`{bench_command(args.write_docs)}` on {time.strftime('%Y-%m-%d')}, {machine()}.  Per scenario and
seed ({', '.join(map(str, seeds))}), one twin run of {args.days} leak-free days of the city's water sensors followed
by the scenario (with its sensor faults), through `WaterAnalyst`.  A report within {SAME_PLACE_M:.0f} m of a
burst or leak after it began finds it; any other report is false (a later estimate of a leak
reported, `Finding.update`, is not a report; one that moved more than 300 m is).  "Latest
estimate": how far from the leak its last estimate put it (median over the leaks reported within
1 km).  Thresholds: the burst, hour and day windows', learnt from the history.  Nothing was tuned
on these seeds.  Choices made looking at other runs: the water balance's (the inflow's line over an
hour, `PART_RUNNING` 0.9, the signed tank main) at `slow_leak` and `city_day` with seed 101; the
channels that say where at `slow_leak` with seeds 101 and 102 (two other rules tried there were
rejected on L-Town's generated 2019 and 2020 years, each simulated alone: `leaks.py`'s docstring);
the network-change margin on Net3 (seeds 0 and 1), the demo city's closures and leaks with seeds 7
and 8 and L-Town 2019 (`bench/water_changes.py`).  A network change within {SAME_PLACE_M:.0f} m of a valve the
scenario shut, after it was shut, finds it; any other is a false change.  "Set aside": per seed,
the water sensors set aside that the scenario made faulty / its faulty water sensors, and the
healthy ones set aside.  The sensor-fault rule (`FAULT_SHARE` 0.5, pressures only, the change's
largest channel against the others' leak) was made on Net3 (a transmitter drifting or knocked, a
burst beside it) and `slow_leak` with seeds 101 and 102.  Its water check (no more water drawn,
over the window and its last two readings) was added after a first run on these held-out seeds
set the healthy WP-16 aside in each `burst` run (then checked on seeds 101 and 102), and its
limit to cities with metered areas after L-Town 2018–2020 had four healthy transmitters set
aside: these rows are not a clean hold-out for the burst scenario.  The night-flow alarm (three
spreads of the area's own night-to-night rises, a Shewhart chart: no parameter tuned) was looked at
on `slow_leak` with seeds 101 and 102 (it reported seed 102's leak the first night, 16 h after it
began, not seed 101's, whose night use had run high for days) and on 24 leak-free runs of 22–25
days (seeds 201–212 of `slow_leak` and `city_day` without their incidents: 2 alarms in 229 nights
judged, both a week of night use 10–13 % above the weeks before: as a leak would look).

| scenario | night-flow alarm | its reports: while a leak ran, before any | found / leaks | median hours to report | false leak reports | valves shut: reported as changes / shut, false changes | set aside: faulty / faulty, healthy (per seed) | latest estimate (m) | thresholds (burst / hour / day) | analyst s |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}
"""
    print(md)
    if args.write_docs:
        replace_section(MARK, md)


if __name__ == "__main__":
    main()
