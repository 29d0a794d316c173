"""Benchmark: file ingest → durable store → every detector → incidents, against plain SQLite.

10,000 sensors × 1 day at 1-minute resolution (14.4 M readings) in one Parquet file, pushed
through ``citylifeline ingest``'s code path (validation, the embedded store, all detectors, the
correlator).  In the same run, on the same rows: plain SQLite ``executemany`` into a table
(WAL, one transaction per million rows), and DuckDB's raw append (the floor of our store).
Each stage is also timed alone, so the profile says where the time goes.

    python bench/ingest.py [--sensors 10000] [--minutes 1440] [--write-docs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from citylifeline.bench.report import bench_command, machine, replace_section  # noqa: E402
from citylifeline.city import demo_city_path, load_city  # noqa: E402
from citylifeline.ingest import Validator, read_file  # noqa: E402
from citylifeline.offline import ingest_files  # noqa: E402
from citylifeline.pipeline import Pipeline  # noqa: E402
from citylifeline.settings import Config  # noqa: E402
from citylifeline.store import EmbeddedStore  # noqa: E402

T0_S = 1_767_225_600  # 2026-01-01T00:00:00Z
MARK = "<!-- bench/ingest.py -->"


def make_city(d: Path, n_sensors: int) -> Path:
    """The demo city's water network with ``n_sensors`` pressure sensors spread over its junctions."""
    import wntr

    inp = demo_city_path() / "water.inp"
    cfg = {"name": "bench", "crs": "EPSG:4548", "timezone": "Asia/Shanghai", "layers": {"water": {"epanet": str(inp)}},
           "sensors": "sensors.csv"}
    (d / "city.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    junctions = wntr.network.WaterNetworkModel(str(inp)).junction_name_list
    lines = ["id,kind,asset,unit,low_IV,low_III,low_II,low_I,rate_per_min"]
    lines += [f"S-{i:06d},pressure,water/junction/{junctions[i % len(junctions)]},MPa,0.25,0.2,0.15,0.1,0.05"
              for i in range(n_sensors)]
    (d / "sensors.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d


def make_data(path: Path, n_sensors: int, minutes: int, seed: int = 0) -> int:
    """A time-major day of readings; 1 % of sensors see a burst (a drop to level II) at noon."""
    rng = np.random.default_rng(seed)
    ids = pa.array([f"S-{i:06d}" for i in range(n_sensors)])
    writer = None
    burst = rng.random(n_sensors) < 0.01
    phase = rng.random(n_sensors) * 2 * np.pi
    for m0 in range(0, minutes, 60):
        m = np.arange(m0, min(m0 + 60, minutes))
        t = np.repeat(T0_S + 60 * m, n_sensors)
        base = 0.30e6 + 0.02e6 * np.sin(2 * np.pi * m[:, None] / 1440 + phase[None, :])
        v = base + rng.normal(0, 300, base.shape)
        v[:, burst] -= np.where(m[:, None] >= 720, 0.17e6, 0.0)
        tbl = pa.table({"sensor": pa.DictionaryArray.from_arrays(np.tile(np.arange(n_sensors, dtype=np.int32), len(m)),
                                                                 ids),
                        "t": pa.array(t, pa.int64()), "value": v.ravel()})
        if writer is None:
            writer = pq.ParquetWriter(path, tbl.schema)
        writer.write_table(tbl)
    assert writer is not None
    writer.close()
    return n_sensors * minutes


def timed(fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bench(n_sensors: int, minutes: int, work: Path) -> dict[str, float]:
    city = make_city(work / "city", n_sensors) if (work / "city").mkdir() is None else None
    assert city is not None
    data = work / "day.parquet"
    n = make_data(data, n_sensors, minutes)
    bundle = load_city(city)
    config = Config.load(environ={}, db=str(work / "e2e.duckdb"), city=str(city), memory_limit="4GB")
    r: dict[str, float] = {"readings": n, "sensors": n_sensors}

    # 1. end to end: file → validate → store (durable) → detectors → correlator → store
    store = EmbeddedStore(config.db, memory_limit="4GB")
    pipeline = Pipeline(bundle, store, config)
    r["e2e_s"], report = timed(lambda: ingest_files(pipeline, [data]))
    r["incidents"] = len(report.incidents_changed)
    r["events"] = report.events
    r["state_bytes_per_sensor"] = sum(d.state_bytes_per_sensor() for d in pipeline.detectors) + \
        (store.last_t.nbytes + store.last_value.nbytes + pipeline.detected_t.nbytes) / n_sensors
    store.close()

    # 2. stages alone
    validator = Validator(bundle.sensors, config, lambda: int(time.time() * 1000))
    r["read_validate_s"], parsed = timed(lambda: [p.batch for p in read_file(data, validator)])
    fresh = EmbeddedStore(work / "append.duckdb", memory_limit="4GB")
    fresh.register_sensors(bundle.sensors)
    r["append_s"], _ = timed(lambda: [fresh.append(b) for b in parsed])
    fresh.close()
    mem = EmbeddedStore(":memory:")
    det = Pipeline(bundle, mem, config)
    r["detect_s"], _ = timed(lambda: [det.run_detectors(b) for b in parsed])
    mem.close()

    # 3. peers on the same rows: plain SQLite executemany, DuckDB raw append
    def sqlite_run() -> float:
        con = sqlite3.connect(work / "peer.sqlite")
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE readings (sensor TEXT, t INTEGER, value REAL)")
        tuples_s = 0.0
        for rb in pq.ParquetFile(data).iter_batches(batch_size=1_000_000):
            t0 = time.perf_counter()
            rows = list(zip(rb.column(0).cast(pa.string()).to_pylist(), rb.column(1).to_pylist(),
                            rb.column(2).to_pylist(), strict=True))
            tuples_s += time.perf_counter() - t0
            con.executemany("INSERT INTO readings VALUES (?, ?, ?)", rows)
            con.commit()
        con.close()
        return tuples_s

    r["sqlite_s"], r["sqlite_tuples_s"] = timed(sqlite_run)

    def duckdb_raw() -> None:
        import duckdb

        con = duckdb.connect(str(work / "raw.duckdb"))
        con.execute("CREATE TABLE readings (sensor INTEGER, t_ms BIGINT, value DOUBLE)")
        for b in parsed:
            tbl = pa.table({"sensor": b.sensor, "t_ms": b.t_ms, "value": b.value})
            con.register("_b", tbl)
            con.execute("INSERT INTO readings SELECT * FROM _b")
            con.unregister("_b")
        con.close()

    r["duckdb_raw_s"], _ = timed(duckdb_raw)
    return r


def report_md(r: dict[str, float], command: str) -> str:
    n = r["readings"]

    def rate(key: str) -> str:
        return f"{n / r[key] / 1e6:.2f} M/s"

    return f"""{MARK}
## File ingest → store → detection ({int(r['sensors']):,} sensors × 1 day at 1 minute)

- Command: `{command}`
- Machine: {machine()}
- Date: {dt.date.today().isoformat()}

| path (same {n / 1e6:.1f} M rows, same run) | seconds | readings/s | vs plain SQLite |
|---|---:|---:|---:|
| **CityLifeline end to end**: Parquet → validate → DuckDB store (committed) → 6 detectors → incidents | {r['e2e_s']:.2f} | **{rate('e2e_s')}** | **{r['sqlite_s'] / r['e2e_s']:.1f}×** |
| plain SQLite `executemany` (WAL, 1 M rows per commit), incl. building tuples ({r['sqlite_tuples_s']:.1f} s) | {r['sqlite_s']:.2f} | {rate('sqlite_s')} | 1.0× |
| DuckDB raw append of the parsed columns (the floor of our store) | {r['duckdb_raw_s']:.2f} | {rate('duckdb_raw_s')} | {r['sqlite_s'] / r['duckdb_raw_s']:.1f}× |

Where the end-to-end time goes (each stage timed alone on the same rows):

| stage | seconds | readings/s | share of end to end |
|---|---:|---:|---:|
| read Parquet + validate (ids, times, values, units) | {r['read_validate_s']:.2f} | {rate('read_validate_s')} | {100 * r['read_validate_s'] / r['e2e_s']:.0f} % |
| store append (dedup check + DuckDB commit) | {r['append_s']:.2f} | {rate('append_s')} | {100 * r['append_s'] / r['e2e_s']:.0f} % |
| all 6 detectors (numba kernels) | {r['detect_s']:.2f} | {rate('detect_s')} | {100 * r['detect_s'] / r['e2e_s']:.0f} % |

{int(r['events']):,} events, {int(r['incidents'])} incidents (1 % of sensors see a burst at noon).
Detector and store state: {r['state_bytes_per_sensor']:.0f} bytes per sensor.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensors", type=int, default=10_000)
    ap.add_argument("--minutes", type=int, default=1440)
    ap.add_argument("--write-docs", action="store_true", help="replace the section in docs/benchmarks.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cl-bench-") as tmp:
        r = bench(args.sensors, args.minutes, Path(tmp))
    md = report_md(r, bench_command(args.write_docs))
    print(md)
    if args.write_docs:
        replace_section(MARK, md)


if __name__ == "__main__":
    main()
