"""The ``Store`` contract: what every store (embedded DuckDB today, PostgreSQL later) provides.

A store keeps readings keyed by (sensor, time) — re-delivered readings are ignored, never
double-counted — and the warning side (events, incidents and their timeline, maintenance
tickets, dead letters, detector checkpoints).  ``append`` returns only after the readings are
durable: acknowledging a client after ``append`` returns is safe.  All writes come from one
writer thread; reads may come from any thread.
"""

from __future__ import annotations

import io
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..auth.model import AuditEntry, Credential, link, verify_chain
from ..batch import F64, I64, ReadingBatch
from ..city.sensors import SensorRegistry
from ..errors import NotFound
from ..forecasts import RainForecastRecord
from ..risk.sites import ConstructionSite
from ..warn.lifecycle import ACTIVE_STATES
from ..warn.model import Event, Incident, Ticket, TimelineEntry
from ..works import WorksOrder
from . import dedup


@dataclass(frozen=True)
class AppendResult:
    """What ``append`` did.  ``new`` holds the readings newer than anything stored for their
    sensor, in per-sensor time order: exactly what the detectors must see next."""

    new: ReadingBatch
    stored: int
    duplicates: int
    seq: int


@dataclass(frozen=True)
class DeadLetter:
    """A rejected reading (or payload) and why, kept so nothing disappears silently."""

    source: str
    reason: str
    field: str = ""
    sensor: str = ""
    t: str = ""
    value: str = ""
    unit: str = ""
    payload: str = ""


@dataclass
class WarnChanges:
    """Everything one writer job changed beside readings — events, incidents, their timeline, tickets,
    credentials, works orders, construction sites, rain forecasts and the audit entries of what people
    did — saved in one transaction."""

    events: list[Event] = field(default_factory=list)
    incidents: dict[int, Incident] = field(default_factory=dict)
    timeline: list[TimelineEntry] = field(default_factory=list)
    tickets: dict[int, Ticket] = field(default_factory=dict)
    credentials: dict[str, Credential] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    works: dict[int, WorksOrder] = field(default_factory=dict)
    sites: dict[int, ConstructionSite] = field(default_factory=dict)
    rain_forecasts: list[RainForecastRecord] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.incidents or self.timeline or self.tickets or self.credentials
                    or self.audit or self.works or self.sites or self.rain_forecasts)


@dataclass(frozen=True)
class Checkpoint:
    """Detector state as of a commit sequence number: restore it, then replay later commits."""

    seq: int
    arrays: dict[str, np.ndarray]

    def to_bytes(self) -> bytes:
        """A NumPy archive of the arrays (the sequence number is stored beside it).  Not compressed: the
        state is mostly noisy floats, so zlib saves a fifth of the size but takes 20× as long — 2.2 s
        against 0.12 s at 100,000 sensors, a stall of the writer thread every checkpoint."""
        buf = io.BytesIO()
        np.savez(buf, **self.arrays)  # type: ignore[arg-type]  # numpy's stub confuses **kwds
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, seq: int, data: bytes) -> Checkpoint:
        """The checkpoint saved by ``to_bytes``."""
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return cls(seq, {k: z[k] for k in z.files})


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents to list; empty fields do not filter."""

    states: Sequence[str] = ()
    min_level: int = 0
    lifeline: str = ""
    since_ms: int | None = None
    limit: int = 200


class Store(ABC):
    """Durable readings and warning records.  ``last_t``/``last_value`` hold, per sensor index,
    the newest stored reading (``last_t`` is -1 where there is none); ``_seq`` is the newest
    commit's sequence number.

    Two writers may run at once, one per side, each on its own connection: the readings side
    (``register_sensors``, ``append``, ``retain``) and the warning side (``save_warnings``,
    ``known_events``, ``load_checkpoint``, ``next_ids``).  The engine gives each side a thread, so
    one batch is committed while the one before it is being detected."""

    last_t: I64
    last_value: F64
    _seq: int
    _audit_head: tuple[int, str] = (0, "")  # the newest audit entry's (seq, sha256)

    # ---- sensors and readings -------------------------------------------------------------
    @abstractmethod
    def sensor_ids(self) -> list[str]:
        """External ids of the stored sensor indices, in index order."""

    @abstractmethod
    def register_sensors(self, registry: SensorRegistry) -> SensorRegistry:
        """Persist the id ↔ index mapping and return the registry ordered to match it."""

    def append(self, batch: ReadingBatch, dead_letters: Sequence[DeadLetter] = (),
               source: str = "") -> AppendResult:
        """Store the readings not yet stored and the dead letters (best as ``DeadLetters``: a list of
        ``DeadLetter`` is turned into columns here), durably, in one transaction."""
        duplicates = 0
        if dedup.all_new_in_order(batch, self.last_t):
            to_store = new = batch
        else:
            uniq, duplicates = dedup.sort_unique(batch)
            is_new = uniq.t_ms > self.last_t[uniq.sensor]
            new = uniq.take(is_new)
            old = uniq.take(~is_new)
            missing = self._missing(old) if len(old) else old
            duplicates += len(old) - len(missing)
            to_store = ReadingBatch.concat([missing, new]) if len(missing) else new
        letters = DeadLetters.of(dead_letters)
        if not len(to_store) and not len(letters):
            return AppendResult(new, 0, duplicates, 0)
        seq = self._seq + 1
        self._write(to_store, seq, dead_letter_table(letters, source))
        if len(to_store):
            self._seq = seq
        dedup.advance(to_store, self.last_t, self.last_value)
        return AppendResult(new, len(to_store), duplicates, seq if len(to_store) else 0)

    @abstractmethod
    def _missing(self, old: ReadingBatch) -> ReadingBatch:
        """The rows of ``old`` whose (sensor, time) is not stored yet."""

    @abstractmethod
    def _write(self, readings: ReadingBatch, seq: int, dead_letters: pa.Table) -> None:
        """Commit ``readings`` under sequence number ``seq`` and the dead letters (a table of
        ``DEAD_LETTER_COLUMNS``, maybe empty), in one transaction (raise ``StoreError`` and store nothing
        if that fails)."""

    @abstractmethod
    def readings(self, sensor: int, start_ms: int, end_ms: int, limit: int = 100_000) -> ReadingBatch:
        """One sensor's readings with start_ms <= t < end_ms, oldest first, at most ``limit``."""

    @abstractmethod
    def replay_batches(self, after_seq: int = 0,
                       chunk_rows: int = 1_000_000) -> Iterator[tuple[int, ReadingBatch]]:
        """Stored readings committed after ``after_seq``, in commit order (per-sensor time order
        within a commit), one batch per commit (``chunk_rows`` is the read-ahead),
        as (last sequence number in the batch, batch) pairs: the batches the live pipeline saw."""

    @abstractmethod
    def count_readings(self) -> int:
        """How many readings are stored."""

    @abstractmethod
    def retain(self, before_ms: int) -> int:
        """Reduce the readings of the days wholly before ``before_ms`` (UTC) to hourly statistics
        (``hourly``) and delete them; how many readings were deleted.  Statistics of an hour that
        gets late readings after its day was reduced are merged, not replaced."""

    def retain_days(self, days: float) -> int:
        """``retain`` what is older than ``days`` before the newest reading (the ``retention_days``
        setting); how many readings were reduced (0 with nothing stored)."""
        newest = int(self.last_t.max()) if len(self.last_t) else -1
        return self.retain(newest - round(days * 86_400_000)) if newest >= 0 else 0

    @abstractmethod
    def hourly(self, sensor: int, start_ms: int, end_ms: int) -> dict[str, np.ndarray]:
        """One sensor's hourly statistics with start_ms <= hour_ms < end_ms, oldest first:
        arrays ``hour_ms``, ``n``, ``min``, ``max``, ``mean``."""

    # ---- warning side -----------------------------------------------------------------------
    def save_warnings(self, changes: WarnChanges, checkpoint: Checkpoint | None = None) -> None:
        """Insert events, timeline and audit entries (numbered and chained here), upsert incidents,
        tickets and credentials, and optionally save a checkpoint — all in one transaction."""
        if not changes and checkpoint is None:
            return
        head = link(changes.audit, *self._audit_head) if changes.audit else self._audit_head
        self._save(changes, checkpoint)
        self._audit_head = head

    @abstractmethod
    def _save(self, changes: WarnChanges, checkpoint: Checkpoint | None) -> None:
        """Write ``save_warnings``' records in one transaction (``StoreError`` and nothing saved if it fails)."""

    @abstractmethod
    def known_events(self, events: Sequence[Event]) -> list[bool]:
        """For each event, whether one with the same (sensor, time, kind) is already stored."""

    @abstractmethod
    def load_checkpoint(self) -> Checkpoint | None:
        """The newest checkpoint, or None."""

    @abstractmethod
    def next_ids(self) -> dict[str, int]:
        """The next free id of events, incidents, tickets and rain forecasts."""

    def active_incidents(self) -> list[Incident]:
        """Incidents not yet resolved, archived or marked false alarms."""
        return self.incidents(IncidentFilter(states=ACTIVE_STATES, limit=1_000_000))

    def open_tickets(self) -> list[Ticket]:
        """Maintenance tickets still open."""
        return self.tickets(state="open", limit=1_000_000)

    @abstractmethod
    def incidents(self, flt: IncidentFilter) -> list[Incident]:
        """Incidents matching ``flt``, highest level first, then newest."""

    @abstractmethod
    def incident(self, incident_id: int) -> Incident | None:
        """One incident, or None."""

    @abstractmethod
    def timeline(self, incident_id: int) -> list[TimelineEntry]:
        """An incident's audit trail, oldest first."""

    @abstractmethod
    def events(self, incident_id: int | None = None, sensor: int | None = None,
               since_ms: int | None = None, limit: int = 500) -> list[Event]:
        """Events of an incident or a sensor (or all), newest first."""

    @abstractmethod
    def tickets(self, state: str = "", limit: int = 500) -> list[Ticket]:
        """Maintenance tickets, open first, newest first."""

    @abstractmethod
    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent dead letters."""

    # ---- access ----------------------------------------------------------------------------------
    @abstractmethod
    def credentials(self) -> list[Credential]:
        """Every credential, revoked ones too."""

    @abstractmethod
    def works_orders(self) -> list[WorksOrder]:
        """Every works order (``works``), finished and cancelled ones too, oldest first."""

    @abstractmethod
    def construction_sites(self) -> list[ConstructionSite]:
        """Every construction site registered (``risk.sites``), finished and cancelled ones too, oldest first."""

    @abstractmethod
    def rain_forecasts(self, limit: int) -> list[RainForecastRecord]:
        """The newest ``limit`` rain forecasts (``forecasts``), by issue time, oldest first."""

    @abstractmethod
    def audit(self, after_seq: int = 0, before_seq: int | None = None, limit: int = 500,
              newest_first: bool = True) -> list[AuditEntry]:
        """Audit entries with after_seq < seq < before_seq, at most ``limit``."""

    def verify_audit(self, chunk: int = 10_000) -> tuple[int, str]:
        """Check the whole audit chain: (entries checked, '' or the first break found)."""
        seq, prev = 0, ""
        while True:
            rows = self.audit(after_seq=seq, limit=chunk, newest_first=False)
            problem = verify_chain(rows, seq, prev)
            if problem or len(rows) < chunk:
                return seq + len(rows), problem
            seq, prev = rows[-1].seq, rows[-1].sha256

    def audit_logs(self) -> list[str]:
        """The audit logs kept, each its own hash chain: this store's (``""``); a cluster's front adds
        each partition's (``"p0"``, ``"p1"``, …), where its incidents' and tickets' actions are."""
        return [""]

    def audit_of(self, log: str, before_seq: int | None = None, limit: int = 500) -> list[AuditEntry]:
        """Entries of audit log ``log`` (one of ``audit_logs``) with seq < before_seq, newest first."""
        self._known_log(log)
        return self.audit(before_seq=before_seq, limit=limit)

    def verify_audit_of(self, log: str) -> tuple[int, str]:
        """``verify_audit`` of audit log ``log``."""
        self._known_log(log)
        return self.verify_audit()

    def verify_audit_logs(self) -> list[tuple[str, int, str]]:
        """Every audit log checked: (log, entries checked, '' or the first break found)."""
        return [(log, *self.verify_audit_of(log)) for log in self.audit_logs()]

    def _known_log(self, log: str) -> None:
        if log not in self.audit_logs():
            kept = ", ".join(repr(x) for x in self.audit_logs())
            raise NotFound(f"log={log!r}: there is no such audit log here; the logs kept are {kept}")

    @abstractmethod
    def close(self) -> None:
        """Flush and release the store."""


def where_sql(terms: Sequence[tuple[str, Any]], mark: str) -> tuple[str, list[Any]]:
    """A WHERE condition of ``(column and operator, value)`` terms joined by AND, with placeholder ``mark``
    (a tuple value becomes ``IN (…)``; a term whose value is None or empty is left out), and its arguments."""
    sql: list[str] = ["TRUE"]
    args: list[Any] = []
    for term, value in terms:
        if value is None or value == ():
            continue
        if isinstance(value, tuple):
            sql.append(f"{term} IN ({', '.join(mark for _ in value)})")
            args.extend(value)
        else:
            sql.append(f"{term} {mark}")
            args.append(value)
    return " AND ".join(sql), args


def incident_terms(flt: IncidentFilter) -> list[tuple[str, Any]]:
    """``IncidentFilter`` as ``where_sql`` terms."""
    return [("level >=", flt.min_level), ("state", tuple(flt.states)), ("lifeline =", flt.lifeline or None),
            ("t_last_ms >=", flt.since_ms)]


def event_terms(incident_id: int | None, sensor: int | None, since_ms: int | None) -> list[tuple[str, Any]]:
    """``Store.events``' filter as ``where_sql`` terms."""
    return [("incident_id =", incident_id), ("sensor =", sensor), ("t_ms >=", since_ms)]


DEAD_LETTER_TEXT = ("source", "reason", "field", "sensor", "t", "value", "unit", "payload")  # DeadLetter's fields
DEAD_LETTER_COLUMNS = ("received_at_ms", *DEAD_LETTER_TEXT)
PAYLOAD_CHARS = 4096  # a dead letter keeps this much of a refused payload


def storable(v: str) -> str:
    """``v`` as text every store can hold: lone surrogates (``'\\ud800'``, which no UTF-8 can encode) written
    as ``\\ud800`` and NUL characters (which PostgreSQL's text cannot hold) as ``\\x00``.  The one place where
    dead-letter text (and text compared with it, ``PostgresStore._rows``) is made safe: a garbage payload must
    never make its own dead letter, and so the good readings committed with it, fail."""
    v = unicode_safe(v)
    return v.replace("\x00", "\\x00") if "\x00" in v else v


def unicode_safe(v: str) -> str:
    """``v`` with lone surrogates escaped (``\\ud800``), so it can be encoded as UTF-8."""
    try:
        v.encode("utf-8")
        return v
    except UnicodeEncodeError:
        return v.encode("utf-8", "backslashreplace").decode("utf-8")


def storable_column(values: Sequence[str] | pa.Array | pa.ChunkedArray) -> pa.StringArray:
    """``values`` (text; an Arrow array is cast to text) as an Arrow string array of ``storable`` text, nulls
    empty.  ``storable`` runs only when a value needs it (Arrow refuses a lone surrogate; a NUL is found by
    one scan of the column), so clean text costs one copy and no Python per value."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        arr = values.cast(pa.string())  # Arrow text is UTF-8 already: no surrogates
    else:
        try:
            arr = pa.array(values, pa.string())
        except UnicodeEncodeError:
            return pa.array([storable(v) if v else "" for v in values], pa.string())
    if arr.null_count:
        arr = arr.fill_null("")
    if len(arr) and pc.any(pc.match_substring(arr, "\x00")).as_py():
        return pa.array([storable(v) for v in arr.to_pylist()], pa.string())
    return arr


class DeadLetters(Sequence[DeadLetter]):
    """Dead letters as columns: one Arrow string array of storable text per field of ``DeadLetter``, all
    of one length.  Validation builds a batch's dead letters this way, so storing 150,000 of them is one
    Arrow insert (DuckDB) or one binary COPY (PostgreSQL) instead of 150,000 objects and INSERTs; it is
    still a sequence of ``DeadLetter`` for code that reads a few (made on demand)."""

    __slots__ = ("columns",)

    def __init__(self, columns: dict[str, pa.StringArray]) -> None:
        """Columns as made by ``build``; use ``build`` or ``of``."""
        self.columns = columns

    @classmethod
    def build(cls, n: int, **text: str | Sequence[str] | pa.Array | pa.ChunkedArray) -> DeadLetters:
        """``n`` dead letters from ``DeadLetter``'s fields given as columns (lists of text or Arrow arrays; a
        ``str`` is every letter's; a field not given is empty), made storable (``storable_column``) and
        payloads cut to ``PAYLOAD_CHARS``."""
        unknown = set(text) - set(DEAD_LETTER_TEXT)
        if unknown:
            raise TypeError(f"DeadLetters.build: no field(s) {sorted(unknown)}; the fields are {DEAD_LETTER_TEXT}")
        cols: dict[str, pa.StringArray] = {}
        for name in DEAD_LETTER_TEXT:
            v = text.get(name, "")
            if isinstance(v, str):
                col = pa.repeat(pa.scalar(storable(v)), n)
            else:
                if len(v) != n:
                    raise ValueError(f"DeadLetters.build: {name} has {len(v)} values for {n} dead letters")
                col = storable_column(v)
            if name == "payload" and n and pc.max(pc.utf8_length(col)).as_py() > PAYLOAD_CHARS:
                col = pc.utf8_slice_codeunits(col, 0, PAYLOAD_CHARS)
            cols[name] = col
        return cls(cols)

    @classmethod
    def of(cls, letters: Sequence[DeadLetter]) -> DeadLetters:
        """``letters`` as columns (themselves when they are ``DeadLetters`` already)."""
        if isinstance(letters, DeadLetters):
            return letters
        return cls.build(len(letters), **{f: list(map(attrgetter(f), letters)) for f in DEAD_LETTER_TEXT})

    @classmethod
    def concat(cls, parts: Sequence[Sequence[DeadLetter]]) -> DeadLetters:
        """The dead letters of ``parts`` (``DeadLetters`` or lists of ``DeadLetter``), in order."""
        cols = [cls.of(p) for p in parts]
        if len(cols) == 1:
            return cols[0]
        if not cols:
            return cls.build(0)
        return cls({f: pa.concat_arrays([c.columns[f] for c in cols]) for f in DEAD_LETTER_TEXT})

    def with_source(self, source: str) -> DeadLetters:
        """These dead letters with ``source`` where theirs is empty."""
        col = self.columns["source"]
        if not source or not len(col) or not pc.any(pc.equal(col, "")).as_py():
            return self
        return DeadLetters({**self.columns, "source": pc.if_else(pc.equal(col, ""), storable(source), col)})

    def column(self, name: str) -> pa.StringArray:
        """One field of every letter."""
        return self.columns[name]

    def table(self, received_at_ms: int) -> pa.Table:
        """Rows of ``DEAD_LETTER_COLUMNS``, all received at ``received_at_ms``."""
        return pa.table({"received_at_ms": pa.array(np.full(len(self), received_at_ms, np.int64)), **self.columns})

    def __len__(self) -> int:
        return len(self.columns["reason"])

    @overload
    def __getitem__(self, i: int) -> DeadLetter: ...

    @overload
    def __getitem__(self, i: slice) -> DeadLetters: ...

    def __getitem__(self, i: int | slice) -> DeadLetter | DeadLetters:
        if isinstance(i, slice):
            return DeadLetters({f: c[i] for f, c in self.columns.items()})
        if not -len(self) <= i < len(self):
            raise IndexError(f"dead letter {i} of {len(self)}")
        return DeadLetter(**{f: self.columns[f][i].as_py() for f in DEAD_LETTER_TEXT})

    def __iter__(self) -> Iterator[DeadLetter]:
        return (DeadLetter(*row) for row in zip(*(self.columns[f].to_pylist() for f in DEAD_LETTER_TEXT),
                                                strict=True))

    def __repr__(self) -> str:
        return f"DeadLetters({len(self)})"


def dead_letter_table(letters: Sequence[DeadLetter], source: str) -> pa.Table:
    """Dead letters as a table of ``DEAD_LETTER_COLUMNS``, stamped now, with ``source`` where theirs is empty."""
    return DeadLetters.of(letters).with_source(source).table(int(time.time() * 1000))


DAY_MS = 86_400_000
HOUR_MS = 3_600_000
HOURLY_COLUMNS = ("hour_ms", "n", "min", "max", "mean")
HOURLY_MERGE = ("ON CONFLICT (sensor, hour_ms) DO UPDATE SET n = readings_hourly.n + EXCLUDED.n, "
                "min = least(readings_hourly.min, EXCLUDED.min), max = greatest(readings_hourly.max, EXCLUDED.max), "
                "mean = (readings_hourly.mean * readings_hourly.n + EXCLUDED.mean * EXCLUDED.n) "
                "/ (readings_hourly.n + EXCLUDED.n)")
"""How a day's hourly statistics join those already kept for the same hours (late readings)."""


def hourly_select(table: str, where: str = "TRUE") -> str:
    """The hourly statistics of ``table``'s readings (the same SQL in DuckDB and PostgreSQL: ``/`` of
    integers is real division in DuckDB, hence the remainder)."""
    return (f"SELECT sensor, t_ms - t_ms % {HOUR_MS} AS hour_ms, count(*), min(value), max(value), avg(value) "
            f"FROM {table} WHERE {where} GROUP BY 1, 2")


def hourly_arrays(rows: Sequence[tuple[Any, ...]]) -> dict[str, np.ndarray]:
    """Rows of ``HOURLY_COLUMNS`` as arrays."""
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in HOURLY_COLUMNS]
    return {name: np.asarray(c, dtype=np.int64 if name in ("hour_ms", "n") else np.float64)
            for name, c in zip(HOURLY_COLUMNS, cols, strict=True)}
