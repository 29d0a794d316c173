"""The JSON readings payload: ``{"readings": [{"sensor", "t", "value", "unit"?}, …]}``, and sample blocks.

``t`` is ISO-8601 with a UTC offset (``2026-11-23T10:00:00+08:00``) or epoch seconds;
``value`` a JSON number; ``unit`` optional, any unit of the sensor's kind (converted to the
canonical SI unit here, at the edge).  A body may instead, or as well, hold ``"blocks"``: a sensor's
samples at a fixed rate, ``{"sensor", "t0", "hz", "values": [...], "unit"?}`` each, as vibration
gateways send them (``blocks``); each sample is a reading, validated as one.  A payload that is not
JSON, not of this shape or too large (more than ``max_batch_readings`` readings and samples) is refused
as a whole (``ValidationError``/``PayloadTooLarge``); otherwise each bad reading or sample is refused
on its own with a ``Rejection`` and the rest go on.  Rejections are indexed over the body's readings,
then each block's samples in order.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import PayloadTooLarge, ValidationError
from .blocks import BLOCK_EXAMPLE, samples_in, validate_blocks
from .decode import decode_json, shown
from .validate import (
    FieldName,
    Parsed,
    Rejection,
    Validator,
    assemble,
    dead_letters,
    encode_units,
    json_field,
    merge_by_reading,
)

FIELDS = ("sensor", "t", "value", "unit")
EXAMPLE = '{"readings": [{"sensor": "P-01", "t": "2026-11-23T10:00:00+08:00", "value": 0.31, "unit": "MPa"}]}'
__all__ = ["EXAMPLE", "FIELDS", "Parsed", "parse_readings", "rows_of", "validate_rows"]


def parse_readings(body: bytes, validator: Validator, max_readings: int, source: str = "http") -> Parsed:
    """Validate a JSON payload of readings and sample blocks (see the module docstring)."""
    readings, blocks = rows_of(decode_json(body, EXAMPLE), max_readings)
    parts = [validate_rows(readings, validator, source)] if readings else []
    if blocks:
        parts.append(validate_blocks(blocks, validator, source, first_row=len(readings)))
    return Parsed.concat(parts)


def rows_of(doc: object, max_readings: int, per: str = "request") -> tuple[list[object], list[object]]:
    """The ``readings`` and ``blocks`` lists of a decoded payload (either may be empty, not both), or
    ``ValidationError`` naming what is wrong; more than ``max_readings`` readings and samples in one
    ``per`` (request, message) is ``PayloadTooLarge``."""
    if not isinstance(doc, dict) or ("readings" not in doc and "blocks" not in doc):
        got = type(doc).__name__ if not isinstance(doc, dict) else f"keys {sorted(doc)}"
        raise ValidationError(f"the body must be an object with a 'readings' list (or a 'blocks' list of sample "
                              f"blocks, or both; got {got}); send {EXAMPLE}", field="readings", value=None)
    lists = {key: doc[key] for key in ("readings", "blocks") if key in doc}
    for key, rows in lists.items():
        if not isinstance(rows, list) or (not rows and not any(lists.values())):
            raise ValidationError(f"'{key}' must be a non-empty list (got {type(rows).__name__} "
                                  f"{'empty' if rows == [] else ''}); send "
                                  f"{EXAMPLE if key == 'readings' else BLOCK_EXAMPLE}".replace(" )", ")"),
                                  field=key, value=None)
    readings, blocks = lists.get("readings", []), lists.get("blocks", [])
    samples = samples_in(blocks)
    if len(readings) + samples > max_readings:
        what = f"{len(readings)} readings" if not blocks else \
            f"{len(readings) + samples} readings ({samples} of them samples in blocks)"
        raise PayloadTooLarge(f"{what} in one {per}; the limit is {max_readings}: split the batch into smaller "
                              f"{per}s", field="blocks" if blocks else "readings", value=len(readings) + samples)
    return readings, blocks


def validate_rows(rows: Sequence[object], validator: Validator, source: str | Sequence[str],
                  field: FieldName = json_field) -> Parsed:
    """Validate reading objects ``{"sensor", "t", "value", "unit"?}`` as one columnar batch; each bad one
    becomes a rejection and a dead letter from ``source`` (one for all, or one per row), its field
    named by ``field(row, column)``."""
    rejections: list[Rejection] = []
    good_rows = [isinstance(r, dict) for r in rows]
    for i, ok in enumerate(good_rows):
        if not ok:
            where = field(i, "").removesuffix(".")
            rejections.append(Rejection(i, where, rows[i], f"{where}: {shown(rows[i])} is not an object; send "
                                                           '{"sensor": ..., "t": ..., "value": ...}'))
        else:
            extra = set(rows[i]) - set(FIELDS)  # type: ignore[call-overload]  # a dict, checked above
            if extra:
                key = min(extra)
                f = field(i, key if len(key) <= 80 else f"{key[:60]}…")  # a key of a megabyte is not copied
                rejections.append(Rejection(i, f, key,
                                            f"{f}: unknown field; send only {', '.join(FIELDS)} (check the spelling)"))
    empty: dict[str, object] = {}
    objs: list[dict[str, object]] = [r if isinstance(r, dict) else empty for r in rows]
    sensors = [r.get("sensor") for r in objs]
    times = [r.get("t") for r in objs]
    values_raw = [r.get("value") for r in objs]
    units = [r.get("unit") for r in objs]
    per_reading: list[Rejection] = []
    idx = validator.sensors(sensors, field, per_reading)
    t_ms = validator.times(times, field, per_reading)
    values = validator.values(values_raw, field, per_reading)
    if any(u is not None for u in units):
        values = validator.units(idx, values, *encode_units(units), field, per_reading)
    rejected_rows = {r.index for r in rejections}
    rejections = merge_by_reading(rejections + [r for r in per_reading if r.index not in rejected_rows])
    batch, _ = assemble(idx, t_ms, values, rejections)
    dead = dead_letters(rejections, source, sensor=sensors, t=times, value=values_raw, unit=units)
    return Parsed(batch, rejections, dead, len(rows))
