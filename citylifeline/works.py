"""Works orders: the operations a utility carries out on its network, told to the platform.

A valve shut for a repair or a new connection changes how the water flows: the pressures fall
beyond it and the flows go round by other mains.  To the water analyst's model, which still has
the valve open, that looks like a leak (or, where it can tell them apart, like a pipe shut that
nobody reported: ``LeakDetector.closure``).  A works order says what will be done, where and
when; the analysts take it into their models for its time (the water model runs with the pipe
closed: ``WaterModel.shut``), so the operation raises nothing, and it is kept, with who entered it,
in the store and the audit log.  Utilities issue such orders for every planned shut-off (the
crews' "valve operation sheet"); an unplanned closure found by the analyst is confirmed by entering
one.

Time: ``start_ms`` to ``end_ms`` (epoch ms, UTC; no end: until finished).  ``state``: ``open``
until ``finished`` (the valve is open again; the end is then set) or ``cancelled`` (it never
happened: it stops counting at all).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .city.model import City
from .errors import NotFound, ValidationError

ACTIONS = {"water": {"close": ("pipe",)}}
"""What a works order can do, per lifeline: the action and the asset kinds it applies to."""
STATES = ("open", "finished", "cancelled")
MAX_REASON_CHARS = 500


@dataclass
class WorksOrder:
    """One operation on a lifeline's asset, from ``start_ms`` to ``end_ms`` (see the module docstring)."""

    id: int
    lifeline: str
    asset: str  # the asset key: water/pipe/<name>
    action: str
    start_ms: int
    end_ms: int | None
    reason: str
    state: str
    created_at_ms: int
    created_by: str
    updated_at_ms: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @property
    def element(self) -> str:
        """The asset's name in its lifeline's model (the pipe's name in the EPANET file)."""
        return self.asset.split("/", 2)[2]


def check_order(city: City, lifeline: str, asset: str, action: str, start_ms: int, end_ms: int | None,
                reason: str) -> None:
    """A ``ValidationError`` naming the field, the value and the fix, unless the order can be carried out."""
    if lifeline not in ACTIONS:
        raise ValidationError(f"works orders are taken for {', '.join(ACTIONS)}; {lifeline!r} has none yet",
                              field="lifeline", value=lifeline)
    if action not in ACTIONS[lifeline]:
        raise ValidationError(f"action {action!r} is not a {lifeline} works order's; use one of "
                              f"{', '.join(ACTIONS[lifeline])}", field="action", value=action)
    kinds = ACTIONS[lifeline][action]
    parts = asset.split("/", 2)
    if len(parts) != 3 or parts[0] != lifeline or parts[1] not in kinds:
        raise ValidationError(f"asset {asset!r}: a {action} order is for a {' or '.join(kinds)} of the {lifeline} "
                              f"network, as {lifeline}/{kinds[0]}/<name> (GET /api/v1/layers/water lists them)",
                              field="asset", value=asset)
    try:
        city.asset(asset)
    except NotFound:
        raise ValidationError(f"asset {asset!r} is not in the city model; check the name "
                              "(GET /api/v1/layers/water lists them)", field="asset", value=asset) from None
    if end_ms is not None and end_ms <= start_ms:
        raise ValidationError(f"end {end_ms} ms is not after start {start_ms} ms; give the end of the works, or none "
                              "while it is not known", field="end", value=end_ms)
    if len(reason) > MAX_REASON_CHARS:
        raise ValidationError(f"reason is {len(reason)} characters; keep it under {MAX_REASON_CHARS}",
                              field="reason", value=reason[:40] + "…")


def closures(orders: list[WorksOrder], lifeline: str = "water") -> tuple[tuple[str, int, int], ...]:
    """The pipes shut by ``orders`` (not cancelled): (pipe, from ms, to ms; no end: the far future)."""
    far = 2**62
    return tuple((o.element, o.start_ms, far if o.end_ms is None else o.end_ms) for o in orders
                 if o.lifeline == lifeline and o.action == "close" and o.state != "cancelled")
