"""Access: every endpoint refuses no credential, a wrong one and a role too low; devices write only
their own sensors; scopes; tokens hashed at rest; the audit log; rate limits; secure defaults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from citylifeline.api import create_app
from citylifeline.auth.model import RANK
from citylifeline.cli import main
from citylifeline.engine import Engine
from citylifeline.errors import ConfigError
from citylifeline.server import serve
from citylifeline.settings import Config
from tests.conftest import ADMIN_TOKEN, AUTH

NOW = time.time()
PUBLIC = {("POST", "/api/v1/session"), ("DELETE", "/api/v1/session")}
NEEDS = {("POST", "/api/v1/readings"): "device",
         ("POST", "/api/v1/incidents/{incident_id}/actions"): "operator",
         ("POST", "/api/v1/tickets/{ticket_id}/close"): "operator",
         ("GET", "/api/v1/dead-letters"): "operator",
         ("GET", "/api/v1/credentials"): "admin", ("POST", "/api/v1/credentials"): "admin",
         ("DELETE", "/api/v1/credentials/{credential_id}"): "admin",
         ("GET", "/api/v1/audit"): "admin", ("GET", "/api/v1/audit/verify"): "admin"}
"""What each endpoint needs beyond 'viewer' (every other API endpoint is a viewer's)."""


@pytest.fixture
def app_engine(engine: Engine) -> Iterator[tuple[TestClient, Engine]]:
    with TestClient(create_app(engine, manage_engine=False)) as c:
        yield c, engine


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make(c: TestClient, name: str, role: str, **scope: Any) -> str:
    r = c.post("/api/v1/credentials", json={"name": name, "role": role, **scope}, headers=AUTH)
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


def rows(sensor: str, n: int, value: float, start: float = NOW - 3600) -> list[dict[str, Any]]:
    return [{"sensor": sensor, "t": start + 60 * k, "value": value, "unit": "MPa"} for k in range(n)]


def incident_on(c: TestClient, sensor: str) -> int:
    body = {"readings": rows(sensor, 10, 0.3) + rows(sensor, 10, 0.13, start=NOW - 3000)}
    assert c.post("/api/v1/readings", json=body, headers=AUTH).status_code == 200
    for _ in range(200):
        found = [i for i in c.get("/api/v1/incidents", headers=AUTH).json() if sensor in i["sensors"]]
        if found:
            return int(found[0]["id"])
        time.sleep(0.05)
    raise AssertionError(f"no incident on {sensor}")


def api_routes(c: TestClient) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document (itself public), and the plain status page."""
    routes = [(m.upper(), path) for path, ops in c.get("/openapi.json").json()["paths"].items() for m in ops]
    assert len(routes) >= 25 and ("POST", "/api/v1/readings") in routes
    return [*sorted(routes), ("GET", "/plain")]


def test_every_endpoint_refuses_no_credential_a_wrong_one_and_a_lower_role(app_engine: tuple[TestClient,
                                                                                             Engine]) -> None:
    c, _ = app_engine
    tokens = {role: make(c, f"{role}-1", role, **({"sensors": ["P-*"]} if role == "device" else {}))
              for role in ("device", "viewer", "operator")} | {"admin": ADMIN_TOKEN}
    checked = 0
    for method, path in api_routes(c):
        if (method, path) in PUBLIC:
            continue
        url = path.replace("{incident_id}", "1").replace("{ticket_id}", "1").replace("{credential_id}", "c_1") \
            .replace("{sensor_id}", "P-1").replace("{name}", "water")
        needs = NEEDS.get((method, path), "viewer")
        for headers, want in (({}, 401), (bearer("cl_" + "x" * 40), 401), (bearer(ADMIN_TOKEN + "x"), 401)):
            r = c.request(method, url, headers=headers, json={})
            assert r.status_code == want, (method, url, headers, r.status_code, r.text)
            assert "detail" in r.json()
        for role, token in tokens.items():
            allowed = (role in ("device", "admin")) if needs == "device" else (
                role != "device" and RANK[role] >= RANK[needs])
            r = c.request(method, url, headers=bearer(token), json={})
            if allowed:
                assert r.status_code not in (401, 403), (method, url, role, r.text)
            else:
                assert r.status_code == 403, (method, url, role, r.status_code, r.text)
                assert role in r.json()["detail"] or "scope" in r.json()["detail"]
            checked += 1
    assert checked >= 25 * 4
    with pytest.raises(WebSocketDisconnect), c.websocket_connect("/api/v1/ws") as ws:
        ws.receive_text()
    with pytest.raises(WebSocketDisconnect), c.websocket_connect("/api/v1/ws", headers=bearer(tokens["device"])) as ws:
        ws.receive_text()
    with c.websocket_connect("/api/v1/ws", headers=bearer(tokens["viewer"])) as ws:
        assert '"hello"' in ws.receive_text()


def test_refused_actions_are_audited_and_allowed_ones_name_who_did_them(app_engine: tuple[TestClient, Engine]) -> None:
    c, engine = app_engine
    viewer, operator = make(c, "wang", "viewer"), make(c, "li", "operator")
    iid = incident_on(c, "P-1")
    r = c.post(f"/api/v1/incidents/{iid}/actions", json={"action": "acknowledge"}, headers=bearer(viewer))
    assert r.status_code == 403
    r = c.post(f"/api/v1/incidents/{iid}/actions", json={"action": "acknowledge", "actor": "Li Wei"},
               headers=bearer(operator))
    assert r.status_code == 200, r.text
    timeline = c.get(f"/api/v1/incidents/{iid}", headers=AUTH).json()["timeline"]
    assert timeline[-1]["actor"] == "Li Wei (li)" and timeline[-1]["source"] == "testclient"
    log = c.get("/api/v1/audit", headers=AUTH).json()
    ack = next(e for e in log if e["action"] == "incident.acknowledge")
    assert (ack["actor"], ack["role"], ack["target"], ack["source"]) == ("Li Wei (li)", "operator", f"incident/{iid}",
                                                                          "testclient")
    assert "new → acknowledged" in ack["detail"] and abs(ack["at_ms"] / 1000 - time.time()) < 60
    denied = next(e for e in log if e["action"] == "access.denied")
    assert denied["actor"] == "wang" and denied["target"] == f"POST /api/v1/incidents/{iid}/actions"
    assert {"server.start", "credential.create"} <= {e["action"] for e in log}
    start = next(e for e in log if e["action"] == "server.start")
    assert "rate_limit_per_s=0.0" in start["detail"] and ADMIN_TOKEN not in start["detail"]
    if "postgresql://" in start["detail"]:
        assert "postgresql://***@" in start["detail"]
    n = len(engine.store.audit(limit=10_000))
    assert c.get("/api/v1/audit/verify", headers=AUTH).json() == {
        "entries": n, "intact": True, "problem": "", "logs": [{"log": "", "entries": n, "intact": True, "problem": ""}]}
    r = c.get("/api/v1/audit", params={"log": "p0"}, headers=AUTH)  # a partition's: only at a cluster's front
    assert r.status_code == 404 and "log='p0'" in r.json()["detail"] and "the logs kept are ''" in r.json()["detail"]


def test_a_device_writes_only_its_own_sensors_and_a_foreign_batch_stores_nothing(
        app_engine: tuple[TestClient, Engine]) -> None:
    c, engine = app_engine
    gw = make(c, "gw-east", "device", sensors=["P-1", "P-2"])
    r = c.post("/api/v1/readings", json={"readings": rows("P-1", 3, 0.3) + rows("P-2", 3, 0.3)}, headers=bearer(gw))
    assert r.status_code == 200 and r.json()["stored"] == 6
    before = engine.store.count_readings()
    r = c.post("/api/v1/readings", json={"readings": rows("P-1", 3, 0.3, NOW - 600) + rows("P-3", 1, 0.3)},
               headers=bearer(gw))
    assert r.status_code == 403 and "'P-3'" in r.json()["detail"] and "nothing" in r.json()["detail"]
    assert engine.store.count_readings() == before
    r = c.post("/api/v1/readings", json={"readings": rows("P-3", 1, 0.3)}, headers=bearer(gw))
    assert r.status_code == 403
    assert c.get("/api/v1/readings", params={"sensor": "P-1"}, headers=bearer(gw)).status_code == 403


def test_a_scope_of_lifeline_and_district_limits_what_a_person_sees_and_acts_on(
        app_engine: tuple[TestClient, Engine]) -> None:
    c, _ = app_engine
    east = make(c, "east-duty", "operator", districts=["east"])
    gas = make(c, "gas-duty", "operator", lifelines=["gas"])
    west_viewer = make(c, "west-view", "viewer", districts=["west"])
    iid = incident_on(c, "P-1")  # a water incident in the east
    assert {s["id"] for s in c.get("/api/v1/sensors", headers=bearer(east)).json()} == {"P-1", "P-2"}
    assert {s["id"] for s in c.get("/api/v1/sensors", headers=bearer(west_viewer)).json()} == {"P-3", "P-FAR"}
    assert [i["id"] for i in c.get("/api/v1/incidents", headers=bearer(east)).json()] == [iid]
    assert c.get("/api/v1/incidents", headers=bearer(gas)).json() == []
    assert c.get(f"/api/v1/incidents/{iid}", headers=bearer(west_viewer)).status_code == 403
    assert c.get("/api/v1/readings", params={"sensor": "P-1"}, headers=bearer(west_viewer)).status_code == 403
    assert c.get("/api/v1/events", headers=bearer(west_viewer)).json() == []
    r = c.post(f"/api/v1/incidents/{iid}/actions", json={"action": "acknowledge"}, headers=bearer(gas))
    assert r.status_code == 403 and "scope" in r.json()["detail"]
    r = c.post(f"/api/v1/incidents/{iid}/actions", json={"action": "acknowledge"}, headers=bearer(east))
    assert r.status_code == 200
    states = c.get("/api/v1/sensor-states", headers=bearer(west_viewer)).json()
    assert sorted(states["sensor"]) == ["P-3", "P-FAR"]
    r = c.post("/api/v1/credentials", json={"name": "x", "role": "viewer", "districts": ["north"]}, headers=AUTH)
    assert r.status_code == 400 and r.json()["field"] == "districts" and "east" in r.json()["detail"]


def test_tokens_are_kept_only_as_hashes(app_engine: tuple[TestClient, Engine], config: Config) -> None:
    c, engine = app_engine
    token = make(c, "li", "operator")
    login = c.post("/api/v1/session", json={"token": token})
    session = login.cookies["cl_session"]
    engine.stop()
    if config.db.startswith("postgres"):
        with psycopg.connect(config.db) as con:
            dump = str(con.execute("SELECT * FROM credentials").fetchall() + con.execute("SELECT * FROM audit")
                       .fetchall())
    else:
        dump = str(Path(config.db).read_bytes())
    for secret in (token, ADMIN_TOKEN, session, token[3:20]):
        assert secret not in dump
    assert "li" in dump  # the credential is there, only its token is not


def test_sessions_are_http_only_strict_cookies_that_end_on_logout_and_revocation(
        app_engine: tuple[TestClient, Engine]) -> None:
    c, _ = app_engine
    token = make(c, "li", "operator")
    r = c.post("/api/v1/session", json={"token": token})
    cookie = r.headers["set-cookie"].lower()
    assert r.status_code == 200 and "httponly" in cookie and "samesite=strict" in cookie
    assert c.get("/api/v1/session").json()["name"] == "li"  # the cookie alone authenticates
    c.delete("/api/v1/session")
    assert c.get("/api/v1/session").status_code == 401
    c.post("/api/v1/session", json={"token": token})
    cred_id = c.get("/api/v1/session").json()["id"]
    assert c.delete(f"/api/v1/credentials/{cred_id}", headers=AUTH).json()["active"] is False
    assert c.get("/api/v1/session").status_code == 401  # the session died with its credential
    assert c.get("/api/v1/status", headers=bearer(token)).status_code == 401
    assert c.post("/api/v1/session", json={"token": token}).status_code == 401
    r = c.delete("/api/v1/credentials/admin", headers=AUTH)
    assert r.status_code == 400 and "admin_token" in r.json()["detail"]


def test_each_credential_has_its_own_rate_limit(app_engine: tuple[TestClient, Engine]) -> None:
    c, _ = app_engine
    slow = make(c, "slow", "viewer", rate_per_s=2)
    fast = make(c, "fast", "viewer", rate_per_s=1000)
    codes = [c.get("/api/v1/session", headers=bearer(slow)).status_code for _ in range(8)]
    assert codes[:4] == [200] * 4 and 429 in codes[4:]  # a burst of twice the rate, then refused
    r = c.get("/api/v1/session", headers=bearer(slow))
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "2 requests a second" in r.json()["detail"]
    assert all(c.get("/api/v1/session", headers=bearer(fast)).status_code == 200 for _ in range(20))
    time.sleep(1.1)
    assert c.get("/api/v1/session", headers=bearer(slow)).status_code == 200  # the bucket refills


def test_guessing_tokens_is_cut_off(app_engine: tuple[TestClient, Engine]) -> None:
    c, engine = app_engine
    engine.access.failed_per_min = 20  # as with any rate_limit_per_s > 0 (the test config turns limits off)
    codes = [c.get("/api/v1/status", headers=bearer(f"cl_guess{k:040d}")).status_code for k in range(30)]
    assert codes[:20] == [401] * 20 and codes[-1] == 429


def test_the_audit_log_is_append_only(app_engine: tuple[TestClient, Engine], config: Config) -> None:
    c, engine = app_engine
    make(c, "li", "operator")
    assert c.get("/api/v1/audit/verify", headers=AUTH).json()["intact"]
    if config.db.startswith("postgres"):
        with psycopg.connect(config.db, autocommit=True) as con:
            for sql in ("UPDATE audit SET actor = 'nobody'", "DELETE FROM audit", "TRUNCATE audit"):
                with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                    con.execute(sql)
        assert c.get("/api/v1/audit/verify", headers=AUTH).json()["intact"]
        return
    engine.stop()  # the embedded file cannot refuse a change: the chain shows it
    with duckdb.connect(config.db) as con:
        con.execute("UPDATE audit SET actor = 'nobody' WHERE action = 'credential.create' AND detail LIKE 'li,%'")
    reopened = Engine(config, engine.bundle)
    try:
        _, problem = reopened.store.verify_audit()
        assert "was changed" in problem
    finally:
        reopened.stop()


def test_serve_refuses_to_start_without_an_admin_token(monkeypatch: pytest.MonkeyPatch, config: Config,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="CITYLIFELINE_ADMIN_TOKEN"):
        serve(config.with_(admin_token=""))
    monkeypatch.delenv("CITYLIFELINE_ADMIN_TOKEN", raising=False)
    assert main(["serve", "--db", config.db, "--city", config.city]) == 2
    assert "admin credential" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="at least 20"):
        Engine(config.with_(admin_token="short-token")).stop()
