"""The distributed mode: partitions of the city as Ray actors fed from NATS JetStream, over PostgreSQL.

One twin morning (a burst main, a gas leak, a frozen transmitter, late and duplicated deliveries)
is run once through the single-process pipeline and then on a local Ray cluster with 2 partition
workers; the incidents and tickets must be the same.  Then again, with one worker killed while it
works and restarted by Ray from its checkpoint.  The Ray cluster, the broker and the database are
real (127.0.0.1).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray

from citylifeline.batch import ReadingBatch
from citylifeline.city.bundle import CityBundle, load_city
from citylifeline.cluster import feed
from citylifeline.cluster.plan import make_plan
from citylifeline.errors import ConfigError
from citylifeline.pipeline import Pipeline
from citylifeline.settings import Config
from citylifeline.store.base import IncidentFilter
from citylifeline.store.embedded import EmbeddedStore
from citylifeline.twin.runner import simulate
from citylifeline.twin.scenario import scenario_from_dict
from citylifeline.warn.correlate import first_id
from tests.conftest import ADMIN_TOKEN, AUTH, PG_URL, free_port
from tests.services import SHARED_BROKER, mqtt_names, publisher

NATS_URL = "nats://127.0.0.1:4222"
INCIDENT_KEYS = ("lifeline", "level", "sensors", "assets", "t_first_ms", "t_last_ms", "event_count", "title",
                 "cleared_t_ms")
TICKET_KEYS = ("sensor_id", "fault", "state", "t_opened_ms", "t_closed_ms", "event_count")


# ---- the plan (no services) ------------------------------------------------------------------------
def test_units_are_dealt_evenly_and_never_split() -> None:
    reg = load_city("demo").sensors
    plan = make_plan(reg, 2)
    part = plan.partition_of(reg)
    sizes = np.bincount(part, minlength=2)
    assert sizes.sum() == len(reg) and abs(int(sizes[0]) - int(sizes[1])) <= 0.25 * len(reg)
    for lifeline in set(reg.layer):  # every sensor of a lifeline in one partition
        assert len({int(p) for p, ll in zip(part, reg.layer, strict=True) if ll == lifeline}) == 1
    by_both = make_plan(reg, 5, by="district+lifeline")
    assert len(by_both.units) == len(set(zip(reg.district, reg.layer, strict=True)))
    with pytest.raises(ConfigError, match="use 1 to 6 partitions"):
        make_plan(reg, 7)
    with pytest.raises(ConfigError, match="lifeline, district, district"):
        make_plan(reg, 2, by="street")


def test_partitions_number_their_records_apart() -> None:
    for n in (1, 2, 3, 7):
        seen: set[int] = set()
        for k in range(n):
            start = first_id(5, k, n)  # a store whose highest id is 4
            ids = range(start, start + 10 * n, n)
            assert start >= 5 and all((i - 1) % n == k for i in ids)
            assert not seen & set(ids)
            seen |= set(ids)


def test_a_batch_is_routed_to_its_units_subjects_whole() -> None:
    bundle = load_city("demo")
    plan = make_plan(bundle.sensors, 2)
    rng = np.random.default_rng(1)
    n = 5000
    batch = ReadingBatch.of(rng.integers(0, len(bundle.sensors), n), np.arange(n) * 1000 + 1_790_000_000_000,
                            rng.normal(size=n))
    messages = feed.Router(plan, bundle.sensors).split(batch, per_message=700)
    got = []
    for subject, body in messages:
        t = pa.ipc.open_stream(body).read_all()
        unit = int(subject.rsplit(".", 1)[1])
        assert subject == plan.subject(unit) and len(t) <= 700
        assert {bundle.sensors.layer[bundle.sensors.idx(s)] for s in t["sensor"].to_pylist()} == {plan.units[unit]}
        got += list(zip(t["sensor"].to_pylist(), t["t"].cast("int64").to_pylist(), t["value"].to_pylist(),
                        strict=True))
    want = list(zip([bundle.sensors.ids[i] for i in batch.sensor], batch.t_ms.tolist(), batch.value.tolist(),
                    strict=True))
    assert sorted(got) == sorted(want)



def test_refused_readings_travel_to_partition_0_as_columns_and_come_back_whole() -> None:
    from citylifeline.store.base import DeadLetter, DeadLetters

    bundle = load_city("demo")
    plan = make_plan(bundle.sensors, 2)
    letters = DeadLetters.build(3, source=["http:a", "", "mqtt:b"], reason=["r1", "r2", "r3\x00"], sensor="X-\ud800")
    subject, body = feed.dead_letter_message(plan, DeadLetters.concat([letters, [DeadLetter("", "whole", "body")]]))
    assert subject == plan.subject(plan.partition_of_unit.index(0))
    back = feed.read_dead_letters(body)
    assert isinstance(back, DeadLetters) and [d.reason for d in back] == ["r1", "r2", "r3\\x00", "whole"]
    assert {d.sensor for d in back[:3]} == {"X-\\ud800"} and back.with_source("nats")[1].source == "nats"
    assert feed.read_dead_letters(feed.encode(pa.array(["P-1"]), ReadingBatch.of([0], [0], [1.0]))) is None


# ---- a twin morning, in one process and on Ray -------------------------------------------------
@pytest.fixture(scope="module")
def morning() -> tuple[CityBundle, list[ReadingBatch]]:
    """The morning's deliveries, minute by minute, as batches of the demo city's sensor numbers."""
    bundle = load_city("demo")
    start_ms = int((time.time() - 86400) // 60 * 60_000)
    scenario = scenario_from_dict({
        "duration": "4h", "seed": 4, "start": "2026-03-24T03:00:00+08:00",
        "incidents": [{"type": "burst", "place": "water/junction/W-N1011", "start": "2h", "magnitude": 0.12},
                      {"type": "gas_leak", "place": "gas/junction/G-N1209", "start": "1h", "magnitude": 6.0}],
        "faults": [{"sensor": "WP-03", "type": "stuck", "start": "30min"}],
        "delivery": {"late_fraction": 0.01, "late_delay": "5min", "duplicate_fraction": 0.005}})
    run = simulate(scenario.shifted(start_ms), bundle).readings
    batch = ReadingBatch.of(bundle.sensors.lookup(run.sensor_id.tolist()), run.t_ms, run.value)
    minute = run.delivered_ms // (10 * 60_000)  # ten minutes of deliveries at a time
    cuts = [0, *(np.flatnonzero(np.diff(minute)) + 1).tolist(), len(minute)]
    return bundle, [batch.slice(a, b) for a, b in itertools.pairwise(cuts)]


def config() -> Config:
    """No checkpoint during the run (but at the start): a restarted worker re-detects all it committed."""
    return Config.load(environ={}, city="demo", rate_limit_per_s=0.0, checkpoint_interval_s=3600.0)


@pytest.fixture(scope="module")
def single(morning: tuple[CityBundle, list[ReadingBatch]], tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The single process's incidents and tickets."""
    bundle, batches = morning
    store = EmbeddedStore(str(tmp_path_factory.mktemp("single") / "one.duckdb"))
    pipeline = Pipeline(bundle, store, config())
    for b in batches:
        pipeline.ingest(b)
    incidents = [i.to_dict() for i in reversed(store.incidents(IncidentFilter(limit=10_000)))]
    tickets = [t.to_dict() for t in store.tickets(limit=10_000)]
    store.close()
    assert {"water", "gas"} <= {i["lifeline"] for i in incidents} and "WP-03" in [t["sensor_id"] for t in tickets]
    return incidents, tickets


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A private local Ray cluster of 2 CPUs for this module."""
    from citylifeline.cluster.cluster import start_ray

    start_ray("local", num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture
def cluster(morning: tuple[CityBundle, list[ReadingBatch]], local_ray: None) -> Iterator[Any]:
    """2 partition workers on their own PostgreSQL schemas and JetStream stream (removed afterwards)."""
    from citylifeline.cluster.cluster import Cluster

    cl = Cluster(replace(config(), db=PG_URL, nats_url=NATS_URL, cluster_schema=f"t_{uuid.uuid4().hex[:10]}",
                         admin_token=ADMIN_TOKEN), morning[0])
    try:
        yield cl.start("local")
    finally:
        if cl.actors:
            cl.stop()
        _remove(cl.plan.store_schema(0), cl.plan.store_schema(1), f"{cl.plan.schema}_front", stream=cl.plan.stream)


def _remove(*schemas: str, stream: str) -> None:
    import asyncio

    with psycopg.connect(PG_URL, autocommit=True) as con:
        for s in schemas:
            con.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")  # type: ignore[arg-type]

    async def drop() -> None:
        nc, js = await feed.connect(NATS_URL)
        try:
            await js.delete_stream(stream)
        finally:
            await nc.close()
    asyncio.run(drop())


def _same(got: tuple[list[dict[str, Any]], list[dict[str, Any]]],
          want: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    def incidents(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(({k: i[k] for k in INCIDENT_KEYS} for i in found), key=lambda i: (i["t_first_ms"], i["title"]))

    def tickets(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(({k: t[k] for k in TICKET_KEYS} for t in found),
                      key=lambda t: (t["t_opened_ms"], t["sensor_id"], t["fault"]))

    assert incidents(got[0]) == incidents(want[0])
    assert tickets(got[1]) == tickets(want[1])


def test_two_ray_workers_raise_the_same_incidents_as_one_process(
        cluster: Any, morning: tuple[CityBundle, list[ReadingBatch]], single: Any) -> None:
    for b in morning[1]:
        cluster.publish(b)
    status = cluster.drain()
    assert sum(s["readings"] for s in status) + sum(s["duplicates"] for s in status) == \
        sum(len(b) for b in morning[1])
    assert all(s["sensors"] > 0 and s["dead_letters"] == 0 for s in status)
    assert len({s["pid"] for s in status}) == 2  # two processes
    incidents = cluster.incidents()
    assert len({i["id"] for i in incidents}) == len(incidents)  # numbered apart
    _same((incidents, cluster.tickets()), single)
    # a person's action goes to the partition that owns the incident
    water = next(i for i in incidents if i["lifeline"] == "water")
    assert cluster.act(water["id"], "acknowledge", "duty officer").state == "acknowledged"


def test_a_worker_killed_mid_run_is_restarted_from_its_checkpoint_and_loses_nothing(
        cluster: Any, morning: tuple[CityBundle, list[ReadingBatch]], single: Any) -> None:
    batches = morning[1]
    water = cluster.plan.partition_of_unit[cluster.plan.units.index("water")]
    before = cluster.status()[water]
    half = len(batches) // 2
    for b in batches[:half]:
        cluster.publish(b)
    deadline = time.monotonic() + 60
    while cluster.status()[water]["readings"] == 0:  # it has committed some of it
        assert time.monotonic() < deadline
        time.sleep(0.01)
    cluster.kill(water)  # while it works through what it was sent
    for b in batches[half:]:
        cluster.publish(b)
    status = cluster.drain(timeout_s=180)
    assert status[water]["pid"] != before["pid"]  # a new process
    stored = sum(ray.get([a.stored.remote() for a in cluster.actors]))
    assert stored == len({(int(s), int(t)) for b in batches for s, t in zip(b.sensor, b.t_ms, strict=True)})
    assert status[water]["recovered_readings"] > 0  # committed before the kill, detected again after it
    _same((cluster.incidents(), cluster.tickets()), single)


def test_partitions_reduce_readings_older_than_retention_days_to_hourly_statistics(
        morning: tuple[CityBundle, list[ReadingBatch]], local_ray: None) -> None:
    from citylifeline.cluster.cluster import Cluster

    bundle, batches = morning
    old = batches[0]
    old = ReadingBatch.of(old.sensor, old.t_ms - 3 * 86_400_000, old.value)  # three days before the rest
    cl = Cluster(replace(config(), db=PG_URL, nats_url=NATS_URL, cluster_schema=f"t_{uuid.uuid4().hex[:10]}",
                         retention_days=1.0), bundle)
    try:
        cl.start("local")
        cl.publish(ReadingBatch.concat([old, batches[0]]))
        status = cl.drain()
        distinct = len({(int(s), int(t)) for s, t in zip(old.sensor, old.t_ms, strict=True)})
        assert sum(s["reduced_readings"] for s in status) == distinct
        assert all(s["reduced_readings"] > 0 for s in status)  # each partition its own
        assert sum(ray.get([a.stored.remote() for a in cl.actors])) == \
            len({(int(s), int(t)) for s, t in zip(batches[0].sensor, batches[0].t_ms, strict=True)})
        with psycopg.connect(PG_URL) as con:
            hourly = [con.execute(f"SELECT sum(n) FROM {cl.plan.store_schema(k)}.readings_hourly").fetchone()[0]
                      for k in range(cl.plan.n)]
        assert sum(hourly) == distinct
    finally:
        if cl.actors:
            cl.stop()
        _remove(*(cl.plan.store_schema(k) for k in range(cl.plan.n)), stream=cl.plan.stream)


def test_files_ingested_into_the_cluster_give_the_same_incidents_and_refusals_are_kept(
        cluster: Any, morning: tuple[CityBundle, list[ReadingBatch]], single: Any, tmp_path: Path) -> None:
    """``citylifeline ingest --cluster``: validated at the edge, published, stored and detected by the
    partitions; a refused row is kept as a dead letter by partition 0."""
    bundle, batches = morning
    ids = np.asarray(bundle.sensors.ids, dtype=object)
    files = []
    for j, b in enumerate(batches):  # one file per delivery, as a logger's uploads
        t = pa.table({"sensor": ids[b.sensor].tolist(), "t": (b.t_ms / 1000).tolist(), "value": b.value})
        if j == 0:
            t = pa.concat_tables([t, pa.table({"sensor": ["NO-SUCH-1"], "t": [float(b.t_ms[0]) / 1000],
                                               "value": [1.0]})])
        files.append(tmp_path / f"{j:03d}.parquet")
        pq.write_table(t, files[-1])
    env = {**os.environ, "CITYLIFELINE_DB": PG_URL, "CITYLIFELINE_NATS_URL": NATS_URL,
           "CITYLIFELINE_CLUSTER_SCHEMA": cluster.plan.schema, "CITYLIFELINE_CLUSTER_PARTITIONS": "2"}
    out = subprocess.run([sys.executable, "-m", "citylifeline.cli", "ingest", "--cluster", "local",
                          *map(str, files)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stderr  # one row refused
    assert "1 refused" in out.stdout and "NO-SUCH-1" in out.stdout
    cluster.drain()
    _same((cluster.incidents(), cluster.tickets()), single)
    with psycopg.connect(PG_URL) as con:
        letters = con.execute(f"SELECT sensor, reason FROM {cluster.plan.store_schema(0)}.dead_letters").fetchall()
    assert [r[0] for r in letters] == ["NO-SUCH-1"] and "NO-SUCH-1" in letters[0][1]


# ---- the front: the API, WebSocket and dashboard over the partitions --------------------------------
def _arrow(bundle: CityBundle, b: ReadingBatch) -> bytes:
    ids = np.asarray(bundle.sensors.ids, dtype=object)
    table = pa.table({"sensor": ids[b.sensor].tolist(), "t": b.t_ms / 1000, "value": b.value})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


class Listening:
    """A WebSocket client's messages, gathered on a thread (so a missing message fails, not hangs)."""

    def __init__(self, ws: Any) -> None:
        import threading

        self.ws, self.messages = ws, []  # type: ignore[var-annotated]
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        import anyio
        from starlette.websockets import WebSocketDisconnect

        with contextlib.suppress(WebSocketDisconnect, anyio.ClosedResourceError):  # the client has gone
            while True:
                self.messages.append(self.ws.receive_json())

    def wait_for(self, found: Any, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while not found(self.messages):
            assert time.monotonic() < deadline, f"not pushed within {timeout_s} s: {self.messages[-3:]}"
            time.sleep(0.05)
        return self.messages


def test_the_api_websocket_and_map_over_a_cluster_show_what_the_partitions_found(
        cluster: Any, morning: tuple[CityBundle, list[ReadingBatch]], single: Any) -> None:
    """``serve --cluster``'s front: readings POSTed to it reach the partitions through the broker; the
    incidents, tickets, evidence and sensor states it serves are theirs, pushed over the WebSocket;
    an action goes to the partition that owns the incident; a gateway's MQTT message too."""
    from citylifeline.cluster.front import front_engine

    broker = f"mqtt://{SHARED_BROKER[0]}:{SHARED_BROKER[1]}"
    with mqtt_names() as (prefix, client_id):
        engine = front_engine(cluster, replace(cluster.config, mqtt_url=broker, mqtt_topic_prefix=prefix,
                                               mqtt_client_id=client_id))
        _front(engine, cluster, morning, single, prefix)


def _front(engine: Any, cluster: Any, morning: tuple[CityBundle, list[ReadingBatch]], single: Any,
           prefix: str) -> None:
    from fastapi.testclient import TestClient

    from citylifeline.api import create_app

    bundle, batches = morning
    reg = engine.registry
    with TestClient(create_app(engine), headers=AUTH) as c, c.websocket_connect("/api/v1/ws") as ws:
        hello = ws.receive_json()
        assert hello == {"type": "hello", "incidents": []}
        heard = Listening(ws)
        for b in batches:  # a gateway's uploads, as Arrow streams
            r = c.post("/api/v1/readings", content=_arrow(bundle, b),
                       headers={"content-type": "application/vnd.apache.arrow.stream"})
            assert r.status_code == 200 and r.json()["stored"] == len(b), r.text
        r = c.post("/api/v1/readings", json={"readings": [{"sensor": "NO-SUCH-1", "t": time.time() - 60,
                                                           "value": 1.0}]})
        assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("sensor")
        cluster.drain()
        want = {i["id"]: i for i in cluster.incidents()}
        incidents = c.get("/api/v1/incidents", params={"limit": 5000}).json()
        assert {i["id"] for i in incidents} == set(want)
        tickets = c.get("/api/v1/tickets").json()
        _same((incidents, tickets), single)
        assert all(t["sensor"] == reg.idx(t["sensor_id"]) for t in tickets)  # the city's sensor numbers
        pushed = heard.wait_for(lambda ms: {m["incident"]["id"] for m in ms if m["type"] == "incident"} >= set(want)
                                and {m["ticket"]["sensor_id"] for m in ms if m["type"] == "ticket"} >= {"WP-03"})
        assert {m["ticket"]["sensor_id"] for m in pushed if m["type"] == "ticket"} >= {"WP-03"}

        water = next(i for i in incidents if i["lifeline"] == "water")
        detail = c.get(f"/api/v1/incidents/{water['id']}").json()
        assert [e["sensor"]["id"] for e in detail["evidence"]] == water["sensors"]
        assert all(len(e["t"]) > 10 for e in detail["evidence"])  # the readings around it, from its partition
        assert detail["events"] and {e["sensor_id"] for e in detail["events"]} <= set(water["sensors"])
        assert all(e["sensor"] == reg.idx(e["sensor_id"]) for e in detail["events"])
        assert detail["timeline"][0]["incident_id"] == water["id"]

        r = c.post(f"/api/v1/incidents/{water['id']}/actions", json={"action": "acknowledge", "actor": "Wang"})
        assert r.status_code == 200 and r.json()["state"] == "acknowledged", r.text
        assert cluster.read(None, "incident", water["id"])[cluster.plan.partition_of_unit[
            cluster.plan.units.index("water")]].state == "acknowledged"  # saved by the partition that owns it
        heard.wait_for(lambda ms: any(m["type"] == "incident" and m["incident"]["id"] == water["id"]
                                      and m["incident"]["state"] == "acknowledged" for m in ms))
        timeline = c.get(f"/api/v1/incidents/{water['id']}").json()["timeline"]
        assert timeline[-1]["action"] == "acknowledge" and timeline[-1]["actor"] == "Wang (admin)"
        assert c.post(f"/api/v1/incidents/{water['id']}/actions", json={"action": "archive"}).status_code == 409

        held = {}  # the levels the partitions' threshold detectors hold, all readings drained
        for k, actor in enumerate(cluster.actors):
            view = ray.get(actor.view.remote(0, -1))
            held |= {sid: int(v) for sid, v in zip(cluster.read(k, "sensor_ids")[0], view["levels"], strict=True) if v}
        end_ms = max(int(b.t_ms.max()) for b in batches)
        deadline = time.monotonic() + 30  # the map: each sensor's state, from its partition's detectors
        while True:  # the front polls the partitions one by one: wait for its poll after the last of them
            states = c.get("/api/v1/sensor-states").json()
            by_id = dict(zip(states["sensor"], states["state"], strict=True))
            shown = {sid: v for sid, v in by_id.items() if v in (1, 2, 3, 4)}
            if (states["now_ms"] == end_ms and shown == held) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert states["now_ms"] == end_ms
        assert len(by_id) == int(reg.active.sum()) and sum(t is not None for t in states["t"]) > 0.9 * len(by_id)
        assert by_id["WP-03"] == 5  # fault: its ticket is open
        assert held and shown == held
        stuck = next(t for t in tickets if t["sensor_id"] == "WP-03" and t["state"] == "open")
        r = c.post(f"/api/v1/tickets/{stuck['id']}/close", json={"note": "transmitter replaced"})
        assert r.status_code == 200 and r.json()["state"] == "closed" and r.json()["sensor"] == reg.idx("WP-03")
        r = c.post("/api/v1/works", json={"asset": "water/pipe/WP-N0000E", "start": time.time() - 60})
        assert r.status_code == 201, r.text  # kept at the front, and given to every partition's analysts
        assert [o["id"] for o in c.get("/api/v1/works").json()] == [r.json()["id"]]

        status = c.get("/api/v1/status").json()
        stored = sum(ray.get([a.stored.remote() for a in cluster.actors]))
        assert status["readings"] == stored and status["active_incidents"] == sum(
            1 for i in cluster.incidents() if i["state"] in ("new", "acknowledged", "dispatched", "handling"))
        letters = c.get("/api/v1/dead-letters").json()
        assert letters[0]["sensor"] == "NO-SUCH-1" and letters[0]["source"].startswith("http:")
        assert "server.start" in [e["action"] for e in c.get("/api/v1/audit").json()]  # the front's own schema
        water_log = f"p{cluster.plan.partition_of_unit[cluster.plan.units.index('water')]}"
        acted = [e for e in c.get("/api/v1/audit", params={"log": water_log}).json()
                 if e["action"] == "incident.acknowledge"]  # kept with the incident, by the partition
        assert [(e["target"], e["actor"], e["role"]) for e in acted] == [
            (f"incident/{water['id']}", "Wang (admin)", "admin")]
        verified = c.get("/api/v1/audit/verify").json()
        assert verified["intact"] and [x["log"] for x in verified["logs"]] == ["", "p0", "p1"]
        assert all(x["intact"] for x in verified["logs"])
        assert {x["log"]: x["entries"] for x in verified["logs"]}[water_log] >= len(acted)
        assert verified["entries"] == sum(x["entries"] for x in verified["logs"])
        assert "the logs kept are '', 'p0', 'p1'" in c.get("/api/v1/audit", params={"log": "p2"}).json()["detail"]
        assert c.get("/").status_code == 200  # the dashboard itself

        # a gateway over MQTT: validated at the front, published, stored by each sensor's partition (a
        # minute after the newest reading of each partition)
        assert engine.mqtt.connected.wait(15), "the front did not connect to the broker"
        last = ReadingBatch.concat(batches)
        part = cluster.plan.partition_of(reg)[last.sensor]
        on = [int(np.flatnonzero(part == k)[np.argmax(last.t_ms[part == k])]) for k in range(cluster.plan.n)]
        body = {"readings": [{"sensor": reg.ids[int(last.sensor[i])], "t": float(last.t_ms[i]) / 1000 + 60,
                              "value": float(last.value[i])} for i in on]}
        pub = publisher(*SHARED_BROKER)
        try:
            pub.publish(f"{prefix}/gateway/g-1", orjson.dumps(body), qos=1).wait_for_publish(30)
        finally:
            pub.disconnect()
            pub.loop_stop()
        deadline = time.monotonic() + 30
        while engine.mqtt.status()["messages_acked"] < 1:
            assert time.monotonic() < deadline, engine.mqtt.status()
            time.sleep(0.05)
        cluster.drain()
        assert sum(ray.get([a.stored.remote() for a in cluster.actors])) == stored + len(on)
        for i in on:
            got = c.get("/api/v1/readings", params={"sensor": reg.ids[int(last.sensor[i])],
                                                     "start": int(last.t_ms[i]) // 1000}).json()
            assert (got["t"][-1], got["value"][-1]) == (int(last.t_ms[i]) + 60_000, float(last.value[i])), got


def test_serve_cluster_starts_the_partitions_on_ray_serves_the_api_and_stops_them_on_interrupt() -> None:
    schema, port = f"t_{uuid.uuid4().hex[:10]}", free_port()
    env = {**os.environ, "CITYLIFELINE_DB": PG_URL, "CITYLIFELINE_NATS_URL": NATS_URL,
           "CITYLIFELINE_CLUSTER_SCHEMA": schema}
    proc = subprocess.Popen([sys.executable, "-m", "citylifeline.cli", "serve", "--cluster", "local",
                             "--partitions", "3", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("started on Ray") or len(lines) > 200:
                break
        text = "".join(lines)
        assert "3 partitions by lifeline" in text and "started on Ray (local)" in text, text
        assert all(f"schema {schema}_p{k}" in text for k in range(3))
        deadline = time.monotonic() + 60
        while True:  # the front answers once uvicorn is up
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/status", headers=AUTH, timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["sensors"] == len(load_city("demo").sensors), r.text
        assert r.json()["readings"] == 0 and r.json()["active_incidents"] == 0
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 130  # interrupted, after stopping the workers: each checkpointed
        with psycopg.connect(PG_URL) as con:
            assert all(con.execute(f"SELECT count(*) FROM {schema}_p{k}.checkpoints").fetchone()[0] > 0  # type: ignore[index]
                       for k in range(3))
    finally:
        if proc.poll() is None:
            proc.kill()
        _remove(*(f"{schema}_p{k}" for k in range(3)), f"{schema}_front", stream=f"{schema.upper()}_READINGS")
