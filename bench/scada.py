"""Benchmark: a utility's SCADA history in one command — two years of L-Town as BattLeDIM's wide
exports (``Pressures_m``, ``Flows_m3_h``, ``Levels_m``, ``Demands_L_h``: a time column and a
column per sensor, 5-minute steps, about 25 M readings) through ``citylifeline ingest --city ltown
--map battledim_columns.csv``: the wide reader, validation, the embedded store and every detector.

The peer in the same run is the previous way: the same readings written as a long CSV (sensor,
t, value — what a utility had to produce from its export before) through the same command.
The first year is BattLeDIM's 2018 SCADA year (``../shared/bench/battledim/2018``); the second
is the same files a year later (times shifted), as a second year of history would come.

    python bench/scada.py [--years 2] [--write-docs]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from citylifeline.bench.report import bench_command, machine, replace_section  # noqa: E402
from citylifeline.city import load_city  # noqa: E402
from citylifeline.city.bundle import demo_city_path  # noqa: E402
from citylifeline.ingest.wide import load_column_map  # noqa: E402
from citylifeline.offline import ingest_files  # noqa: E402
from citylifeline.pipeline import Pipeline  # noqa: E402
from citylifeline.settings import Config  # noqa: E402
from citylifeline.store import EmbeddedStore  # noqa: E402

MARK = "<!-- bench/scada.py -->"
SHARED = ROOT.parent / "shared" / "bench" / "battledim" / "2018"
FILES = ("Pressures_m", "Flows_m3_h", "Levels_m", "Demands_L_h")
YEAR_S = 365 * 86400


def wide_years(out: Path, years: int) -> list[Path]:
    """BattLeDIM's four 2018 files, and for each further year the same a year later (gzip CSV)."""
    paths = []
    for name in FILES:
        src = SHARED / f"{name}.csv.gz"
        paths.append(src)
        table = pacsv.read_csv(src)
        for k in range(1, years):
            ts = pc.add(table["Timestamp"], pa.scalar(k * YEAR_S * 1_000_000_000, pa.duration("ns")).cast(
                pa.duration(table["Timestamp"].type.unit)))
            shifted = table.set_column(0, "Timestamp", ts)
            dst = out / f"{name}_{2018 + k}.csv.gz"
            with pa.CompressedOutputStream(str(dst), "gzip") as f:
                pacsv.write_csv(shifted, f)
            paths.append(dst)
    return paths


def long_copy(paths: list[Path], out: Path) -> Path:
    """The same readings as one long CSV (sensor, t, value in each sensor's canonical unit), the
    previous way's input."""
    from citylifeline.ingest import Validator, read_file

    bundle = load_city("ltown")
    v = Validator(bundle.sensors, Config.load(environ={}), lambda: 4_000_000_000_000)
    columns = load_column_map(demo_city_path("ltown") / "battledim_columns.csv")
    dst = out / "long.csv"
    with pacsv.CSVWriter(str(dst), pa.schema([("sensor", pa.string()), ("t", pa.int64()), ("value", pa.float64())])) as w:
        for path in paths:
            for parsed in read_file(path, v, naive_tz="UTC", columns=columns):
                b = parsed.batch
                ids = pa.array(bundle.sensors.ids).take(pa.array(b.sensor))
                w.write_batch(pa.record_batch([ids, pa.array(b.t_ms // 1000), pa.array(b.value)],
                                              names=["sensor", "t", "value"]))
    return dst


def ingest(paths: list[Path], db: Path, columns: object) -> tuple[int, float]:
    """(readings stored, seconds) of ``citylifeline ingest`` over ``paths`` into a fresh store."""
    bundle = load_city("ltown")
    config = Config.load(environ={}, db=str(db), city="ltown")
    store = EmbeddedStore(db)
    try:
        report = ingest_files(Pipeline(bundle, store, config), paths, "UTC", columns=columns)  # type: ignore[arg-type]
        return report.stored, report.seconds
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--years", type=int, default=2)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"needs BattLeDIM's 2018 files in {SHARED}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        paths = wide_years(d, args.years)
        columns = load_column_map(demo_city_path("ltown") / "battledim_columns.csv")
        long = long_copy(paths, d)
        wide_n, wide_s = ingest(paths, d / "wide.duckdb", columns)
        rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        long_n, long_s = ingest([long], d / "long.duckdb", None)
        wide_mb = sum(p.stat().st_size for p in paths) / 1e6
        long_mb = long.stat().st_size / 1e6
    md = f"""{MARK}
## A utility's SCADA history: wide exports in one command (bench/scada.py)

`{bench_command(args.write_docs)}` on {time.strftime('%Y-%m-%d')}, {machine()}.  {args.years} years of L-Town at
5-minute steps as BattLeDIM's wide exports (a time column and a column per sensor: 33 pressures,
3 flows, 1 tank level, 82 household meters), through `citylifeline ingest --city ltown --map
battledim_columns.csv --timezone UTC` (wide reader, validation, embedded store, every detector);
the peer is the same readings as one long CSV (sensor, t, value) through the same command.

| input | readings stored | seconds | readings/s | file size |
|---|---:|---:|---:|---:|
| wide exports, gzip CSV ({len(paths)} files) | {wide_n:,} | {wide_s:.1f} | {wide_n / wide_s:,.0f} | {wide_mb:,.0f} MB |
| the same as one long CSV (the previous way) | {long_n:,} | {long_s:.1f} | {long_n / long_s:,.0f} | {long_mb:,.0f} MB |

Wide ÷ long time: {wide_s / long_s:.2f}.  Peak RSS of the process after the wide ingest: {rss_gb:.1f} GB.
"""
    print(md)
    if args.write_docs:
        replace_section(MARK, md)


if __name__ == "__main__":
    main()
