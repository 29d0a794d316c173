"""Benchmark: the distributed mode with 1 and 2 partition workers, and one process as the peer.

A city of ``--sensors`` pressure sensors in two districts, each sensor reporting once a
data-second.  ``--seconds`` data-seconds are published to NATS JetStream (one gateway batch per
data-second, split into the districts' messages) before the workers start, so they run flat out;
then a local Ray cluster's workers (partitioned by district) drain it: validation, commit to
their PostgreSQL schemas, acknowledgement, every detector, the correlator.  Throughput is the
readings over the span from the first commit to the last.  The peer, in the same run: one process
doing the same work on the same batches (``Pipeline.ingest`` into one PostgreSQL schema), with
no broker and no Ray.

    python bench/cluster.py [--sensors 100000] [--seconds 20] [--workers 1,2] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.throughput import one_hz_city, stream  # noqa: E402
from citylifeline.bench.report import bench_command, machine, replace_section  # noqa: E402

MARK = "<!-- bench/cluster.py -->"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
NATS_URL = "nats://127.0.0.1:4222"


def two_district_city(d: Path, n_sensors: int) -> Path:
    """``bench.throughput``'s 1 Hz city, its sensors dealt alternately to districts north and south."""
    one_hz_city(d, n_sensors)
    lines = (d / "sensors.csv").read_text(encoding="utf-8").splitlines()
    out = [lines[0] + ",district"] + [f"{line},{('north', 'south')[i % 2]}" for i, line in enumerate(lines[1:])]
    (d / "sensors.csv").write_text("\n".join(out) + "\n", encoding="utf-8")
    return d


def drop(schemas: list[str], stream_name: str) -> None:
    import psycopg

    from citylifeline.cluster import feed

    with psycopg.connect(PG_URL, autocommit=True) as con:
        for s in schemas:
            con.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")  # type: ignore[arg-type]

    async def go() -> None:
        nc, js = await feed.connect(NATS_URL)
        with contextlib.suppress(Exception):  # not made
            await js.delete_stream(stream_name)
        await nc.close()
    asyncio.run(go())


def run_cluster(workers: int, city: Path, batches: list[Any]) -> dict[str, float]:
    from citylifeline.city import load_city
    from citylifeline.cluster.cluster import Cluster
    from citylifeline.settings import Config

    bundle = load_city(city)
    config = Config.load(environ={}, city=str(city), rate_limit_per_s=0, max_batch_readings=10_000_000)
    cl = Cluster(replace(config, db=PG_URL, nats_url=NATS_URL, cluster_partitions=workers,
                         cluster_partition_by="district", cluster_schema=f"b_{uuid.uuid4().hex[:8]}"), bundle)
    n = sum(len(b) for b in batches)
    try:
        t = time.perf_counter()
        for b in batches:
            cl.publish(b)
        publish_s = time.perf_counter() - t
        t = time.perf_counter()
        cl.start("local")
        start_s = time.perf_counter() - t
        status = cl.drain(timeout_s=1800)
        cl.stop()
    finally:
        drop([cl.plan.store_schema(k) for k in range(workers)], cl.plan.stream)
    span = max(s["last_commit_at"] for s in status) - min(s["first_commit_at"] for s in status)
    assert sum(s["readings"] for s in status) == n, status
    return {"workers": workers, "readings": n, "publish_s": publish_s, "start_s": start_s, "span_s": span,
            "busy_s": max(s["busy_s"] for s in status), "rss_bytes": max(s["rss_bytes"] for s in status),
            "per_worker": [s["readings"] / s["busy_s"] for s in status],
            **{k: sum(s[k] for s in status) / sum(s["busy_s"] for s in status) for k in ("commit_s", "ack_s", "detect_s")}}


def run_single(city: Path, batches: list[Any]) -> dict[str, float]:
    from citylifeline.city import load_city
    from citylifeline.cluster.plan import make_plan
    from citylifeline.cluster.worker import open_partition_store
    from citylifeline.pipeline import Pipeline
    from citylifeline.settings import Config

    bundle = load_city(city)
    config = Config.load(environ={}, city=str(city), rate_limit_per_s=0)
    plan = make_plan(bundle.sensors, 1, f"b_{uuid.uuid4().hex[:8]}", by="district")
    store = open_partition_store(PG_URL, plan, 0)
    try:
        p = Pipeline(bundle, store, config)
        t = time.perf_counter()
        for b in batches:
            p.ingest(b)
        s = time.perf_counter() - t
        store.close()
    finally:
        drop([plan.store_schema(0)], "-")
    return {"workers": 0, "readings": sum(len(b) for b in batches), "span_s": s}


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median span."""
    return sorted(runs, key=lambda r: r["span_s"])[len(runs) // 2]


def report_md(n_sensors: int, seconds: int, single: dict[str, float], rows: list[dict[str, Any]],
              command: str, runs: dict[int, list[dict[str, Any]]]) -> str:
    one = next((r for r in rows if r["workers"] == 1), rows[0])
    lines = [f"""{MARK}
## Scaling out: the distributed mode with 1 and 2 workers

`{command}` (`python bench/cluster.py --sensors {n_sensors} --seconds {seconds} --workers \
{','.join(str(r['workers']) for r in rows)} --repeat {len(runs[rows[0]['workers']])}`) on {machine()}, {dt.date.today().isoformat()}: {n_sensors:,} sensors in
two districts reporting once a data-second; {seconds} data-seconds published to NATS JetStream first, then
drained by a local Ray cluster's partition workers (by district; each: validation, PostgreSQL commit,
acknowledgement, 6 detectors, correlator). The peer is one process doing the same on the same batches
into one PostgreSQL schema, with no broker and no Ray. Broker, database, Ray and the workers share the
machine's 2 cores.

| run | readings/s | ÷ one process | worker busy (per worker readings/s) | worker RSS | publish to JetStream | start |
|---|---:|---:|---:|---:|---:|---:|
| one process, PostgreSQL, no broker | **{single['readings'] / single['span_s'] / 1e3:,.0f} k/s** | 1.00 | – | – | – | – |"""]
    for r in rows:
        rate = r["readings"] / r["span_s"]
        per = ", ".join(f"{x / 1e3:,.0f} k/s" for x in r["per_worker"])
        lines.append(f"| {r['workers']} worker(s) | **{rate / 1e3:,.0f} k/s** | "
                     f"{rate / (single['readings'] / single['span_s']):.2f} | {per} | {r['rss_bytes'] / 2**20:,.0f} MiB "
                     f"| {r['readings'] / r['publish_s'] / 1e3:,.0f} k/s | {r['start_s']:.1f} s |")
    lines.append(f"\nEach row is the median of {len(runs[one['workers']])} runs, the sizes interleaved; the runs' rates: " +
                 "; ".join(f"{w} worker(s) " + ", ".join(f"{r['readings'] / r['span_s'] / 1e3:,.0f}" for r in rs) + " k/s"
                           for w, rs in runs.items()) + ".")
    if 1 in runs and 2 in runs:
        ratios = sorted(a["span_s"] / b["span_s"] for a, b in zip(runs[1], runs[2], strict=True))
        lines.append(f"2 workers ÷ 1 worker, run by run: **{ratios[len(ratios) // 2]:.2f}** (median; "
                     f"{ratios[0]:.2f}–{ratios[-1]:.2f}).")
    per_worker = min(min(r["per_worker"]) for r in rows)
    workers = math.ceil(1e6 / per_worker)
    lines.append(f"""
Where a worker's time goes (all runs): **{one['commit_s']:.0%} committing** (parsing and validating the Arrow
messages, then PostgreSQL's `COPY` into the partition's readings and its primary-key index),
{one['ack_s']:.1%} acknowledging, {one['detect_s']:.0%} detecting and correlating. Workers share nothing but the
machine: each commits to its own schema. Here 2 workers, their 2 PostgreSQL backends (each as busy as its worker,
since the commit is most of the work) and the broker compete for 2 cores, so the ratio above is a floor, not
what workers on separate cores or machines get.

**Projection for a province of 1,000,000 sensors.** A worker's own rate here, busy time only, is at least
{per_worker / 1e3:,.0f} k readings/s (one core, with PostgreSQL's backend on the other). Most of a province's
sensors report once a minute to once every 15 minutes, so 1,000,000 sensors at once a minute are 16,700
readings/s: {16_700 / per_worker:.0%} of **one** worker. Were every sensor to report once a second
(1,000,000 readings/s), it would take {workers} workers of this speed, each with about a core of PostgreSQL
behind it: a Ray cluster of {workers} cores beside a PostgreSQL server of {workers} cores, or a database per
group of partitions, since each partition is its own schema and shares nothing with the others. Memory: the
state is 637 B a sensor (the throughput section), 0.64 GB for 1,000,000 sensors across the workers; a worker
process here is {one['rss_bytes'] / 2**20:,.0f} MiB at {n_sensors:,} sensors, Ray's own worker and the city
model included.
""")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensors", type=int, default=100_000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each size, interleaved (the machine is shared)")
    ap.add_argument("--write-docs", action="store_true", help="replace the section in docs/benchmarks.md")
    args = ap.parse_args()
    import ray

    from citylifeline.city import load_city
    from citylifeline.cluster.cluster import start_ray
    from citylifeline.ingest import Validator
    from citylifeline.ingest.files import validate_arrow
    from citylifeline.settings import Config

    with tempfile.TemporaryDirectory(prefix="cl-cluster-") as tmp:
        city = two_district_city(Path(tmp) / "city", args.sensors)
        bundle = load_city(city)
        config = Config.load(environ={}, city=str(city), rate_limit_per_s=0, max_batch_readings=10_000_000)
        v = Validator(bundle.sensors, config, lambda: int(time.time() * 1000))
        batches = [validate_arrow(rb, v, "stream", "bench").batch for rb in stream(args.sensors, args.seconds)]
        single = run_single(city, batches)
        print(json.dumps(single), flush=True)
        start_ray("local", num_cpus=2)
        runs: dict[int, list[dict[str, Any]]] = {}
        for _ in range(args.repeat):
            for w in (int(x) for x in args.workers.split(",")):
                runs.setdefault(w, []).append(run_cluster(w, city, batches))
                print(json.dumps(runs[w][-1]), flush=True)
        ray.shutdown()
    rows = [median_run(r) for r in runs.values()]
    md = report_md(args.sensors, args.seconds, single, rows, bench_command(args.write_docs), runs)
    print(md)
    if args.write_docs:
        replace_section(MARK, md)


if __name__ == "__main__":
    main()
