"""The REST/WebSocket API in-process: readings in and out, bad input, incidents and their actions."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citylifeline.api import create_app
from citylifeline.engine import Engine
from tests.conftest import AUTH

NOW = time.time()


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, manage_engine=False), headers=AUTH) as c:
        yield c


def readings(sensor: str = "P-1", n: int = 30, start: float = NOW - 3600, value: float = 0.3,
             unit: str | None = "MPa") -> list[dict[str, Any]]:
    out = []
    for k in range(n):
        r: dict[str, Any] = {"sensor": sensor, "t": start + 60 * k, "value": value + 0.001 * (k % 5)}
        if unit:
            r["unit"] = unit
        out.append(r)
    return out


def post(client: TestClient, rows: list[dict[str, Any]]) -> Any:
    return client.post("/api/v1/readings", json={"readings": rows})


def test_readings_round_trip_with_unit_conversion(client: TestClient) -> None:
    other = {"sensor": "P-2", "t": "2026-01-05T08:00:00+08:00", "value": 30.5, "unit": "mH2O"}
    r = post(client, [*readings(n=10), other])
    assert r.status_code == 200, r.text
    assert r.json() | {"errors": []} == {"received": 11, "stored": 11, "duplicates": 0, "rejected": 0,
                                         "detail": "", "errors": []}
    got = client.get("/api/v1/readings", params={"sensor": "P-1", "start": NOW - 7200, "end": NOW + 1}).json()
    assert got["unit"] == "Pa" and got["display_unit"] == "MPa"
    assert got["value"][:3] == [300000.0, 301000.0, 302000.0]
    assert got["t"][0] == round((NOW - 3600) * 1000)
    p2 = client.get("/api/v1/readings", params={"sensor": "P-2", "start": "2026-01-05T00:00:00Z",
                                                 "end": "2026-01-06T00:00:00Z"}).json()
    assert p2["t"] == [1767571200000] and p2["value"] == [pytest.approx(30.5 * 9806.65)]
    latest = {row["sensor"]: row for row in client.get("/api/v1/readings/latest").json()}
    assert latest["P-1"]["value"] == 304000.0 and latest["P-2"]["unit"] == "Pa"


def test_reposting_the_same_batch_changes_nothing(client: TestClient, engine: Engine) -> None:
    rows = readings(n=20)
    assert post(client, rows).json()["stored"] == 20
    before = (engine.store.count_readings(), client.get("/api/v1/events").json())
    again = post(client, rows).json()
    assert (again["stored"], again["duplicates"]) == (0, 20)
    assert (engine.store.count_readings(), client.get("/api/v1/events").json()) == before


BAD = [
    ({"sensor": "P-9", "t": NOW, "value": 1.0}, "readings[0].sensor", "not a registered sensor"),
    ({"sensor": "p-far", "t": NOW, "value": 1.0}, "readings[0].sensor", "did you mean 'P-FAR'"),
    ({"sensor": "P-FRA", "t": NOW, "value": 1.0}, "readings[0].sensor", "did you mean 'P-FAR'"),
    ({"sensor": 7, "t": NOW, "value": 1.0}, "readings[0].sensor", "non-empty string"),
    ({"sensor": "P-1", "t": NOW, "value": "0.3"}, "readings[0].value", "not a number"),
    ({"sensor": "P-1", "t": NOW, "value": None}, "readings[0].value", "missing"),
    ({"sensor": "P-1", "t": NOW, "value": True}, "readings[0].value", "not a number"),
    ("1e400", "readings[0].value", "not a finite number"),
    ({"sensor": "P-1", "t": "yesterday", "value": 1.0}, "readings[0].t", "not a time"),
    ({"sensor": "P-1", "t": "2026-11-23T10:00:00", "value": 1.0}, "readings[0].t", "no UTC offset"),
    ({"sensor": "P-1", "t": NOW + 86400, "value": 1.0}, "readings[0].t", "in the future"),
    ({"sensor": "P-1", "t": NOW * 1000, "value": 1.0}, "readings[0].t", "looks like milliseconds"),
    ({"sensor": "P-1", "t": 0, "value": 1.0}, "readings[0].t", "clock is probably not set"),
    ({"sensor": "P-1", "value": 1.0}, "readings[0].t", "missing"),
    ({"sensor": "P-1", "t": NOW, "value": 1.0, "unit": "m3/h"}, "readings[0].unit", "not a pressure unit"),
    ({"sensor": "P-1", "t": NOW, "value": 1.0, "ts": NOW}, "readings[0].ts", "unknown field"),
    ("P-1,1,2", "readings[0]", "not an object"),
]


@pytest.mark.parametrize(("row", "field", "words"), BAD, ids=[b[2] + ":" + b[1] for b in BAD])
def test_each_bad_reading_is_refused_naming_field_value_and_fix(client: TestClient, engine: Engine, row: Any,
                                                                 field: str, words: str) -> None:
    good = readings(n=3)
    if row == "1e400":  # not expressible through the JSON encoder: send the text as a device would
        body = f'{{"readings": [{{"sensor": "P-1", "t": {NOW!r}, "value": 1e400}}, ' + \
            ", ".join(json.dumps(g) for g in good) + "]}"
        r = client.post("/api/v1/readings", content=body.encode(), headers={"content-type": "application/json"})
    else:
        r = post(client, [row, *good])
    assert r.status_code == 422
    body = r.json()
    assert (body["received"], body["stored"], body["rejected"]) == (4, 3, 1)  # the good ones are kept
    err = body["errors"][0]
    assert err["field"] == field and err["index"] == 0 and words in err["message"]
    assert field in err["message"]
    assert any(w in err["message"] for w in ("send", "use", "add", "set", "register", "check", "did you mean"))
    dead = client.get("/api/v1/dead-letters").json()
    assert dead[0]["field"] == field and words in dead[0]["reason"]


@pytest.mark.parametrize(("body", "status", "words"), [
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "'readings' list"),
    (b'{"readings": []}', 400, "non-empty list"),
    (b'{"readings": {"sensor": "P-1"}}', 400, "non-empty list"),
])
def test_malformed_payloads_are_refused_whole(client: TestClient, body: bytes, status: int, words: str) -> None:
    r = client.post("/api/v1/readings", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and words in r.json()["detail"] and r.json()["field"]
    dead = client.get("/api/v1/dead-letters").json()[0]
    assert words in dead["reason"] and dead["payload"] == body.decode()


def test_oversize_payloads_are_refused_with_the_limit(engine: Engine) -> None:
    small = engine.config.with_(max_batch_readings=5, max_payload_bytes=2000)
    engine.config = small
    try:
        with TestClient(create_app(engine, manage_engine=False), headers=AUTH) as c:
            r = post(c, readings(n=6, unit=None))
            assert r.status_code == 413 and "limit is 5" in r.json()["detail"]
            r = c.post("/api/v1/readings", content=b" " * 3000, headers={"content-type": "application/json"})
            assert r.status_code == 413 and "2000" in r.json()["detail"]
    finally:
        engine.config = small.with_(max_batch_readings=200_000, max_payload_bytes=16 * 1024 * 1024)


def breach(client: TestClient) -> int:
    rows = readings(n=10, value=0.3) + readings(n=10, start=NOW - 3000, value=0.13)
    assert post(client, rows).status_code == 200
    for _ in range(100):
        incs = client.get("/api/v1/incidents", params={"active": "true"}).json()
        if incs:
            return int(incs[0]["id"])
        time.sleep(0.05)
    raise AssertionError("no incident")


def test_incident_detail_and_lifecycle_over_http(client: TestClient) -> None:
    iid = breach(client)
    d = client.get(f"/api/v1/incidents/{iid}").json()
    assert d["incident"]["level"] == "II" and d["incident"]["colour"] == "orange"
    assert d["allowed_actions"] == ["acknowledge", "false_alarm", "comment"]
    assert any("below the level II" in e["message"] for e in d["events"])
    assert d["evidence"][0]["sensor"]["id"] == "P-1" and len(d["evidence"][0]["t"]) == 20
    assert d["evidence"][0]["sensor"]["low"]["II"] == 150000.0
    assert d["nearby_places"] and all(p["distance_m"] <= 1000 for p in d["nearby_places"])
    r = client.post(f"/api/v1/incidents/{iid}/actions", json={"action": "resolve", "actor": "li", "text": "x"})
    assert r.status_code == 409 and "allowed: acknowledge" in r.json()["detail"]
    r = client.post(f"/api/v1/incidents/{iid}/actions", json={"action": "dispatch", "actor": "li"})
    assert r.status_code == 409
    steps = [{"action": "acknowledge"}, {"action": "dispatch", "assignee": "crew 7"}, {"action": "start"},
             {"action": "resolve", "text": "joint leak repaired"}, {"action": "archive"}]
    for step in steps:
        r = client.post(f"/api/v1/incidents/{iid}/actions", json={"actor": "zhang", **step})
        assert r.status_code == 200, r.text
    timeline = client.get(f"/api/v1/incidents/{iid}").json()["timeline"]
    assert [t["action"] for t in timeline if t["actor"] == "zhang (admin)"] == [s["action"] for s in steps]
    assert timeline[-1]["to_state"] == "archived" and timeline[-1]["source"] == "testclient"
    r = client.post(f"/api/v1/incidents/{iid}/actions", json={"action": "bogus", "actor": "li"})
    assert r.status_code == 422 and "action" in r.json()["field"]
    assert client.get("/api/v1/incidents/999").status_code == 404


def test_websocket_pushes_incident_changes(client: TestClient) -> None:
    with client.websocket_connect("/api/v1/ws") as ws:
        assert ws.receive_json() == {"type": "hello", "incidents": []}
        iid = breach(client)
        msg = ws.receive_json()
        while msg["incident"]["id"] != iid:
            msg = ws.receive_json()
        assert msg["type"] == "incident" and msg["incident"]["state"] == "new"
        client.post(f"/api/v1/incidents/{iid}/actions", json={"action": "acknowledge", "actor": "li"})
        while True:
            msg = ws.receive_json()
            if msg["type"] == "incident" and msg["incident"]["state"] == "acknowledged":
                break


def test_city_endpoints(client: TestClient) -> None:
    layers = client.get("/api/v1/layers").json()
    names = {layer["name"]: layer for layer in layers["layers"]}
    assert names["water"]["assets"] == 216 and names["places"]["assets"] == 15
    lon0, lat0, lon1, lat1 = names["water"]["bounds"]
    assert 117.0 < lon0 < lon1 < 117.5 and 31.5 < lat0 < lat1 < 32.0
    gj = client.get("/api/v1/layers/water").json()
    kinds = {f["properties"]["kind"] for f in gj["features"]}
    assert {"junction", "pipe", "tank", "reservoir", "pump"} <= kinds
    sensors = client.get("/api/v1/sensors").json()
    assert {s["id"] for s in sensors} == {"P-1", "P-2", "P-3", "P-FAR", "F-1", "L-1"}
    one = client.get("/api/v1/sensors/F-1").json()
    assert one["asset"] == "water/pipe/20" and one["high"]["I"] == pytest.approx(800 / 3600)
    assert client.get("/api/v1/sensors/NOPE").status_code == 404
    assert client.get("/api/v1/layers/sky").status_code == 404
    page = client.get("/")
    assert page.status_code == 200 and "/static/js/main.js" in page.text and "/vendor/leaflet/leaflet.js" in page.text
    assert client.get("/vendor/leaflet/leaflet.js").status_code == 200  # installed by npm, served locally
    assert client.get("/plain").status_code == 200 and "CityLifeline" in client.get("/plain").text
    spec = client.get("/openapi.json").json()
    assert "/api/v1/readings" in spec["paths"] and "/api/v1/incidents/{incident_id}/actions" in spec["paths"]
    docs = client.get("/docs").text
    assert "cdn" not in docs.lower() and "swagger-ui-bundle.js" in docs


def test_a_stuck_sensor_gets_a_ticket_that_maintenance_closes(client: TestClient) -> None:
    rows = readings(sensor="P-2", n=20) + [{"sensor": "P-2", "t": NOW - 3600 + 60 * k, "value": 0.31, "unit": "MPa"}
                                           for k in range(20, 40)]
    assert post(client, rows).status_code == 200
    for _ in range(100):
        tickets = client.get("/api/v1/tickets", params={"state": "open"}).json()
        if tickets:
            break
        time.sleep(0.05)
    assert [(t["sensor_id"], t["fault"]) for t in tickets] == [("P-2", "stuck")]
    assert client.get("/api/v1/incidents").json() == []  # a fault is not an incident
    tid = tickets[0]["id"]
    r = client.post(f"/api/v1/tickets/{tid}/close", json={"actor": "maint Wu", "note": "transmitter replaced"})
    assert r.status_code == 200 and r.json()["state"] == "closed" and "transmitter replaced" in r.json()["note"]
    assert client.post(f"/api/v1/tickets/{tid}/close", json={"actor": "maint Wu"}).status_code == 404
    assert client.get("/api/v1/tickets", params={"state": "open"}).json() == []


def test_readings_past_retention_come_back_as_hourly_statistics(client: TestClient, engine: Engine) -> None:
    assert post(client, readings(n=180, start=NOW - 3 * 86_400, value=0.3)).json()["stored"] == 180  # 3 days ago
    post(client, readings(n=5, start=NOW - 600, value=0.3))
    engine.config = engine.config.with_(retention_days=1.0)
    engine.flush(30)  # the store thread's next turn runs the retention, due at once
    assert engine.store.count_readings() == 5
    body = client.get("/api/v1/readings/hourly", params={"sensor": "P-1"}).json()
    assert body["unit"] == "Pa" and sum(body["n"]) == 180 and 3 <= len(body["hour_ms"]) <= 4
    assert all(3.0e5 <= m <= 3.04e5 for m in body["mean"])  # 0.300-0.304 MPa
    assert len(client.get("/api/v1/readings", params={"sensor": "P-1", "start": NOW - 4 * 86_400}).json()["t"]) == 5


def arrow_body(columns: dict[str, Any]) -> bytes:
    """An Arrow IPC stream of ``columns``, as a gateway writes it with pyarrow."""
    import pyarrow as pa

    table = pa.table(columns)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=2)  # several record batches in one stream
    return bytes(sink.getvalue().to_pybytes())


ARROW = {"content-type": "application/vnd.apache.arrow.stream"}


def test_readings_as_an_arrow_stream_are_validated_by_column_and_stored(client: TestClient) -> None:
    body = arrow_body({"sensor": ["P-1", "P-2", "NOPE", "P-3"], "t": [NOW - 300, NOW - 300, NOW - 300, NOW - 240],
                       "value": [0.3, float("nan"), 0.3, 30.5], "unit": ["MPa", "MPa", "MPa", "mH2O"]})
    r = client.post("/api/v1/readings", content=body, headers=ARROW)
    assert r.status_code == 422, r.text
    out = r.json()
    assert (out["received"], out["stored"], out["rejected"]) == (4, 2, 2)
    fields = {e["field"]: e["message"] for e in out["errors"]}
    assert set(fields) == {"arrow row 2: value", "arrow row 3: sensor"} and "NOPE" in fields["arrow row 3: sensor"]
    latest = {row["sensor"]: row["value"] for row in client.get("/api/v1/readings/latest").json()}
    assert latest["P-1"] == 300000.0 and latest["P-3"] == pytest.approx(30.5 * 9806.65)  # converted at the edge
    letters = client.get("/api/v1/dead-letters").json()
    assert {d["field"] for d in letters} >= {"arrow row 2: value", "arrow row 3: sensor"}


def test_an_arrow_body_that_is_not_a_stream_or_lacks_a_column_is_refused_whole(client: TestClient) -> None:
    r = client.post("/api/v1/readings", content=b'{"readings": []}', headers=ARROW)
    assert r.status_code == 400 and r.json()["field"] == "body" and "Arrow IPC stream" in r.json()["detail"]
    r = client.post("/api/v1/readings", content=arrow_body({"sensor": ["P-1"], "value": [0.3]}), headers=ARROW)
    assert r.status_code == 400 and r.json()["field"] == "columns" and "['t']" in r.json()["detail"]
    assert client.get("/api/v1/status").json()["readings"] == 0


def compressed_body(columns: dict[str, Any], codec: str) -> bytes:
    """An Arrow IPC stream of ``columns`` with its buffers compressed by ``codec`` (zstd or lz4)."""
    import pyarrow as pa

    table = pa.table(columns)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression=codec)) as writer:
        writer.write_table(table, max_chunksize=400)
    return bytes(sink.getvalue().to_pybytes())


@pytest.mark.parametrize("codec", ["zstd", "lz4"])
def test_a_compressed_arrow_body_is_stored_and_a_bomb_refused_before_it_unpacks(client: TestClient, engine: Engine,
                                                                                codec: str) -> None:
    import pyarrow as pa

    n = 1000
    ok = compressed_body({"sensor": ["P-1", "P-2"] * (n // 2), "t": [NOW - 36_000 + 60 * (k // 2) for k in range(n)],
                          "value": [0.3] * n}, codec)
    r = client.post("/api/v1/readings", content=ok, headers=ARROW)
    assert r.status_code == 200 and r.json()["stored"] == n, r.text
    # one reading beside 64 MB of zeros: a few KB on the wire, past the 51.2 MB an Arrow body may unpack to
    bomb = compressed_body({"sensor": ["P-1"], "t": [NOW - 60], "value": [0.3],
                            "note": pa.array([bytes(64 << 20)], pa.binary())}, codec)
    assert len(bomb) < 300_000
    r = client.post("/api/v1/readings", content=bomb, headers=ARROW)
    assert r.status_code == 413 and r.json()["field"] == "body", r.text
    unpacked = (64 << 20) + 8 + 3 + 8 + 8 + 8  # the note and its offsets; sensor's offsets and "P-1"; t; value
    assert f"unpacks to {unpacked} bytes; the limit is 51200000" in r.json()["detail"]
    assert "split the batch" in r.json()["detail"]
    assert client.get("/api/v1/dead-letters").json()[0]["field"] == "body"  # kept, as any body refused whole
    engine.config = engine.config.with_(max_batch_readings=999)
    try:
        r = client.post("/api/v1/readings", content=ok, headers=ARROW)
        assert r.status_code == 413 and "holds 1000 readings; the limit is 999" in r.json()["detail"]
    finally:
        engine.config = engine.config.with_(max_batch_readings=200_000)
    assert client.get("/api/v1/status").json()["readings"] == n


def test_arrow_times_beyond_any_calendar_are_refused_one_by_one(client: TestClient) -> None:
    import pyarrow as pa

    now_ms = int(NOW * 1000)
    t = pa.array([now_ms - 60_000, 2**62, -2**62, now_ms - 120_000], pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
    body = compressed_body({"sensor": ["P-1", "P-2", "P-3", "F-1"], "t": t, "value": [0.3] * 4}, "zstd")
    r = client.post("/api/v1/readings", content=body, headers=ARROW)
    assert r.status_code == 422, r.text
    out = r.json()
    assert (out["stored"], out["rejected"]) == (2, 2)
    assert [e["field"] for e in out["errors"]] == ["arrow row 2: t", "arrow row 3: t"]
    assert "4611686018427387904 ms after 1970-01-01 (beyond the year 9999)" in out["errors"][0]["message"]
    letters = {d["field"]: d for d in client.get("/api/v1/dead-letters").json()}
    assert letters["arrow row 3: t"]["t"] == "-4611686018427387904 ms after 1970-01-01 (beyond the year 9999)"


def test_a_large_batch_of_bad_readings_keeps_every_dead_letter_and_shows_the_first_errors(client: TestClient) -> None:
    n = 20_000
    rows = [{"sensor": f"X-{k}", "t": NOW - 60, "value": 0.3} for k in range(n)] + readings(n=2)
    r = post(client, rows)
    assert r.status_code == 422
    out = r.json()
    assert (out["received"], out["stored"], out["rejected"], len(out["errors"])) == (n + 2, 2, n, 100)
    assert out["errors"][99]["field"] == "readings[99].sensor" and "'X-99' is not a registered sensor" in \
        out["errors"][99]["message"]
    letters = client.get("/api/v1/dead-letters", params={"limit": 10_000}).json()
    assert len(letters) == 10_000 and all(d["reason"] and d["sensor"].startswith("X-") for d in letters)
