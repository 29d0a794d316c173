"""Benchmark: BattLeDIM's 2018 SCADA year through the running platform, as a utility would put it
— ``citylifeline ingest --city ltown --map battledim_columns.csv`` with the water analyst on
(``analysts=water``): the analyst learns from the first days, watches the rest, and its leak
reports are scored with BattLeDIM's economic rules (``bench.battledim``, as the organisers'
scorer computes them) against the year's leak list and outflows.

    python bench/water_live.py [--days 365] [--write-docs]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from citylifeline.analysis.water import analyst as water_analyst  # noqa: E402
from citylifeline.analysis.water.watch import reports  # noqa: E402
from citylifeline.bench.battledim import PipeDistance, Report, score  # noqa: E402
from citylifeline.bench.report import bench_command, machine, replace_section  # noqa: E402
from citylifeline.city import load_city  # noqa: E402
from citylifeline.city.bundle import demo_city_path, packaged_network  # noqa: E402
from citylifeline.ingest.wide import load_column_map  # noqa: E402
from citylifeline.offline import ingest_files  # noqa: E402
from citylifeline.pipeline import Pipeline  # noqa: E402
from citylifeline.settings import Config  # noqa: E402
from citylifeline.store import EmbeddedStore  # noqa: E402
from citylifeline.twin.leakyear import LeakYear, YearRun, load_leaks  # noqa: E402

MARK = "<!-- bench/water_live.py -->"
SHARED = ROOT.parent / "shared" / "bench"
FILES = ("Pressures_m", "Flows_m3_h", "Levels_m", "Demands_L_h")
DAY_MS = 86_400_000


def cut(d: Path, days: int) -> list[Path]:
    """The four 2018 files, or their first ``days`` days."""
    src = [SHARED / "battledim" / "2018" / f"{n}.csv.gz" for n in FILES]
    if days >= 365:
        return src
    out = []
    for p in src:
        t = pacsv.read_csv(p)
        dst = d / p.name.removesuffix(".gz")
        pacsv.write_csv(t.slice(0, days * 288), dst)
        out.append(dst)
    return out


def truth(year: LeakYear, t_ms: np.ndarray) -> YearRun:
    """The year's leak outflows (m³/h per step, in the leak list's order) from the competition's files."""
    q = np.zeros((len(t_ms), len(year.leaks)))
    for k, leak in enumerate(year.leaks):
        series = pacsv.read_csv(SHARED / "battledim" / "2018" / "Leakages" / f"Leak_{leak.link}.csv.gz").column(1)
        q[:, k] = series.to_numpy()[: len(t_ms)]
    empty = np.zeros((len(t_ms), 0))
    return YearRun(t_ms, empty, empty, empty, empty, q)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    if not (SHARED / "battledim" / "2018").is_dir():
        sys.exit(f"needs BattLeDIM's 2018 files in {SHARED / 'battledim' / '2018'}")
    water_analyst.FINDINGS_KEPT = 1 << 30  # every finding of the year is scored (the status keeps the latest 20)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        paths = cut(d, args.days)
        bundle = load_city("ltown")
        config = Config.load(environ={}, db=str(d / "w.duckdb"), city="ltown", analysts="water")
        store = EmbeddedStore(d / "w.duckdb")
        began = time.perf_counter()
        try:
            pipeline = Pipeline(bundle, store, config)
            report = ingest_files(pipeline, paths, "UTC",
                                  columns=load_column_map(demo_city_path("ltown") / "battledim_columns.csv"))
        finally:
            store.close()
        seconds = time.perf_counter() - began
    analyst = next(a for a in pipeline.analysts if a.name == "water")
    year = load_leaks(SHARED / "ltown" / "leaks_2018.json")
    end = year.start_ms + args.days * DAY_MS - 300_000
    year = LeakYear(year.start_ms, end, year.step_s, tuple(lk for lk in year.leaks if lk.start_ms <= end))
    t_ms = np.arange(year.start_ms, end + 1, 300_000, dtype=np.int64)
    found = reports(analyst.findings)
    s = score([Report(f.where.pipe, f.t_ms) for f in found], year, truth(year, t_ms),
              PipeDistance(__import__("wntr").network.WaterNetworkModel(str(packaged_network("L-TOWN.inp")))))
    state = analyst.status()
    days = np.array(s.detect_s) / 86400
    early = sum(lk.start_ms < year.start_ms + state["calibration_days"] * DAY_MS for lk in year.leaks)
    md = f"""{MARK}
## Water: BattLeDIM's 2018 year through the running platform (bench/water_live.py)

`{bench_command(args.write_docs)}` on {time.strftime('%Y-%m-%d')}, {machine()}.  The competition's
2018 SCADA files ({args.days} days) ingested into the shipped L-Town city with `analysts=water`:
the analyst learns from the first {state['calibration_days']} days (taken as leak-free, though {early} of
the year's leaks had begun by then), watches the rest, and its reports are scored with
BattLeDIM's rules as the organisers' scorer computes them.

| measure | value |
|---|---:|
| readings ingested, stored and analysed | {report.stored:,} in {seconds:.0f} s ({report.stored / seconds:,.0f}/s) |
| economic score | €{s.euros:,.0f} of €{s.perfect_euros:,.0f} (**{100 * s.fraction_of_perfect:.0f} %**) |
| leaks found / in the period | {s.true_positives} / {s.true_positives + s.missed} |
| false reports | {s.false_positives} |
| median days from a leak's start to its report | {np.median(days) if len(days) else float('nan'):.1f} |
| median localisation distance (m) | {np.median(s.distance_m) if s.distance_m else float('nan'):.0f} |
| windows watching at the end | {', '.join(k for k, v in state['windows'].items() if v) or 'none'} |
"""
    print(md)
    if args.write_docs:
        replace_section(MARK, md)


if __name__ == "__main__":
    main()
