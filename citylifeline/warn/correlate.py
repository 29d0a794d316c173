"""Events → incidents and tickets: grouping, grading and anti-flood.

A warning event joins an open incident of the same lifeline when it is on an asset the incident
already covers (however long ago — a chattering sensor makes one incident, not hundreds), or
when it is within ``correlate_radius_m`` of one of the incident's sensors (along the network
where both are on one) and at most ``correlate_window_s`` after the incident's latest event.
Otherwise it opens a new incident.  An incident's level is the highest level of its events.
Sensor-fault events open, count and close maintenance tickets, one per sensor and fault.
"""

from __future__ import annotations

import math

from .. import levels
from ..city.model import City
from ..city.sensors import SensorRegistry
from ..errors import NotFound
from ..settings import Config
from ..store.base import Store, WarnChanges
from .lifecycle import ACTIVE_STATES, SYSTEM
from .model import Event, Incident, Ticket, TimelineEntry

FAULT_KINDS = ("stuck", "no_data", "impossible", "spike")
SPIKE_TICKET_QUIET_MS = 24 * 3600 * 1000  # a spike ticket closes after a day without spikes


class Correlator:
    """Holds the open incidents and tickets and applies events to them."""

    def __init__(self, city: City, registry: SensorRegistry, config: Config, store: Store) -> None:
        self.city = city
        self.registry = registry
        self.window_ms = int(config.correlate_window_s * 1000)
        self.radius_m = config.correlate_radius_m
        ids = store.next_ids()
        self._next_event, self._next_incident, self._next_ticket = ids["events"], ids["incidents"], ids["tickets"]
        self.active: dict[int, Incident] = {i.id: i for i in store.active_incidents()}
        self.tickets: dict[tuple[int, str], Ticket] = {(t.sensor, t.fault): t for t in store.open_tickets()}
        self._alarming: dict[int, dict[int, bool]] = {}  # incident → sensor → threshold warning in force
        for inc in self.active.values():
            for e in reversed(store.events(incident_id=inc.id, limit=10_000)):
                if e.kind == "threshold":
                    self._alarming.setdefault(inc.id, {})[e.sensor] = e.active
        self._distance_cache: dict[tuple[str, str], float] = {}

    def process(self, events: list[Event], now_ms: int, watermark_ms: int) -> WarnChanges:
        """Apply ``events`` (sorted by time) and return everything that changed."""
        ch = WarnChanges()
        for e in events:
            e.id = self._next_event
            self._next_event += 1
            if e.kind in FAULT_KINDS:
                self._ticket(e, now_ms, ch)
            else:
                self._warning(e, now_ms, ch)
            ch.events.append(e)
        self._close_quiet_spike_tickets(watermark_ms, now_ms, ch)
        return ch

    # ---- incidents ---------------------------------------------------------------------------
    def _warning(self, e: Event, now_ms: int, ch: WarnChanges) -> None:
        asset = self.registry.asset[e.sensor]
        inc = self._match(e, asset)
        if inc is None:
            if not e.active:
                return  # a clear with no open incident (e.g. it was resolved meanwhile): evidence only
            inc = self._open(e, asset, now_ms)
            ch.timeline.append(TimelineEntry(inc.id, now_ms, SYSTEM, "open", "", "new", e.message))
        else:
            self._join(inc, e, asset, now_ms, ch)
        if e.kind == "threshold":
            alarming = self._alarming.setdefault(inc.id, {})
            alarming[e.sensor] = e.active
            inc.cleared_t_ms = e.t_ms if not any(alarming.values()) else None
        e.incident_id = inc.id
        ch.incidents[inc.id] = inc

    def _match(self, e: Event, asset: str) -> Incident | None:
        layer = self.registry.layer[e.sensor]
        best: Incident | None = None
        for inc in self.active.values():
            if inc.state not in ACTIVE_STATES or inc.lifeline != layer:
                continue
            related = asset in inc.assets or (e.t_ms - inc.t_last_ms <= self.window_ms and self._near(asset, inc))
            if related and (best is None or (inc.level, inc.t_last_ms) > (best.level, best.t_last_ms)):
                best = inc
        return best

    def _near(self, asset: str, inc: Incident) -> bool:
        return any(self._distance(asset, other) <= self.radius_m for other in inc.assets)

    def _distance(self, a: str, b: str) -> float:
        key = (a, b) if a <= b else (b, a)
        d = self._distance_cache.get(key)
        if d is None:
            try:
                d = self.city.distance_m(self.city.asset(a), self.city.asset(b), cutoff_m=self.radius_m)
            except NotFound:  # an asset missing from the model: never near
                d = math.inf
            self._distance_cache[key] = d
        return d

    def _open(self, e: Event, asset: str, now_ms: int) -> Incident:
        s = e.sensor
        inc = Incident(id=self._next_incident, lifeline=self.registry.layer[s], level=e.level, state="new",
                       title=_title(e, self.registry, self.city), t_first_ms=e.t_ms, t_last_ms=e.t_ms,
                       created_at_ms=now_ms, updated_at_ms=now_ms, x=float(self.registry.x[s]),
                       y=float(self.registry.y[s]), sensors=[e.sensor_id], assets=[asset], event_count=1)
        self._next_incident += 1
        self.active[inc.id] = inc
        return inc

    def _join(self, inc: Incident, e: Event, asset: str, now_ms: int, ch: WarnChanges) -> None:
        inc.event_count += 1
        inc.t_last_ms = max(inc.t_last_ms, e.t_ms)
        inc.updated_at_ms = now_ms
        if e.sensor_id not in inc.sensors:
            inc.sensors.append(e.sensor_id)
            idx = [self.registry.index[sid] for sid in inc.sensors]
            inc.x = float(self.registry.x[idx].mean())
            inc.y = float(self.registry.y[idx].mean())
            ch.timeline.append(TimelineEntry(inc.id, now_ms, SYSTEM, "correlate", inc.state, inc.state,
                                             f"{e.sensor_id} joined: {e.message}"))
        if asset not in inc.assets:
            inc.assets.append(asset)
        if e.active and e.level > inc.level:
            before = levels.label(inc.level)
            inc.level = e.level
            inc.title = _title(e, self.registry, self.city)  # named after what drives its level
            ch.timeline.append(TimelineEntry(inc.id, now_ms, SYSTEM, "raise_level", inc.state, inc.state,
                                             f"{before} → {levels.label(e.level)}: {e.sensor_id} {e.message}"))

    def forget_closed(self) -> None:
        """Drop incidents that an operator has resolved, archived or marked false alarms."""
        for iid in [i for i, inc in self.active.items() if inc.state not in ACTIVE_STATES]:
            del self.active[iid]
            self._alarming.pop(iid, None)

    # ---- tickets -----------------------------------------------------------------------------
    def _ticket(self, e: Event, now_ms: int, ch: WarnChanges) -> None:
        key = (e.sensor, e.kind)
        t = self.tickets.get(key)
        if e.active:
            if t is None:
                t = Ticket(id=self._next_ticket, sensor=e.sensor, sensor_id=e.sensor_id, fault=e.kind, state="open",
                           t_opened_ms=e.t_ms, t_last_ms=e.t_ms, created_at_ms=now_ms, updated_at_ms=now_ms,
                           message=e.message)
                self._next_ticket += 1
                self.tickets[key] = t
            else:
                t.event_count += 1
                t.t_last_ms = max(t.t_last_ms, e.t_ms)
                t.updated_at_ms = now_ms
        elif t is not None:
            self._close_ticket(t, e.t_ms, now_ms, e.message, ch)
        if t is not None:
            e.ticket_id = t.id
            ch.tickets[t.id] = t

    def _close_ticket(self, t: Ticket, t_ms: int, now_ms: int, note: str, ch: WarnChanges) -> None:
        t.state, t.t_closed_ms, t.updated_at_ms, t.note = "closed", t_ms, now_ms, note
        self.tickets.pop((t.sensor, t.fault), None)
        ch.tickets[t.id] = t

    def _close_quiet_spike_tickets(self, watermark_ms: int, now_ms: int, ch: WarnChanges) -> None:
        for t in [t for t in self.tickets.values() if t.fault == "spike"]:
            if watermark_ms - t.t_last_ms > SPIKE_TICKET_QUIET_MS:
                self._close_ticket(t, t.t_last_ms + SPIKE_TICKET_QUIET_MS, now_ms, "no spike for 24 h", ch)

    def close_ticket(self, ticket_id: int, actor: str, note: str, now_ms: int) -> WarnChanges:
        """Close an open ticket by hand (the maintenance crew fixed the sensor)."""
        for t in list(self.tickets.values()):
            if t.id == ticket_id:
                ch = WarnChanges()
                self._close_ticket(t, t.t_last_ms, now_ms, f"closed by {actor}: {note}".rstrip(": "), ch)
                return ch
        raise NotFound(f"ticket {ticket_id} is not open (closed tickets cannot be closed again)")

def _title(e: Event, registry: SensorRegistry, city: City) -> str:
    kind = registry.kind[e.sensor].replace("_", " ")
    if e.kind == "rate":
        what = f"sudden {kind} {'rise' if e.value > e.ref else 'drop'}"
    else:
        what = f"{'high' if e.value > e.ref else 'low'} {kind}"
    asset = registry.asset[e.sensor]
    try:
        a = city.asset(asset)
        where = f"{a.kind} {a.props.get('label') or a.name}"
    except NotFound:  # the asset is not in the model: name the sensor's asset key instead
        where = asset
    return f"{registry.layer[e.sensor].capitalize()}: {what} at {where}"
