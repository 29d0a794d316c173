"""The embedded default store: one DuckDB file, no server.

Why DuckDB rather than SQLite: readings are appended as Arrow columns at about 10 M rows/s
(SQLite's ``executemany`` manages about 1 M/s on the same machine, and 0.25 M/s into a table
keyed by (sensor, time)), and one sensor's day comes back in milliseconds.  The small
transactional tables (incidents, timeline, tickets) live in the same file, so one commit
covers them.  See docs/benchmarks.md for the measurements.

One process may open the file for writing; a second one gets ``StoreBusy``.  Readings are
written on one connection, warning records on a second (so the two sides of ``Store`` run at
once: their tables never overlap); each reading thread gets its own cursor.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import astuple
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from ..auth.model import AuditEntry, Credential
from ..batch import ReadingBatch
from ..city.sensors import SensorRegistry
from ..errors import StoreBusy, StoreError
from ..forecasts import RainForecastRecord
from ..risk.sites import ConstructionSite
from ..warn.model import Event, Incident, Ticket, TimelineEntry
from ..works import WorksOrder
from .base import (
    DAY_MS,
    DEAD_LETTER_COLUMNS,
    HOURLY_COLUMNS,
    HOURLY_MERGE,
    Checkpoint,
    IncidentFilter,
    Store,
    WarnChanges,
    event_terms,
    hourly_arrays,
    hourly_select,
    incident_terms,
    where_sql,
)
from .records import DUCKDB_TYPES, arrow_table, columns, table_sql

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS sensors (idx INTEGER PRIMARY KEY, id VARCHAR NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS readings (sensor INTEGER NOT NULL, t_ms BIGINT NOT NULL, "
    "value DOUBLE NOT NULL, seq BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS dead_letters (received_at_ms BIGINT, source VARCHAR, reason VARCHAR, "
    "field VARCHAR, sensor VARCHAR, t VARCHAR, value VARCHAR, unit VARCHAR, payload VARCHAR)",
    "CREATE TABLE IF NOT EXISTS checkpoints (seq BIGINT, saved_at_ms BIGINT, data BLOB)",
    "CREATE TABLE IF NOT EXISTS readings_hourly (sensor INTEGER NOT NULL, hour_ms BIGINT NOT NULL, n BIGINT NOT NULL, "
    "min DOUBLE, max DOUBLE, mean DOUBLE, PRIMARY KEY (sensor, hour_ms))",
    table_sql("events", Event, "id", DUCKDB_TYPES),
    table_sql("incidents", Incident, "id", DUCKDB_TYPES),
    table_sql("timeline", TimelineEntry, None, DUCKDB_TYPES),
    table_sql("tickets", Ticket, "id", DUCKDB_TYPES),
    table_sql("credentials", Credential, "id", DUCKDB_TYPES),
    table_sql("audit", AuditEntry, "seq", DUCKDB_TYPES),  # appended to only; the hash chain shows any change
    table_sql("works_orders", WorksOrder, "id", DUCKDB_TYPES),
    table_sql("construction_sites", ConstructionSite, "id", DUCKDB_TYPES),
    table_sql("rain_forecasts", RainForecastRecord, "id", DUCKDB_TYPES),
    # files made before events had detail and cause
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS detail DOUBLE",
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS cause BIGINT",
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS asset VARCHAR",  # files made before events named their asset
]


def _insert(con: duckdb.DuckDBPyConnection, table: str, record: type, rows: list[tuple[Any, ...]],
            replace: bool = False) -> None:
    """Insert (or, with ``replace``, upsert by primary key) ``rows`` of ``record`` in one statement."""
    if rows:
        con.register("_rows", arrow_table(record, rows))
        con.execute(f"INSERT {'OR REPLACE ' if replace else ''}INTO {table} ({columns(record)}) "
                    f"SELECT {columns(record)} FROM _rows")
        con.unregister("_rows")


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The first row of a query, or None; fetches to the end, as DuckDB wants a result
    finished before the connection runs anything else."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


class EmbeddedStore(Store):
    """A store in one DuckDB file (or in memory with ``path=':memory:'``, for replay and tests)."""

    def __init__(self, path: str | Path, memory_limit: str = "2GB") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path, config={"memory_limit": memory_limit})
        except duckdb.IOException as e:
            if "lock" in str(e).lower():
                raise StoreBusy(f"the store {self.path} is open in another process (a running "
                                f"`citylifeline serve`?); stop it, or send readings to it over HTTP "
                                f"with `citylifeline ingest --url`. ({e})") from None
            raise StoreError(f"cannot open the store {self.path}: {e}") from None
        for ddl in SCHEMA:
            self._con.execute(ddl)
        self._local = threading.local()
        self._warn = self._con.cursor()  # the warning side's connection: saves run beside appends
        self._seq = int(_one(self._con, "SELECT coalesce(max(seq), 0) FROM readings")[0])
        self.last_t = np.full(0, -1, dtype=np.int64)
        self.last_value = np.full(0, np.nan, dtype=np.float64)
        self._sensor_ids: list[str] = [r[0] for r in self._con.execute(
            "SELECT id FROM sensors ORDER BY idx").fetchall()]
        self._load_last()
        head = _one(self._con, "SELECT seq, sha256 FROM audit ORDER BY seq DESC LIMIT 1")
        self._audit_head = (int(head[0]), str(head[1])) if head else (0, "")

    # ---- plumbing ------------------------------------------------------------------------------
    def _reader(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    def _load_last(self) -> None:
        n = len(self._sensor_ids)
        self.last_t = np.full(n, -1, dtype=np.int64)
        self.last_value = np.full(n, np.nan, dtype=np.float64)
        rows = self._con.execute("SELECT sensor, max(t_ms) AS t, arg_max(value, t_ms) AS v FROM readings "
                                 "GROUP BY sensor").fetchnumpy()
        idx = np.asarray(rows["sensor"], dtype=np.int64)
        ok = idx < n
        self.last_t[idx[ok]] = np.asarray(rows["t"], dtype=np.int64)[ok]
        self.last_value[idx[ok]] = np.asarray(rows["v"], dtype=np.float64)[ok]

    # ---- sensors and readings ----------------------------------------------------------------
    def sensor_ids(self) -> list[str]:
        """See ``Store.sensor_ids``."""
        return list(self._sensor_ids)

    def register_sensors(self, registry: SensorRegistry) -> SensorRegistry:
        """See ``Store.register_sensors``."""
        reg = registry.reconcile(self._sensor_ids)
        new = reg.ids[len(self._sensor_ids):]
        if new:
            start = len(self._sensor_ids)
            self._con.register("_new_sensors", pa.table({"idx": np.arange(start, start + len(new), dtype=np.int32),
                                                         "id": pa.array(new, pa.string())}))
            self._con.execute("INSERT INTO sensors SELECT * FROM _new_sensors")
            self._con.unregister("_new_sensors")
            self._sensor_ids = list(reg.ids)
            grow = len(reg) - len(self.last_t)
            self.last_t = np.concatenate([self.last_t, np.full(grow, -1, np.int64)])
            self.last_value = np.concatenate([self.last_value, np.full(grow, np.nan)])
        return reg

    def _write(self, readings: ReadingBatch, seq: int, dead_letters: pa.Table) -> None:
        """See ``Store._write``."""
        con = self._con
        con.begin()
        try:
            if len(readings):
                tbl = pa.table({"sensor": readings.sensor, "t_ms": readings.t_ms, "value": readings.value,
                                "seq": np.full(len(readings), seq, np.int64)})
                con.register("_incoming", tbl)
                con.execute("INSERT INTO readings SELECT * FROM _incoming")
                con.unregister("_incoming")
            if dead_letters.num_rows:  # one Arrow insert, as readings: 150,000 cost milliseconds
                con.register("_dead_letters", dead_letters)
                con.execute(f"INSERT INTO dead_letters ({', '.join(DEAD_LETTER_COLUMNS)}) "
                            f"SELECT {', '.join(DEAD_LETTER_COLUMNS)} FROM _dead_letters")
                con.unregister("_dead_letters")
            con.commit()
        except Exception as e:
            con.rollback()
            raise StoreError(f"could not store {len(readings)} readings: {e}") from e

    def _missing(self, old: ReadingBatch) -> ReadingBatch:
        """See ``Store._missing``."""
        keys = pa.table({"i": np.arange(len(old)), "sensor": old.sensor, "t_ms": old.t_ms})
        cur = self._con
        cur.register("_old", keys)
        found = cur.execute(
            "SELECT o.i FROM _old o SEMI JOIN (SELECT sensor, t_ms FROM readings WHERE t_ms BETWEEN ? AND ?) r "
            "ON r.sensor = o.sensor AND r.t_ms = o.t_ms", [int(old.t_ms.min()), int(old.t_ms.max())]).fetchnumpy()["i"]
        cur.unregister("_old")
        keep = np.ones(len(old), dtype=np.bool_)
        keep[np.asarray(found, dtype=np.int64)] = False
        return old.take(keep)

    def readings(self, sensor: int, start_ms: int, end_ms: int, limit: int = 100_000) -> ReadingBatch:
        """See ``Store.readings``."""
        r = self._reader().execute(
            "SELECT t_ms, value FROM readings WHERE sensor = ? AND t_ms >= ? AND t_ms < ? "
            "ORDER BY t_ms LIMIT ?", [sensor, start_ms, end_ms, limit]).fetchnumpy()
        return ReadingBatch.of(np.full(len(r["t_ms"]), sensor), r["t_ms"], r["value"])

    def replay_batches(self, after_seq: int = 0,
                       chunk_rows: int = 1_000_000) -> Iterator[tuple[int, ReadingBatch]]:
        """See ``Store.replay_batches``."""
        cur = self._con.cursor()
        reader = cur.sql("SELECT sensor, t_ms, value, seq FROM readings WHERE seq > ? ORDER BY seq, sensor, t_ms",
                         params=[after_seq]).to_arrow_reader(chunk_rows)
        # one batch per commit, as the live pipeline saw it: the detectors judge silence against
        # each batch's newest time, so merging or splitting commits would change their findings
        carry: list[np.ndarray] = []
        for rb in reader:
            if rb.num_rows == 0:
                continue
            cols = [rb.column(k).to_numpy() for k in range(4)]
            if carry:  # the last commit of the previous chunk may go on in this one
                cols = [np.concatenate([c, d]) for c, d in zip(carry, cols, strict=True)]
            seq = cols[3]
            cuts = [0, *(np.flatnonzero(np.diff(seq)) + 1).tolist(), len(seq)]
            for a, b in itertools.pairwise(cuts[:-1]):
                yield int(seq[b - 1]), ReadingBatch.of(cols[0][a:b], cols[1][a:b], cols[2][a:b])
            carry = [c[cuts[-2]:] for c in cols]
        if carry:
            yield int(carry[3][-1]), ReadingBatch.of(carry[0], carry[1], carry[2])
        cur.close()

    def count_readings(self) -> int:
        """See ``Store.count_readings``."""
        return int(_one(self._reader(), "SELECT count(*) FROM readings")[0])

    def retain(self, before_ms: int) -> int:
        """See ``Store.retain``."""
        cutoff = before_ms // DAY_MS * DAY_MS
        con = self._con
        con.begin()
        try:
            n = int(_one(con, "SELECT count(*) FROM readings WHERE t_ms < ?", [cutoff])[0])
            if n:
                con.execute(f"INSERT INTO readings_hourly (sensor, {', '.join(HOURLY_COLUMNS)}) "
                            f"{hourly_select('readings', f't_ms < {int(cutoff)}')} {HOURLY_MERGE}")
                con.execute("DELETE FROM readings WHERE t_ms < ?", [cutoff])
            con.commit()
        except Exception as e:
            con.rollback()
            raise StoreError(f"could not reduce old readings: {e}") from e
        return n

    def hourly(self, sensor: int, start_ms: int, end_ms: int) -> dict[str, np.ndarray]:
        """See ``Store.hourly``."""
        rows = self._reader().execute(f"SELECT {', '.join(HOURLY_COLUMNS)} FROM readings_hourly WHERE sensor = ? "
                                      "AND hour_ms >= ? AND hour_ms < ? ORDER BY hour_ms",
                                      [sensor, start_ms, end_ms]).fetchall()
        return hourly_arrays(rows)

    # ---- warning side ----------------------------------------------------------------------------
    def _save(self, changes: WarnChanges, checkpoint: Checkpoint | None) -> None:
        """See ``Store._save``; on the warning side's own connection, so it runs beside ``append``."""
        con = self._warn
        con.begin()
        try:
            _insert(con, "events", Event, [astuple(e) for e in changes.events])
            _insert(con, "incidents", Incident, [astuple(i) for i in changes.incidents.values()], replace=True)
            _insert(con, "timeline", TimelineEntry, [astuple(t) for t in changes.timeline])
            _insert(con, "tickets", Ticket, [astuple(t) for t in changes.tickets.values()], replace=True)
            _insert(con, "credentials", Credential, [astuple(c) for c in changes.credentials.values()], replace=True)
            _insert(con, "audit", AuditEntry, [astuple(a) for a in changes.audit])
            _insert(con, "works_orders", WorksOrder, [astuple(w) for w in changes.works.values()], replace=True)
            _insert(con, "construction_sites", ConstructionSite, [astuple(w) for w in changes.sites.values()],
                    replace=True)
            _insert(con, "rain_forecasts", RainForecastRecord, [astuple(f) for f in changes.rain_forecasts])
            if checkpoint is not None:
                con.execute("DELETE FROM checkpoints")
                con.execute("INSERT INTO checkpoints VALUES (?, ?, ?)",
                            [checkpoint.seq, int(time.time() * 1000), checkpoint.to_bytes()])
            con.commit()
        except Exception as e:
            con.rollback()
            raise StoreError(f"could not save warnings: {e}") from e

    def known_events(self, events: Sequence[Event]) -> list[bool]:
        """See ``Store.known_events``."""
        if not events:
            return []
        keys = pa.table({"i": np.arange(len(events)), "sensor": [e.sensor for e in events],
                         "t_ms": [e.t_ms for e in events], "kind": [e.kind for e in events]})
        self._warn.register("_keys", keys)
        found = self._warn.execute(
            "SELECT k.i FROM _keys k SEMI JOIN events e ON e.sensor = k.sensor AND e.t_ms = k.t_ms "
            "AND e.kind = k.kind").fetchnumpy()["i"]
        self._warn.unregister("_keys")
        known = set(found.tolist())
        return [i in known for i in range(len(events))]

    def load_checkpoint(self) -> Checkpoint | None:
        """See ``Store.load_checkpoint``."""
        row = _one(self._warn, "SELECT seq, data FROM checkpoints ORDER BY seq DESC LIMIT 1")
        return None if row is None else Checkpoint.from_bytes(int(row[0]), bytes(row[1]))

    def next_ids(self) -> dict[str, int]:
        """See ``Store.next_ids``."""
        out = {}
        for table in ("events", "incidents", "tickets", "rain_forecasts"):
            out[table] = int(_one(self._warn, f"SELECT coalesce(max(id), 0) + 1 FROM {table}")[0])
        return out

    def incidents(self, flt: IncidentFilter) -> list[Incident]:
        """See ``Store.incidents``."""
        where, args = where_sql(incident_terms(flt), "?")
        rows = self._reader().execute(
            f"SELECT {columns(Incident)} FROM incidents WHERE {where} "
            "ORDER BY level DESC, t_first_ms DESC, id DESC LIMIT ?", [*args, flt.limit]).fetchall()
        return [Incident(*r) for r in rows]

    def incident(self, incident_id: int) -> Incident | None:
        """See ``Store.incident``."""
        row = _one(self._reader(), f"SELECT {columns(Incident)} FROM incidents WHERE id = ?", [incident_id])
        return None if row is None else Incident(*row)

    def timeline(self, incident_id: int) -> list[TimelineEntry]:
        """See ``Store.timeline``."""
        rows = self._reader().execute(f"SELECT {columns(TimelineEntry)} FROM timeline WHERE incident_id = ? "
                                      "ORDER BY at_ms, rowid", [incident_id]).fetchall()
        return [TimelineEntry(*r) for r in rows]

    def events(self, incident_id: int | None = None, sensor: int | None = None,
               since_ms: int | None = None, limit: int = 500) -> list[Event]:
        """See ``Store.events``."""
        where, args = where_sql(event_terms(incident_id, sensor, since_ms), "?")
        rows = self._reader().execute(f"SELECT {columns(Event)} FROM events WHERE {where} "
                                      "ORDER BY t_ms DESC, id DESC LIMIT ?", [*args, limit]).fetchall()
        return [Event(*r) for r in rows]

    def tickets(self, state: str = "", limit: int = 500) -> list[Ticket]:
        """See ``Store.tickets``."""
        where, args = ("state = ?", [state]) if state else ("TRUE", [])
        rows = self._reader().execute(f"SELECT {columns(Ticket)} FROM tickets WHERE {where} "
                                      "ORDER BY state = 'open' DESC, t_opened_ms DESC LIMIT ?",
                                      [*args, limit]).fetchall()
        return [Ticket(*r) for r in rows]

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """See ``Store.dead_letters``."""
        cur = self._reader().execute("SELECT * FROM dead_letters ORDER BY received_at_ms DESC LIMIT ?", [limit])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def works_orders(self) -> list[WorksOrder]:
        """See ``Store.works_orders``."""
        rows = self._reader().execute(f"SELECT {columns(WorksOrder)} FROM works_orders ORDER BY id").fetchall()
        return [WorksOrder(*r) for r in rows]

    def construction_sites(self) -> list[ConstructionSite]:
        """See ``Store.construction_sites``."""
        rows = self._reader().execute(f"SELECT {columns(ConstructionSite)} FROM construction_sites ORDER BY id")
        return [ConstructionSite(*r) for r in rows.fetchall()]

    def rain_forecasts(self, limit: int) -> list[RainForecastRecord]:
        """See ``Store.rain_forecasts``."""
        rows = self._reader().execute(f"SELECT {columns(RainForecastRecord)} FROM rain_forecasts "
                                      "ORDER BY issued_ms DESC, id DESC LIMIT ?", [limit]).fetchall()
        return [RainForecastRecord(*r) for r in reversed(rows)]

    def credentials(self) -> list[Credential]:
        """See ``Store.credentials``."""
        rows = self._reader().execute(f"SELECT {columns(Credential)} FROM credentials ORDER BY id").fetchall()
        return [Credential(*r) for r in rows]

    def audit(self, after_seq: int = 0, before_seq: int | None = None, limit: int = 500,
              newest_first: bool = True) -> list[AuditEntry]:
        """See ``Store.audit``."""
        rows = self._reader().execute(
            f"SELECT {columns(AuditEntry)} FROM audit WHERE seq > ? AND seq < ? "
            f"ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?",
            [after_seq, before_seq if before_seq is not None else 2**62, limit]).fetchall()
        return [AuditEntry(*r) for r in rows]

    def close(self) -> None:
        """See ``Store.close``."""
        try:
            self._warn.close()
            self._con.execute("CHECKPOINT")
        finally:
            self._con.close()
