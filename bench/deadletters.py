"""Benchmark: the writer stall of one request of refused readings — dead letters as columns against row by row.

One request of ``--readings`` refused readings (150,000 by default: unknown sensor ids, or times that are
not times) as JSON, within the 16 MB body limit, is validated as ``POST /api/v1/readings`` validates it and
submitted to a running engine on each store (a DuckDB file; a PostgreSQL schema).  Measured: validation (on
the request's own thread), the store thread's commit of the dead letters (the stall: every other client's
batch waits behind it), and the latency of a one-reading batch submitted right behind it.  In the same run,
on the same dead letters: the way they were stored before (a ``DeadLetter`` object each, a row tuple each,
``executemany`` INSERT — the "before"), and a request of as many good readings, for scale.

    python bench/deadletters.py [--readings 150000] [--write-docs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import make_city  # noqa: E402
from citylifeline.bench.report import bench_command, machine, replace_section  # noqa: E402
from citylifeline.city import load_city  # noqa: E402
from citylifeline.engine import Engine  # noqa: E402
from citylifeline.ingest import parse_readings  # noqa: E402
from citylifeline.settings import Config  # noqa: E402
from citylifeline.store.base import DEAD_LETTER_COLUMNS, storable  # noqa: E402

MARK = "<!-- bench/deadletters.py -->"
PG_URL = os.environ.get("CITYLIFELINE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SENSORS = 1000
KINDS = {"sensor": "unknown sensor ids", "time": "times that are not times"}


def body_of(kind: str, n: int, now_s: float) -> bytes:
    """A JSON request of ``n`` readings: refused ones of ``kind``, or good ones (``kind`` "good")."""
    if kind == "sensor":
        rows = [{"sensor": f"X-{i:06d}", "t": now_s - 60, "value": 0.3} for i in range(n)]
    elif kind == "time":
        rows = [{"sensor": f"S-{i % SENSORS:06d}", "t": "2026-13-01T10:00:00+08:00", "value": 0.3} for i in range(n)]
    else:
        per = -(-n // SENSORS)
        rows = [{"sensor": f"S-{i % SENSORS:06d}", "t": now_s - 86_000 + 60 * (i // SENSORS) * 1440 / per,
                 "value": 0.3} for i in range(n)]
    return orjson.dumps({"readings": rows})


@contextmanager
def stores(work: Path) -> Iterator[list[tuple[str, str]]]:
    """(name, db setting) of a fresh DuckDB file and, when PostgreSQL answers, a fresh schema (dropped after)."""
    out = [("DuckDB (embedded)", str(work / "bench.duckdb"))]
    schema = f"b_dl_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        print(f"no PostgreSQL at {PG_URL} ({e}): DuckDB only", file=sys.stderr)
        admin = None
    if admin is not None:
        admin.execute(f"CREATE SCHEMA {schema}")  # type: ignore[arg-type]
        out.append(("PostgreSQL", f"{PG_URL}?options=-csearch_path%3D{schema}"))
    try:
        yield out
    finally:
        if admin is not None:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[arg-type]
            admin.close()


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def row_by_row(engine: Engine, letters: list[Any], source: str) -> float:
    """Seconds to store ``letters`` as the store thread did before: a row tuple each (NUL escaped), then
    ``executemany`` INSERT in one transaction (DuckDB; psycopg pipelines it on PostgreSQL)."""
    store: Any = engine.store
    cols = ", ".join(DEAD_LETTER_COLUMNS)
    start = time.perf_counter()
    now = int(time.time() * 1000)
    rows = [(now, *(storable(v) for v in (d.source or source, d.reason, d.field, d.sensor, d.t, d.value, d.unit,
                                          d.payload[:4096]))) for d in letters]
    if hasattr(store, "_con") and not hasattr(store, "_writer"):  # DuckDB
        con = store._con
        con.begin()
        con.executemany(f"INSERT INTO dead_letters ({cols}) VALUES ({', '.join('?' * len(DEAD_LETTER_COLUMNS))})",
                        rows)
        con.commit()
    else:
        con = store._writer()
        with con.transaction(), con.cursor() as cur:
            cur.executemany(f"INSERT INTO dead_letters ({cols}) VALUES ({', '.join(['%s'] * len(DEAD_LETTER_COLUMNS))})",
                            rows)
    return time.perf_counter() - start


def bench(n: int, work: Path) -> list[dict[str, Any]]:
    city = make_city(work / "city", SENSORS) if (work / "city").mkdir() is None else None
    assert city is not None
    bundle = load_city(city)
    with stores(work) as where:
        return [r for name, db in where for r in run_store(name, db, city, bundle, n)]


def run_store(name: str, db: str, city: Path, bundle: Any, n: int) -> list[dict[str, Any]]:
    """Each kind of refused request, and a good one, on an engine over the store ``db``."""
    config = Config.load(environ={}, db=db, city=str(city), memory_limit="1GB", rate_limit_per_s=0.0)
    engine = Engine(config, bundle)
    engine.start()
    results = []
    try:
        now_s = time.time()
        one = parse_readings(body_of("good", 1, now_s - 86_390), engine.validator, n, "http:bench")
        good_validate, good = timed(parse_readings, body_of("good", n, now_s), engine.validator, n, "http:bench")
        good_store, _ = timed(lambda: engine.submit(good, "http:bench").result())
        engine.flush()
        for kind in KINDS:
            body = body_of(kind, n, now_s)
            validate_s, parsed = timed(parse_readings, body, engine.validator, n, "http:bench")
            assert len(parsed.dead_letters) == n, len(parsed.dead_letters)
            start = time.perf_counter()
            big = engine.submit(parsed, "http:bench")
            behind = engine.submit(one, "http:bench")  # another client's batch, queued behind it
            big.result()
            stall_s = time.perf_counter() - start
            behind.result()
            behind_s = time.perf_counter() - start
            engine.flush()
            before_s = row_by_row(engine, list(parsed.dead_letters), "http:bench")
            results.append({"store": name, "kind": kind, "bytes": len(body), "validate_s": validate_s,
                            "stall_s": stall_s, "behind_s": behind_s, "before_s": before_s,
                            "good_validate_s": good_validate, "good_store_s": good_store})
            print(results[-1], file=sys.stderr)
    finally:
        engine.stop()
    return results


def report_md(results: list[dict[str, Any]], n: int, command: str) -> str:
    rows = "\n".join(
        f"| {r['store']} | {KINDS[r['kind']]} ({r['bytes'] / 1e6:.1f} MB) | {r['validate_s']:.2f} s "
        f"| {r['before_s']:.2f} s | **{r['stall_s']:.2f} s** | {r['behind_s']:.2f} s "
        f"| {r['before_s'] / r['stall_s']:.0f}× | {r['good_validate_s']:.2f} s / {r['good_store_s']:.2f} s |"
        for r in results)
    return f"""{MARK}
## Refused readings: the writer stall of one request of {n:,} dead letters

- Command: `{command}`
- Machine: {machine()}
- Date: {dt.date.today().isoformat()}

One JSON request of {n:,} refused readings, validated as `POST /api/v1/readings` does it, then committed
by a running engine's store thread; every other client's batch waits behind that commit.  *Before*: the
same dead letters stored as they were until 2026-12-05 (a `DeadLetter` object and a row tuple each,
`executemany` INSERT), timed in the same run on the same rows.  *After*: the dead letters are built as
Arrow columns during validation and committed with one Arrow insert (DuckDB) or one binary `COPY`
(PostgreSQL).  *Behind it*: the latency of a one-reading batch submitted right after the big one.

| store | refused readings | validation (request's thread) | store thread, before: row by row | **store thread, after: columns** | a 1-reading batch behind it | before ÷ after | {n:,} good readings: validation / store thread |
|---|---|---:|---:|---:|---:|---:|---:|
{rows}

Every one of the dead letters is stored (the response shows the first 100 errors).  What is left of
a bad request's cost is validation on the request's own thread: one message per refused reading, naming
the field, the value and the fix, built in Python; the store thread no longer waits for it.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readings", type=int, default=150_000)
    ap.add_argument("--write-docs", action="store_true", help="replace the section in docs/benchmarks.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cl-bench-") as tmp:
        results = bench(args.readings, Path(tmp))
    md = report_md(results, args.readings, bench_command(args.write_docs))
    print(md)
    if args.write_docs:
        replace_section(MARK, md)


if __name__ == "__main__":
    main()
