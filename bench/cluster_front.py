"""Benchmark: from a reading's arrival to its incident on the WebSocket, one process against the
distributed mode's front.

The same city (``--sensors`` pressure sensors in two districts, ``bench.cluster``) is served twice
in one run: by ``citylifeline serve`` on a fresh embedded store (the peer), and by ``citylifeline
serve --cluster local --partitions 2 --partition-by district`` over PostgreSQL and NATS JetStream.
Each gets the same steady load over HTTP (``--rate`` readings/s, Arrow) and ``--samples`` level-I
readings, each on a sensor of its own; a WebSocket client notes when each one's incident arrives
(``bench.wire.latency``).  Over a cluster the path is longer: front → JetStream → the partition's
fetch, commit and detection → the front's poll of what changed (every ``FRONT_CHECK_S``).

    python bench/cluster_front.py [--sensors 20000] [--rate 10000] [--samples 40] [--write-docs]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench.cluster import NATS_URL, PG_URL, drop, two_district_city  # noqa: E402
from bench.wire import answering, in_child, serve  # noqa: E402
from citylifeline.bench.report import bench_command, machine, replace_section  # noqa: E402
from citylifeline.cluster.front import FRONT_CHECK_S  # noqa: E402

MARK = "<!-- bench/cluster_front.py -->"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_cluster(city: Path, port: int, schema: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CITYLIFELINE_DB": PG_URL, "CITYLIFELINE_NATS_URL": NATS_URL,
           "CITYLIFELINE_CLUSTER_SCHEMA": schema, "CITYLIFELINE_MAX_BATCH_READINGS": "1000000"}
    proc = subprocess.Popen([sys.executable, "-m", "citylifeline.cli", "serve", "--cluster", "local", "--city",
                             str(city), "--partitions", "2", "--partition-by", "district", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(log, "wb"))  # noqa: SIM115
    return answering(proc, port, log)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()


def run(n_sensors: int, rate: int, samples: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        city = two_district_city(work / "city", n_sensors)
        port = free_port()
        proc = serve(work / "single.duckdb", city, port)
        try:
            out["one process"] = in_child(["--latency", str(port), str(n_sensors), str(rate), str(samples)])
        finally:
            stop(proc)
        schema = f"b_{uuid.uuid4().hex[:8]}"
        port = free_port()
        proc = serve_cluster(city, port, schema, work / "cluster.log")
        try:
            out["cluster front"] = in_child(["--latency", str(port), str(n_sensors), str(rate), str(samples)])
        finally:
            stop(proc)
            drop([f"{schema}_p0", f"{schema}_p1", f"{schema}_front"], f"{schema.upper()}_READINGS")
    return out


def report_md(r: dict[str, dict[str, Any]], n_sensors: int, rate: int, samples: int, command: str) -> str:
    one, front = r["one process"], r["cluster front"]
    lines = [f"""{MARK}
## The dashboard over a cluster: latency to the WebSocket

`{command}` (`python bench/cluster_front.py --sensors {n_sensors} --rate {rate} --samples {samples}`) on
{machine()}, {dt.date.today().isoformat()}: {n_sensors:,} sensors in two
districts under a steady {rate:,} readings/s over HTTP (Arrow), and {samples} level-I readings, each on a
sensor of its own; the time from POSTing one to its incident arriving on the WebSocket.  The peer is
`citylifeline serve` on the embedded store; the other is `serve --cluster local --partitions 2
--partition-by district` (front, 2 partition workers, PostgreSQL, NATS JetStream, Ray, all on the
machine's 2 cores).  The front learns of changes by asking the partitions every {FRONT_CHECK_S:g} s.

| served by | p50 | p99 | max | missing |
|---|---:|---:|---:|---:|"""]
    for name, x in r.items():
        lines.append(f"| {name} | {x['p50_ms']:.0f} ms | **{x['p99_ms']:.0f} ms** | {x['max_ms']:.0f} ms | "
                     f"{x['missing']} |")
    lines.append(f"\nThe front's p50 is {front['p50_ms'] / one['p50_ms']:.1f}× one process's and its p99 "
                 f"{front['p99_ms'] / one['p99_ms']:.1f}×: the broker hop, the partition's fetch and the poll "
                 f"(on average half of {FRONT_CHECK_S:g} s) are the difference.\n")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sensors", type=int, default=20_000)
    ap.add_argument("--rate", type=int, default=10_000, help="steady load, readings/s")
    ap.add_argument("--samples", type=int, default=40, help="level-I readings timed")
    ap.add_argument("--write-docs", action="store_true", help="replace this section of docs/benchmarks.md")
    args = ap.parse_args()
    r = run(args.sensors, args.rate, args.samples)
    print(json.dumps(r, indent=1))
    md = report_md(r, args.sensors, args.rate, args.samples, bench_command(args.write_docs))
    print(md)
    if args.write_docs:
        replace_section(MARK, md)


if __name__ == "__main__":
    main()
