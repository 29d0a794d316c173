"""Validation at the edge: columns of raw readings → a ``ReadingBatch`` and the rejections.

Every check works on whole columns; a message is built only for the readings that fail.  A
rejection names the field, the value and the fix, e.g. ``readings[3].t: '2026-13-01' is not an
ISO-8601 time; send ISO-8601 with a UTC offset such as 2026-11-23T10:00:00+08:00, or epoch
seconds``.  The good readings of a batch are kept; the bad ones become dead letters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..batch import F64, I32, I64, ReadingBatch
from ..city.sensors import KIND_NAMES, SensorRegistry, unknown_sensor_message
from ..settings import Config
from ..store.base import DeadLetter, DeadLetters
from ..units import KINDS
from .decode import InvalidText, shown

BAD_TIME = np.iinfo(np.int64).min
NAIVE_TIME = BAD_TIME + 1  # parsed, but ambiguous: no UTC offset and no time zone to assume
_HAS_OFFSET = re.compile(r"\d\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|z|[+-]\d\d(:?\d\d)?)$")
MAX_SUGGESTIONS = 20  # 'did you mean' costs a fuzzy search: only for the first few unknown ids
FieldName = Callable[[int, str], str]
_NUMBER_TYPES = {float, int}  # exactly: a bool is an int to isinstance, and is refused as a value


@dataclass(frozen=True)
class Rejection:
    """One refused reading: where (index and field name), the value, and the message with the fix."""

    index: int
    field: str
    value: object
    message: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        v = self.value
        if isinstance(v, str) and len(v) > 200:
            v = f"{v[:200]}… ({len(v):,} characters)"
        elif not (isinstance(v, str | int | float | bool) or v is None):
            v = shown(v)
        return {"index": self.index, "field": self.field, "value": v, "message": self.message}


@dataclass(frozen=True)
class Parsed:
    """A validated payload: the good readings, the rejections (one per refused reading) and their dead
    letters, and how many readings arrived."""

    batch: ReadingBatch
    rejections: list[Rejection]
    dead_letters: Sequence[DeadLetter]  # ``DeadLetters`` (columns) from validation; a list where made by hand
    received: int

    @classmethod
    def concat(cls, parts: Sequence[Parsed]) -> Parsed:
        """The readings, rejections and dead letters of ``parts``, in order (rejections keep their indices)."""
        if len(parts) == 1:
            return parts[0]
        return cls(ReadingBatch.concat([p.batch for p in parts]), [r for p in parts for r in p.rejections],
                   DeadLetters.concat([p.dead_letters for p in parts]), sum(p.received for p in parts))


def _text(v: object) -> str:
    return "" if v is None else (str(v) if isinstance(v, str | int | float) else shown(v))[:200]


def dead_letters(rejections: Sequence[Rejection], source: str | Sequence[str],
                 **raw: Sequence[object]) -> DeadLetters:
    """The dead letters of ``rejections`` as columns: each one's message and field, the raw ``sensor``, ``t``,
    ``value`` and ``unit`` of its reading (``raw``: whole columns, read at the rejections' indices) as text
    of at most 200 characters, and ``source`` (one for all, or one per reading).  Built column by column,
    never a ``DeadLetter`` per reading: a batch of 150,000 bad readings is stored as fast as a good one."""
    rows = [r.index for r in rejections]
    text = {name: [v[:200] if type(v) is str else _text(v) for v in map(col.__getitem__, rows)]
            for name, col in raw.items()}
    return DeadLetters.build(len(rows), reason=[r.message for r in rejections], field=[r.field for r in rejections],
                             source=source if isinstance(source, str) else [source[i] for i in rows], **text)


def json_field(i: int, col: str) -> str:
    """Field names of a JSON batch: ``readings[3].t``."""
    return f"readings[{i}].{col}"


class Validator:
    """Checks columns of readings against the registry, the clock and the unit tables."""

    def __init__(self, registry: SensorRegistry, config: Config, now_ms: Callable[[], int]) -> None:
        self.registry = registry
        self.config = config
        self.now_ms = now_ms
        self.earliest_ms = int(pd.Timestamp(config.earliest_time).value // 1_000_000)
        self._factors: dict[tuple[int, str], tuple[float, float] | None] = {}

    # ---- columns -------------------------------------------------------------------------------
    def sensors(self, ids: Sequence[object], name: FieldName, out: list[Rejection]) -> I32:
        """Dense indices (-1 where refused) of external sensor ids."""
        idx = self.registry.lookup(ids)
        for n, i in enumerate(np.flatnonzero(idx < 0).tolist()):
            sid = ids[i]
            if not isinstance(sid, str) or not sid or isinstance(sid, InvalidText):
                msg = f"{shown(sid)} is not a sensor id; send the sensor's id as a non-empty string"
            elif n < MAX_SUGGESTIONS:
                msg = unknown_sensor_message(sid, self.registry.ids)
            else:
                msg = unknown_sensor_message(sid, [])
            out.append(Rejection(int(i), name(int(i), "sensor"), sid, f"{name(int(i), 'sensor')}: {msg}"))
        return idx

    def values(self, raw: Sequence[object], name: FieldName, out: list[Rejection]) -> F64:
        """Float values (NaN where refused): JSON numbers only, finite."""
        if set(map(type, raw)) <= _NUMBER_TYPES:  # the common case, a third faster than a test per value
            vals = np.asarray(raw, dtype=np.float64)
            self.check_values(vals, np.zeros(len(raw), np.bool_), raw, name, out)
            return vals
        is_number = np.fromiter((type(v) is float or type(v) is int for v in raw), np.bool_, len(raw))
        vals = np.full(len(raw), np.nan)
        if is_number.all():
            vals = np.asarray(raw, dtype=np.float64)
        elif is_number.any():
            vals[is_number] = np.asarray([v for v, ok in zip(raw, is_number, strict=True) if ok], np.float64)
        self.check_values(vals, ~is_number, raw, name, out)
        return vals

    def check_values(self, vals: F64, not_number: np.ndarray, raw: Sequence[object], name: FieldName,
                     out: list[Rejection]) -> None:
        """Rejections for values that are missing, not numbers, or not finite."""
        for i in np.flatnonzero(not_number | ~np.isfinite(vals)).tolist():
            v = raw[i]
            f = name(int(i), "value")
            if v is None:
                msg = f"{f} is missing; send the measured value as a JSON number"
            elif not_number[i]:
                msg = f"{f}: {shown(v)} is not a number; send a JSON number in the sensor's unit"
            else:
                msg = f"{f}: {shown(v)} is not a finite number; send the measured value (omit readings with none)"
            out.append(Rejection(int(i), f, v, msg))

    def times(self, raw: Sequence[object], name: FieldName, out: list[Rejection],
              naive_tz: str | None = None) -> I64:
        """Epoch milliseconds (BAD_TIME where refused) from ISO-8601 strings or epoch seconds."""
        n = len(raw)
        t = np.full(n, BAD_TIME, dtype=np.int64)
        is_num = np.fromiter((type(v) is float or type(v) is int for v in raw), np.bool_, n)
        if is_num.any():
            t[is_num] = seconds_to_ms(np.asarray([v for v, ok in zip(raw, is_num, strict=True) if ok], np.float64))
        is_str = np.fromiter((type(v) is str for v in raw), np.bool_, n)
        if is_str.any():
            t[is_str] = parse_iso([v for v, ok in zip(raw, is_str, strict=True) if ok], naive_tz)  # type: ignore[misc]
        self.check_times(t, raw, name, out)
        return t

    def check_times(self, t: I64, raw: Sequence[object], name: FieldName, out: list[Rejection]) -> None:
        """Rejections for times that are unparseable, naive, too old or too far in the future."""
        latest = self.now_ms() + int(self.config.max_clock_skew_s * 1000)
        bad = (t < self.earliest_ms) | (t > latest)
        for i in np.flatnonzero(bad).tolist():
            v = raw[i]
            f = name(int(i), "t")
            if v is None:
                msg = f"{f} is missing; send the measurement time as ISO-8601 with a UTC offset or epoch seconds"
            elif t[i] == NAIVE_TIME:
                msg = (f"{f}: {shown(v)} has no UTC offset; add one, e.g. {v}+08:00 for China Standard Time "
                       "or Z for UTC")
            elif t[i] == BAD_TIME:
                msg = (f"{f}: {shown(v)} is not a time; send ISO-8601 with a UTC offset such as "
                       "2026-11-23T10:00:00+08:00, or epoch seconds such as 1795399200")
            elif t[i] < self.earliest_ms:
                msg = (f"{f}: {shown(v)} is before {self.config.earliest_time}: the device clock is probably "
                       "not set; set it (NTP) and resend")
            else:
                hint = " (it looks like milliseconds: send epoch seconds)" if isinstance(v, int | float) \
                    and v > 1e11 else ""
                msg = (f"{f}: {shown(v)} is more than {self.config.max_clock_skew_s:.0f} s in the future{hint}; "
                       "check the device clock")
            out.append(Rejection(int(i), f, v, msg))

    def units(self, sensor: I32, values: F64, unit_codes: I32, unit_names: Sequence[object], name: FieldName,
              out: list[Rejection]) -> F64:
        """Values converted to each sensor's canonical unit (NaN where the unit is refused).

        ``unit_codes`` index ``unit_names`` (-1: no unit given, the value is already canonical);
        each distinct (kind, unit) pair is looked up once."""
        has = (unit_codes >= 0) & (sensor >= 0)
        if not has.any():
            return values
        rows = np.flatnonzero(has)
        width = max(len(unit_names), 1)
        key = self.registry.kind_code[sensor[rows]].astype(np.int64) * width + unit_codes[rows]
        span = len(KIND_NAMES) * width
        if span <= 4 * len(rows) + 1024:  # a dense table: no sort (a file's few units, millions of rows)
            seen = np.zeros(span, dtype=np.bool_)
            seen[key] = True
            pairs = np.flatnonzero(seen)
            slot = np.zeros(span, dtype=np.int64)
            slot[pairs] = np.arange(len(pairs))
            which = slot[key]
        else:
            pairs, which = np.unique(key, return_inverse=True)
        factor, offset = np.ones(len(pairs)), np.zeros(len(pairs))
        known = np.ones(len(pairs), dtype=np.bool_)
        for j, k in enumerate(pairs.tolist()):
            code, unit_code = divmod(k, width)
            conv = KINDS[KIND_NAMES[code]].units.get(str(unit_names[unit_code]))
            if conv is None:
                known[j] = False
            else:
                factor[j], offset[j] = conv
        converted = values.copy()
        with np.errstate(over="ignore", invalid="ignore"):
            converted[rows] = values[rows] * factor[which] + offset[which]
        overflow = rows[known[which] & np.isfinite(values[rows]) & ~np.isfinite(converted[rows])]
        for i in overflow.tolist():
            kind = KINDS[self.registry.kind[sensor[i]]]
            f = name(i, "value")
            given = f"{float(values[i])!r} {unit_names[unit_codes[i]]}"
            out.append(Rejection(i, f, float(values[i]), f"{f}: {given} is beyond any number in {kind.canonical}; "
                                                          "check the value and unit"))
        for i in rows[~known[which]].tolist():
            unit = unit_names[unit_codes[i]]
            kind = KINDS[self.registry.kind[sensor[i]]]
            f = name(i, "unit")
            out.append(Rejection(i, f, unit, f"{f}: {shown(unit)} is not a {kind.name} unit (sensor "
                                              f"{self.registry.ids[sensor[i]]}); send one of {', '.join(kind.units)} "
                                              f"or leave unit out to mean {kind.canonical}"))
            converted[i] = np.nan
        return converted


def encode_units(units: Sequence[object]) -> tuple[I32, list[object]]:
    """Codes into a list of the distinct units (-1 for None), for ``Validator.units``."""
    names: dict[object, int] = {}
    codes = [-1 if u is None else names.setdefault(u if isinstance(u, str) else repr(u), len(names))
             for u in units]
    return np.asarray(codes, dtype=np.int32), list(names)


def seconds_to_ms(secs: F64) -> I64:
    """Epoch ms from epoch seconds (BAD_TIME where not finite or absurd)."""
    ok = np.isfinite(secs) & (np.abs(secs) < 1e13)
    return np.where(ok, np.round(np.where(ok, secs, 0) * 1000), BAD_TIME).astype(np.int64)


def parse_iso(text: Sequence[str], naive_tz: str | None) -> I64:
    """Epoch ms of ISO-8601 strings: BAD_TIME where unparseable; for strings without a UTC
    offset, local time in ``naive_tz``, or NAIVE_TIME (to be refused) when there is none."""
    out = np.full(len(text), BAD_TIME, dtype=np.int64)
    has_offset = np.fromiter((bool(_HAS_OFFSET.search(s.strip())) for s in text), np.bool_, len(text))
    for aware in (True, False):
        rows = np.flatnonzero(has_offset == aware)
        if not len(rows):
            continue
        part = pd.Series([text[i] for i in rows.tolist()], dtype=object)
        parsed = pd.to_datetime(part, format="ISO8601", errors="coerce", utc=aware)
        if not aware:
            if naive_tz is None:
                out[rows[parsed.notna().to_numpy()]] = NAIVE_TIME
                continue
            parsed = parsed.dt.tz_localize(naive_tz, ambiguous="NaT", nonexistent="NaT")
        valid = parsed.notna().to_numpy()
        ms = parsed[valid].dt.tz_convert("UTC").astype("datetime64[ms, UTC]").astype("int64").to_numpy()
        out[rows[valid]] = ms
    return out


def merge_by_reading(rejections: list[Rejection]) -> list[Rejection]:
    """One rejection per reading (messages joined), in reading order."""
    by_index: dict[int, Rejection] = {}
    for r in rejections:
        first = by_index.get(r.index)
        by_index[r.index] = r if first is None else Rejection(
            r.index, first.field, first.value, f"{first.message}; {r.message}")
    return [by_index[i] for i in sorted(by_index)]


def assemble(sensor: I32, t_ms: I64, values: F64, rejections: list[Rejection]) -> tuple[ReadingBatch, np.ndarray]:
    """The batch of rows with no rejection, and the mask of refused rows."""
    bad = np.zeros(len(sensor), dtype=np.bool_)
    if rejections:
        bad[[r.index for r in rejections]] = True
    bad |= (sensor < 0) | (t_ms <= NAIVE_TIME) | ~np.isfinite(values)
    good = ~bad
    return ReadingBatch(sensor[good], t_ms[good], values[good]), bad
