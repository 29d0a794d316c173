"""The WebSocket that pushes new and changed incidents and tickets to every connected screen.

On connect a client gets ``{"type": "hello", "incidents": [...active...]}``; after that one
message per change: ``{"type": "incident", "incident": {...}}`` or ``{"type": "ticket", ...}``.
The writer thread publishes; each client has a bounded queue, and a client too slow to keep up
is disconnected (it reconnects and gets a fresh snapshot) rather than slowing the platform.
The handshake needs a viewer's credential (the session cookie or a bearer token; refused with
close code 1008 otherwise; the refusal is audited like the API's), and a client only gets what is
in its credential's scope.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ..errors import CityLifelineError
from ..store.base import IncidentFilter
from ..warn.lifecycle import ACTIVE_STATES
from .auth import audit_refusal, identify, token_of

router = APIRouter()
CLIENT_QUEUE = 1000


class Hub:
    """Fans messages from the writer thread out to the connected WebSocket clients."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clients: set[asyncio.Queue[dict[str, Any] | None]] = set()

    def publish(self, message: dict[str, Any]) -> None:
        """Thread-safe: queue ``message`` for every client."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._fan_out, message)

    def _fan_out(self, message: dict[str, Any]) -> None:
        for q in list(self.clients):
            try:
                q.put_nowait(message)
            except asyncio.QueueFull:  # too slow: drop it; the client reconnects for a snapshot
                self.clients.discard(q)
                with contextlib.suppress(asyncio.QueueFull):
                    q.get_nowait()
                    q.put_nowait(None)


@router.websocket("/api/v1/ws")
async def websocket(ws: WebSocket) -> None:
    """Push incident and ticket changes as they happen."""
    hub: Hub = ws.app.state.hub
    engine = ws.app.state.engine
    try:
        who = identify(engine, token_of(ws), ws, "viewer")
    except CityLifelineError as e:
        audit_refusal(ws, e)
        await ws.close(code=1008, reason=str(e)[:120])
        return
    mask = engine.access.sensor_mask(who)

    def visible(m: dict[str, Any]) -> bool:
        if m["type"] == "incident":
            return bool(engine.access.sees_incident(who, m["incident"]["lifeline"], m["incident"]["sensors"]))
        return m["type"] != "ticket" or bool(mask[m["ticket"]["sensor"]])

    await ws.accept()
    q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=CLIENT_QUEUE)
    hub.clients.add(q)
    try:
        active = engine.store.incidents(IncidentFilter(states=ACTIVE_STATES, limit=5000))
        hello = {"type": "hello", "incidents": [engine.incident_json(i) for i in active
                                                if engine.access.sees_incident(who, i.lifeline, i.sensors)]}
        await ws.send_text(orjson.dumps(hello).decode())
        receiver = asyncio.create_task(_drain(ws))
        while True:
            getter = asyncio.create_task(q.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                getter.cancel()
                return
            message = getter.result()
            if message is None:
                await ws.close(code=1013, reason="too slow; reconnect")
                return
            if visible(message):
                await ws.send_text(orjson.dumps(message).decode())
    except WebSocketDisconnect:
        return
    finally:
        hub.clients.discard(q)


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a closed socket is noticed."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await ws.receive_text()

