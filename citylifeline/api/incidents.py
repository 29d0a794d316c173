"""Incidents, events, maintenance tickets and dead letters; the lifecycle actions."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from .. import levels
from ..auth.model import Credential
from ..city.model import LIFELINES
from ..engine import Engine
from ..errors import NotFound, ValidationError
from ..store.base import IncidentFilter
from ..warn.lifecycle import ACTIVE_STATES, STATES, allowed_actions
from ..warn.model import Incident
from .auth import OPERATOR, VIEWER, client_of, in_scope
from .jsonresponse import JSON
from .readings import engine_of
from .schemas import ActionIn, Error, RecordId, TicketCloseIn

router = APIRouter(prefix="/api/v1", tags=["incidents"])
EVIDENCE_MARGIN_MS = 30 * 60 * 1000  # readings shown before the first and after the last event
NEARBY_PLACES_M = 1000.0


@router.get("/incidents", summary="List incidents, highest level first")
def list_incidents(request: Request,
                   state: list[str] | None = Query(None, description=f"one or more of {', '.join(STATES)}"),
                   active: bool = Query(False, description="only incidents still being handled"),
                   level: str | None = Query(None, description="lowest level to include: I, II, III or IV"),
                   lifeline: str = Query("", description="water, drainage, gas, heating, bridge, tunnel"),
                   limit: int = Query(200, ge=1, le=5000), who: Credential = VIEWER) -> JSON:
    """Incidents with their level, state, place and counts (in the credential's scope)."""
    states = tuple(state or ()) + (ACTIVE_STATES if active else ())
    bad = [s for s in states if s not in STATES]
    if bad:
        raise NotFound(f"state {bad[0]!r} does not exist; use {', '.join(STATES)}")
    if lifeline and lifeline not in LIFELINES:
        raise ValidationError(f"lifeline {lifeline!r} does not exist; use one of {', '.join(LIFELINES)}",
                              field="lifeline", value=lifeline)
    flt = IncidentFilter(states=states, min_level=levels.from_roman(level) if level else 0,
                         lifeline=lifeline, limit=limit)
    engine = engine_of(request)
    return JSON([engine.incident_json(i) for i in engine.store.incidents(flt) if sees(engine, who, i)])


def sees(engine: Engine, who: Credential, inc: Incident) -> bool:
    """Whether ``inc`` is in ``who``'s scope."""
    return engine.access.sees_incident(who, inc.lifeline, inc.sensors)


def scoped_incident(engine: Engine, who: Credential, incident_id: int) -> Incident:
    """The incident, if it exists (404) and is in ``who``'s scope (403)."""
    inc = engine.store.incident(incident_id)
    if inc is None:
        raise NotFound(f"incident {incident_id} does not exist")
    in_scope(who, sees(engine, who, inc), f"incident {incident_id} ({inc.lifeline})")
    return inc


@router.get("/incidents/{incident_id}", summary="An incident with its evidence, timeline and nearby places",
            responses={404: {"model": Error}})
def incident_detail(request: Request, incident_id: RecordId, who: Credential = VIEWER) -> JSON:
    """The incident, its events (the reasons in plain words), the readings around them for each
    sensor with its thresholds, the timeline (audit trail), the actions allowed now, and the
    places (hospitals, schools …) near it; for a water incident, ``water``: where the leak is (pipe,
    position, radius, confidence, candidates), the valves to close and who is left without water;
    ``cascade``: what it threatens next along the coupling of the lifelines, chain by chain, with the
    likelihood, the time scale, the reason and the sensors that would show each step (``cascade.chains``).
    An incident spanning districts is in scope when one of them is; its events and evidence are then
    those of the sensors in scope."""
    engine = engine_of(request)
    inc = scoped_incident(engine, who, incident_id)
    reg, mask = engine.registry, engine.access.sensor_mask(who)
    evidence = []
    for sid in inc.sensors:
        i = reg.index[sid]
        if not mask[i]:
            continue
        b = engine.store.readings(i, inc.t_first_ms - EVIDENCE_MARGIN_MS, inc.t_last_ms + EVIDENCE_MARGIN_MS, 5000)
        evidence.append({"sensor": engine.sensor_json(i), "t": b.t_ms.tolist(), "value": b.value.tolist()})
    places = []
    for a, d in engine.city.nearby(inc.x, inc.y, NEARBY_PLACES_M, layers=["places"]):
        lon, lat = engine.city.to_wgs84(*a.xy)
        places.append({"key": a.key, "kind": a.kind, "name": a.props.get("label") or a.name,
                       "distance_m": round(d, 1), "population": a.props.get("population"),
                       "lon": float(lon), "lat": float(lat)})
    return JSON({
        "incident": engine.incident_json(inc),
        "events": [e.to_dict() for e in reversed(engine.store.events(incident_id=incident_id, limit=2000))
                   if mask[e.sensor]],
        "timeline": [t.to_dict() for t in engine.store.timeline(incident_id)],
        "allowed_actions": allowed_actions(inc.state),
        "evidence": evidence,
        "nearby_places": places,
        "water": engine.water_analysis(inc),
        "cascade": engine.cascade(inc),
        **engine.lifeline_analyses(inc),
    })


@router.post("/incidents/{incident_id}/actions", summary="Act on an incident (acknowledge, dispatch, …)",
             responses={400: {"model": Error}, 404: {"model": Error}, 409: {"model": Error}})
async def act(request: Request, incident_id: RecordId, body: ActionIn, who: Credential = OPERATOR) -> JSON:
    """Move the incident through its lifecycle; 409 names the actions allowed in its state.  The
    timeline names the credential (and ``actor``, the person at a shared console, where given)."""
    engine = engine_of(request)
    await run_in_threadpool(scoped_incident, engine, who, incident_id)
    inc = await asyncio.wrap_future(engine.act(incident_id, body.action, actor_name(who, body.actor), body.assignee,
                                               body.text, client_of(request), who))
    return JSON(engine.incident_json(inc))


@router.get("/events", summary="Events, newest first")
def list_events(request: Request, sensor: str | None = Query(None), incident: int | None = Query(None),
                limit: int = Query(500, ge=1, le=10_000), who: Credential = VIEWER) -> JSON:
    """What the detectors saw, with the reason in words (on sensors in the credential's scope)."""
    engine = engine_of(request)
    idx = engine.registry.idx(sensor) if sensor else None
    rows = engine.store.events(incident_id=incident, sensor=idx, limit=limit)
    mask = engine.access.sensor_mask(who)
    return JSON([e.to_dict() for e in rows if mask[e.sensor]])


def actor_name(who: Credential, actor: str) -> str:
    """The timeline's actor: the credential's name, with the person named at a shared console."""
    actor = actor.strip()
    return who.name if not actor or actor == who.name else f"{actor} ({who.name})"


@router.get("/tickets", summary="Maintenance tickets for faulty sensors")
def list_tickets(request: Request, state: str = Query("", description="open or closed; empty for all"),
                 limit: int = Query(500, ge=1, le=10_000), who: Credential = VIEWER) -> JSON:
    """Stuck, silent, impossible and spiking sensors: work for maintenance, not the duty officer."""
    if state not in ("", "open", "closed"):
        raise ValidationError(f"state {state!r} is not a ticket state; use open or closed (or leave it out)",
                              field="state", value=state)
    mask = engine_of(request).access.sensor_mask(who)
    return JSON([t.to_dict() for t in engine_of(request).store.tickets(state, limit) if mask[t.sensor]])


@router.post("/tickets/{ticket_id}/close", summary="Close a maintenance ticket",
             responses={404: {"model": Error}})
async def close_ticket(request: Request, ticket_id: RecordId, body: TicketCloseIn, who: Credential = OPERATOR) -> JSON:
    """Close an open ticket once the sensor is repaired."""
    engine = engine_of(request)
    ticket = next((t for t in engine.store.open_tickets() if t.id == ticket_id), None)
    if ticket is not None:
        in_scope(who, bool(engine.access.sensor_mask(who)[ticket.sensor]), f"ticket {ticket_id}")
    ch = await asyncio.wrap_future(engine.close_ticket(ticket_id, actor_name(who, body.actor), body.note,
                                                       client_of(request), who))
    return JSON(next(t.to_dict() for t in ch.tickets.values()))


@router.get("/dead-letters", summary="Refused readings and payloads, newest first")
async def dead_letters(request: Request, limit: int = Query(100, ge=1, le=10_000),
                       who: Credential = OPERATOR) -> JSON:
    """Every refused reading with the reason, so nothing disappears silently.  A credential with a
    scope gets those of its sensors only (a refused payload that names no known sensor is the whole
    city's: an operator without a scope, or an admin, sees it)."""
    engine = engine_of(request)
    rows = await run_in_threadpool(engine.store.dead_letters, limit)
    if who.lifelines or who.districts:
        mask, index = engine.access.sensor_mask(who), engine.registry.index
        rows = [r for r in rows if r.get("sensor") in index and mask[index[r["sensor"]]]]
    return JSON(rows)
