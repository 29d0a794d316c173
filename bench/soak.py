"""Soak: a steady stream of readings over HTTP into a running server for a long time; the rate it
holds, request latency, the server's memory over time, and that every acknowledged reading is stored.

``--sensors`` pressure sensors each report once a second (so the offered rate is sensors/s; pressure
0.30 MPa with 1 % noise, thresholds below it, so no warnings: the steady state), posted as
``--batches`` requests a second from a second process on loopback.  The server is
``citylifeline serve`` on a fresh embedded store, with every detector on.  Each request is sent
when it is due (never faster); when the server falls behind, requests queue in the client and the
achieved rate is what the server holds.  The server's resident memory is read from /proc every 10 s.

    python bench/soak.py [--sensors 100000] [--minutes 30] [--batches 4] [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import make_city  # noqa: E402
from citylifeline.auth.model import new_token  # noqa: E402
from citylifeline.bench.report import bench_command, machine, replace_section  # noqa: E402
from citylifeline.settings import Config  # noqa: E402

os.environ.setdefault("CITYLIFELINE_ADMIN_TOKEN", new_token())  # the servers started here inherit it
os.environ["CITYLIFELINE_RATE_LIMIT_PER_S"] = "0"  # a benchmark measures throughput, not the limiter
AUTH = {"Authorization": f"Bearer {os.environ['CITYLIFELINE_ADMIN_TOKEN']}"}
HTTP = httpx.Client(headers=AUTH, timeout=600)

MARK = "<!-- bench/soak.py -->"
PLOT = ROOT / "docs" / "img" / "soak.png"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(db: Path, city: Path, port: int, memory_limit: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CITYLIFELINE_MAX_BATCH_READINGS": "1000000", "CITYLIFELINE_MAX_PAYLOAD_BYTES": str(2**28),
           "CITYLIFELINE_MEMORY_LIMIT": memory_limit}
    proc = subprocess.Popen([sys.executable, "-m", "citylifeline.cli", "serve", "--db", str(db), "--city", str(city),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(240):
        try:
            HTTP.get(f"http://127.0.0.1:{port}/api/v1/status", timeout=5).raise_for_status()
            return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not start")


def run(n_sensors: int, minutes: float, batches: int, memory_limit: str, port: int = 8765) -> dict[str, object]:
    d = Path(tempfile.mkdtemp(prefix="citylifeline-soak-"))
    make_city(d, n_sensors)
    csv = (d / "sensors.csv").read_text(encoding="utf-8").splitlines()  # 1 Hz sensors: no per-minute rate rule
    (d / "sensors.csv").write_text("\n".join([csv[0].replace("rate_per_min", "interval_s")]
                                             + [line.rsplit(",", 1)[0] + ",1" for line in csv[1:]]) + "\n",
                                   encoding="utf-8")
    proc = start(d / "soak.duckdb", d, port, memory_limit)
    ids = [f"S-{i:06d}" for i in range(n_sensors)]
    parts = np.array_split(np.arange(n_sensors), batches)
    rng = np.random.default_rng(0)
    lat, sent, acked, samples = [], 0, 0, []
    t_start = time.monotonic()
    next_sample = t_start
    k = 0
    try:
        with httpx.Client(headers=AUTH, base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            while time.monotonic() - t_start < minutes * 60:
                second = int(time.time())
                for part in parts:
                    v = 3.0e5 + rng.normal(0, 3.0e3, len(part))  # Pa, the canonical unit: 0.30 MPa
                    body = orjson.dumps({"readings": [{"sensor": ids[i], "t": second, "value": float(x)}
                                                      for i, x in zip(part.tolist(), v.tolist(), strict=True)]})
                    due = t_start + k / batches
                    k += 1
                    if time.monotonic() < due:
                        time.sleep(due - time.monotonic())
                    c = time.perf_counter()
                    r = client.post("/api/v1/readings", content=body, headers={"content-type": "application/json"})
                    lat.append(time.perf_counter() - c)
                    if os.environ.get("SOAK_DEBUG"):
                        print(k, f"{lat[-1]:.2f}", r.status_code, flush=True)
                    r.raise_for_status()
                    sent += len(part)
                    acked += r.json()["stored"] + r.json()["duplicates"]
                    if time.monotonic() >= next_sample:
                        samples.append((time.monotonic() - t_start, rss_mb(proc.pid), acked))
                        next_sample += 10
                while int(time.time()) == second:  # one reading per sensor per data second
                    time.sleep(0.001)
        elapsed = time.monotonic() - t_start
        stored = int(HTTP.get(f"http://127.0.0.1:{port}/api/v1/status", timeout=600).json()["readings"])
    finally:
        proc.terminate()
        proc.wait(300)
    rss = np.array([s[1] for s in samples])
    half = rss[len(rss) // 2:] if len(rss) > 2 else rss
    return {"sensors": n_sensors, "minutes": minutes, "offered_per_s": n_sensors, "sent": sent, "acked": acked,
            "stored": stored, "elapsed_s": elapsed, "held_per_s": acked / elapsed,
            "p50_ms": 1000 * float(np.median(lat)), "p99_ms": 1000 * float(np.percentile(lat, 99)),
            "rss_start_mb": float(rss[0]), "rss_max_mb": float(rss.max()),
            "rss_growth_mb_per_h_2nd_half": float(np.polyfit([s[0] for s in samples[len(samples) // 2:]], half, 1)[0]
                                                  * 3600) if len(half) > 2 else float("nan"),
            "samples": samples}


def plot(result: dict[str, object]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = np.array(result["samples"], dtype=float)  # type: ignore[arg-type]
    fig, ax = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    t = s[:, 0] / 60
    rate = np.diff(s[:, 2]) / np.diff(s[:, 0])
    ax[0].plot(t[1:], rate / 1000, color="#1f77b4")
    ax[0].axhline(float(result["offered_per_s"]) / 1000, color="grey", ls="--", lw=1, label="offered")  # type: ignore[arg-type]
    ax[0].set_ylabel("thousand readings/s")
    ax[0].legend(loc="lower right")
    ax[1].plot(t, s[:, 1], color="#d62728")
    ax[1].set_ylabel("server RSS (MB)")
    ax[1].set_xlabel("minutes")
    ax[0].set_title("Soak: readings held and server memory")
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT, dpi=90)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sensors", type=int, default=100_000)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--batches", type=int, default=4, help="requests per second")
    ap.add_argument("--memory-limit", default=Config.load().memory_limit,
                    help="the store's memory_limit (DuckDB's cache of written blocks grows up to it)")
    ap.add_argument("--write-docs", action="store_true")
    a = ap.parse_args()
    r = run(a.sensors, a.minutes, a.batches, a.memory_limit)
    print({k: v for k, v in r.items() if k != "samples"})
    if a.write_docs:
        plot(r)
        date = time.strftime("%Y-%m-%d")
        replace_section(MARK, f"""{MARK}
## Soak: a steady stream over HTTP

`{bench_command(True)}` (`python bench/soak.py --sensors {a.sensors} --minutes {a.minutes:g} --batches {a.batches} \
--memory-limit {a.memory_limit}`)
on {machine()}, {date}: {a.sensors:,} sensors each reporting once a second, {a.batches} requests a second from a
second process on loopback, into `citylifeline serve` on the embedded store with every detector on.

| | |
|---|---:|
| offered | {r['offered_per_s']:,} readings/s |
| held (acknowledged ÷ elapsed) | **{r['held_per_s']:,.0f} readings/s** ({r['held_per_s'] / r['offered_per_s']:.2f} of offered) |
| duration | {r['elapsed_s'] / 60:.1f} min |
| readings acknowledged / stored | {r['acked']:,} / {r['stored']:,} |
| request latency p50 / p99 | {r['p50_ms']:.0f} / {r['p99_ms']:.0f} ms |
| server memory at start / max | {r['rss_start_mb']:.0f} / {r['rss_max_mb']:.0f} MB |
| memory growth over the second half | {r['rss_growth_mb_per_h_2nd_half']:+.0f} MB/h |
| the store's `memory_limit` | {a.memory_limit} |

![Soak: readings held per second and the server's memory](img/soak.png)
""")


if __name__ == "__main__":
    main()
