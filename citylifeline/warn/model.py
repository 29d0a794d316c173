"""The records of the warning side: events, incidents with their timeline, maintenance tickets.

An ``Event`` is one thing a detector saw; warnings are grouped into an ``Incident`` that the
duty officer drives through its lifecycle; sensor faults open a maintenance ``Ticket``.
Times named ``t_*_ms`` are data time (when it happened at the sensor); ``*_at_ms`` are wall
time (when the platform or a person did something).  Levels are severities (see ``levels``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .. import levels


@dataclass
class Event:
    """A warning raised/changed/cleared or a sensor fault opened/cleared, with its reason."""

    sensor: int
    sensor_id: str
    t_ms: int
    kind: str
    level: int
    active: bool
    value: float
    ref: float
    message: str
    id: int = 0
    incident_id: int | None = None
    ticket_id: int | None = None
    detail: float | None = None  # the detector's further number (anomaly: signed robust deviations)
    cause: int = -1  # the detector's further code (anomaly: which view saw it)
    asset: str = ""  # the asset it is about, where not its sensor's (an analyst's forecast for a place)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the level as a Roman numeral."""
        d = asdict(self)
        d["level"] = levels.roman(self.level)
        return d


@dataclass
class TimelineEntry:
    """One line of an incident's audit trail: who did what, when, and the state it moved to."""

    incident_id: int
    at_ms: int
    actor: str
    action: str
    from_state: str
    to_state: str
    detail: str = ""
    source: str = ""  # where the action came from (client address), empty for the platform itself

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class Incident:
    """Related warnings on one place and time, handled as one thing."""

    id: int
    lifeline: str
    level: int
    state: str
    title: str
    t_first_ms: int
    t_last_ms: int
    created_at_ms: int
    updated_at_ms: int
    x: float
    y: float
    sensors: list[str] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)
    event_count: int = 0
    assignee: str = ""
    feedback: str = ""
    escalations: int = 0
    acknowledged_at_ms: int | None = None
    resolved_at_ms: int | None = None
    cleared_t_ms: int | None = None  # data time when every sensor had returned to normal

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary, with level as a Roman numeral and its colour."""
        d = asdict(self)
        d["level"] = levels.roman(self.level)
        d["colour"] = levels.COLOUR[self.level]
        return d


@dataclass
class Ticket:
    """A maintenance ticket for a faulty sensor; open while the fault lasts."""

    id: int
    sensor: int
    sensor_id: str
    fault: str
    state: str  # open | closed
    t_opened_ms: int
    t_last_ms: int
    created_at_ms: int
    updated_at_ms: int
    message: str
    event_count: int = 1
    t_closed_ms: int | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)
