"""Readings endpoints: ingest a batch, a sensor's readings over a time range, the latest values."""

from __future__ import annotations

import asyncio
import time

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from ..auth.model import Credential
from ..batch import ReadingBatch
from ..engine import Engine
from ..errors import Forbidden, PayloadTooLarge, ValidationError
from ..ingest import ARROW_STREAM, Parsed, parse_arrow_stream, parse_readings
from ..ingest.validate import NAIVE_TIME, parse_iso, seconds_to_ms
from ..store.base import PAYLOAD_CHARS, DeadLetter, DeadLetters
from ..units import get_kind
from .auth import DEVICE, VIEWER, client_of, in_scope
from .jsonresponse import JSON
from .schemas import READINGS_BODY_SCHEMA, Error, IngestResult, ReadingError, ReadingsOut

router = APIRouter(prefix="/api/v1", tags=["readings"])
MAX_ERRORS_SHOWN = 100


def engine_of(request: Request) -> Engine:
    """The engine behind the app."""
    engine: Engine = request.app.state.engine
    return engine


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes before reading them all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body has {declared} bytes; the limit is {limit}: split the batch",
                              field="body", value=int(declared))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body exceeds {limit} bytes: split the batch", field="body", value=size)
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/readings", response_model=IngestResult, summary="Ingest a batch of readings",
             responses={422: {"model": IngestResult, "description": "some readings were refused; the rest were stored"},
                        400: {"model": Error}, 413: {"model": Error}, 503: {"model": Error}},
             openapi_extra={"requestBody": {"required": True,
                                            "content": {"application/json": {"schema": READINGS_BODY_SCHEMA},
                                                        ARROW_STREAM: {"schema": {"type": "string",
                                                                                  "format": "binary"}}}}})
async def post_readings(request: Request, who: Credential = DEVICE) -> JSON:
    """Validate and store readings; answers only after they are committed.  Re-sending a batch is
    harmless: readings already stored (same sensor and time) are counted as duplicates.

    The body is JSON: ``readings``, and/or ``blocks`` of a sensor's samples at a fixed rate (an
    accelerometer's second at 100 Hz: ``{"sensor", "t0", "hz", "values": [...], "unit"?}``, each sample
    a reading at t0 + round(k·1000/hz) ms; counts, errors and dead letters are per sample, errors
    indexed over the readings and then each block's samples).  Or, for gateways and bulk loads, ten
    times faster, an Arrow IPC stream (``Content-Type: application/vnd.apache.arrow.stream``) with the
    columns sensor, t (epoch seconds or a timestamp with a time zone), value and optionally unit."""
    engine = engine_of(request)
    source = f"http:{client_of(request)}" + (f":{who.name}" if who.role == "device" else "")
    body = b""
    try:
        body = await read_body(request, engine.config.max_payload_bytes)
        arrow = request.headers.get("content-type", "").split(";")[0].strip() == ARROW_STREAM
        parsed = await run_in_threadpool(parse_arrow_stream if arrow else parse_readings, body, engine.validator,
                                         engine.config.max_batch_readings, source)
    except ValidationError as e:  # refused whole: kept as a dead letter before the client hears of it
        letter = DeadLetter(source=source, reason=str(e), field=e.field,
                            payload=body[:PAYLOAD_CHARS].decode("utf-8", "replace"))
        await asyncio.wrap_future(engine.submit(Parsed(ReadingBatch.empty(), [], [letter], 0), source))
        raise
    if who.role == "device":
        refuse_foreign(engine, who, parsed)
    result = await asyncio.wrap_future(engine.submit(parsed))
    out = IngestResult(received=parsed.received, stored=result.stored, duplicates=result.duplicates,
                       rejected=len(parsed.rejections))
    if parsed.rejections:
        out.detail = (f"{len(parsed.rejections)} of {parsed.received} readings refused (see errors and the "
                      f"dead letters); the other {parsed.received - len(parsed.rejections)} were accepted")
        out.errors = [ReadingError(**r.to_dict()) for r in parsed.rejections[:MAX_ERRORS_SHOWN]]  # type: ignore[arg-type]
        return JSON(out.model_dump(), status_code=422)
    return JSON(out.model_dump())


def refuse_foreign(engine: Engine, who: Credential, parsed: Parsed) -> None:
    """Refuse (403, storing nothing) a device's batch with readings for sensors that are not its own."""
    mask = engine.access.sensor_mask(who)
    foreign = ~mask[parsed.batch.sensor]
    names = [engine.registry.ids[i] for i in parsed.batch.sensor[foreign][:1]]
    refused = set(DeadLetters.of(parsed.dead_letters).column("sensor").unique().to_pylist())  # distinct ids only
    names += sorted(s for s in refused if s in engine.registry.index and not who.writes(s))
    if names:
        raise Forbidden(f"{who.name} may write readings only for its own sensors ({', '.join(who.sensors)}), not "
                        f"{names[0]!r}; nothing of this batch was stored")


def time_param(text: str | None, name: str, default_ms: int) -> int:
    """Epoch ms of a query parameter given as ISO-8601 with offset or epoch seconds."""
    if text is None or text == "":
        return default_ms
    try:
        ms = int(seconds_to_ms(np.array([float(text)]))[0])  # BAD_TIME past ±1e13 s: refused below
    except ValueError:
        ms = int(parse_iso([text], None)[0])
    if ms <= NAIVE_TIME:
        raise ValidationError(f"{name}={text!r} is not a time; use ISO-8601 with a UTC offset "
                              "(2026-11-23T10:00:00+08:00) or epoch seconds", field=name, value=text)
    return ms


@router.get("/readings", response_model=ReadingsOut, summary="One sensor's readings over a time range",
            responses={400: {"model": Error}, 404: {"model": Error}})
def get_readings(request: Request, sensor: str = Query(..., description="sensor id"),
                 start: str | None = Query(None, description="ISO-8601 or epoch s; default 24 h before end"),
                 end: str | None = Query(None, description="ISO-8601 or epoch s (exclusive); default now"),
                 limit: int = Query(10_000, ge=1, le=1_000_000), who: Credential = VIEWER) -> JSON:
    """Readings of ``sensor`` with start <= t < end, oldest first, in the canonical unit."""
    engine = engine_of(request)
    i = engine.registry.idx(sensor)
    in_scope(who, bool(engine.access.sensor_mask(who)[i]), f"sensor {sensor}")
    end_ms = time_param(end, "end", int(time.time() * 1000) + 1)
    start_ms = time_param(start, "start", end_ms - 24 * 3600 * 1000)
    b = engine.store.readings(i, start_ms, end_ms, limit)
    kind = get_kind(engine.registry.kind[i])
    return JSON({"sensor": sensor, "unit": kind.canonical, "display_unit": kind.display,
                           "t": b.t_ms.tolist(), "value": b.value.tolist()})


@router.get("/readings/hourly", summary="One sensor's hourly statistics of readings older than retention_days",
            responses={400: {"model": Error}, 404: {"model": Error}})
def get_hourly(request: Request, sensor: str = Query(..., description="sensor id"),
               start: str | None = Query(None, description="ISO-8601 or epoch s; default 30 days before end"),
               end: str | None = Query(None, description="ISO-8601 or epoch s (exclusive); default now"),
               who: Credential = VIEWER) -> JSON:
    """Per hour (start of the hour, epoch ms): how many readings, their min, max and mean, in the
    canonical unit; hours whose readings are still kept raw are not here (see GET /readings)."""
    engine = engine_of(request)
    i = engine.registry.idx(sensor)
    in_scope(who, bool(engine.access.sensor_mask(who)[i]), f"sensor {sensor}")
    end_ms = time_param(end, "end", int(time.time() * 1000) + 1)
    start_ms = time_param(start, "start", end_ms - 30 * 86_400_000)
    h = engine.store.hourly(i, start_ms, end_ms)
    return JSON({"sensor": sensor, "unit": get_kind(engine.registry.kind[i]).canonical,
                 **{k: v.tolist() for k, v in h.items()}})


@router.get("/readings/latest", summary="The newest reading of every sensor (or of the ones named)")
def latest(request: Request, sensor: list[str] | None = Query(None), who: Credential = VIEWER) -> JSON:
    """``[{sensor, t, value, unit}]`` for sensors that have reported, in their canonical units."""
    engine = engine_of(request)
    reg, store, mask = engine.registry, engine.store, engine.access.sensor_mask(who)
    idx = [reg.idx(s) for s in sensor] if sensor else range(min(len(reg), len(store.last_t)))
    rows = [{"sensor": reg.ids[i], "t": int(store.last_t[i]), "value": float(store.last_value[i]),
             "unit": get_kind(reg.kind[i]).canonical} for i in idx
            if i < len(store.last_t) and store.last_t[i] >= 0 and mask[i]]
    return JSON(rows)
