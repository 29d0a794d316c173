"""Hostile input at length: tens of thousands of hostile HTTP requests and thousands of MQTT messages
of every class in ``citylifeline.bench.hostile`` (depth, size, encoding, numbers, compression, Arrow
schemas) into a running ``citylifeline serve`` (embedded store, MQTT on the local broker).

It counts the answers by status (no 5xx allowed), checks that every good reading sent beside bad
ones was stored, that the server's threads are all alive and never restarted, and that MQTT still
ingests at the end.  ``make test`` runs one round of the same classes (tests/test_hostile.py).

    python bench/hostile.py [--requests 20000] [--messages 5000] [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.wire import AUTH, answering  # noqa: E402  (the admin token of the servers started here)
from citylifeline.bench import hostile  # noqa: E402
from citylifeline.bench.report import bench_command, machine, replace_section  # noqa: E402

MARK = "<!-- bench/hostile.py -->"
SENSORS = ["P-1", "P-2", "P-3"]
BROKER = ("127.0.0.1", 1883)
CLIENTS = 4
IN_FLIGHT = 300
"""MQTT messages published ahead of the platform's acknowledgements at most (Mosquitto's default queue
for a session is 1,000 messages: past it the broker drops them, see the README's MQTT section)."""


def acked(client: httpx.Client) -> int:
    """MQTT messages the server has acknowledged."""
    return int(client.get("/api/v1/status").json()["mqtt"]["messages_acked"])


def start(workdir: Path, port: int, prefix: str) -> subprocess.Popen[bytes]:
    """``citylifeline serve`` on the test city, MQTT on the local broker under ``prefix``."""
    import shutil

    from tests.conftest import SENSORS_CSV, TEST_CITY

    city = workdir / "city"
    shutil.copytree(TEST_CITY, city)
    (city / "sensors.csv").write_text(SENSORS_CSV, encoding="utf-8")
    env = {**os.environ, "CITYLIFELINE_RATE_LIMIT_PER_S": "0", "CITYLIFELINE_MQTT_URL": f"mqtt://{BROKER[0]}:{BROKER[1]}",
           "CITYLIFELINE_MQTT_TOPIC_PREFIX": prefix, "CITYLIFELINE_MQTT_CLIENT_ID": f"hostile-{prefix.rsplit('/', 1)[-1]}"}
    log = open(workdir / "serve.log", "wb")  # noqa: SIM115 — the server writes it while it runs
    proc = subprocess.Popen([sys.executable, "-m", "citylifeline.cli", "serve", "--db", str(workdir / "h.duckdb"),
                             "--city", str(city), "--port", str(port)], env=env, stdout=log, stderr=log)
    return answering(proc, port, workdir / "serve.log")


def stored(client: httpx.Client, good: hostile.Good) -> int:
    """How many of ``good``'s readings the server has."""
    start_s = good.t0_s
    end_s = good.t0_s + (good.n + 1) / 1000
    return sum(len(client.get("/api/v1/readings", params={"sensor": s, "start": f"{start_s:.3f}",
                                                          "end": f"{end_s:.3f}", "limit": 1_000_000}).json()["t"])
               for s in good.sensors)


def run(n_requests: int, n_messages: int, port: int = 8766) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="citylifeline-hostile-"))
    prefix = f"citylifeline-hostile/{uuid.uuid4().hex[:8]}"
    proc = start(workdir, port, prefix)
    rng = np.random.default_rng(2024)
    http_good = hostile.Good(SENSORS, time.time() - 80_000)
    mqtt_good = hostile.Good(SENSORS, time.time() - 60_000)
    statuses: Counter[int] = Counter()
    classes: Counter[str] = Counter()
    worst_s, server_errors = 0.0, []
    arrow = list(hostile.arrow_bodies(rng, hostile.Good(["P-FAR"], time.time() - 40_000)))  # made once: heavy
    t0 = time.monotonic()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=120) as client:
            lock = threading.Lock()

            def send(req: tuple[str, str, bytes | None, str, str, str]) -> None:
                nonlocal worst_s
                method, path, body, kind, cls, what = req
                c = time.perf_counter()
                r = client.request(method, path, content=body, headers={"content-type": kind})
                with lock:
                    worst_s = max(worst_s, time.perf_counter() - c)
                    statuses[r.status_code] += 1
                    classes[cls] += 1
                    if r.status_code >= 500:
                        server_errors.append(f"{cls}: {what} -> {r.status_code} {r.text[:200]}")

            with ThreadPoolExecutor(CLIENTS) as pool:  # several clients at once, as a city's gateways are
                while sum(statuses.values()) < n_requests:
                    reqs = [("POST", "/api/v1/readings", c.body, c.content_type, c.cls, c.name)
                            for c in [*hostile.reading_bodies(rng, http_good, 16 * 1024 * 1024, arrow=False), *arrow]]
                    reqs += [(q.method, q.path, q.body, hostile.JSON_TYPE, q.cls, f"{q.method} {q.path[:80]}")
                             for q in hostile.other_requests(rng, "P-1")]
                    list(pool.map(send, [reqs[i] for i in rng.permutation(len(reqs))]))
                    print(f"\r{sum(statuses.values()):,} requests, {len(server_errors)} 5xx", end="", flush=True)
            http_s = time.monotonic() - t0
            pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            pub.max_inflight_messages_set(100)
            pub.connect(*BROKER)
            pub.loop_start()
            sent, mqtt_classes = 0, Counter[str]()
            while sent < n_messages:
                infos = []
                for cls, topic, payload, _ in hostile.mqtt_messages(rng, prefix, mqtt_good, arrow=sent == 0):
                    infos.append(pub.publish(topic, payload, qos=1))  # back to back, as a busy gateway sends
                    mqtt_classes[cls] += 1
                for info in infos:
                    info.wait_for_publish(60)
                sent += len(infos)
                while acked(client) < sent - IN_FLIGHT:  # as a gateway waits; the broker keeps only so many
                    time.sleep(0.2)
                print(f"\r{sent:,} MQTT messages", end="", flush=True)
            after = hostile.Good(SENSORS, time.time() - 3_000)
            body = ('{"readings": [' + ", ".join(after.rows(30)) + "]}").encode()
            pub.publish(f"{prefix}/gateway/after", body, qos=1).wait_for_publish(60)
            sent += 1
            deadline = time.monotonic() + 600
            while acked(client) < sent and time.monotonic() < deadline:
                time.sleep(0.5)
            status = client.get("/api/v1/status").json()
            pub.disconnect()
            pub.loop_stop()
            print()
            return {"requests": sum(statuses.values()), "statuses": dict(sorted(statuses.items())),
                    "classes": dict(classes), "server_errors": server_errors, "worst_s": worst_s,
                    "http_s": http_s, "http_good": http_good.n, "http_good_stored": stored(client, http_good),
                    "messages": sent, "mqtt_classes": dict(mqtt_classes), "acked": status["mqtt"]["messages_acked"],
                    "mqtt_good": mqtt_good.n, "mqtt_good_stored": stored(client, mqtt_good),
                    "after_stored": stored(client, after), "threads": status["threads"] | status["mqtt"]["threads"],
                    "connected": status["mqtt"]["connected"], "poison": status["mqtt"]["poison_messages"],
                    "minutes": (time.monotonic() - t0) / 60}
    finally:
        proc.terminate()
        proc.wait(120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--messages", type=int, default=5_000)
    ap.add_argument("--write-docs", action="store_true")
    a = ap.parse_args()
    r = run(a.requests, a.messages)
    print(r)
    dead = [name for name, t in r["threads"].items() if not t["alive"] or t["restarts"]]  # type: ignore[attr-defined]
    if a.write_docs:
        replace_section(MARK, f"""{MARK}
## Hostile input: no 5xx, no dead thread, no good reading lost

`{bench_command(True)}` (`python bench/hostile.py --requests {a.requests} --messages {a.messages}`) on {machine()},
{time.strftime("%Y-%m-%d")}: hostile requests and MQTT messages of every class of `citylifeline.bench.hostile`
into `citylifeline serve` (embedded store, MQTT on the local Mosquitto), good readings mixed in.

| | |
|---|---:|
| HTTP requests (by class: {", ".join(f"{k} {v:,}" for k, v in r["classes"].items())}) | {r["requests"]:,} |
| answers by status | {", ".join(f"{k}: {v:,}" for k, v in r["statuses"].items())} |
| **answers ≥ 500** | **{len(r["server_errors"])}** |
| slowest answer | {r["worst_s"]:.2f} s |
| good readings sent beside bad ones over HTTP / stored | {r["http_good"]:,} / {r["http_good_stored"]:,} |
| MQTT messages (by class: {", ".join(f"{k} {v:,}" for k, v in r["mqtt_classes"].items())}) | {r["messages"]:,} |
| MQTT messages acknowledged / kept as poison | {r["acked"]:,} / {r["poison"]} |
| good readings sent over MQTT / stored | {r["mqtt_good"]:,} / {r["mqtt_good_stored"]:,} |
| a good message after all of them: readings stored | {r["after_stored"]} of 30 |
| **threads dead or restarted** | **{len(dead)}** of {len(r["threads"])} ({", ".join(r["threads"])}) |
| MQTT connected at the end | {r["connected"]} |
| duration | {r["minutes"]:.1f} min |
""")
    ok = not r["server_errors"] and not dead and r["http_good"] == r["http_good_stored"] \
        and r["mqtt_good"] == r["mqtt_good_stored"] and r["after_stored"] == 30
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
