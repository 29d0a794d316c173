"""Proof under faults: the server killed with SIGKILL while readings arrive over MQTT and HTTP, and the
database stopped and started mid-stream.  Every reading a client had acknowledged is stored exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from citylifeline.api import create_app
from citylifeline.engine import Engine
from citylifeline.errors import StoreError
from citylifeline.settings import Config
from citylifeline.store import open_store
from tests.conftest import ADMIN_TOKEN, AUTH, HTTP, free_port
from tests.services import SHARED_BROKER, Postgres, mqtt_names, publisher

NOW = time.time()
MQTT_SENSORS = ("P-1", "P-2")
HTTP_SENSORS = ("P-3", "P-FAR")
BATCHES = 240


def rows(k: int, sensors: tuple[str, ...]) -> list[dict[str, object]]:
    return [{"sensor": s, "t": NOW - 86_000 + 20 * k, "value": 0.3, "unit": "MPa"} for s in sensors]


class HttpSender(threading.Thread):
    """Posts batch 0..BATCHES-1 in order, each until the server answers 200 (the acknowledgement)."""

    def __init__(self, post: Callable[[list[dict[str, object]]], int], pace_s: float) -> None:
        super().__init__(daemon=True)
        self.post, self.pace_s, self.acked, self.refused = post, pace_s, 0, 0

    def run(self) -> None:
        deadline = time.monotonic() + 180
        for k in range(BATCHES):
            while time.monotonic() < deadline:
                try:
                    if self.post(rows(k, HTTP_SENSORS)) == 200:
                        self.acked += 1
                        break
                    self.refused += 1  # 503 while the database is away: retry
                except httpx.TransportError:
                    self.refused += 1  # the server is down: retry
                time.sleep(0.05)
            time.sleep(self.pace_s)


def start_server(db: str, city: Path, port: int, prefix: str, client_id: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CITYLIFELINE_MQTT_URL": f"mqtt://{SHARED_BROKER[0]}:{SHARED_BROKER[1]}",
           "CITYLIFELINE_MQTT_TOPIC_PREFIX": prefix, "CITYLIFELINE_MQTT_CLIENT_ID": client_id}
    proc = subprocess.Popen([sys.executable, "-m", "citylifeline.cli", "serve", "--db", db, "--city", str(city),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status = HTTP.get(f"http://127.0.0.1:{port}/api/v1/status", timeout=2).json()
            if status["mqtt"]["connected"]:
                return proc
        except (httpx.TransportError, KeyError, TypeError):
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the server did not start and connect to the broker")


def assert_all_stored_once(db: str) -> None:
    store = open_store(db)
    try:
        reg = {s: i for i, s in enumerate(store.sensor_ids())}
        want = sorted(round((NOW - 86_000 + 20 * k) * 1000) for k in range(BATCHES))
        for s in MQTT_SENSORS + HTTP_SENSORS:
            got = store.readings(reg[s], 0, 2**62).t_ms.tolist()
            assert got == want, f"{s}: {len(got)} stored of {BATCHES}"
        assert store.count_readings() == BATCHES * 4
    finally:
        store.close()


def test_sigkill_mid_stream_over_mqtt_and_http_loses_nothing_acknowledged(store_location: str, city_dir: Path) -> None:
    port = free_port()
    with mqtt_names() as (prefix, client_id):
        proc = start_server(store_location, city_dir, port, prefix, client_id)
        http = HttpSender(lambda body: HTTP.post(f"http://127.0.0.1:{port}/api/v1/readings",
                                                  json={"readings": body}, timeout=10).status_code, 0.01)
        pub = publisher(*SHARED_BROKER)
        acked: set[int] = set()
        pub.on_publish = lambda c, u, mid, rc, props: acked.add(mid)
        http.start()
        try:
            mids = []
            for k in range(BATCHES):
                mids.append(pub.publish(f"{prefix}/gateway/g-1", json.dumps({"readings": rows(k, MQTT_SENSORS)}),
                                        qos=1).mid)
                if k == BATCHES // 3:
                    proc.send_signal(signal.SIGKILL)  # mid-stream: no shutdown, no final checkpoint
                    proc.wait(30)
                    time.sleep(0.5)
                    proc = start_server(store_location, city_dir, port, prefix, client_id)
                time.sleep(0.01)
            http.join(180)
            deadline = time.monotonic() + 60
            while not (set(mids) <= acked and _count(port) == BATCHES * 4) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert set(mids) <= acked, "the broker did not acknowledge every message"
            assert http.acked == BATCHES and http.refused > 0  # the kill was felt
        finally:
            pub.disconnect()
            pub.loop_stop()
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    assert_all_stored_once(store_location)


def _stored(engine: Engine) -> int:
    try:
        return engine.store.count_readings()
    except StoreError:  # the database is still coming back
        return -1


def _count(port: int) -> int:
    try:
        return int(HTTP.get(f"http://127.0.0.1:{port}/api/v1/status", timeout=5).json()["readings"])
    except (httpx.TransportError, KeyError):
        return -1


def test_the_database_stopped_and_started_mid_stream_loses_nothing_acknowledged(city_dir: Path) -> None:
    config = Config.load(environ={}, city=str(city_dir), correlate_radius_m=1000.0,
                         admin_token=ADMIN_TOKEN, rate_limit_per_s=0.0)
    pg = Postgres()
    pg.start()
    try:
        with mqtt_names() as (prefix, client_id):
            engine = Engine(config.with_(db=pg.url, mqtt_url=f"mqtt://{SHARED_BROKER[0]}:{SHARED_BROKER[1]}",
                                         mqtt_topic_prefix=prefix, mqtt_client_id=client_id))
            with TestClient(create_app(engine), headers=AUTH) as client:
                assert engine.mqtt.connected.wait(15)
                http = HttpSender(lambda body: client.post("/api/v1/readings", json={"readings": body}).status_code,
                                  0.01)
                pub = publisher(*SHARED_BROKER)
                http.start()
                for k in range(BATCHES):
                    pub.publish(f"{prefix}/gateway/g-1", json.dumps({"readings": rows(k, MQTT_SENSORS)}), qos=1)
                    if k == BATCHES // 3:
                        pg.stop()  # a fast shutdown cuts every connection
                        time.sleep(2.0)
                        pg.start()
                    time.sleep(0.01)
                http.join(180)
                deadline = time.monotonic() + 60
                while _stored(engine) < BATCHES * 4 and time.monotonic() < deadline:
                    time.sleep(0.1)
                pub.disconnect()
                pub.loop_stop()
                assert http.acked == BATCHES and http.refused > 0  # the outage was felt, and retried
            assert_all_stored_once(pg.url)
    finally:
        pg.remove()
