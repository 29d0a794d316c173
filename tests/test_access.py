"""Access: every route the app serves, in one table, answers each role as it should and nothing
outside its scope; devices write only their own sensors; scopes; tokens hashed at rest; the audit
log, with every refusal; rate limits; forwarded addresses believed only from trusted proxies;
secure defaults."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from citylifeline.api import create_app
from citylifeline.auth.model import RANK
from citylifeline.city import load_city
from citylifeline.city.model import LIFELINES
from citylifeline.cli import main
from citylifeline.engine import Engine
from citylifeline.errors import ConfigError
from citylifeline.server import serve
from citylifeline.settings import Config
from tests.conftest import ADMIN_TOKEN, AUTH, serving

NOW = time.time()


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


# ---- the access table: every route the app serves × every role × scope ---------------------------------
#
# The routes are read from the app itself, so a route added without a row here fails the test.  One
# engine on the demo city (water and gas, districts binbei and binnan) serves the whole table: three
# incidents (gas in each district, water in binbei), tickets on sensors of both lifelines and
# districts, and dead letters of both and of no sensor.  Each role asks each route; a route naming an
# incident, ticket or sensor is asked for one in the role's scope and for one outside it.  What a
# scoped role is answered must be what the admin is answered, less what lies outside its scope, and no
# sensor of another lifeline or district may be named anywhere in it.

Item = tuple[str, str, str, tuple[str, ...]]
"""(kind, key, lifeline, sensors): an incident, ticket, sensor, event or dead letter in an answer; for a
water pipe or a works order on one, (kind, key, lifeline, (its district,))."""
PLACED = ("pipe", "works")
"""The kinds whose scope is the district the asset lies in, not their sensors'."""
WRONG_TOKEN = ADMIN_TOKEN + "x"
ROLES: dict[str, dict[str, Any] | None] = {
    "none": None, "wrong": None,
    "device": {"role": "device", "sensors": ["GP-05"]},
    "viewer_gas": {"role": "viewer", "lifelines": ["gas"]},
    "viewer_binbei": {"role": "viewer", "districts": ["binbei"]},
    "operator": {"role": "operator"},
    "operator_binnan": {"role": "operator", "districts": ["binnan"]},
    "admin": None,
}
"""The credentials asking: none, a wrong token, and one of each role (two with a scope of a lifeline or
a district, one operator with a district)."""
CANDIDATES = {"sensor": ["GP-05", "WP-12", "GP-02"], "incident": ["GP-01", "WP-10", "GP-02"],
              "ticket": ["WP-11", "GP-01", "WP-10", "GP-04", "GP-02"]}
"""Where a route names an object: the first of these (incidents and tickets by their sensor) in the
role's scope, and the first outside it."""


@dataclass
class Table:
    """The one engine and client of the table, the credentials' tokens, and what the admin sees."""

    c: TestClient
    engine: Engine
    tokens: dict[str, str]
    throwaway: list[str]
    incidents: dict[str, Item] = field(default_factory=dict)
    tickets: dict[str, Item] = field(default_factory=dict)
    seq: int = 0

    def get(self, url: str) -> Any:
        r = self.c.get(url, headers=AUTH)
        assert r.status_code == 200, (url, r.text)
        return r.json()

    def refresh(self) -> None:
        self.incidents = {k[1]: k for k in incident_items(self.get("/api/v1/incidents"))}
        self.tickets = {k[1]: k for k in ticket_items(self.get("/api/v1/tickets"))}

    def sensor(self, sid: str) -> Item:
        reg = self.engine.registry
        return ("sensor", sid, reg.layer[reg.index[sid]] if sid in reg.index else "", (sid,))

    def visible(self, role: str, item: Item) -> bool:
        """Whether ``item`` is in the scope of ``role`` (as README's scopes say, checked here on their own)."""
        cred = ROLES[role] or {}
        if cred.get("role") == "device":
            return item[0] == "sensor" and item[1] in cred["sensors"]
        lifelines, districts = cred.get("lifelines", []), cred.get("districts", [])
        reg = self.engine.registry
        if item[0] in PLACED:
            return (not lifelines or item[2] in lifelines) and (not districts or item[3][0] in districts)
        return ((not lifelines or item[2] in lifelines)
                and (not districts or any(s in reg.index and reg.district[reg.index[s]] in districts
                                          for s in item[3])))

    def placed(self, kind: str, key: str, asset: str) -> Item:
        """A water pipe or a works order on one, with the district at the pipe's middle."""
        point = self.engine.city.asset(asset).geometry.representative_point()
        return (kind, key, asset.split("/")[0], (self.engine.city.district_at(point.x, point.y),))

    def pick(self, kind: str, role: str, inside: bool, any_one: bool = False) -> str | None:
        """An object of ``kind`` in (or outside) the role's scope, if there is one (``any_one``: for a role
        the route refuses anyway); tickets and works orders only open ones."""
        if kind == "credential":
            return (self.throwaway.pop() if role == "admin" else "c_000000000000") if inside else None
        if kind in PLACED:
            items = ([self.placed("pipe", f"water/pipe/{p}", f"water/pipe/{p}") for p in
                      self.engine.city.layers["water"].model.pipe_name_list] if kind == "pipe" else
                     [self.placed("works", str(o.id), o.asset) for o in self.engine.store.works_orders()
                      if o.state == "open"])
            return next((i[1] for i in items if any_one or self.visible(role, i) == inside), None)
        self.refresh()
        for sid in CANDIDATES[kind]:
            key, item = sid, self.sensor(sid)
            if kind != "sensor":
                found = [i[1] for i in (self.incidents if kind == "incident" else self.tickets).values()
                         if i[3] == (sid,) and (kind == "incident" or i[2] == "open")]
                if not found:
                    continue
                key = found[0]
                item = (kind, key, item[2], (sid,))
            if self.visible(role, item) == inside or (inside and not allowed(role, "viewer")
                                                      and kind != "sensor"):
                return key
        return None

    def out_of_scope(self, role: str) -> re.Pattern[str] | None:
        """Any sensor id outside the role's scope, as a whole word."""
        if not (ROLES[role] or {}).get("lifelines") and not (ROLES[role] or {}).get("districts"):
            return None
        ids = [s for s in self.engine.registry.ids if not self.visible(role, self.sensor(s))]
        return re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, ids)) + r")(?![\w-])")


def incident_items(rows: list[dict[str, Any]]) -> set[Item]:
    return {("incident", str(i["id"]), i["lifeline"], tuple(i["sensors"])) for i in rows}


def ticket_items(rows: list[dict[str, Any]]) -> set[Item]:
    # the lifeline is filled in by the table (a ticket names only its sensor); its state rides in the third place
    return {("ticket", str(t["id"]), t["state"], (t["sensor_id"],)) for t in rows}


def sensor_items(t: Table, ids: list[str]) -> set[Item]:
    return {t.sensor(s) for s in ids}


def items_of(t: Table, kind: str, rows: Any) -> set[Item]:
    """The incidents, tickets, sensors, events or dead letters in an answer (the part scope decides)."""
    if kind == "incidents":
        return incident_items(rows)
    if kind == "tickets":
        return {("ticket", k[1], t.sensor(k[3][0])[2], k[3]) for k in ticket_items(rows)}
    if kind == "sensors":
        return sensor_items(t, [r["id"] if "id" in r else r["sensor"] for r in rows])
    if kind == "states":
        return sensor_items(t, rows["sensor"])
    if kind == "events":
        return {("event", str(e["id"]), t.sensor(e["sensor_id"])[2], (e["sensor_id"],)) for e in rows}
    if kind == "letters":
        return {("letter", f"{r['sensor']} {r['t']} {r['reason']}", t.sensor(r["sensor"])[2],
                 (r["sensor"],) if r["sensor"] in t.engine.registry.index else ()) for r in rows}
    if kind == "health":
        return sensor_items(t, [r["sensor"] for r in rows]) | {
            ("ticket", str(k["id"]), t.sensor(r["sensor"])[2], (r["sensor"],)) for r in rows for k in r["tickets"]}
    if kind == "plain":
        t.refresh()
        return ({t.incidents[i] for i in re.findall(r"href='/api/v1/incidents/(\d+)'", rows)}
                | sensor_items(t, [s for s in t.engine.registry.ids if re.search(rf"<td>{re.escape(s)}</td>", rows)]))
    if kind == "hello":
        return incident_items(rows["incidents"])
    if kind == "works":
        return {t.placed("works", str(w["id"]), w["asset"]) for w in rows}
    raise AssertionError(kind)


def check_status(t: Table, role: str, body: dict[str, Any]) -> None:
    active = [i for i in incident_items(t.get("/api/v1/incidents?active=true")) if t.visible(role, i)]
    tickets = [k for k in items_of(t, "tickets", t.get("/api/v1/tickets?state=open")) if t.visible(role, k)]
    reg = t.engine.registry
    sensors = [s for i, s in enumerate(reg.ids) if reg.active[i] and t.visible(role, t.sensor(s))]
    assert (body["active_incidents"], body["open_tickets"], body["sensors"]) == (len(active), len(tickets),
                                                                               len(sensors)), (role, body)
    assert sum(body["active_by_level"].values()) == len(active)


def check_analyst(t: Table, role: str, body: dict[str, Any]) -> None:
    reg = t.engine.registry
    for row in body["spaces"]:  # a space is listed only when one of its sensors is in the role's scope
        assert any(t.visible(role, t.sensor(sid)) for i, sid in enumerate(reg.ids) if reg.asset[i] == row["space"])


def check_overview(t: Table, role: str, body: dict[str, Any]) -> None:
    active = [i for i in incident_items(t.get("/api/v1/incidents?active=true")) if t.visible(role, i)]
    reg = t.engine.registry
    sensors = [s for i, s in enumerate(reg.ids) if reg.active[i] and t.visible(role, t.sensor(s))]
    assert body["active_total"] == len(active) == sum(n for ll in body["active_by_lifeline"].values()
                                                      for n in ll.values()), (role, body)
    assert set(body["active_by_lifeline"]) == set((ROLES[role] or {}).get("lifelines") or LIFELINES)
    assert body["sensors"]["total"] == len(sensors)


@dataclass(frozen=True)
class Route:
    """What a route needs and how the table asks it."""

    needs: str
    """public (anyone), login (the token in the body), device, viewer, operator or admin."""
    url: str = ""
    """What to ask ('' the route's own path); ``{}`` is the object named (of ``target``'s kind)."""
    target: str = ""
    """incident, ticket, sensor or credential: the kind of object named."""
    body: Callable[[str], Any] | None = None
    """The JSON body, given the object named."""
    ok: int = 200
    items: str = ""
    """The kind of things in the answer (see ``items_of``), compared with the admin's in scope."""
    check: Callable[[Table, str, Any], None] | None = None
    optional: bool = False
    """Served only when installed (the npm libraries)."""


def readings_for(sensor: str) -> dict[str, Any]:
    return {"readings": [{"sensor": sensor, "t": NOW - 3300, "value": 0.3, "unit": "MPa"}]}


ACCESS_TABLE: dict[tuple[str, str], Route] = {
    ("GET", "/"): Route("public"),  # the dashboard's page: it logs in itself
    ("MOUNT", "/static"): Route("public", "/static/app.css"),
    ("MOUNT", "/vendor/leaflet"): Route("public", "/vendor/leaflet/leaflet.js", optional=True),
    ("MOUNT", "/vendor/uplot"): Route("public", "/vendor/uplot/uPlot.iife.min.js", optional=True),
    ("GET", "/docs"): Route("public"),
    ("GET", "/docs/oauth2-redirect"): Route("public"),
    ("GET", "/redoc"): Route("public"),
    ("GET", "/openapi.json"): Route("public"),
    ("MOUNT", "/static-offline-docs"): Route("public", "/static-offline-docs/swagger-ui.css"),
    ("POST", "/api/v1/session"): Route("login"),
    ("GET", "/api/v1/session"): Route("viewer"),
    ("DELETE", "/api/v1/session"): Route("public"),
    ("GET", "/api/v1/credentials"): Route("admin"),
    ("POST", "/api/v1/credentials"): Route("admin", ok=201, body=lambda _: {"name": f"new-{time.monotonic_ns()}",
                                                                             "role": "viewer"}),
    ("DELETE", "/api/v1/credentials/{credential_id}"): Route("admin", "/api/v1/credentials/{}", "credential"),
    ("GET", "/api/v1/audit"): Route("admin"),
    ("GET", "/api/v1/audit/verify"): Route("admin"),
    ("POST", "/api/v1/readings"): Route("device", target="sensor", body=readings_for),
    ("GET", "/api/v1/readings"): Route("viewer", "/api/v1/readings?sensor={}", "sensor"),
    ("GET", "/api/v1/readings/hourly"): Route("viewer", "/api/v1/readings/hourly?sensor={}", "sensor"),
    ("GET", "/api/v1/readings/latest"): Route("viewer", items="sensors"),
    ("GET", "/api/v1/incidents"): Route("viewer", items="incidents"),
    ("GET", "/api/v1/incidents/{incident_id}"): Route("viewer", "/api/v1/incidents/{}", "incident"),
    ("POST", "/api/v1/incidents/{incident_id}/actions"): Route(
        "operator", "/api/v1/incidents/{}/actions", "incident", lambda _: {"action": "comment", "text": "seen"}),
    ("GET", "/api/v1/events"): Route("viewer", items="events"),
    ("GET", "/api/v1/tickets"): Route("viewer", items="tickets"),
    ("POST", "/api/v1/tickets/{ticket_id}/close"): Route("operator", "/api/v1/tickets/{}/close", "ticket",
                                                         lambda _: {"note": "repaired"}),
    ("GET", "/api/v1/dead-letters"): Route("operator", items="letters"),
    ("GET", "/api/v1/sensor-states"): Route("viewer", items="states"),
    ("GET", "/api/v1/overview"): Route("viewer", check=check_overview),
    ("GET", "/api/v1/sensor-health"): Route("viewer", items="health"),
    ("GET", "/api/v1/ui"): Route("viewer"),
    ("GET", "/api/v1/sensors"): Route("viewer", items="sensors"),
    ("GET", "/api/v1/sensors/{sensor_id}"): Route("viewer", "/api/v1/sensors/{}", "sensor"),
    ("GET", "/api/v1/layers"): Route("viewer"),
    ("GET", "/api/v1/layers/{name}"): Route("viewer", "/api/v1/layers/gas"),  # the city's map: no scope
    ("GET", "/api/v1/status"): Route("viewer", check=check_status),
    ("GET", "/api/v1/analysts/{name}"): Route("viewer", "/api/v1/analysts/gas", check=check_analyst),
    ("POST", "/api/v1/analysts/{name}/recalibrate"): Route("admin", "/api/v1/analysts/gas/recalibrate"),
    ("GET", "/api/v1/works"): Route("viewer", items="works"),
    # the test city has no drainage model: a device's forecast is refused as such (400), others' with 403
    ("POST", "/api/v1/rain-forecasts"): Route("device", ok=400, body=lambda _: {
        "issued": NOW * 1000, "series": [{"gauge": "R-1", "values": [10.0, 20.0]}]}),
    ("GET", "/api/v1/rain-forecasts"): Route("viewer"),
    ("POST", "/api/v1/works"): Route("operator", "/api/v1/works", "pipe", ok=201, body=lambda pipe: {
        "asset": pipe, "start": NOW - 600, "reason": "a new connection"}),
    ("POST", "/api/v1/works/{order_id}/finish"): Route("operator", "/api/v1/works/{}/finish", "works",
                                                       lambda _: {}),
    ("POST", "/api/v1/works/{order_id}/cancel"): Route("operator", "/api/v1/works/{}/cancel", "works"),
    ("GET", "/api/v1/assets/{key:path}/coupling"): Route("viewer", "/api/v1/assets/gas/pipe/GP-N1208E/coupling"),
    ("GET", "/api/v1/risk"): Route("viewer"),  # the city's map: no scope, like its layers
    ("GET", "/api/v1/risk/assets"): Route("viewer"),
    ("GET", "/api/v1/risk/assets/{key:path}"): Route("viewer", "/api/v1/risk/assets/gas/pipe/GP-N1208E"),
    ("GET", "/api/v1/risk/top"): Route("viewer"),  # the top risks in scope, their sensors in scope (out_of_scope)
    ("GET", "/api/v1/construction-sites"): Route("viewer"),
    ("POST", "/api/v1/construction-sites"): Route("operator", ok=201, body=lambda _: {
        "name": "a shaft", "geometry": {"type": "Point", "coordinates": [117.22, 31.81]}, "radius_m": 20,
        "start": NOW - 600}),
    ("POST", "/api/v1/construction-sites/{site_id}/finish"): Route("operator", "/api/v1/construction-sites/999/finish",
                                                                   ok=404),
    ("POST", "/api/v1/construction-sites/{site_id}/cancel"): Route("operator", "/api/v1/construction-sites/999/cancel",
                                                                   ok=404),
    ("WS", "/api/v1/ws"): Route("viewer", items="hello"),
    ("GET", "/plain"): Route("viewer", items="plain"),
}
"""Every route the app serves, what it needs, and how to ask it."""


def served_routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) the app answers: its API routes, WebSocket and mounted directories."""
    from fastapi.routing import iter_route_contexts  # included routers, flattened (app.routes nests them)

    out = []
    for r in iter_route_contexts(app.routes):
        kind = type(r.original_route).__name__
        if kind == "Mount":
            out.append(("MOUNT", str(r.path)))
        elif "WebSocket" in kind:
            out.append(("WS", str(r.path)))
        else:
            out += [(m, str(r.path)) for m in sorted(r.methods or ()) if m != "HEAD"]
    assert ("POST", "/api/v1/readings") in out and ("WS", "/api/v1/ws") in out
    return out


def allowed(role: str, needs: str) -> bool:
    if needs == "public":
        return True
    if role in ("none", "wrong"):
        return False
    r = (ROLES[role] or {"role": "admin"})["role"]
    needs = "viewer" if needs == "login" else needs
    return r in ("device", "admin") if needs == "device" else r != "device" and RANK[r] >= RANK[needs]


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Table]:
    """The demo city on one store, with incidents, tickets and dead letters of two lifelines and districts."""
    config = Config.load(environ={}, db=str(tmp_path_factory.mktemp("table") / "store.duckdb"), city="demo",
                         memory_limit="512MB", admin_token=ADMIN_TOKEN, rate_limit_per_s=0.0)
    engine = Engine(config, load_city("demo"))
    engine.start()
    try:
        with TestClient(create_app(engine, manage_engine=False)) as c:
            body = (rows("GP-01", 10, 0.3) + rows("GP-01", 10, 0.45, NOW - 3000)  # gas, binbei: level I
                    + rows("GP-02", 10, 0.3) + rows("GP-02", 10, 0.45, NOW - 3000)  # gas, binnan
                    + rows("WP-10", 10, 0.3) + rows("WP-10", 10, 0.1, NOW - 3000))  # water, binbei
            for sid in ("WP-11", "GP-04"):  # stuck: water in binbei, gas in binnan
                body += [{"sensor": sid, "t": NOW - 3600 + 60 * k, "value": 0.3 + 0.001 * min(k, 5), "unit": "MPa"}
                         for k in range(30)]
            body += [{"sensor": s, "t": NOW - 3000, "value": 0.3, "unit": "furlong"} for s in ("WP-12", "GP-02")]
            r = c.post("/api/v1/readings", json={"readings": body}, headers=AUTH)
            assert r.status_code == 422 and r.json()["rejected"] == 2, r.text
            r = c.post("/api/v1/readings", content=b"{not json", headers=AUTH | {"Content-Type": "application/json"})
            assert r.status_code == 400  # a dead letter of no sensor
            engine.flush(60)
            tokens = {role: make(c, f"t-{role}", **spec) for role, spec in ROLES.items() if spec}
            tokens |= {"admin": ADMIN_TOKEN, "wrong": WRONG_TOKEN}
            throwaway = [c.post("/api/v1/credentials", json={"name": "spare", "role": "viewer"},
                                headers=AUTH).json()["id"] for _ in range(2)]
            for pipe in ("WP-N0000E", "WP-N0008E") * 4:  # works orders in binnan and binbei
                r = c.post("/api/v1/works", json={"asset": f"water/pipe/{pipe}", "start": NOW - 7200}, headers=AUTH)
                assert r.status_code == 201, r.text
            t = Table(c, engine, tokens, throwaway)
            t.refresh()
            assert sorted(i[3][0] for i in t.incidents.values()) == ["GP-01", "GP-02", "WP-10"]
            assert {"WP-11", "GP-04"} <= {k[3][0] for k in t.tickets.values()}
            yield t
    finally:
        engine.stop()


def ask(t: Table, method: str, url: str, role: str, route: Route, target: str | None) -> tuple[int, Any, str]:
    """(status, JSON or text, text) of one request as ``role``; a WebSocket refused is 1008."""
    token = t.tokens.get(role)
    headers = bearer(token) if token and route.needs != "login" else {}
    if method == "WS":
        try:
            with t.c.websocket_connect(url, headers=headers) as ws:
                text = ws.receive_text()
                return 200, json.loads(text), text
        except WebSocketDisconnect as e:
            return e.code, None, e.reason
    body = route.body(target or "") if route.body else None
    if route.needs == "login":
        body = {"token": token or WRONG_TOKEN}
    r = t.c.request(method if method != "MOUNT" else "GET", url, headers=headers, json=body)
    t.c.cookies.clear()  # a login's session cookie must not speak for the next role
    try:
        data = r.json()
    except ValueError:
        data = r.text
    return r.status_code, data, r.text


def test_every_route_answers_each_role_within_its_scope(table: Table) -> None:
    t = table
    served = served_routes(t.c.app)
    missing = [k for k in served if k not in ACCESS_TABLE]
    assert not missing, (f"route {missing[0]} is not in the access table (tests/test_access.py ACCESS_TABLE): "
                         "add it with its expected behaviour")
    stale = [k for k, r in ACCESS_TABLE.items() if k not in served and not r.optional]
    assert not stale, f"the access table has {stale[0]}, which the app no longer serves: remove it"
    start_seq = t.engine.store.audit(limit=1)[0].seq
    refusals: list[tuple[str, str, str]] = []  # (actor, action, target) the audit log must hold
    asked = 0
    for (method, path), route in ACCESS_TABLE.items():
        if (method, path) not in served:
            continue
        for role in ROLES:
            scoped = allowed(role, route.needs) and role not in ("operator", "admin")
            for inside in (True, False) if route.target and scoped else (True,):
                target = t.pick(route.target, role, inside, any_one=not allowed(role, route.needs)) \
                    if route.target else None
                if route.target and target is None:
                    assert not inside, (method, path, role, "the table has nothing to name here")
                    continue
                url = (route.url or path).replace("{}", target or "")
                status, data, text = ask(t, method, url, role, route, target)
                asked += 1
                where = (method, url, role, status, text[:300])
                target_of = f"{'WEBSOCKET' if method == 'WS' else method} {url.split('?')[0]}"
                if not allowed(role, route.needs):
                    want = 401 if role in ("none", "wrong") else 403
                    assert status == (1008 if method == "WS" else want), where
                    if method != "WS":
                        assert want == 401 or (ROLES[role] or {})["role"] in data["detail"], where
                    refusals.append(("" if want == 401 else f"t-{role}",
                                     "access.unauthenticated" if want == 401 else "access.denied", target_of))
                    continue
                if not inside:  # a role allowed here, asking for something outside its scope
                    assert status == 403, where
                    assert "outside the scope" in data["detail"] or "only for its own sensors" in data["detail"], where
                    refusals.append((f"t-{role}", "access.denied", target_of))
                    continue
                assert status == route.ok, where
                pattern = t.out_of_scope(role) if role != "device" else None
                leak = pattern.search(text) if pattern is not None else None
                assert leak is None, f"{method} {url} shows {role} {leak.group(0) if leak else ''}, outside its scope"
                if route.items:
                    _, everything, _ = ask(t, method, url, "admin", route, target)
                    want_items = {i for i in items_of(t, route.items, everything) if t.visible(role, i)}
                    assert items_of(t, route.items, data) == want_items, where
                    if role.startswith(("viewer", "operator_")) and route.items in ("incidents", "tickets", "hello"):
                        assert want_items, (where, "the table should have something in this scope")
                if route.check is not None:
                    route.check(t, role, data)
    assert asked > len(served) * len(ROLES)
    t.engine.run(lambda: None).result(30)  # the refusals' audit entries are written
    logged = [(e.actor, e.action, e.target) for e in t.engine.store.audit(after_seq=start_seq, limit=100_000)
              if e.action.startswith("access.")]
    assert Counter(logged) == Counter(refusals)
    assert all(e.source == "testclient" for e in t.engine.store.audit(after_seq=start_seq, limit=100_000)
               if e.action.startswith("access."))


def refusals_since(engine: Engine, seq: int) -> list[Any]:
    engine.run(lambda: None).result(30)  # refusals are audited without waiting for the writer
    return [e for e in engine.store.audit(after_seq=seq, limit=10_000, newest_first=False)
            if e.action.startswith("access.")]


def test_every_refusal_is_audited_with_the_credential_the_route_and_the_address(
        app_engine: tuple[TestClient, Engine]) -> None:
    c, engine = app_engine
    west = make(c, "west-duty", "operator", districts=["west"])
    gw = make(c, "gw-east", "device", sensors=["P-1"])
    slow = make(c, "slow", "viewer", rate_per_s=1)
    iid = incident_on(c, "P-1")  # east
    stuck = [{"sensor": "P-2", "t": NOW - 3600 + 60 * k, "value": 0.3, "unit": "MPa"} for k in range(30)]
    assert c.post("/api/v1/readings", json={"readings": stuck}, headers=AUTH).status_code == 200
    engine.flush(30)
    ticket = next(t for t in c.get("/api/v1/tickets", headers=AUTH).json() if t["sensor_id"] == "P-2")
    seq = engine.store.audit(limit=1)[0].seq
    asked = [
        (c.post(f"/api/v1/incidents/{iid}/actions", json={"action": "acknowledge"}, headers=bearer(west)), 403),
        (c.post(f"/api/v1/tickets/{ticket['id']}/close", json={"note": "x"}, headers=bearer(west)), 403),
        (c.post("/api/v1/readings", json={"readings": rows("P-3", 1, 0.3)}, headers=bearer(gw)), 403),
        (c.post("/api/v1/session", json={"token": "cl_" + "y" * 40}), 401),
        (c.get("/api/v1/incidents"), 401),
        (c.get("/api/v1/incidents", headers=bearer(gw)), 403),
    ]
    assert [r.status_code for r, _ in asked] == [want for _, want in asked], [r.text for r, _ in asked]
    codes = [c.get("/api/v1/session", headers=bearer(slow)).status_code for _ in range(4)]
    assert codes.count(429) >= 1  # a burst of two, then refused
    with pytest.raises(WebSocketDisconnect), c.websocket_connect("/api/v1/ws", headers=bearer(gw)) as ws:
        ws.receive_text()
    got = [(e.actor, e.role, e.action, e.target, e.source) for e in refusals_since(engine, seq)]
    assert got == [
        ("west-duty", "operator", "access.denied", f"POST /api/v1/incidents/{iid}/actions", "testclient"),
        ("west-duty", "operator", "access.denied", f"POST /api/v1/tickets/{ticket['id']}/close", "testclient"),
        ("gw-east", "device", "access.denied", "POST /api/v1/readings", "testclient"),
        ("", "", "access.unauthenticated", "POST /api/v1/session", "testclient"),
        ("", "", "access.unauthenticated", "GET /api/v1/incidents", "testclient"),
        ("gw-east", "device", "access.denied", "GET /api/v1/incidents", "testclient"),
        *[("slow", "viewer", "access.rate_limited", "GET /api/v1/session", "testclient")] * codes.count(429),
        ("gw-east", "device", "access.denied", "WEBSOCKET /api/v1/ws", "testclient"),
    ]
    details = [e.detail for e in refusals_since(engine, seq)]
    assert details[0].startswith("403: ") and "outside the scope of west-duty" in details[0]
    assert "not 'P-3'" in details[2] and details[3].startswith("401: the token is unknown")
    assert "cl_" + "y" * 40 not in "".join(details)  # a wrong token is never written down
    assert c.get("/api/v1/audit/verify", headers=AUTH).json()["intact"]


def test_a_flood_of_refusals_is_audited_in_a_count_not_entry_by_entry(app_engine: tuple[TestClient, Engine]) -> None:
    c, engine = app_engine
    engine.access.refusals_audited_per_min = 3  # as with any rate_limit_per_s > 0 (60 a minute)
    seq = engine.store.audit(limit=1)[0].seq
    assert [c.get("/api/v1/status").status_code for _ in range(5)] == [401] * 5
    assert len(refusals_since(engine, seq)) == 3  # the other two are counted
    engine.access._refusals["testclient"].at -= 60  # a minute later
    assert c.get("/api/v1/status").status_code == 401
    last = refusals_since(engine, seq)[-1]
    assert len(refusals_since(engine, seq)) == 4
    assert "and 2 earlier refusal(s) from testclient not logged one by one: more than 3 a minute" in last.detail


def test_forwarded_addresses_are_believed_only_from_trusted_proxies(tmp_path: Path, city_dir: Path) -> None:
    config = Config.load(environ={}, db=str(tmp_path / "store.duckdb"), city=str(city_dir), admin_token=ADMIN_TOKEN,
                         rate_limit_per_s=0.0, memory_limit="512MB")
    spoof = {"X-Forwarded-For": "1.2.3.4"}
    with serving(config) as (engine, base):  # the default: no proxy is trusted, not even 127.0.0.1
        seq = engine.store.audit(limit=1)[0].seq
        r = httpx.get(f"{base}/api/v1/status", headers=bearer("cl_" + "z" * 40) | spoof, timeout=30)
        assert r.status_code == 401
        assert [e.source for e in refusals_since(engine, seq)] == ["127.0.0.1"]
        engine.access.failed_per_min = 3  # as with any rate_limit_per_s > 0 (20 a minute)
        codes = [httpx.get(f"{base}/api/v1/status", timeout=30,
                           headers=bearer("cl_" + "z" * 40) | {"X-Forwarded-For": f"1.2.3.{k}"}) for k in range(5)]
        assert [r.status_code for r in codes] == [401, 401, 401, 429, 429]  # one address, whatever it claims
        assert "too many wrong tokens from 127.0.0.1" in codes[-1].json()["detail"]
        assert {e.source for e in refusals_since(engine, seq)} == {"127.0.0.1"}
    with serving(config.with_(trusted_proxies="127.0.0.1, 10.0.0.0/8")) as (engine, base):  # behind a proxy
        seq = engine.store.audit(limit=1)[0].seq
        assert httpx.get(f"{base}/api/v1/status", headers=spoof, timeout=30).status_code == 401
        assert [e.source for e in refusals_since(engine, seq)] == ["1.2.3.4"]


def test_trusted_proxies_must_be_addresses_or_networks(config: Config) -> None:
    from citylifeline.server import make_server

    assert Config.load(environ={}).trusted_proxies == ""
    assert config.with_(trusted_proxies=" 10.0.0.5, 10.1.2.0/24,::1 ").trusted_proxy_list() == [
        "10.0.0.5/32", "10.1.2.0/24", "::1/128"]
    for wrong in ("*", "proxy.local", "10.0.0.300"):
        with pytest.raises(ConfigError, match=rf"trusted_proxies=.*{re.escape(wrong)!s}.*not an IP address or CIDR"):
            make_server(config.with_(trusted_proxies=f"10.0.0.1,{wrong}"))
