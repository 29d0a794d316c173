"""Request and response shapes of the REST API, for validation and for the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, Field

from ..warn.lifecycle import ACTIONS

ActionName = Literal["acknowledge", "dispatch", "start", "resolve", "false_alarm", "archive", "comment"]
assert set(ActionName.__args__) == set(ACTIONS)  # type: ignore[attr-defined]

READINGS_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "anyOf": [{"required": ["readings"]}, {"required": ["blocks"]}],
    "properties": {
        "readings": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object",
                "required": ["sensor", "t", "value"],
                "additionalProperties": False,
                "properties": {
                    "sensor": {"type": "string", "description": "the sensor's id, e.g. P-01"},
                    "t": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
                          "description": "ISO-8601 with a UTC offset, or epoch seconds"},
                    "value": {"type": "number", "description": "the measured value"},
                    "unit": {"type": "string",
                             "description": "unit of value (default: the sensor's canonical SI unit)"},
                },
            },
        },
        "blocks": {
            "type": "array", "minItems": 1,
            "description": "sample blocks: a sensor's samples at a fixed rate (an accelerometer's second at 100 Hz); "
                           "sample k is stored as a reading at t0 + round(k * 1000 / hz) ms",
            "items": {
                "type": "object",
                "required": ["sensor", "t0", "hz", "values"],
                "additionalProperties": False,
                "properties": {
                    "sensor": {"type": "string", "description": "the sensor's id, e.g. A-01"},
                    "t0": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
                           "description": "time of values[0]: ISO-8601 with a UTC offset, or epoch seconds"},
                    "hz": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000,
                           "description": "samples per second"},
                    "values": {"type": "array", "minItems": 1, "items": {"type": "number"},
                               "description": "the samples, in unit"},
                    "unit": {"type": "string",
                             "description": "unit of every value (default: the sensor's canonical SI unit)"},
                },
            },
        },
    },
    "example": {"readings": [{"sensor": "P-01", "t": "2026-11-23T10:00:00+08:00", "value": 0.31, "unit": "MPa"}],
                "blocks": [{"sensor": "A-01", "t0": "2026-11-23T10:00:00+08:00", "hz": 100,
                            "values": [0.0123, -0.0081, 0.0102], "unit": "m/s2"}]},
}


class Error(BaseModel):
    """An error: the message (with the fix) and, where known, the field and value at fault."""

    detail: str
    field: str = ""
    value: Any = None


class ReadingError(BaseModel):
    """One refused reading of a batch."""

    index: int
    field: str
    value: Any = None
    message: str


class IngestResult(BaseModel):
    """What happened to a batch: stored now, already stored (ignored), refused."""

    received: int
    stored: int
    duplicates: int
    rejected: int
    detail: str = ""
    errors: list[ReadingError] = Field(default_factory=list)


class ActionIn(BaseModel):
    """A lifecycle action on an incident."""

    action: ActionName
    actor: str = Field("", max_length=100, description="the person acting at a shared console (the timeline "
                       "names the credential, and this person beside it)")
    assignee: str = Field("", max_length=100, description="crew or person sent (dispatch)")
    text: str = Field("", max_length=4000, description="feedback (resolve), reason (false_alarm), comment")


class TicketCloseIn(BaseModel):
    """Closing a maintenance ticket by hand."""

    actor: str = Field("", max_length=100, description="the person acting, beside the credential")
    note: str = Field("", max_length=4000)


class ReadingsOut(BaseModel):
    """One sensor's readings as columns, in its canonical unit."""

    sensor: str
    unit: str
    display_unit: str
    t: list[int] = Field(description="epoch milliseconds")
    value: list[float]


RecordId = Annotated[int, Path(ge=0, le=2**63 - 1, description="the record's number")]
"""An incident's or ticket's number in a path: a 64-bit integer (a larger one is a 422, not a fault)."""
