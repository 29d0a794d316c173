"""Nothing acknowledged is lost: a server killed with SIGKILL restarts with every acknowledged
reading and incident, and detection resumes where it stopped without applying anything twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from citylifeline.batch import ReadingBatch
from citylifeline.city import CityBundle
from citylifeline.pipeline import Pipeline
from citylifeline.settings import Config
from citylifeline.store import IncidentFilter, open_store
from tests.conftest import HTTP, free_port

NOW = time.time()


def start_server(db: str, city: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CITYLIFELINE_CORRELATE_RADIUS_M": "1000"}
    proc = subprocess.Popen([sys.executable, "-m", "citylifeline.cli", "serve", "--db", db, "--city", str(city),
                             "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if HTTP.get(f"http://127.0.0.1:{port}/api/v1/status", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"server did not start: {proc.stdout.read() if proc.stdout else ''!r}")


def poll(fetch: Callable[[], list[Any]], timeout_s: float = 30.0) -> list[Any]:
    """``fetch()`` once it returns a non-empty list (detection runs after the acknowledgement, so it
    may lag on a loaded machine); fails after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not (got := fetch()):
        assert time.monotonic() < deadline, f"nothing after {timeout_s} s"
        time.sleep(0.05)
    return got


def rows(minute0: int, n: int, value: float) -> list[dict[str, Any]]:
    return [{"sensor": s, "t": NOW - 7200 + 60 * (minute0 + k), "value": value + 0.001 * (k % 3), "unit": "MPa"}
            for k in range(n) for s in ("P-1", "P-2")]


def test_sigkill_loses_no_acknowledged_reading_or_incident(store_location: str, city_dir: Path) -> None:
    db, port = store_location, free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(db, city_dir, port)
    acked = 0
    try:
        for b in range(20):  # 20 acknowledged batches; P-1 and P-2 fall to level II from batch 10
            r = HTTP.post(f"{url}/api/v1/readings", json={"readings": rows(b * 3, 3, 0.3 if b < 10 else 0.13)})
            assert r.status_code == 200
            acked += r.json()["stored"]
        found = poll(lambda: HTTP.get(f"{url}/api/v1/incidents").json())
        incident = found[0]
        assert incident["level"] == "II"
        r = HTTP.post(f"{url}/api/v1/incidents/{incident['id']}/actions",
                       json={"action": "acknowledge", "actor": "li"})
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    proc = start_server(db, city_dir, port)
    try:
        status = HTTP.get(f"{url}/api/v1/status").json()
        assert status["readings"] == acked == 120
        after = HTTP.get(f"{url}/api/v1/incidents/{incident['id']}").json()
        assert after["incident"]["state"] == "acknowledged"
        assert after["incident"]["event_count"] == incident["event_count"]
        assert [t["action"] for t in after["timeline"]][-1] == "acknowledge"
        r = HTTP.post(f"{url}/api/v1/readings", json={"readings": rows(60, 5, 0.09)})  # now level I
        assert r.status_code == 200
        raised = poll(lambda: [i for i in HTTP.get(f"{url}/api/v1/incidents").json() if i["level"] == "I"])
        assert [i["id"] for i in raised] == [incident["id"]]  # the same incident, raised
        assert len(HTTP.get(f"{url}/api/v1/incidents").json()) == 1
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)


def test_readings_committed_but_not_yet_detected_are_detected_after_a_crash(
        tmp_path: Path, bundle: CityBundle, config: Config) -> None:
    t = 1_790_000_000_000 + np.arange(30, dtype=np.int64) * 60_000
    v = np.where(np.arange(30) < 10, 300e3, 130e3) + (np.arange(30) % 4) * 10
    b = ReadingBatch.of(np.zeros(30), t, v)
    store = open_store(config.db)
    p = Pipeline(bundle, store, config)
    p.append(b)  # acknowledged, then the process dies before detection
    store.close()
    store = open_store(config.db)
    p = Pipeline(bundle, store, config)
    incs = store.incidents(IncidentFilter())
    assert len(incs) == 1 and incs[0].level == 3
    events = len(store.events(limit=1000))
    store.close()
    store = open_store(config.db)
    Pipeline(bundle, store, config)  # recovering again applies nothing twice
    assert len(store.events(limit=1000)) == events
    assert store.incidents(IncidentFilter())[0].event_count == incs[0].event_count
    store.close()


def test_detection_after_a_crash_without_checkpoint_does_not_double_count(
        tmp_path: Path, bundle: CityBundle, config: Config) -> None:
    lazy = config.with_(checkpoint_interval_s=1e9)
    t = 1_790_000_000_000 + np.arange(60, dtype=np.int64) * 60_000
    v = np.where((np.arange(60) // 10) % 2 == 1, 130e3, 300e3) + (np.arange(60) % 4) * 10
    store = open_store(config.db)
    p = Pipeline(bundle, store, lazy)
    for k in range(0, 60, 10):
        p.ingest(ReadingBatch.of(np.zeros(10), t[k:k + 10], v[k:k + 10]))
    before = [(e.sensor, e.t_ms, e.kind, e.active) for e in store.events(limit=1000)]
    inc = store.incidents(IncidentFilter())[0]
    store.close()  # no checkpoint was saved: a restart re-runs every commit
    store = open_store(config.db)
    Pipeline(bundle, store, lazy)
    assert [(e.sensor, e.t_ms, e.kind, e.active) for e in store.events(limit=1000)] == before
    assert store.incidents(IncidentFilter()) == [inc]
    store.close()
