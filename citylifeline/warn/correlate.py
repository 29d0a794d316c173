"""Events → incidents and tickets: grouping, grading and anti-flood.

A warning event joins an open incident of the same lifeline when it is on an asset the incident
already covers (however long ago — a chattering sensor makes one incident, not hundreds), or
when it is within ``correlate_radius_m`` of one of the incident's sensors (along the network
where both are on one) and at most ``correlate_window_s`` after the incident's latest event.
Otherwise it opens a new incident.  An incident's level is the highest level of its events.
Sensor-fault events open, count and close maintenance tickets, one per sensor and fault; an
analyst's judgement that a sensor is faulty (``MODEL_FAULT_KINDS``: the water model's ``drift``)
counts on the sensor's open ticket if it has one (a frozen transmitter also strays from the model:
one thing for the crew to fix, one ticket).

AI anomaly warnings are early signs.  By default (``anomaly_corroborate_sensors`` = 0) they are
evidence only: a sign related to an open incident is attached to it without changing its level,
sensors or assets, and other signs are stored on their sensor.  With
``anomaly_corroborate_sensors`` = N > 0 a sign joins incidents like any warning and opens one
when N sensors within ``correlate_radius_m`` have had signs within ``anomaly_corroborate_s``
(one unusual reading on one sensor is not an incident for the duty officer; several sensors
agreeing may be).  An incident that only anomalies have fed holds its assets only for
``correlate_window_s``, so an old AI incident does not swallow a later rule warning.

AI review of minor rule warnings: a blue (IV) or yellow (III) threshold or rate warning that
would open an incident is kept as evidence instead when its reading is within
``ai_review_deviations`` robust deviations of what the AI detector has learned its sensor
usually reads at that hour and weekday (``detect.anomaly.review`` sets the event's ``detail``).
Examples: a pressure that dips below a blue limit every morning, or a transmitter thawing back
to its usual value (the AI learns nothing while a value is frozen).  Orange and red warnings,
warnings joining an open incident, and sensors the AI is still learning are never reviewed.

Lifeline analysts (``analysis``): their events (a judged gas leak, dangerous sewer gas) join
and open incidents like rule warnings, on the lifeline that owns the danger (``KIND_LIFELINE``:
sewer gas belongs to the drainage owner), at the level the analyst graded.  Rule and AI warnings
of the sensors an analyst judges (``judged_from``, ``judged_until``: from and until when) are
evidence only: attached to a related open incident without changing it, else stored on their
sensor; the analyst's judgement decides.  So are an analyst's records (``EVIDENCE_KINDS``: an
overweight lorry counted).  An analyst's estimate that is refined as evidence grows (a water leak's size and place:
``ESTIMATE_KINDS``) is a line on its incident's timeline each time it joins.

Structures (``STRUCTURES``: bridges) are judged one by one: a warning joins an incident of its
own structure only, and anomaly signs corroborate only on it; so are the places a forecast is
for (``PLACE_KINDS``: a waterlogging forecast joins its own place's incident, never the storm's
other places').  (Bridge warnings correlated
within the radius — the whole district — merged a 12 % stiffness loss into an unrelated
incident of another bridge.)

Cascades (``cascade.chains``): when an incident opens or takes in a new asset, what it threatens next
is worked out along the coupling of the lifelines; the first time a chain reaches people through
another lifeline (gas from a sewer into the cable wells and the tunnel, then ignition beside a school),
the incident rises one level, with the chain on its timeline.  Its own analyst has graded the danger
at its own place; the chain is what it could not see.

Construction sites (``risk.sites``): a sensor within ``WORKS_REACH_M`` of a site in force is watched
more closely while the works last: its minor warnings are never reviewed away as usual, and one AI sign
of its own opens an incident (an excavator strikes without warning; the first odd reading beside an
active dig is worth a look).

Anti-flood: at most ``max_incidents_per_asset_hour`` incidents are opened on one asset in any
hour of data time (an asset whose incidents operators keep closing does not reopen one every few
minutes); a warning beyond that is stored as evidence, says that it was suppressed, and opens
nothing.
"""

from __future__ import annotations

import contextlib
import math
from collections import deque

import numpy as np
import numpy.typing as npt
import shapely

from .. import levels
from ..batch import NEVER_MS
from ..cascade.chains import Cascader
from ..city.model import City
from ..city.sensors import SensorRegistry
from ..errors import NotFound
from ..risk.factors import WORKS_REACH_M
from ..risk.sites import ConstructionSite
from ..settings import Config
from ..store.base import Store, WarnChanges
from .lifecycle import ACTIVE_STATES, SYSTEM
from .model import Event, Incident, Ticket, TimelineEntry

FAULT_KINDS = ("stuck", "no_data", "impossible", "spike", "drift")  # drift: the water analyst's model
BRIDGE_TITLES = {"bridge_damage": "suspected structural damage 疑似结构损伤",
                 "bridge_overload": "a load beyond the design load 超设计荷载", "bridge_overweight": "heavy load 重载"}
EVIDENCE_KINDS = ("bridge_overweight",)  # an analyst's record: joins an open incident of its place, opens none
MODEL_FAULT_KINDS = ("drift",)  # an analyst's judgement of a sensor: joins the sensor's open ticket if it has one
RULE_KINDS = ("threshold", "rate", "anomaly")
ALARM_KINDS = ("threshold", "gas_leak", "sewer_gas")  # warnings with a level in force until they clear
KIND_LIFELINE = {"sewer_gas": "drainage"}
"""Analyst event kinds whose incidents belong to another lifeline than their sensor's."""
STRUCTURES = ("bridge",)
"""Lifelines whose assets are structures: a warning joins an incident of its own structure only,
never another's however near (a bridge's strain says nothing of the bridge 1 km downstream)."""
PLACE_KINDS = ("waterlogging_forecast",)
"""An analyst's forecast for one place (a waterlogging point or catchment, told on its sensor): it joins
only an incident of that sensor, never another place's however near (a storm floods places one by one,
each with its own time, depth and crew)."""
ESTIMATE_KINDS = ("water_leak", "water_burst")  # an analyst's estimate: each one joining an incident is on its timeline
REVIEWED_KINDS = ("threshold", "rate")  # the rule warnings the AI review may keep from opening incidents
REVIEWED_MAX_LEVEL = levels.SEVERITIES[1]  # yellow (III) and blue (IV) only
HOUR_MS = 3600 * 1000
SPIKE_TICKET_QUIET_MS = 24 * HOUR_MS  # a spike ticket closes after a day without spikes


def first_id(at_least: int, index: int, count: int) -> int:
    """The smallest id ≥ ``at_least`` of partition ``index`` of ``count`` (ids k+1, k+1+n, k+1+2n, …)."""
    if not 0 <= index < count:
        raise ValueError(f"partition {index} of {count} does not exist")
    return at_least + (index + 1 - at_least) % count


class Correlator:
    """Holds the open incidents and tickets and applies events to them."""

    def __init__(self, city: City, registry: SensorRegistry, config: Config, store: Store,
                 partition: tuple[int, int] = (0, 1), judged_from: npt.NDArray[np.int64] | None = None) -> None:
        self.city = city
        self.registry = registry
        self.judged_from = judged_from if judged_from is not None else np.full(len(registry), NEVER_MS, np.int64)
        self.judged_until = np.full(len(registry), NEVER_MS, np.int64)  # ... and until when (the analysts')
        self.window_ms = int(config.correlate_window_s * 1000)
        self.radius_m = config.correlate_radius_m
        self.max_per_asset_hour = config.max_incidents_per_asset_hour
        self._opened: dict[str, deque[int]] = {}  # asset → data times of incidents opened in the last hour
        self.corroborate_ms = int(config.anomaly_corroborate_s * 1000)
        self.corroborate_sensors = config.anomaly_corroborate_sensors
        self.review_deviations = config.ai_review_deviations
        self._signs: deque[Event] = deque()  # recent uncorroborated anomaly events
        self._ai_only: set[int] = set()  # incidents opened by anomalies that no rule warning has joined
        ids = store.next_ids()
        index, self._id_step = partition  # partition k of n numbers k+1, k+1+n, …: ids unique city-wide
        self._next_event, self._next_incident, self._next_ticket = (
            first_id(ids[t], index, self._id_step) for t in ("events", "incidents", "tickets"))
        self.active: dict[int, Incident] = {i.id: i for i in store.active_incidents()}
        self.tickets: dict[tuple[int, str], Ticket] = {(t.sensor, t.fault): t for t in store.open_tickets()}
        self._alarming: dict[int, dict[int, bool]] = {}  # incident → sensor → threshold warning in force
        for inc in self.active.values():
            for e in reversed(store.events(incident_id=inc.id, limit=10_000)):
                if e.kind in ALARM_KINDS:
                    self._alarming.setdefault(inc.id, {})[e.sensor] = e.active
        self._distance_cache: dict[tuple[str, str], float] = {}
        self._near_works: dict[int, list[tuple[int, int | None, str]]] = {}  # sensor → sites' (start, end, name)
        self._cascader: Cascader | None = None  # built at the first incident (the city's coupling)
        self._cascade_raised = {inc.id for inc in self.active.values()
                                if any(t.action == "cascade_raise" for t in store.timeline(inc.id))}

    def process(self, events: list[Event], now_ms: int, watermark_ms: int) -> WarnChanges:
        """Apply ``events`` (sorted by time) and return everything that changed."""
        ch = WarnChanges()
        for e in events:
            e.id = self._next_event
            self._next_event += self._id_step
            if e.kind in FAULT_KINDS:
                self._ticket(e, now_ms, ch)
            else:
                self._warning(e, now_ms, ch)
            ch.events.append(e)
        self._close_quiet_spike_tickets(watermark_ms, now_ms, ch)
        return ch

    # ---- incidents ---------------------------------------------------------------------------
    def _warning(self, e: Event, now_ms: int, ch: WarnChanges) -> None:
        asset = e.asset or self.registry.asset[e.sensor]
        inc = self._match(e, asset)
        judged = (e.kind in RULE_KINDS and e.sensor < len(self.judged_from)
                  and self.judged_from[e.sensor] <= e.t_ms < self.judged_until[e.sensor])
        if judged or e.kind in EVIDENCE_KINDS:
            e.message += (" — evidence: this lifeline's analyst judges it" if judged else
                          " — recorded; it opens no incident of its own")
            if inc is not None:
                inc.event_count += 1
                inc.updated_at_ms = now_ms
                e.incident_id = inc.id
                ch.incidents[inc.id] = inc
            return
        if inc is None:
            if not e.active:
                return  # a clear with no open incident (e.g. it was resolved meanwhile): evidence only
            works = self._works_near(e)
            if works and e.kind in ("anomaly", *REVIEWED_KINDS):
                e.message += f" — beside construction site {works}: watched closely while the works last"
            sign = (e if works else self._corroborating_sign(e, asset)) if e.kind == "anomaly" else None
            if e.kind == "anomaly" and sign is None:
                return
            if self._usual(e) and not works:
                e.message += (f" — usual for this sensor at this hour (AI review: {abs(e.detail or 0.0):.1f} robust "
                              "deviations from what it usually reads); kept as evidence")
                return
            if self._flooding(asset, e.t_ms):
                e.message += (f" — suppressed: {self.max_per_asset_hour} incidents already opened on this asset "
                              "in the past hour (anti-flood)")
                return
            inc = self._open(e, asset, now_ms)
            ch.timeline.append(TimelineEntry(inc.id, now_ms, SYSTEM, "open", "", "new", e.message))
            self._cascade(inc, now_ms, ch)
            if e.kind == "anomaly":
                self._ai_only.add(inc.id)
            if sign is not None and sign is not e:  # the earlier sign is part of it
                self._join(inc, sign, self.registry.asset[sign.sensor], now_ms, ch)
                sign.incident_id = inc.id
        elif e.kind == "anomaly" and not self.corroborate_sensors:  # evidence only: the incident is unchanged
            e.message += " — an early sign, attached as evidence"
            inc.event_count += 1
            inc.updated_at_ms = now_ms
        else:
            self._join(inc, e, asset, now_ms, ch)
            if e.kind != "anomaly":
                self._ai_only.discard(inc.id)
        if e.kind in ALARM_KINDS:
            alarming = self._alarming.setdefault(inc.id, {})
            alarming[e.sensor] = e.active
            inc.cleared_t_ms = e.t_ms if not any(alarming.values()) else None
        e.incident_id = inc.id
        ch.incidents[inc.id] = inc

    def sites(self, sites: list[ConstructionSite]) -> None:
        """Every construction site registered (all of them, each time one is made or changed)."""
        self._near_works = {}
        xy = np.column_stack([self.registry.x, self.registry.y])
        for site in sites:
            if site.state != "open":
                continue
            near = shapely.dwithin(site.geometry, shapely.points(xy), WORKS_REACH_M)
            for i in np.flatnonzero(near):
                self._near_works.setdefault(int(i), []).append((site.start_ms, site.end_ms, site.name))

    def _works_near(self, e: Event) -> str:
        """The name of a construction site in force beside ``e``'s sensor at its time ('' for none)."""
        return next((name for start, end, name in self._near_works.get(e.sensor, ())
                     if start <= e.t_ms and (end is None or e.t_ms < end)), "")

    def _usual(self, e: Event) -> bool:
        """A minor rule warning on a reading the AI calls usual for its sensor (``ai_review_deviations``)."""
        return (e.kind in REVIEWED_KINDS and e.level <= REVIEWED_MAX_LEVEL and e.detail is not None
                and abs(e.detail) <= self.review_deviations)

    def _corroborating_sign(self, e: Event, asset: str) -> Event | None:
        """The earliest of the recent signs on other sensors of the same lifeline nearby when,
        with ``e``, enough sensors agree; else None, and ``e`` is remembered as a sign and says
        why it opened nothing."""
        if not self.corroborate_sensors:
            e.message += " — an early sign, kept as evidence"
            return None
        while self._signs and self._signs[0].t_ms < e.t_ms - self.corroborate_ms:
            self._signs.popleft()
        layer = self.registry.layer[e.sensor]
        agree: dict[int, Event] = {}
        for other in self._signs:
            if other.sensor != e.sensor and other.sensor not in agree and self.registry.layer[other.sensor] == layer \
                    and self._close(asset, self.registry.asset[other.sensor], layer):
                agree[other.sensor] = other
        if len(agree) + 1 >= self.corroborate_sensors:
            first = min(agree.values(), key=lambda o: o.t_ms) if agree else e
            e.message += f" — corroborated by {', '.join(o.sensor_id for o in agree.values())}" if agree else ""
            for o in agree.values():
                self._signs.remove(o)
            return first
        self._signs.append(e)
        e.message += " — an early sign; it opens an incident when nearby sensors agree"
        return None

    def _flooding(self, asset: str, t_ms: int) -> bool:
        """True when ``asset`` has had its hour's share of new incidents; else counts one more."""
        opened = self._opened.setdefault(asset, deque())
        while opened and opened[0] <= t_ms - HOUR_MS:
            opened.popleft()
        if len(opened) >= self.max_per_asset_hour:
            return True
        opened.append(t_ms)
        return False

    def _lifeline(self, e: Event) -> str:
        return KIND_LIFELINE.get(e.kind, self.registry.layer[e.sensor])

    def _match(self, e: Event, asset: str) -> Incident | None:
        layer = self._lifeline(e)
        best: Incident | None = None
        for inc in self.active.values():
            if inc.state not in ACTIVE_STATES or inc.lifeline != layer:
                continue
            recent = e.t_ms - inc.t_last_ms <= self.window_ms
            on_asset = asset in inc.assets and (recent or inc.id not in self._ai_only)  # AI signs do not hold an asset
            on_asset |= e.kind in ESTIMATE_KINDS and e.sensor_id in inc.sensors  # a leak placed again: its incident
            related = on_asset or (recent and any(self._close(asset, other, layer) for other in inc.assets))
            if e.kind in PLACE_KINDS:  # a forecast of one place: its own incident only
                related = asset in inc.assets
            if related and (best is None or (inc.level, inc.t_last_ms) > (best.level, best.t_last_ms)):
                best = inc
        return best

    def _close(self, a: str, b: str, layer: str) -> bool:
        """Whether warnings on assets ``a`` and ``b`` of ``layer`` are of one place: within
        ``correlate_radius_m``, or for a structure (``STRUCTURES``) the same one."""
        return a == b if layer in STRUCTURES else self._distance(a, b) <= self.radius_m

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
        x, y = float(self.registry.x[s]), float(self.registry.y[s])
        if e.asset:  # at the place it is about
            with contextlib.suppress(NotFound):
                x, y = self.city.asset(e.asset).xy
        inc = Incident(id=self._next_incident, lifeline=self._lifeline(e), level=e.level, state="new",
                       title=_title(e, self.registry, self.city), t_first_ms=e.t_ms, t_last_ms=e.t_ms,
                       created_at_ms=now_ms, updated_at_ms=now_ms, x=x, y=y, sensors=[e.sensor_id], assets=[asset],
                       event_count=1)
        self._next_incident += self._id_step
        self.active[inc.id] = inc
        return inc

    def _join(self, inc: Incident, e: Event, asset: str, now_ms: int, ch: WarnChanges) -> None:
        inc.event_count += 1
        inc.t_last_ms = max(inc.t_last_ms, e.t_ms)
        inc.updated_at_ms = now_ms
        if e.sensor_id not in inc.sensors:
            inc.sensors.append(e.sensor_id)
            if e.kind not in PLACE_KINDS:  # an incident of a place stays at its place
                idx = [self.registry.index[sid] for sid in inc.sensors]
                inc.x = float(self.registry.x[idx].mean())
                inc.y = float(self.registry.y[idx].mean())
            ch.timeline.append(TimelineEntry(inc.id, now_ms, SYSTEM, "correlate", inc.state, inc.state,
                                             f"{e.sensor_id} joined: {e.message}"))
        elif e.kind in ESTIMATE_KINDS:  # a leak's estimate narrowing (its size, its place) on the same sensor
            ch.timeline.append(TimelineEntry(inc.id, now_ms, SYSTEM, "estimate", inc.state, inc.state, e.message))
        if asset not in inc.assets:
            inc.assets.append(asset)
            self._cascade(inc, now_ms, ch)
        if e.active and e.level > inc.level:
            before = levels.label(inc.level)
            inc.level = e.level
            inc.title = _title(e, self.registry, self.city)  # named after what drives its level
            ch.timeline.append(TimelineEntry(inc.id, now_ms, SYSTEM, "raise_level", inc.state, inc.state,
                                             f"{before} → {levels.label(e.level)}: {e.sensor_id} {e.message}"))

    def cascader(self) -> Cascader:
        """The cascade analysis of this city (built once, at the first incident)."""
        if self._cascader is None:
            self._cascader = Cascader(self.city, self.registry)
        return self._cascader

    def _cascade(self, inc: Incident, now_ms: int, ch: WarnChanges) -> None:
        """Raise ``inc`` one level the first time a chain of its cascade reaches people (module docstring)."""
        if inc.id in self._cascade_raised or inc.level >= levels.SEVERITIES[-1]:
            return
        people = self.cascader().analyse(inc).reaches_people
        if people is None:
            return
        self._cascade_raised.add(inc.id)
        before = levels.label(inc.level)
        inc.level += 1
        ch.timeline.append(TimelineEntry(inc.id, now_ms, SYSTEM, "cascade_raise", inc.state, inc.state,
                                         f"{before} → {levels.label(inc.level)}: {people.reason_en} "
                                         f"({people.likelihood:.0%}) / {people.reason_zh}"))

    def forget_closed(self) -> None:
        """Drop incidents that an operator has resolved, archived or marked false alarms."""
        for iid in [i for i, inc in self.active.items() if inc.state not in ACTIVE_STATES]:
            del self.active[iid]
            self._alarming.pop(iid, None)
            self._ai_only.discard(iid)

    # ---- tickets -----------------------------------------------------------------------------
    def _ticket(self, e: Event, now_ms: int, ch: WarnChanges) -> None:
        key = (e.sensor, e.kind)
        t = self.tickets.get(key)
        if t is None and e.active and e.kind in MODEL_FAULT_KINDS:  # a sensor already on the crew's list: its ticket
            t = next((o for (sensor, _), o in self.tickets.items() if sensor == e.sensor), None)
        if e.active:
            if t is None:
                t = Ticket(id=self._next_ticket, sensor=e.sensor, sensor_id=e.sensor_id, fault=e.kind, state="open",
                           t_opened_ms=e.t_ms, t_last_ms=e.t_ms, created_at_ms=now_ms, updated_at_ms=now_ms,
                           message=e.message)
                self._next_ticket += self._id_step
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
    lifeline = KIND_LIFELINE.get(e.kind, registry.layer[e.sensor])
    if e.kind == "gas_leak":
        what = "suspected pipeline gas leak 疑似燃气管道泄漏"
    elif e.kind == "sewer_gas":
        what = "dangerous sewer gas 沼气浓度危险"
    elif e.kind == "water_burst":
        what = "suspected main burst 疑似爆管"
    elif e.kind == "water_leak":
        what = "suspected water leak 疑似管道漏水"
    elif e.kind == "water_network_change":
        what = "suspected valve closure 疑似阀门关闭（管网变化）"
    elif e.kind in BRIDGE_TITLES:
        what = BRIDGE_TITLES[e.kind]
    elif e.kind in PLACE_KINDS:  # the analyst's message begins with the place's name
        return f"{lifeline.capitalize()}: waterlogging forecast 积水预警 at {e.message.split(': ', 1)[0]}"
    elif e.kind == "rate":
        what = f"sudden {kind} {'rise' if e.value > e.ref else 'drop'}"
    else:
        what = f"{'high' if e.value > e.ref else 'low'} {kind}"
    asset = registry.asset[e.sensor]
    try:
        a = city.asset(asset)
        where = f"{a.kind} {a.props.get('label') or a.name}"
    except NotFound:  # the asset is not in the model: name the sensor's asset key instead
        where = asset
    return f"{lifeline.capitalize()}: {what} at {where}"
