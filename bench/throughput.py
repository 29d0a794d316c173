"""Benchmark: the live path at full speed — readings/s end to end against the store's raw append.

A stream of ``--sensors`` pressure sensors each reporting once a data-second, in batches of one
data-second (the shape a gateway or a broker bridge delivers), pushed through the running
platform's own path: Arrow columns → validation → the writer thread → the embedded store
(committed: that is the acknowledgement) → every detector → the correlator → the warning tables.
In the same process and run, on the same parsed columns: DuckDB's raw ``INSERT`` into a table of
the same shape (the floor of the work: the store cannot be faster than that) and the store's own
``append`` (raw insert plus the duplicate check).  Each size runs in a fresh process so its memory
is its own; state per sensor is the detectors' and the store's arrays, RSS per sensor is what the
process grew by.

    python bench/throughput.py [--sensors 10000,100000,1000000] [--seconds 30] [--write-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import make_city  # noqa: E402

T0_S = 1_767_225_600  # 2026-01-01T00:00:00Z
MARK = "<!-- bench/throughput.py -->"


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def one_hz_city(d: Path, n_sensors: int) -> Path:
    """``bench.ingest``'s city with its sensors reporting once a second (and no per-minute rate rule)."""
    d.mkdir(parents=True)
    make_city(d, n_sensors)
    csv = (d / "sensors.csv").read_text(encoding="utf-8").splitlines()
    (d / "sensors.csv").write_text("\n".join([csv[0].replace("rate_per_min", "interval_s")]
                                             + [line.rsplit(",", 1)[0] + ",1" for line in csv[1:]]) + "\n",
                                   encoding="utf-8")
    return d


def stream(n_sensors: int, seconds: int, seed: int = 0) -> list:  # type: ignore[type-arg]
    """``seconds`` Arrow record batches of one reading per sensor; 0.1 % of sensors drop to level II
    from the second half on (so detectors and the correlator have work)."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    ids = pa.array([f"S-{i:06d}" for i in range(n_sensors)])
    codes = pa.array(np.arange(n_sensors, dtype=np.int32))
    burst = rng.random(n_sensors) < 0.001
    out = []
    for s in range(seconds):
        v = 3.0e5 + rng.normal(0, 3.0e3, n_sensors)
        if s >= seconds // 2:
            v[burst] -= 1.7e5
        out.append(pa.record_batch({"sensor": pa.DictionaryArray.from_arrays(codes, ids),
                                    "t": pa.array(np.full(n_sensors, T0_S + s, np.int64)), "value": v}))
    return out


def one_size(n_sensors: int, seconds: int, work: Path) -> dict[str, float]:
    """All the figures for one size, in this process."""
    import duckdb
    import pyarrow as pa

    from citylifeline.city import load_city
    from citylifeline.engine import Engine
    from citylifeline.ingest.files import validate_arrow
    from citylifeline.settings import Config
    from citylifeline.store import EmbeddedStore

    city = one_hz_city(work / "city", n_sensors)
    data = stream(n_sensors, seconds)
    n = n_sensors * seconds
    r: dict[str, float] = {"sensors": n_sensors, "seconds": seconds, "readings": n}
    bundle = load_city(city)
    config = Config.load(environ={}, db=str(work / "e2e.duckdb"), city=str(city), rate_limit_per_s=0,
                         max_batch_readings=max(n_sensors, 10_000))

    rss0 = rss_bytes()
    engine = Engine(config, bundle)
    engine.start()
    validator = engine.validator
    r["rss_engine_bytes"] = rss_bytes() - rss0
    t = time.perf_counter()
    acks = [engine.submit(validate_arrow(rb, validator, "stream", "bench")) for rb in data]
    stored = sum(a.result().stored for a in acks)
    engine.flush()  # the last batch detected
    r["e2e_s"] = time.perf_counter() - t
    r["stored"] = stored
    r["incidents"] = len(engine.pipeline.correlator.active)
    r["rss_after_bytes"] = rss_bytes() - rss0
    p = engine.pipeline
    r["state_bytes_per_sensor"] = sum(d.state_bytes_per_sensor() for d in p.detectors) + \
        (p.store.last_t.nbytes + p.store.last_value.nbytes + p.detected_t.nbytes) / n_sensors
    engine.stop()

    t = time.perf_counter()
    parsed = [validate_arrow(rb, validator, "stream", "bench").batch for rb in data]
    r["validate_s"] = time.perf_counter() - t

    fresh = EmbeddedStore(work / "append.duckdb", memory_limit=config.memory_limit)
    fresh.register_sensors(bundle.sensors)
    t = time.perf_counter()
    for b in parsed:
        fresh.append(b)
    r["store_append_s"] = time.perf_counter() - t
    fresh.close()

    con = duckdb.connect(str(work / "raw.duckdb"))
    con.execute("CREATE TABLE readings (sensor INTEGER, t_ms BIGINT, value DOUBLE)")
    t = time.perf_counter()
    for b in parsed:
        con.register("_b", pa.table({"sensor": b.sensor, "t_ms": b.t_ms, "value": b.value}))
        con.execute("INSERT INTO readings SELECT * FROM _b")
        con.unregister("_b")
    r["raw_append_s"] = time.perf_counter() - t
    con.close()
    return r


def run_size(n_sensors: int, seconds: int) -> dict[str, float]:
    """``one_size`` in a fresh process (so its memory is its own)."""
    out = subprocess.run([sys.executable, __file__, "--one", str(n_sensors), "--seconds", str(seconds)],
                         check=True, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensors", default="10000,100000,1000000")
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--write-docs", action="store_true", help="replace the section in docs/benchmarks.md")
    args = ap.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory(prefix="cl-tp-") as tmp:
            print(json.dumps(one_size(args.one, args.seconds, Path(tmp))))
        return
    for n in (int(x) for x in args.sensors.split(",")):
        r = run_size(n, args.seconds)
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
