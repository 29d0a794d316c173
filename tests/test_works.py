"""Works orders: entered, checked, kept (on both stores), audited, and taken into the water model."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from citylifeline.api import create_app
from citylifeline.city.bundle import CityBundle
from citylifeline.engine import Engine
from citylifeline.settings import Config
from tests.conftest import AUTH

LOCAL = ZoneInfo("Asia/Shanghai")  # the test city's


def water_analyst(engine: Engine):  # type: ignore[no-untyped-def]
    return next(a for a in engine.analysts() if a.name == "water")


def test_a_works_order_is_kept_audited_and_shuts_its_pipe_in_the_water_model(config: Config,
                                                                               bundle: CityBundle) -> None:
    config = config.with_(analysts="water")
    engine = Engine(config, bundle)
    engine.start()
    try:
        with TestClient(create_app(engine, manage_engine=False), headers=AUTH) as c:
            r = c.post("/api/v1/works", json={"asset": "water/pipe/197", "start": "2026-03-24T08:00:00",
                                              "end": "2026-03-24T12:30:00+08:00", "reason": "a new connection"})
            assert r.status_code == 201, r.text
            order = r.json()
            assert order["start_ms"] == datetime(2026, 3, 24, 8, tzinfo=LOCAL).timestamp() * 1000  # the city's time
            assert order["end_ms"] - order["start_ms"] == 4.5 * 3600 * 1000 and order["state"] == "open"
            open_end = c.post("/api/v1/works", json={"asset": "water/pipe/111", "start": 1774400000.0}).json()
            assert open_end["end_ms"] is None
            assert water_analyst(engine).model.shut == (("197", order["start_ms"], order["end_ms"]),
                                                        ("111", 1774400000000, 2**62))
            r = c.post(f"/api/v1/works/{open_end['id']}/finish", json={"end": 1774403600.0})
            assert r.status_code == 200 and r.json()["state"] == "finished" and r.json()["end_ms"] == 1774403600000
            assert c.post(f"/api/v1/works/{order['id']}/cancel").json()["state"] == "cancelled"
            assert water_analyst(engine).model.shut == (("111", 1774400000000, 1774403600000),)  # cancelled: gone
            assert [o["id"] for o in c.get("/api/v1/works").json()] == [open_end["id"], order["id"]]  # newest first
            assert [o["id"] for o in c.get("/api/v1/works?state=cancelled").json()] == [order["id"]]
            audited = [(e["action"], e["target"]) for e in c.get("/api/v1/audit").json()
                       if e["action"].startswith("works.")]
            assert audited == [("works.cancel", f"works/{order['id']}"), ("works.finish", f"works/{open_end['id']}"),
                               ("works.create", f"works/{open_end['id']}"), ("works.create", f"works/{order['id']}")]
    finally:
        engine.stop()
    again = Engine(config, bundle)  # a restart: the orders are in the store, and the model has them before replay
    try:
        assert [o.state for o in again.store.works_orders()] == ["cancelled", "finished"]
        assert water_analyst(again).model.shut == (("111", 1774400000000, 1774403600000),)
    finally:
        again.stop()


def test_bad_works_orders_are_refused_naming_the_field_the_value_and_the_fix(engine: Engine) -> None:
    with TestClient(create_app(engine, manage_engine=False), headers=AUTH) as c:
        bad = [({"asset": "water/pipe/nope", "start": 0}, "asset", "not in the city model"),
               ({"asset": "water/junction/123", "start": 0}, "asset", "water/pipe/<name>"),
               ({"asset": "gas/pipe/1", "lifeline": "gas", "start": 0}, "lifeline", "water"),
               ({"asset": "water/pipe/197", "action": "open", "start": 0}, "action", "close"),
               ({"asset": "water/pipe/197", "start": "tomorrow"}, "start", "ISO 8601"),
               ({"asset": "water/pipe/197", "start": 0, "end": 1e300}, "end", "before 2100"),
               ({"asset": "water/pipe/197", "start": 100.0, "end": 50.0}, "end", "not after start")]
        for body, field, fix in bad:
            r = c.post("/api/v1/works", json=body)
            assert r.status_code == 400, (body, r.text)
            assert r.json()["field"] == field and fix in r.json()["detail"], (body, r.json())
        assert c.get("/api/v1/works").json() == []  # nothing half-made
        order = c.post("/api/v1/works", json={"asset": "water/pipe/197", "start": 100.0}).json()
        r = c.post(f"/api/v1/works/{order['id']}/finish", json={"end": 50.0})
        assert r.status_code == 400 and r.json()["field"] == "end"
        assert c.post(f"/api/v1/works/{order['id']}/cancel").status_code == 200
        r = c.post(f"/api/v1/works/{order['id']}/cancel")
        assert r.status_code == 400 and "already cancelled" in r.json()["detail"]
        assert c.post("/api/v1/works/999/finish", json={}).status_code == 404
