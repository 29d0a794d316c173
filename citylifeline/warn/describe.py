"""Events in words a duty officer understands: 'pressure 0.17 MPa is below the level II limit …'.

Detectors emit numbers (an ``EventBatch``); this module turns each row into an ``Event`` record
with a one-sentence reason, using the sensor's kind and display unit and the city's time zone.
Events are few compared with readings, so one object per event is fine here.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from .. import levels
from ..batch import EventBatch, EventKind
from ..city.sensors import SensorRegistry
from ..detect.anomaly import explain
from ..units import format_value
from .model import Event

KIND_NAMES = {k.value: k.name.lower() for k in EventKind}


def local_time(t_ms: int, tz: ZoneInfo) -> str:
    """'2026-11-23 10:05' in the city's time zone."""
    return datetime.fromtimestamp(t_ms / 1000, tz).strftime("%Y-%m-%d %H:%M")


def describe(events: EventBatch, registry: SensorRegistry, tz: ZoneInfo) -> list[Event]:
    """``Event`` records with messages for every row of ``events`` (ids are assigned later)."""
    out = []
    for i in range(len(events)):
        s = int(events.sensor[i])
        kind = EventKind(int(events.kind[i]))
        e = Event(sensor=s, sensor_id=registry.ids[s], t_ms=int(events.t_ms[i]), kind=KIND_NAMES[kind.value],
                  level=int(events.level[i]), active=bool(events.active[i]), value=float(events.value[i]),
                  ref=float(events.ref[i]), message="", cause=int(events.cause[i]),
                  detail=None if np.isnan(events.detail[i]) else float(events.detail[i]))
        e.message = _message(e, kind, registry.kind[s], tz)
        out.append(e)
    return out


def _message(e: Event, kind: EventKind, sensor_kind: str, tz: ZoneInfo) -> str:
    def fmt(v: float) -> str:
        return format_value(v, sensor_kind)

    what = sensor_kind.replace("_", " ")
    if kind is EventKind.THRESHOLD:
        if not e.active:
            return f"{what} back to normal at {fmt(e.value)} (limit {fmt(e.ref)})"
        side = "above" if e.value > e.ref else "below"
        return f"{what} {fmt(e.value)} is {side} the {levels.label(e.level)} limit {fmt(e.ref)}"
    if kind is EventKind.RATE:
        verb = "rose" if e.value > e.ref else "fell"
        return (f"{what} {verb} suddenly from {fmt(e.ref)} to {fmt(e.value)} and stayed there "
                f"({levels.label(e.level)} rate-of-change warning)")
    if kind is EventKind.ANOMALY:
        return explain(e.detail or 0.0, e.cause, fmt(e.value), fmt(e.ref), what)
    if kind is EventKind.STUCK:
        if not e.active:
            return f"value changing again ({fmt(e.value)})"
        return f"value stuck at {fmt(e.value)} for {int(e.ref)} readings in a row: check the transmitter"
    if kind is EventKind.NO_DATA:
        since = local_time(int(e.ref), tz)
        if not e.active:
            return f"data again after a silence since {since}"
        return f"no data since {since}: check power, signal and the data logger"
    if kind is EventKind.IMPOSSIBLE:
        if not e.active:
            return f"values physically possible again ({fmt(e.value)})"
        bound = "below the minimum" if e.value < e.ref else "above the maximum"
        return (f"{fmt(e.value)} is {bound} a {what} sensor can read ({fmt(e.ref)}): "
                "the reading is kept but ignored by the warnings; check the sensor")
    if kind is EventKind.SPIKE:
        return f"isolated spike to {fmt(e.value)} between readings near {fmt(e.ref)}: check wiring and grounding"
    return kind.name.lower()

