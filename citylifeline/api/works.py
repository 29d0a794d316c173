"""Works orders: a valve shut for works, told to the platform so that it is not taken for a leak (``works``)."""

from __future__ import annotations

import asyncio
import math

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from ..auth.model import Credential
from ..engine import Engine
from ..errors import CityLifelineError, ValidationError
from ..ingest.validate import BAD_TIME, NAIVE_TIME, parse_iso
from ..works import ACTIONS, MAX_REASON_CHARS, STATES
from .auth import OPERATOR, VIEWER, client_of, in_scope
from .jsonresponse import JSON
from .readings import engine_of
from .schemas import Error, RecordId

router = APIRouter(prefix="/api/v1", tags=["works"])
MAX_EPOCH_S = 4_102_444_800  # 2100-01-01
TIME_HELP = "ISO 8601 (with a UTC offset, or the city's local time) or epoch seconds"


class WorksIn(BaseModel):
    """A works order: what is done to which asset, from when to when, and why."""

    lifeline: str = Field("water", description=f"one of {', '.join(ACTIONS)}")
    asset: str = Field(max_length=200, description="the asset key, e.g. water/pipe/WP-N0606E")
    action: str = Field("close", description="water: close (the pipe's valves shut)")
    start: str | float = Field(description=f"when the works begin: {TIME_HELP}")
    end: str | float | None = Field(None, description=f"when they end (none: until finished): {TIME_HELP}")
    reason: str = Field("", max_length=MAX_REASON_CHARS, description="the works, the crew, the order's number")


class WorksEndIn(BaseModel):
    """Ending a works order."""

    end: str | float | None = Field(None, description=f"when the valve was opened again (none: now): {TIME_HELP}")


def sees(engine: Engine, who: Credential, lifeline: str, asset: str) -> bool:
    """Whether the works on ``asset`` are in ``who``'s scope (its lifeline, and the district at its middle)."""
    if not who.districts:  # no district to place it in
        return who.sees(lifeline, [])
    try:
        point = engine.city.asset(asset).geometry.representative_point()
    except CityLifelineError:
        return False
    return who.sees(lifeline, [engine.city.district_at(point.x, point.y)])


def time_ms(value: str | float | None, name: str, tz: str) -> int | None:
    """``value`` as epoch ms (None stays None); a clear error naming the field otherwise."""
    if value is None:
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value) or not 0 <= value < MAX_EPOCH_S:
            raise ValidationError(f"{name} {value!r} is not a time; give {TIME_HELP} (after 1970, before 2100)",
                                  field=name, value=str(value))
        return round(float(value) * 1000)
    ms = int(parse_iso([value], tz)[0])
    if ms in (BAD_TIME, NAIVE_TIME):
        raise ValidationError(f"{name} {value!r} is not a time; give {TIME_HELP}", field=name, value=value)
    return ms


def check_state(state: str, states: tuple[str, ...]) -> None:
    """A ``ValidationError`` unless ``state`` is '' or one of ``states``."""
    if state and state not in states:
        raise ValidationError(f"state {state!r} does not exist; use one of {', '.join(states)}", field="state",
                              value=state)


@router.get("/works", summary="Works orders, newest first")
def list_works(request: Request, state: str = Query("", description=f"only one state: {', '.join(STATES)}"),
               who: Credential = VIEWER) -> JSON:
    """Every works order in the credential's scope, with its asset, time, state and who entered it."""
    check_state(state, STATES)
    engine = engine_of(request)
    orders = [o for o in engine.store.works_orders()
              if (not state or o.state == state) and sees(engine, who, o.lifeline, o.asset)]
    return JSON([o.to_dict() for o in reversed(orders)])


@router.post("/works", summary="Enter a works order", status_code=201,
             responses={400: {"model": Error}, 403: {"model": Error}})
async def create_works(request: Request, body: WorksIn, who: Credential = OPERATOR) -> JSON:
    """The analysts take the operation into their models for its time: a pipe shut for works is
    expected, neither a leak nor an unreported network change.  Audited."""
    engine = engine_of(request)
    in_scope(who, sees(engine, who, body.lifeline, body.asset), f"works on {body.asset}")
    tz = engine.city.timezone
    start = time_ms(body.start, "start", tz)
    assert start is not None
    order = await asyncio.wrap_future(engine.create_works(
        who, client_of(request), body.lifeline, body.asset, body.action, start, time_ms(body.end, "end", tz),
        body.reason))
    return JSON(order.to_dict(), status_code=201)


@router.post("/works/{order_id}/finish", summary="The works are over: the valve is open again",
             responses={400: {"model": Error}, 404: {"model": Error}})
async def finish_works(request: Request, order_id: RecordId, body: WorksEndIn, who: Credential = OPERATOR) -> JSON:
    engine = engine_of(request)
    _own(engine, who, order_id)
    order = await asyncio.wrap_future(engine.end_works(
        who, client_of(request), order_id, "finished", time_ms(body.end, "end", engine.city.timezone)))
    return JSON(order.to_dict())


@router.post("/works/{order_id}/cancel", summary="The works never happened",
             responses={400: {"model": Error}, 404: {"model": Error}})
async def cancel_works(request: Request, order_id: RecordId, who: Credential = OPERATOR) -> JSON:
    engine = engine_of(request)
    _own(engine, who, order_id)
    order = await asyncio.wrap_future(engine.end_works(who, client_of(request), order_id, "cancelled"))
    return JSON(order.to_dict())


def _own(engine: Engine, who: Credential, order_id: int) -> None:
    """Refuse (403) a works order outside ``who``'s scope (404 comes from the engine for one that does not exist)."""
    order = next((o for o in engine.store.works_orders() if o.id == order_id), None)
    if order is not None:
        in_scope(who, sees(engine, who, order.lifeline, order.asset), f"works order {order_id}")
