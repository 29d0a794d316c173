"""Benchmark: readings over the wire into ``citylifeline serve`` — HTTP and MQTT, JSON and Arrow — and
the latency from a reading's arrival to its incident on the WebSocket under a steady load.

The server runs on a fresh embedded store with every detector on, ``--sensors`` pressure sensors
at 1 Hz; the load comes from a second process on loopback, each request or message one gateway's
data-second, sent as fast as the server acknowledges (two requests in flight over HTTP; QoS 1
with the broker's window over MQTT, into a private Mosquitto with no queue limit).  Throughput is
readings acknowledged (HTTP) or stored (MQTT) per second of wall time.  Latency: while a feeder
posts ``--rate`` readings/s, one sensor at a time reads a level-I low pressure; the time from
sending that reading to the WebSocket's incident message naming the sensor.

    python bench/wire.py [--sensors 100000] [--seconds 20] [--rate 100000] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.throughput import T0_S, one_hz_city  # noqa: E402
from citylifeline.auth.model import new_token  # noqa: E402
from citylifeline.bench.report import bench_command, machine, replace_section  # noqa: E402
from tests.services import Broker, publisher  # noqa: E402  (it sets the test suite's admin token: read it after)

os.environ.setdefault("CITYLIFELINE_ADMIN_TOKEN", new_token())
os.environ["CITYLIFELINE_RATE_LIMIT_PER_S"] = "0"  # a benchmark measures throughput, not the limiter
TOKEN = os.environ["CITYLIFELINE_ADMIN_TOKEN"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ARROW = "application/vnd.apache.arrow.stream"
PREFIX = "citylifeline/v1"
MARK = "<!-- bench/wire.py -->"
PLOT = ROOT / "docs" / "img" / "latency.png"


def arrow_body(ids: list[str], t_s: float | np.ndarray, values: np.ndarray) -> bytes:
    import pyarrow as pa

    table = pa.table({"sensor": pa.array(ids).dictionary_encode(),
                      "t": pa.array(np.broadcast_to(np.asarray(t_s, np.float64), len(ids))), "value": values})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def json_body(ids: list[str], t_s: float, values: np.ndarray) -> bytes:
    return orjson.dumps({"readings": [{"sensor": s, "t": t_s, "value": v}
                                      for s, v in zip(ids, values.tolist(), strict=True)]})


def bodies(fmt: str, ids: list[str], seconds: int, per_message: int, t0_s: float) -> list[bytes]:
    """``seconds`` data-seconds of every sensor, cut into messages of ``per_message`` readings."""
    rng = np.random.default_rng(0)
    make = arrow_body if fmt == "arrow" else json_body
    out = []
    for s in range(seconds):
        v = 3.0e5 + rng.normal(0, 3.0e3, len(ids))
        for i in range(0, len(ids), per_message):
            out.append(make(ids[i:i + per_message], t0_s + s, v[i:i + per_message]))
    return out


# ---- the load, in its own process ----------------------------------------------------------------
def load_http(port: int, fmt: str, n_sensors: int, seconds: int, t0_s: float) -> dict[str, float]:
    ids = [f"S-{i:06d}" for i in range(n_sensors)]
    todo = bodies(fmt, ids, seconds, 25_000, t0_s)
    lock, acked, lat = threading.Lock(), [0], []
    headers = {**AUTH, "content-type": ARROW if fmt == "arrow" else "application/json"}

    def worker(mine: list[bytes]) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300, headers=headers) as c:
            for body in mine:
                while True:
                    t = time.perf_counter()
                    r = c.post("/api/v1/readings", content=body)
                    if r.status_code != 503:
                        break
                    time.sleep(0.05)
                r.raise_for_status()
                with lock:
                    acked[0] += r.json()["stored"]
                    lat.append(time.perf_counter() - t)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(todo[k::2],)) for k in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - start
    return {"readings": acked[0], "wall_s": wall, "per_s": acked[0] / wall,
            "p50_ms": 1000 * float(np.median(lat)), "p99_ms": 1000 * float(np.percentile(lat, 99))}


def load_mqtt(port: int, http_port: int, fmt: str, n_sensors: int, seconds: int, t0_s: float) -> dict[str, float]:
    ids = [f"S-{i:06d}" for i in range(n_sensors)]
    per_message = 1000
    todo = bodies(fmt, ids, seconds, per_message, t0_s)
    pub = publisher("127.0.0.1", port, "bench-gateway")
    start = time.perf_counter()
    infos = [pub.publish(f"{PREFIX}/gateway/g-{k % 100}", body, qos=1) for k, body in enumerate(todo)]
    for info in infos:
        info.wait_for_publish(300)
    want = n_sensors * seconds
    with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=300, headers=AUTH) as c:
        while c.get("/api/v1/status").json()["readings"] < want:
            time.sleep(0.02)
    wall = time.perf_counter() - start
    pub.disconnect()
    pub.loop_stop()
    return {"readings": want, "wall_s": wall, "per_s": want / wall, "messages": len(todo),
            "readings_per_message": per_message}


def latency(port: int, n_sensors: int, rate: int, samples: int) -> dict[str, float]:
    """p50/p99 from sending a level-I reading to its incident on the WebSocket, under ``rate`` readings/s."""
    import websockets

    ids = [f"S-{i:06d}" for i in range(n_sensors)]
    per_post = max(1, rate // 4)
    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    stop = threading.Event()

    def feeder() -> None:
        rng = np.random.default_rng(1)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60, headers={**AUTH, "content-type": ARROW}) as c:
            k, start, wall0 = 0, time.monotonic(), float(int(time.time()))
            while not stop.is_set():
                first = (k * per_post) % len(ids)  # the next sensors in turn, each post a quarter-second later
                chunk = (ids[first:] + ids)[:per_post]
                body = arrow_body(chunk, wall0 + k / 4, 3.0e5 + rng.normal(0, 3.0e3, len(chunk)))
                due = start + k / 4
                if time.monotonic() < due:
                    time.sleep(due - time.monotonic())
                c.post("/api/v1/readings", content=body).raise_for_status()
                k += 1

    async def listen(ready: threading.Event) -> None:
        async with websockets.connect(f"ws://127.0.0.1:{port}/api/v1/ws", additional_headers=AUTH,
                                      max_size=2**24) as ws:
            ready.set()
            while len(got) < samples:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if msg.get("type") == "incident":
                    for s in msg["incident"]["sensors"]:
                        if s in sent and s not in got:
                            got[s] = time.time()

    ready = threading.Event()
    listener = threading.Thread(target=lambda: asyncio.run(listen(ready)), daemon=True)
    listener.start()
    ready.wait(30)
    feed = threading.Thread(target=feeder, daemon=True)
    feed.start()
    time.sleep(5)  # the steady state first
    step = max(1, len(ids) // samples)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60, headers={**AUTH, "content-type": ARROW}) as c:
        for j in range(samples):
            sid = ids[(j * step + step // 2) % len(ids)]
            t = time.time()
            sent[sid] = t
            c.post("/api/v1/readings", content=arrow_body([sid], t, np.array([0.8e5]))).raise_for_status()
            time.sleep(0.7)
    listener.join(60)
    stop.set()
    feed.join(30)
    lat = np.array([got[s] - sent[s] for s in got]) * 1000
    return {"rate_per_s": rate, "samples": len(lat), "missing": samples - len(lat),
            "p50_ms": float(np.median(lat)), "p99_ms": float(np.percentile(lat, 99)), "max_ms": float(lat.max())}


# ---- the server ------------------------------------------------------------------------------------
def serve(db: Path, city: Path, port: int, mqtt_port: int | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CITYLIFELINE_MAX_BATCH_READINGS": "1000000", "CITYLIFELINE_MAX_PAYLOAD_BYTES": str(2**28)}
    if mqtt_port:
        env |= {"CITYLIFELINE_MQTT_URL": f"mqtt://127.0.0.1:{mqtt_port}", "CITYLIFELINE_MQTT_CLIENT_ID": "bench"}
    proc = subprocess.Popen([sys.executable, "-m", "citylifeline.cli", "serve", "--db", str(db), "--city", str(city),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(db.with_suffix(".log"), "wb"))  # noqa: SIM115
    return answering(proc, port, db.with_suffix(".log"))


def answering(proc: subprocess.Popen[bytes], port: int, log: Path, within_s: float = 300) -> subprocess.Popen[bytes]:
    """``proc`` once its API answers on ``port`` (killed, with its log's end in the error, if not)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/status", headers=AUTH, timeout=5).raise_for_status()
            return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")


def in_child(args: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(n_sensors: int, seconds: int, rates: list[int], samples: int) -> dict[str, dict[str, float]]:
    work = Path(tempfile.mkdtemp(prefix="cl-wire-"))
    city = one_hz_city(work / "city", n_sensors)
    broker = Broker(work / "broker")
    broker.start()
    results: dict[str, dict[str, float]] = {}
    try:
        runs = [("http", "json"), ("http", "arrow"), ("mqtt", "json"), ("mqtt", "arrow")]
        for k, (wire, fmt) in enumerate(runs):
            port = 8780 + k
            proc = serve(work / f"{wire}-{fmt}.duckdb", city, port, broker.port if wire == "mqtt" else None)
            try:
                t0 = str(T0_S + 86_400 * 300)  # recent enough for the clock check, old enough to be in the past
                if wire == "http":
                    results[f"{wire} {fmt}"] = in_child(["--load-http", str(port), fmt, str(n_sensors), str(seconds), t0])
                else:
                    results[f"{wire} {fmt}"] = in_child(["--load-mqtt", str(broker.port), str(port), fmt,
                                                         str(n_sensors), str(seconds), t0])
            finally:
                proc.terminate()
                proc.wait(300)
        for k, rate in enumerate(rates):
            port = 8790 + k
            proc = serve(work / f"latency-{rate}.duckdb", city, port)
            try:
                results[f"latency {rate}"] = in_child(["--latency", str(port), str(n_sensors), str(rate), str(samples)])
            finally:
                proc.terminate()
                proc.wait(300)
    finally:
        broker.stop()
    return results


def report_md(r: dict[str, dict[str, float]], n_sensors: int, seconds: int, samples: int, command: str) -> str:
    lines = [f"""{MARK}
## Over the wire: HTTP and MQTT, JSON and Arrow, and the latency to the WebSocket

`{command}` (`python bench/wire.py --sensors {n_sensors} --seconds {seconds}`) on {machine()},
{dt.date.today().isoformat()}: `citylifeline serve` on a fresh embedded store, every detector on,
{n_sensors:,} sensors at 1 Hz; the load from a second process on loopback, {seconds} data-seconds of every
sensor sent as fast as the server takes them (HTTP: 25,000 readings a request, two in flight; MQTT:
1,000 readings a gateway message, QoS 1, a private Mosquitto without a queue limit).  The
in-process figure of the same store is in the section above.

| path | readings/s | request p50 / p99 |
|---|---:|---:|"""]
    for key in ("http json", "http arrow", "mqtt json", "mqtt arrow"):
        x = r[key]
        lat = f"{x['p50_ms']:.0f} / {x['p99_ms']:.0f} ms" if "p50_ms" in x else "—"
        lines.append(f"| {key.replace('http', 'HTTP').replace('mqtt', 'MQTT').replace('json', 'JSON').replace('arrow', 'Arrow IPC')} "
                     f"| **{x['per_s'] / 1e3:,.0f} k/s** | {lat} |")
    lines.append(f"""
Latency from sending one level-I reading to the WebSocket message of its incident, while a feeder
posts a steady load (four Arrow requests a second); {samples} sensors, one at a time:

| steady load | p50 | p99 | max | missed |
|---:|---:|---:|---:|---:|""")
    for key in sorted((k for k in r if k.startswith("latency")), key=lambda k: int(k.split()[1])):
        x = r[key]
        lines.append(f"| {int(x['rate_per_s']):,} readings/s | {x['p50_ms']:.0f} ms | **{x['p99_ms']:.0f} ms** | "
                     f"{x['max_ms']:.0f} ms | {int(x['missing'])} |")
    lines.append("\n![Latency from arrival to the incident on the WebSocket against the load](img/latency.png)\n")
    return "\n".join(lines)


def plot(r: dict[str, dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted((k for k in r if k.startswith("latency")), key=lambda k: int(k.split()[1]))
    rate = [r[k]["rate_per_s"] / 1000 for k in keys]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(rate, [r[k]["p50_ms"] for k in keys], "o-", label="p50")
    ax.plot(rate, [r[k]["p99_ms"] for k in keys], "s--", label="p99")
    ax.axhline(1000, color="grey", lw=1, ls="--")
    ax.text(rate[0], 900, "goal: p99 under 1 s", fontsize=8, color="grey")
    ax.set(xlabel="steady load (thousand readings/s)", ylabel="ms", title="Arrival → incident on the WebSocket")
    ax.legend(fontsize=8)
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT, dpi=90)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensors", type=int, default=100_000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--rates", default="25000,100000,200000", help="steady loads for the latency runs")
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--load-http", nargs=5, help=argparse.SUPPRESS)
    ap.add_argument("--load-mqtt", nargs=6, help=argparse.SUPPRESS)
    ap.add_argument("--latency", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--write-docs", action="store_true", help="replace the section in docs/benchmarks.md")
    args = ap.parse_args()
    if args.load_http:
        port, fmt, n, s, t0 = args.load_http
        print(json.dumps(load_http(int(port), fmt, int(n), int(s), float(t0))))
    elif args.load_mqtt:
        port, http_port, fmt, n, s, t0 = args.load_mqtt
        print(json.dumps(load_mqtt(int(port), int(http_port), fmt, int(n), int(s), float(t0))))
    elif args.latency:
        port, n, rate, samples = args.latency
        print(json.dumps(latency(int(port), int(n), int(rate), int(samples))))
    else:
        r = run(args.sensors, args.seconds, [int(x) for x in args.rates.split(",")], args.samples)
        print(json.dumps(r, indent=1))
        md = report_md(r, args.sensors, args.seconds, args.samples, bench_command(args.write_docs))
        print(md)
        if args.write_docs:
            replace_section(MARK, md)
            plot(r)


if __name__ == "__main__":
    main()
