"""Benchmark: simulating one day of the demo city, every lifeline, at the sensors' native rates.

Runs the shipped "city_day" scenario (all lifelines, incidents, storm, faults, late delivery)
and reports, per lifeline, its sensors, the readings it produced and the seconds it took, with
the realism step and the total; the goal is well under a minute for the day.

    python bench/twin.py [--scenario city_day] [--write-docs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from citylifeline.bench.report import bench_command, machine, replace_section  # noqa: E402
from citylifeline.city import load_city  # noqa: E402
from citylifeline.twin.runner import simulate  # noqa: E402
from citylifeline.twin.scenario import load_scenario  # noqa: E402

MARK = "<!-- bench/twin.py -->"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="city_day")
    ap.add_argument("--write-docs", action="store_true", help="replace the section in docs/benchmarks.md")
    args = ap.parse_args()
    scenario = load_scenario(args.scenario)
    t0 = time.perf_counter()
    bundle = load_city(scenario.city)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    run = simulate(scenario, bundle)
    total_s = time.perf_counter() - t0
    layer_of = {s.id: s.layer for s in bundle.sensors.specs}
    sensors = Counter(s.layer for s in bundle.sensors.specs)
    readings = Counter(layer_of[str(s)] for s in run.readings.sensor_id)
    rows = "\n".join(f"| {name} | {sensors[name]} | {readings[name]:,} | {secs:.2f} |"
                     for name, secs in run.seconds.items() if name != "realism")
    days = scenario.duration_s / 86400
    md = f"""{MARK}
## Digital twin: one day of the demo city at the sensors' native rates

- Command: `{bench_command(args.write_docs)}`
- Machine: {machine()}
- Date: {dt.date.today().isoformat()}
- Scenario: `{scenario.name}` ({days:g} day; every incident type, a storm, sensor faults, late and
  duplicated delivery)

| lifeline (engine) | sensors | readings | seconds |
|---|---:|---:|---:|
{rows}
| realism (noise, faults, delivery) | | | {run.seconds['realism']:.2f} |
| **total** | **{sum(sensors.values())}** | **{len(run.readings):,}** | **{total_s:.2f}** |

Loading the city bundle (all networks and sensors) took {load_s:.2f} s more.  Goal: one day well
under a minute — {'met' if total_s < 60 else 'missed'}, {total_s / days:.1f} s per simulated day
({scenario.duration_s / total_s:,.0f}× faster than real time, all lifelines in one process).
"""
    print(md)
    if args.write_docs:
        replace_section(MARK, md)


if __name__ == "__main__":
    main()
