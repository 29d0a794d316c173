"""What the duty officer's screens show at a glance: every sensor's state, the city overview,
and the maintenance view of sensor health.

A sensor's *state* is one code, the worst that applies:

- ``offline`` (6): never reported, or silent for ``no_data_intervals`` of its sampling interval,
  judged against the newest data time the platform has seen (as the no-data detector does);
- ``fault`` (5): an open maintenance ticket (stuck, spiking, impossible values);
- ``1..4``: its current threshold level, as a severity (1 = IV blue … 4 = I red);
- ``normal`` (0).

Everything here reads the store and the detector state; nothing changes them.  The arrays are
read from the API threads while the writer thread updates them: a screen may be one batch behind.
Each view takes the sensors (``visible``) and incidents (``sees``) of a credential's scope, and
counts nothing outside them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from . import levels
from .batch import NO_TIME
from .city.model import LIFELINES
from .engine import Engine
from .store.base import IncidentFilter
from .warn.lifecycle import ACTIVE_STATES
from .warn.model import Incident

FAULT, OFFLINE = 5, 6
STATE_NAMES = {0: "normal", 1: "IV", 2: "III", 3: "II", 4: "I", FAULT: "fault", OFFLINE: "offline"}
TREND_HOURS = 24
BATTERY_LOW = 0.2  # fraction of full charge below which the health page flags a battery
SIGNAL_WEAK_DBM = -105.0  # NB-IoT/LTE-M coverage is poor below about this RSRP
BATTERY_SUFFIX, SIGNAL_SUFFIX = ".battery", ".signal"
"""A device reports its battery charge (kind ``ratio``) and radio signal (kind ``signal``) as
channels of their own, named after the sensor: ``GL-03.battery``, ``GL-03.signal``."""


def state_codes(engine: Engine) -> tuple[np.ndarray, np.ndarray]:
    """Every sensor's state code (by registry index) and newest reading time (-1: none)."""
    reg, store, pipe = engine.registry, engine.store, engine.pipeline
    n = len(reg)
    code = pipe.threshold_levels()
    faulty = [t.sensor for t in store.open_tickets() if t.fault != "no_data" and t.sensor < n]
    code[faulty] = FAULT
    last_t = _padded(store.last_t, n, -1)
    code[offline_mask(engine, last_t)] = OFFLINE
    return code, last_t


def sensor_states(engine: Engine, visible: np.ndarray | None = None) -> dict[str, Any]:
    """Every active sensor's state code, newest time and value, as index-aligned columns (only the
    sensors ``visible`` marks, where given)."""
    reg, pipe = engine.registry, engine.pipeline
    code, last_t = state_codes(engine)
    value = _padded(engine.store.last_value, len(reg), math.nan)
    keep = np.flatnonzero(reg.active if visible is None else reg.active & visible)
    return {
        "now_ms": int(pipe.watermark_ms) if pipe.watermark_ms != NO_TIME else None,
        "legend": STATE_NAMES,
        "sensor": [reg.ids[i] for i in keep],
        "state": code[keep].tolist(),
        "t": [int(t) if t >= 0 else None for t in last_t[keep]],
        "value": [None if math.isnan(v) else float(v) for v in value[keep]],
    }


def offline_mask(engine: Engine, last_t: np.ndarray) -> np.ndarray:
    """Sensors that never reported or have been silent past their no-data limit."""
    reg, pipe = engine.registry, engine.pipeline
    limit_ms = (reg.interval_s * engine.config.no_data_intervals * 1000).astype(np.int64)
    silent = last_t < 0
    if pipe.watermark_ms != NO_TIME:
        silent |= (pipe.watermark_ms - last_t) > limit_ms
    return silent


def reporting(engine: Engine, visible: np.ndarray) -> int:
    """How many of the sensors ``visible`` marks have reported."""
    n = min(len(visible), len(engine.store.last_t))
    return int(((engine.store.last_t[:n] >= 0) & visible[:n]).sum())


def overview(engine: Engine, now_ms: int, visible: np.ndarray | None = None,
             sees: Callable[[Incident], bool] | None = None, lifelines: tuple[str, ...] = LIFELINES
             ) -> dict[str, Any]:
    """Counts by lifeline and level, sensors by state, incidents created today (wall clock, city
    time) with their mean response times, and the trend over the last day of data time — of the
    sensors ``visible`` marks, the incidents ``sees`` admits and the ``lifelines`` given (where given)."""
    store = engine.store

    def seen(incidents: list[Incident]) -> list[Incident]:
        return incidents if sees is None else [i for i in incidents if sees(i)]

    active = seen(store.incidents(IncidentFilter(states=ACTIVE_STATES, limit=1_000_000)))
    by_lifeline = {ll: {levels.roman(s): 0 for s in (4, 3, 2, 1)} for ll in lifelines}
    for inc in active:
        by_lifeline.setdefault(inc.lifeline, {levels.roman(s): 0 for s in (4, 3, 2, 1)})
        by_lifeline[inc.lifeline][levels.roman(inc.level)] += 1
    shown = engine.registry.active if visible is None else engine.registry.active & visible
    codes = state_codes(engine)[0][shown]
    counted = Counter(codes.tolist())
    total = len(codes)
    midnight_ms = day_start_ms(now_ms, engine.city.timezone)
    trend_end = _trend_end(engine, now_ms)  # data time: a replay of last year has last year's trend
    recent = seen(store.incidents(IncidentFilter(since_ms=min(midnight_ms, trend_end - TREND_HOURS * 3_600_000),
                                                 limit=1_000_000)))
    today = [i for i in recent if i.created_at_ms >= midnight_ms]
    return {
        "city": engine.city.name, "now_ms": now_ms, "timezone": engine.city.timezone,
        "active_by_lifeline": by_lifeline,
        "active_total": len(active),
        "sensors": {"total": total, "normal": counted[0],
                    "warning": sum(counted[s] for s in (1, 2, 3, 4)),
                    "fault": counted[FAULT], "offline": counted[OFFLINE],
                    "online": total - counted[OFFLINE]},
        "today": {"since_ms": midnight_ms, "incidents": len(today),
                  "by_level": {levels.roman(s): sum(1 for i in today if i.level == s) for s in (4, 3, 2, 1)},
                  "false_alarms": sum(1 for i in today if i.state == "false_alarm")},
        "response": response_times(today),
        "trend": incident_trend(recent, trend_end),
    }


def response_times(incidents: list[Incident]) -> dict[str, float | int | None]:
    """Mean minutes from an incident's creation to its acknowledgement and to its resolution."""
    ack = [(i.acknowledged_at_ms - i.created_at_ms) / 60_000 for i in incidents if i.acknowledged_at_ms]
    res = [(i.resolved_at_ms - i.created_at_ms) / 60_000 for i in incidents if i.resolved_at_ms]
    return {"mean_to_acknowledge_min": round(float(np.mean(ack)), 1) if ack else None, "acknowledged": len(ack),
            "mean_to_resolve_min": round(float(np.mean(res)), 1) if res else None, "resolved": len(res)}


def incident_trend(incidents: list[Incident], end_ms: int, hours: int = TREND_HOURS) -> dict[str, Any]:
    """New incidents per hour of data time by level, over the ``hours`` before ``end_ms``."""
    end_ms = (end_ms // 3_600_000 + 1) * 3_600_000
    start_ms = end_ms - hours * 3_600_000
    counts = {levels.roman(s): [0] * hours for s in (4, 3, 2, 1)}
    for inc in incidents:
        h = (inc.t_first_ms - start_ms) // 3_600_000
        if 0 <= h < hours:
            counts[levels.roman(inc.level)][h] += 1
    return {"hour_ms": [start_ms + h * 3_600_000 for h in range(hours)], "by_level": counts}


def _trend_end(engine: Engine, now_ms: int) -> int:
    wm = engine.pipeline.watermark_ms
    return int(wm) if wm != NO_TIME else now_ms


def sensor_health(engine: Engine, visible: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Sensors needing maintenance — open tickets, offline, low battery or weak signal — worst first
    (of the sensors ``visible`` marks, where given)."""
    reg, store, pipe = engine.registry, engine.store, engine.pipeline
    n = len(reg)
    last_t = _padded(store.last_t, n, -1)
    last_v = _padded(store.last_value, n, math.nan)
    offline = offline_mask(engine, last_t)
    tickets: dict[int, list[dict[str, Any]]] = {}
    for t in store.open_tickets():
        tickets.setdefault(t.sensor, []).append({"id": t.id, "fault": t.fault, "since_ms": t.t_opened_ms,
                                                 "message": t.message})
    rows: list[dict[str, Any]] = []
    for i in map(int, np.flatnonzero(reg.active if visible is None else reg.active & visible)):
        sid = reg.ids[i]
        if sid.endswith((BATTERY_SUFFIX, SIGNAL_SUFFIX)):
            continue
        battery = _channel(reg.index.get(sid + BATTERY_SUFFIX), last_t, last_v)
        signal = _channel(reg.index.get(sid + SIGNAL_SUFFIX), last_t, last_v)
        problems = [t["fault"] for t in tickets.get(i, [])]
        if offline[i] and "no_data" not in problems:
            problems.append("never_reported" if last_t[i] < 0 else "offline")
        if battery is not None and battery < BATTERY_LOW:
            problems.append("battery_low")
        if signal is not None and signal < SIGNAL_WEAK_DBM:
            problems.append("signal_weak")
        if not problems:
            continue
        silent = None
        if last_t[i] >= 0 and pipe.watermark_ms != NO_TIME:
            silent = round((pipe.watermark_ms - int(last_t[i])) / 1000)
        rows.append({"sensor": sid, "name": reg.specs[i].name, "kind": reg.kind[i], "lifeline": reg.layer[i],
                     "asset": reg.asset[i], "problems": problems, "tickets": tickets.get(i, []),
                     "last_t": int(last_t[i]) if last_t[i] >= 0 else None,
                     "silent_s": silent, "battery": battery, "signal_dbm": signal})
    rows.sort(key=lambda r: (-len(r["problems"]), r["last_t"] or 0))
    return rows


def _channel(i: int | None, last_t: np.ndarray, last_v: np.ndarray) -> float | None:
    if i is None or i >= len(last_t) or last_t[i] < 0 or math.isnan(last_v[i]):
        return None
    return float(last_v[i])


def _padded(a: np.ndarray, n: int, fill: float) -> np.ndarray:
    """``a`` cut or padded to ``n`` entries (the store's arrays grow as sensors first report)."""
    if len(a) >= n:
        return a[:n].copy()
    out = np.full(n, fill, dtype=a.dtype)
    out[: len(a)] = a
    return out


def day_start_ms(now_ms: int, tz: str) -> int:
    """Epoch ms of local midnight of ``now_ms`` in ``tz``."""
    d = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(tz))
    return int(d.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
