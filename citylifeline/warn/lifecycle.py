"""The closed loop of an incident: new → acknowledged → dispatched → handling → resolved → archived.

Any open incident may instead be marked a false alarm (with the reason), which is then archived.
Every action — by a person or by the platform (escalation) — adds a line to the incident's
timeline: who, when, what, from which state to which.  An action the state does not allow
raises ``IllegalTransition`` naming the actions that are allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import levels
from ..errors import IllegalTransition, ValidationError
from .model import Incident, TimelineEntry

STATES = ("new", "acknowledged", "dispatched", "handling", "resolved", "false_alarm", "archived")
ACTIVE_STATES = ("new", "acknowledged", "dispatched", "handling")
SYSTEM = "system"


@dataclass(frozen=True)
class Action:
    """A lifecycle action: the states it may start from and the state it leads to (None: unchanged)."""

    name: str
    allowed_from: tuple[str, ...]
    to_state: str | None
    needs: str = ""  # "assignee" or "text" when the action requires one


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("acknowledge", ("new",), "acknowledged"),
    Action("dispatch", ("acknowledged", "dispatched", "handling"), "dispatched", needs="assignee"),
    Action("start", ("dispatched",), "handling"),
    Action("resolve", ("handling",), "resolved", needs="text"),
    Action("false_alarm", ACTIVE_STATES, "false_alarm", needs="text"),
    Action("archive", ("resolved", "false_alarm"), "archived"),
    Action("comment", STATES[:-1], None, needs="text"),
)}


def allowed_actions(state: str) -> list[str]:
    """The actions an incident in ``state`` allows."""
    return [a.name for a in ACTIONS.values() if state in a.allowed_from]


def apply_action(incident: Incident, action: str, actor: str, now_ms: int, assignee: str = "",
                 text: str = "", source: str = "") -> TimelineEntry:
    """Carry out ``action`` on ``incident`` (mutating it) and return its timeline entry."""
    a = ACTIONS.get(action)
    if a is None:
        raise ValidationError(f"action {action!r} is unknown; use one of {', '.join(ACTIONS)}",
                              field="action", value=action)
    if not actor.strip():
        raise ValidationError("actor is empty; say who acts (a user name)", field="actor", value=actor)
    if incident.state not in a.allowed_from:
        allowed = ", ".join(allowed_actions(incident.state)) or "none"
        raise IllegalTransition(f"incident {incident.id} is {incident.state}: '{action}' is not allowed "
                                f"(allowed: {allowed})")
    if a.needs == "assignee" and not assignee.strip():
        raise ValidationError(f"'{action}' needs an assignee: the crew or person sent to the site",
                              field="assignee", value=assignee)
    if a.needs == "text" and not text.strip():
        what = {"resolve": "the feedback from site (what was found and done)",
                "false_alarm": "the reason it is a false alarm", "comment": "the comment"}[action]
        raise ValidationError(f"'{action}' needs text: {what}", field="text", value=text)
    before = incident.state
    if a.to_state is not None:
        incident.state = a.to_state
    if action == "acknowledge":
        incident.acknowledged_at_ms = now_ms
    elif action == "dispatch":
        incident.assignee = assignee.strip()
    elif action in ("resolve", "false_alarm"):
        incident.feedback = text.strip()
        incident.resolved_at_ms = now_ms
    incident.updated_at_ms = now_ms
    detail = assignee.strip() if action == "dispatch" else text.strip()
    return TimelineEntry(incident.id, now_ms, actor.strip(), action, before, incident.state, detail, source)


def escalations_due(incidents: list[Incident], now_ms: int,
                    after_s: dict[int, float]) -> list[tuple[Incident, TimelineEntry]]:
    """Escalate incidents still 'new' past their level's deadline (again at each further multiple
    of it); returns the incidents changed and their timeline entries."""
    out = []
    for inc in incidents:
        if inc.state != "new":
            continue
        limit_ms = after_s[inc.level] * 1000
        due = int((now_ms - inc.created_at_ms) // limit_ms) if limit_ms > 0 else 0
        if due > inc.escalations:
            inc.escalations = due
            inc.updated_at_ms = now_ms
            minutes = (now_ms - inc.created_at_ms) / 60000
            detail = (f"escalation {due}: {levels.label(inc.level)} not acknowledged after {minutes:.0f} min "
                      "— notify the duty supervisor")
            out.append((inc, TimelineEntry(inc.id, now_ms, SYSTEM, "escalate", "new", "new", detail)))
    return out
