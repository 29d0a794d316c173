"""Rain forecasts: what a meteorological service pushes for the next hours (``forecasts``)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request

from ..analysis.drainage.rain import RainForecast
from ..auth.model import Credential
from ..batch import ReadingBatch
from ..errors import ValidationError
from ..forecasts import KEPT
from ..ingest import Parsed
from ..store.base import PAYLOAD_CHARS, DeadLetter
from .auth import DEVICE, VIEWER, client_of
from .jsonresponse import JSON
from .readings import engine_of, read_body
from .schemas import Error

router = APIRouter(prefix="/api/v1", tags=["rain forecasts"])
FORECAST_BODY_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["issued"],
    "properties": {
        "issued": {"description": "the forecast's base time: ISO 8601 with its offset, or epoch ms",
                   "anyOf": [{"type": "string"}, {"type": "number"}]},
        "source": {"type": "string", "description": "who issued it (a radar nowcast, a provincial observatory)"},
        "step_s": {"type": "integer", "description": "its time step, 60 to 3600 s, a divisor or multiple of 300"},
        "series": {"type": "array", "description": "per rain gauge (a rain sensor's id or the model's gauge)",
                   "items": {"type": "object", "required": ["gauge"], "properties": {
                       "gauge": {"type": "string"},
                       "values": {"type": "array", "items": {"type": "number"}, "description": "mm/h per step"},
                       "members": {"type": "array", "items": {"type": "array", "items": {"type": "number"}},
                                   "description": "an ensemble: a series per member"}}}},
        "grid": {"type": "object", "description": "a gridded nowcast: x0, y0, dx, dy, crs (EPSG:4326 or city) "
                                                  "and members (member × step × row × column, mm/h)"}}}


@router.post("/rain-forecasts", summary="Push a rain forecast for the next hours", status_code=201,
             responses={400: {"model": Error}, 403: {"model": Error}, 413: {"model": Error}},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": FORECAST_BODY_SCHEMA}}}})
async def post_rain_forecast(request: Request, who: Credential = DEVICE) -> JSON:
    """A meteorological service's short-range forecast (radar extrapolation or a blend, every few
    minutes, 2–3 hours ahead), per rain gauge or gridded, one series or an ensemble.  It is checked
    as readings are (400 naming the field, the value and the fix; the refused body kept as a dead
    letter), put on the drainage model's gauges and 5-minute steps, kept, and drives the drainage
    analyst's forecasts from its issue time on."""
    engine = engine_of(request)
    source = f"http:{client_of(request)}:{who.name}"
    body = await read_body(request, engine.config.max_payload_bytes)
    try:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise ValidationError(f"the body is not JSON: {e}", field="", value=None) from None
        future = engine.add_rain_forecast(who, client_of(request), doc)
    except ValidationError as e:  # refused whole: kept as a dead letter before the client hears of it
        letter = DeadLetter(source=source, reason=f"rain forecast: {e}", field=e.field,
                            payload=body[:PAYLOAD_CHARS].decode("utf-8", "replace"))
        await asyncio.wrap_future(engine.submit(Parsed(ReadingBatch.empty(), [], [letter], 0), source))
        raise
    record = await asyncio.wrap_future(future)
    return JSON(RainForecast.of_record(record).to_dict() | record.to_dict(), status_code=201)


@router.get("/rain-forecasts", summary="The newest rain forecasts")
def list_rain_forecasts(request: Request, limit: int = Query(20, ge=1, le=KEPT), who: Credential = VIEWER) -> JSON:
    """The newest forecasts by issue time, newest first: when issued and received, from whom, members,
    horizon, the heaviest rain and the total."""
    engine = engine_of(request)
    return JSON([RainForecast.of_record(r).to_dict() | r.to_dict()
                 for r in reversed(engine.store.rain_forecasts(limit))])
