"""Who is asking: the credential of every request, sessions for the dashboard, credentials and the audit log.

Every endpoint but the dashboard's files, ``/docs`` and ``POST /api/v1/session`` needs a credential:
``Authorization: Bearer TOKEN``, or the ``cl_session`` cookie that logging in sets (HttpOnly,
SameSite=Strict, so no other site's page can use it; writes take JSON bodies, which a cross-site
form cannot send).  Each request is counted against its credential's rate.  A credential whose
role or scope is too narrow gets 403.  Every refusal — 401, 403 and 429, of the API and of the
WebSocket — is written to the audit log in one place, ``audit_refusal`` (the app's exception
handler and the WebSocket call it), naming the credential when it is known, the route and the
client's address.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from ..auth.model import ROLES, Credential
from ..engine import Engine
from ..errors import CityLifelineError, Forbidden, RateLimited, Unauthorized
from .jsonresponse import JSON
from .schemas import Error

router = APIRouter(prefix="/api/v1", tags=["access"])
SESSION_COOKIE = "cl_session"
bearer = HTTPBearer(auto_error=False, description="a credential's token (cl_…) or the admin_token")
cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="a dashboard session (POST /api/v1/session)")
REFUSED = {Unauthorized: "access.unauthenticated", Forbidden: "access.denied", RateLimited: "access.rate_limited"}
"""The audit log's action for each kind of refusal (401, 403, 429)."""
NOBODY = Credential("", "", "", "")
"""Who a refusal names when no credential was recognised."""
MAX_TARGET_CHARS = 300


def client_of(request: HTTPConnection) -> str:
    """The client's address, for the audit log and the wrong-token limit: the peer of the connection,
    or — only when that peer is one of the ``trusted_proxies`` — the address it forwarded (uvicorn's
    proxy headers, see ``server.make_server``).  Never read X-Forwarded-For here."""
    return request.client.host if request.client else ""


def audit_refusal(conn: HTTPConnection, exc: CityLifelineError) -> None:
    """Write a refusal (401, 403 or 429) to the audit log: the credential if it was recognised, the
    route and the client's address.  Never raises, and never waits for the writer: a full writer
    queue must not turn a refusal into a 503.  Past ``refusals_audited_per_min`` a minute from one
    address, refusals are counted into its next entry instead (see ``Access.refusal_to_audit``)."""
    action = next((a for kind, a in REFUSED.items() if isinstance(exc, kind)), None)
    engine: Engine | None = getattr(conn.app.state, "engine", None)
    if action is None or engine is None:
        return
    client = client_of(conn)
    with contextlib.suppress(Exception):
        unlogged = engine.access.refusal_to_audit(client)
        if unlogged is None:
            return
        detail = f"{exc.http_status}: {exc}"
        if unlogged:
            detail += (f" (and {unlogged} earlier refusal(s) from {client} not logged one by one: more than "
                       f"{engine.access.refusals_audited_per_min:g} a minute)")
        method = conn.scope.get("method") or conn.scope["type"].upper()  # WEBSOCKET for the WebSocket
        path = "".join(ch if ch.isprintable() else "?" for ch in conn.url.path[:MAX_TARGET_CHARS])
        who: Credential = getattr(conn.state, "credential", None) or NOBODY
        engine.audit(who, client, action, f"{method} {path}", detail)


def token_of(request: HTTPConnection) -> str:
    """The bearer token or session cookie of a request ('' if none)."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.cookies.get(SESSION_COOKIE, "")


def identify(engine: Engine, token: str, conn: HTTPConnection, role: str) -> Credential:
    """The credential behind ``token`` if it may act as ``role``; counts the request against its rate."""
    cred = authenticate(engine, token, conn)
    check_role(cred, role)
    return cred


def authenticate(engine: Engine, token: str, conn: HTTPConnection) -> Credential:
    """The credential behind ``token`` (401 if none), counted against its rate (429 past it).  From
    here on ``conn.state.credential`` names it, so that a refusal of this request is audited as its."""
    if not token:
        raise Unauthorized("no credential: send 'Authorization: Bearer TOKEN' (an admin makes tokens; the "
                           "admin's is the admin_token setting) or log in on the dashboard")
    cred = engine.access.authenticate(token, client_of(conn))
    conn.state.credential = cred
    engine.access.throttle(cred)
    return cred


def check_role(cred: Credential, role: str) -> None:
    """Refuse (403) a credential below ``role``."""
    if not cred.may(role):
        needs = "a device or an admin" if role == "device" else f"at least {role}"
        raise Forbidden(f"{cred.name} is a {cred.role}; this needs {needs} (roles: {', '.join(ROLES)})")


def require(role: str) -> Any:
    """A dependency giving the request's credential, refusing those below ``role``."""
    def dependency(request: Request, _b: HTTPAuthorizationCredentials | None = Security(bearer),
                   _c: str | None = Security(cookie)) -> Credential:
        return identify(request.app.state.engine, token_of(request), request, role)
    return Depends(dependency)


VIEWER, OPERATOR, ADMIN, DEVICE = (require(r) for r in ("viewer", "operator", "admin", "device"))


def in_scope(cred: Credential, ok: bool, what: str) -> None:
    """Refuse (403) what lies outside ``cred``'s scope."""
    if not ok:
        raise Forbidden(f"{what} is outside the scope of {cred.name} (lifelines {', '.join(cred.lifelines) or 'all'}"
                        f"; districts {', '.join(cred.districts) or 'all'})")


class LoginIn(BaseModel):
    """Logging in to the dashboard with a credential's token."""

    token: str = Field(min_length=1, max_length=500)


class CredentialIn(BaseModel):
    """A new credential: a person's (viewer, operator, admin) with a scope, or a device's with its sensors."""

    name: str = Field(min_length=1, max_length=64, description="who: a person's user name or a device's id")
    role: str = Field(description=f"one of {', '.join(ROLES)}")
    sensors: list[str] = Field(default_factory=list, max_length=10_000,
                               description="device: sensor ids or patterns (GW17-*) it may write")
    lifelines: list[str] = Field(default_factory=list, max_length=10, description="scope; empty: all")
    districts: list[str] = Field(default_factory=list, max_length=1000, description="scope; empty: all")
    rate_per_s: float = Field(0.0, ge=0, le=1e6, description="requests a second; 0: the platform's rate_limit_per_s")


def _me(cred: Credential) -> dict[str, Any]:
    return {"id": cred.id, "name": cred.name, "role": cred.role, "lifelines": cred.lifelines,
            "districts": cred.districts}


@router.post("/session", summary="Log in: a session cookie for the dashboard",
             responses={401: {"model": Error}, 429: {"model": Error}})
async def login(request: Request, body: LoginIn, response: Response) -> dict[str, Any]:
    """Check the token and set the ``cl_session`` cookie (HttpOnly, SameSite=Strict) for ``session_hours``."""
    engine: Engine = request.app.state.engine
    cred = identify(engine, body.token, request, "viewer")
    await asyncio.wrap_future(engine.audit(cred, client_of(request), "session.login", f"credential/{cred.id}"))
    response.set_cookie(SESSION_COOKIE, engine.access.login(cred), max_age=int(engine.access.session_s),
                        httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/")
    return _me(cred)


@router.get("/session", summary="Who is logged in", responses={401: {"model": Error}})
def whoami(cred: Credential = VIEWER) -> dict[str, Any]:
    """The credential of this request: name, role and scope (the dashboard shows what the role may do)."""
    return _me(cred)


@router.delete("/session", summary="Log out")
def logout(request: Request, response: Response) -> dict[str, bool]:
    """End this browser's session."""
    request.app.state.engine.access.logout(request.cookies.get(SESSION_COOKIE, ""))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"ok": True}


@router.get("/credentials", summary="Every credential (without tokens)", responses={403: {"model": Error}})
def list_credentials(request: Request, _: Credential = ADMIN) -> JSON:
    """Credentials with their role, scope or sensors, rate, who made them and whether revoked."""
    return JSON([c.public() for c in request.app.state.engine.access.all()])


@router.post("/credentials", summary="Make a credential; its token is in the answer, once",
             responses={400: {"model": Error}, 403: {"model": Error}})
async def create_credential(request: Request, body: CredentialIn, who: Credential = ADMIN) -> JSON:
    """Only the token's hash is kept: copy ``token`` now, it cannot be shown again."""
    engine: Engine = request.app.state.engine
    cred, token = await asyncio.wrap_future(engine.create_credential(
        who, client_of(request), body.name, body.role, body.sensors, body.lifelines, body.districts,
        body.rate_per_s))
    return JSON(cred.public() | {"token": token}, status_code=201)


@router.delete("/credentials/{credential_id}", summary="Revoke a credential",
               responses={403: {"model": Error}, 404: {"model": Error}})
async def revoke_credential(request: Request, credential_id: str, who: Credential = ADMIN) -> JSON:
    """Its token and its sessions stop working at once; the record stays, for the audit log."""
    engine: Engine = request.app.state.engine
    cred = await asyncio.wrap_future(engine.revoke_credential(who, client_of(request), credential_id))
    return JSON(cred.public())


@router.get("/audit", summary="The audit log, newest first", responses={403: {"model": Error}})
def audit_log(request: Request, before: int | None = Query(None, ge=1, description="only entries before this seq"),
              limit: int = Query(200, ge=1, le=10_000),
              log: str = Query("", max_length=12, description="which log: '' this server's own; at a cluster's "
                               "front 'p0', 'p1', … a partition's (its incidents' and tickets' actions)"),
              _: Credential = ADMIN) -> JSON:
    """Who (credential, role) did what to what, when and from where; each entry chained to the one before."""
    entries = request.app.state.engine.store.audit_of(log, before_seq=before, limit=limit)
    return JSON([e.to_dict() for e in entries])


@router.get("/audit/verify", summary="Check that no audit entry was changed or removed",
            responses={403: {"model": Error}})
def verify_audit(request: Request, _: Credential = ADMIN) -> JSON:
    """Walks each log's hash chain from its first entry: ``{"entries": n, "intact": bool, "problem": ...,
    "logs": [{"log", "entries", "intact", "problem"}, …]}`` (one log, ``""``, but at a cluster's front)."""
    logs = [{"log": log, "entries": n, "intact": not problem, "problem": problem}
            for log, n, problem in request.app.state.engine.store.verify_audit_logs()]
    broken = [f"{x['log']}: {x['problem']}" if x["log"] else str(x["problem"]) for x in logs if x["problem"]]
    return JSON({"entries": sum(int(x["entries"]) for x in logs), "intact": not broken,
                 "problem": "; ".join(broken), "logs": logs})
