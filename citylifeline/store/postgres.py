"""The production store: PostgreSQL, behind the same ``Store`` contract as the embedded default.

- **Readings** go in by binary ``COPY`` built as one NumPy array (``pgcopy``), into a table
  partitioned by day of data time; each partition has the (sensor, t_ms) primary key, the
  parent a BRIN index on the commit sequence number (commits arrive in order, so BRIN fits it
  in a few pages).  Replays come back by binary ``COPY`` too.
- **One writer**: the writer connection holds an advisory lock on the database and schema; a
  second writer gets ``StoreBusy``.  Warning records are written on a second connection of the
  same process (the two sides of ``Store`` run at once); readers borrow connections from a small
  pool.
- **Restart**: the newest commit number is kept in ``store_state`` in every commit; the
  per-sensor newest readings are snapshotted there at most every ``SNAPSHOT_S`` and brought up
  to date from the commits after the snapshot, so opening a store does not scan its readings.
- **Losing the database** (restart, failover): a write fails with ``StoreError`` and nothing
  of it is kept; the next write reconnects and reloads the state, so a client that retries
  what was not acknowledged loses nothing.
- **Retention** (``retain``): days older than the cut-off are reduced to hourly statistics
  (``readings_hourly``) and their partitions dropped.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import astuple, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from ..auth.model import AuditEntry, Credential
from ..batch import ReadingBatch
from ..city.sensors import SensorRegistry
from ..errors import StoreBusy, StoreError
from ..forecasts import RainForecastRecord
from ..risk.sites import ConstructionSite
from ..warn.model import Event, Incident, Ticket, TimelineEntry
from ..works import WorksOrder
from . import dedup, pgcopy
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
    storable,
    where_sql,
)
from .records import POSTGRES_TYPES, columns, marks, table_sql

SNAPSHOT_S = 60.0
READERS = 8
_LOCK = "SELECT pg_try_advisory_lock(hashtext('citylifeline/' || current_database() || '/' || current_schema()))"
SCHEMA = [
    "CREATE TABLE IF NOT EXISTS sensors (idx INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS readings (sensor INTEGER NOT NULL, t_ms BIGINT NOT NULL, "
    "value DOUBLE PRECISION NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (sensor, t_ms)) PARTITION BY RANGE (t_ms)",
    "CREATE INDEX IF NOT EXISTS readings_seq ON readings USING brin (seq)",
    "CREATE TABLE IF NOT EXISTS readings_hourly (sensor INTEGER NOT NULL, hour_ms BIGINT NOT NULL, n BIGINT NOT NULL, "
    "min DOUBLE PRECISION, max DOUBLE PRECISION, mean DOUBLE PRECISION, PRIMARY KEY (sensor, hour_ms))",
    "CREATE TABLE IF NOT EXISTS store_state (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), seq BIGINT NOT NULL, "
    "snapshot_seq BIGINT NOT NULL, last_t BYTEA, last_value BYTEA)",
    "INSERT INTO store_state (seq, snapshot_seq) VALUES (0, 0) ON CONFLICT DO NOTHING",
    "CREATE TABLE IF NOT EXISTS dead_letters (received_at_ms BIGINT, source TEXT, reason TEXT, field TEXT, "
    "sensor TEXT, t TEXT, value TEXT, unit TEXT, payload TEXT)",
    "CREATE TABLE IF NOT EXISTS checkpoints (seq BIGINT, saved_at_ms BIGINT, data BYTEA)",
    table_sql("events", Event, "id", POSTGRES_TYPES),
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS asset TEXT",  # schemas made before events named their asset
    "CREATE INDEX IF NOT EXISTS events_key ON events (sensor, t_ms, kind)",
    "CREATE INDEX IF NOT EXISTS events_incident ON events (incident_id)",
    table_sql("incidents", Incident, "id", POSTGRES_TYPES),
    table_sql("timeline", TimelineEntry, None, POSTGRES_TYPES),
    "ALTER TABLE timeline ADD COLUMN IF NOT EXISTS n BIGSERIAL",  # the order entries were written in
    "CREATE INDEX IF NOT EXISTS timeline_incident ON timeline (incident_id, at_ms, n)",
    table_sql("tickets", Ticket, "id", POSTGRES_TYPES),
    table_sql("credentials", Credential, "id", POSTGRES_TYPES),
    table_sql("audit", AuditEntry, "seq", POSTGRES_TYPES),
    table_sql("works_orders", WorksOrder, "id", POSTGRES_TYPES),
    table_sql("construction_sites", ConstructionSite, "id", POSTGRES_TYPES),
    table_sql("rain_forecasts", RainForecastRecord, "id", POSTGRES_TYPES),
    "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP; END $$",
    "CREATE OR REPLACE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit "
    "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
    "CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
]


def _upsert(table: str, record: type) -> str:
    updates = ", ".join(f"{f.name} = EXCLUDED.{f.name}" for f in fields(record) if f.name != "id")
    return (f"INSERT INTO {table} ({columns(record)}) VALUES ({marks(record, '%s')}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}")


def partition_name(day: int) -> str:
    """The partition holding data day ``day`` (days since 1970-01-01 UTC)."""
    return "readings_" + datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y%m%d")


def partition_day(name: str) -> int:
    """The data day (days since 1970-01-01 UTC) of the partition ``name``."""
    return int(datetime.strptime(name[len("readings_"):], "%Y%m%d").replace(tzinfo=UTC).timestamp()) // 86_400


class PostgresStore(Store):
    """A store in a PostgreSQL database (``url``: a libpq URI; its search_path picks the schema)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._con = self._connect()
        self._wcon: psycopg.Connection[Any] | None = None  # the warning side's connection, opened when first used
        self._pool = ConnectionPool(url, min_size=1, max_size=READERS, kwargs={"autocommit": True}, open=True,
                                    name="citylifeline-readers", check=ConnectionPool.check_connection, timeout=10)
        self._snapshot_at = time.monotonic()
        self._load_state()

    # ---- plumbing ------------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection[Any]:
        try:
            con = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as e:
            raise StoreError(f"cannot connect to the PostgreSQL store {_safe(self.url)}: {e}".strip()) from None
        if not con.execute(_LOCK).fetchone()[0]:  # type: ignore[index]
            con.close()
            raise StoreBusy(f"the PostgreSQL store {_safe(self.url)} has a writer already (another "
                            "`citylifeline serve` on the same database and schema); stop it, or send readings "
                            "to it over HTTP or MQTT")
        with con.transaction():
            for ddl in SCHEMA:
                con.execute(ddl)  # the statements are constants
        return con

    @contextlib.contextmanager
    def _reader(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection for reading (checked first, so one cut by a database restart is replaced);
        the database's errors come out as ``StoreError`` (HTTP 503: retry)."""
        try:
            with self._pool.connection() as con:
                yield con
        except (psycopg.Error, PoolTimeout) as e:
            raise StoreError(f"the PostgreSQL store could not be read: {e}".strip()) from e

    def _writer(self) -> psycopg.Connection[Any]:
        """The writer connection; after a lost connection, a new one and the state reloaded from it
        (a commit whose answer was lost may have landed)."""
        if self._con.broken or self._con.closed:
            self._con.close()
            self._con = self._connect()
            self._load_state()
        return self._con

    def _warn_writer(self) -> psycopg.Connection[Any]:
        """The warning side's connection (a new one after a lost connection)."""
        if self._wcon is None or self._wcon.broken or self._wcon.closed:
            if self._wcon is not None:
                self._wcon.close()
            try:
                self._wcon = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            except psycopg.Error as e:
                raise StoreError(f"cannot connect to the PostgreSQL store {_safe(self.url)}: {e}".strip()) from None
        return self._wcon

    def _load_state(self) -> None:
        con = self._con
        self._sensor_ids = [r[0] for r in con.execute("SELECT id FROM sensors ORDER BY idx").fetchall()]
        self._partitions = {r[0] for r in con.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'readings'::regclass").fetchall()}
        seq, snap_seq, last_t, last_value = con.execute(
            "SELECT seq, snapshot_seq, last_t, last_value FROM store_state").fetchone()  # type: ignore[misc]
        self._seq = int(seq)
        n = len(self._sensor_ids)
        self.last_t = np.full(n, -1, dtype=np.int64)
        self.last_value = np.full(n, np.nan, dtype=np.float64)
        if last_t is not None:
            t, v = np.frombuffer(last_t, dtype=np.int64), np.frombuffer(last_value, dtype=np.float64)
            k = min(n, len(t))
            self.last_t[:k], self.last_value[:k] = t[:k], v[:k]
        for _, batch in self.replay_batches(after_seq=int(snap_seq)):
            ok = batch.sensor < n
            dedup.advance(batch.take(ok) if not ok.all() else batch, self.last_t, self.last_value)
        head = con.execute("SELECT seq, sha256 FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        self._audit_head = (int(head[0]), str(head[1])) if head else (0, "")

    def _snapshot(self, con: psycopg.Connection[Any]) -> None:
        """Save ``last_*`` as of commit ``_seq`` (during ``_write``, the commit before the one just
        written: ``Store.append`` advances both after ``_write`` returns)."""
        con.execute("UPDATE store_state SET snapshot_seq = %s, last_t = %s, last_value = %s",
                    (self._seq, self.last_t.tobytes(), self.last_value.tobytes()))
        self._snapshot_at = time.monotonic()

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
            con = self._writer()
            with con.transaction(), con.cursor() as cur, cur.copy("COPY sensors (idx, id) FROM STDIN") as cp:
                for i, sid in enumerate(new):
                    cp.write_row((start + i, sid))
            self._sensor_ids = list(reg.ids)
            grow = len(reg) - len(self.last_t)
            self.last_t = np.concatenate([self.last_t, np.full(grow, -1, np.int64)])
            self.last_value = np.concatenate([self.last_value, np.full(grow, np.nan)])
        return reg

    def _write(self, readings: ReadingBatch, seq: int, dead_letters: pa.Table) -> None:
        """See ``Store._write``."""
        made: list[str] = []
        try:
            con = self._writer()
            with con.transaction(), con.cursor() as cur:
                if len(readings):
                    made = self._make_partitions(cur, readings.t_ms)
                    with cur.copy(f"COPY readings ({pgcopy.COLUMNS}) FROM STDIN (FORMAT BINARY)") as cp:
                        cp.write(pgcopy.encode(readings, seq))
                    cur.execute("UPDATE store_state SET seq = %s", (seq,))
                if dead_letters.num_rows:  # one binary COPY built from the columns, as readings
                    with cur.copy(f"COPY dead_letters ({', '.join(dead_letters.column_names)}) "
                                  "FROM STDIN (FORMAT BINARY)") as cp:
                        for piece in pgcopy.encode_table(dead_letters):
                            cp.write(memoryview(piece))
        except psycopg.Error as e:
            raise StoreError(f"could not store {len(readings)} readings: {e}".strip()) from e
        self._partitions.update(made)
        if time.monotonic() - self._snapshot_at > SNAPSHOT_S:
            with contextlib.suppress(psycopg.Error):  # only a faster restart is lost; the commits are kept
                self._snapshot(con)

    def _make_partitions(self, cur: psycopg.Cursor[Any], t_ms: np.ndarray) -> list[str]:
        """Create the day partitions ``t_ms`` needs (in the caller's transaction); their names."""
        made = []
        for day in np.unique(t_ms // DAY_MS).tolist():
            name = partition_name(day)
            if name not in self._partitions:
                cur.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF readings "
                            f"FOR VALUES FROM ({day * DAY_MS}) TO ({(day + 1) * DAY_MS})")
                made.append(name)
        return made

    def _missing(self, old: ReadingBatch) -> ReadingBatch:
        """See ``Store._missing``."""
        with self._reader() as con:
            found = con.execute(
                "SELECT o.i FROM unnest(%s::bigint[], %s::int[], %s::bigint[]) AS o(i, sensor, t_ms) "
                "WHERE EXISTS (SELECT 1 FROM readings r WHERE r.sensor = o.sensor AND r.t_ms = o.t_ms "
                "AND r.t_ms BETWEEN %s AND %s)",
                (list(range(len(old))), old.sensor.tolist(), old.t_ms.tolist(),
                 int(old.t_ms.min()), int(old.t_ms.max()))).fetchall()
        keep = np.ones(len(old), dtype=np.bool_)
        keep[[r[0] for r in found]] = False
        return old.take(keep)

    def readings(self, sensor: int, start_ms: int, end_ms: int, limit: int = 100_000) -> ReadingBatch:
        """See ``Store.readings``."""
        rows = list(self._copy_out(f"SELECT {pgcopy.COLUMNS} FROM readings WHERE sensor = {int(sensor)} AND t_ms >= "
                                   f"{int(start_ms)} AND t_ms < {int(end_ms)} ORDER BY t_ms LIMIT {int(limit)}"))
        return _batch(np.concatenate(rows) if rows else np.empty(0, pgcopy.ROW))

    def _copy_out(self, query: str, rows_per_block: int = 1_000_000) -> Iterator[np.ndarray]:
        """The rows of ``query`` (selecting ``pgcopy.COLUMNS``, values built in: COPY takes no parameters)."""
        with self._reader() as con, con.cursor() as cur, \
                cur.copy(f"COPY ({query}) TO STDOUT (FORMAT BINARY)") as cp:
            yield from pgcopy.decode(cp, rows_per_block)

    def replay_batches(self, after_seq: int = 0,
                       chunk_rows: int = 1_000_000) -> Iterator[tuple[int, ReadingBatch]]:
        """See ``Store.replay_batches``."""
        carry: np.ndarray | None = None
        for rows in self._copy_out(f"SELECT {pgcopy.COLUMNS} FROM readings WHERE seq > {int(after_seq)} "
                                   "ORDER BY seq, sensor, t_ms", chunk_rows):
            if carry is not None:  # the last commit of the previous block may go on in this one
                rows = np.concatenate([carry, rows])
            cuts = [0, *(np.flatnonzero(np.diff(rows["seq"])) + 1).tolist(), len(rows)]
            for a, b in itertools.pairwise(cuts[:-1]):
                yield int(rows["seq"][a]), _batch(rows[a:b])
            carry = rows[cuts[-2]:]
        if carry is not None and len(carry):
            yield int(carry["seq"][0]), _batch(carry)

    def count_readings(self) -> int:
        """See ``Store.count_readings``."""
        with self._reader() as con:
            return int(con.execute("SELECT count(*) FROM readings").fetchone()[0])  # type: ignore[index]

    def retain(self, before_ms: int) -> int:
        """See ``Store.retain``: each day's partition is reduced, then dropped, in its own transaction."""
        dropped = 0
        try:
            con = self._writer()
            for name in sorted(self._partitions):
                if (partition_day(name) + 1) * DAY_MS > before_ms:
                    continue
                with con.transaction():
                    dropped += con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]  # type: ignore[index]
                    con.execute(f"INSERT INTO readings_hourly (sensor, {', '.join(HOURLY_COLUMNS)}) "
                                f"{hourly_select(name)} {HOURLY_MERGE}")
                    con.execute(f"DROP TABLE {name}")
                self._partitions.discard(name)
        except psycopg.Error as e:
            raise StoreError(f"could not reduce old readings: {e}".strip()) from e
        return int(dropped)

    def hourly(self, sensor: int, start_ms: int, end_ms: int) -> dict[str, np.ndarray]:
        """See ``Store.hourly``."""
        rows = self._rows(f"SELECT {', '.join(HOURLY_COLUMNS)} FROM readings_hourly WHERE sensor = %s "
                          "AND hour_ms >= %s AND hour_ms < %s ORDER BY hour_ms", [sensor, start_ms, end_ms])
        return hourly_arrays(rows)

    # ---- warning side ----------------------------------------------------------------------------
    def _save(self, changes: WarnChanges, checkpoint: Checkpoint | None) -> None:
        """See ``Store._save``."""
        try:
            con = self._warn_writer()
            with con.transaction(), con.cursor() as cur:
                if changes.events:
                    cur.executemany(f"INSERT INTO events ({columns(Event)}) VALUES ({marks(Event, '%s')})",
                                    [astuple(e) for e in changes.events])
                if changes.incidents:
                    cur.executemany(_upsert("incidents", Incident), [astuple(i) for i in changes.incidents.values()])
                if changes.timeline:
                    cur.executemany(f"INSERT INTO timeline ({columns(TimelineEntry)}) "
                                    f"VALUES ({marks(TimelineEntry, '%s')})", [astuple(t) for t in changes.timeline])
                if changes.tickets:
                    cur.executemany(_upsert("tickets", Ticket), [astuple(t) for t in changes.tickets.values()])
                if changes.credentials:
                    cur.executemany(_upsert("credentials", Credential),
                                    [astuple(c) for c in changes.credentials.values()])
                if changes.works:
                    cur.executemany(_upsert("works_orders", WorksOrder), [astuple(w) for w in changes.works.values()])
                if changes.sites:
                    cur.executemany(_upsert("construction_sites", ConstructionSite),
                                    [astuple(w) for w in changes.sites.values()])
                if changes.rain_forecasts:
                    cur.executemany(f"INSERT INTO rain_forecasts ({columns(RainForecastRecord)}) "
                                    f"VALUES ({marks(RainForecastRecord, '%s')})",
                                    [astuple(f) for f in changes.rain_forecasts])
                if changes.audit:
                    cur.executemany(f"INSERT INTO audit ({columns(AuditEntry)}) VALUES ({marks(AuditEntry, '%s')})",
                                    [astuple(a) for a in changes.audit])
                if checkpoint is not None:
                    cur.execute("DELETE FROM checkpoints")
                    cur.execute("INSERT INTO checkpoints VALUES (%s, %s, %s)",
                                (checkpoint.seq, int(time.time() * 1000), checkpoint.to_bytes()))
        except psycopg.Error as e:
            raise StoreError(f"could not save warnings: {e}".strip()) from e

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of a query; text parameters made ``storable`` as stored text is (PostgreSQL refuses NUL, and
        no UTF-8 holds a lone surrogate)."""
        params = [storable(p) if isinstance(p, str) else [storable(v) if isinstance(v, str) else v for v in p]
                  if isinstance(p, list) else p for p in params]
        with self._reader() as con:
            return con.execute(sql, params).fetchall()

    def known_events(self, events: Sequence[Event]) -> list[bool]:
        """See ``Store.known_events``."""
        if not events:
            return []
        found = self._rows(
            "SELECT k.i FROM unnest(%s::int[], %s::int[], %s::bigint[], %s::text[]) AS k(i, sensor, t_ms, kind) "
            "WHERE EXISTS (SELECT 1 FROM events e WHERE e.sensor = k.sensor AND e.t_ms = k.t_ms AND e.kind = k.kind)",
            (list(range(len(events))), [e.sensor for e in events], [e.t_ms for e in events],
             [e.kind for e in events]))
        known = {r[0] for r in found}
        return [i in known for i in range(len(events))]

    def load_checkpoint(self) -> Checkpoint | None:
        """See ``Store.load_checkpoint``."""
        rows = self._rows("SELECT seq, data FROM checkpoints ORDER BY seq DESC LIMIT 1")
        return Checkpoint.from_bytes(int(rows[0][0]), bytes(rows[0][1])) if rows else None

    def next_ids(self) -> dict[str, int]:
        """See ``Store.next_ids``."""
        return {table: int(self._rows(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")[0][0])
                for table in ("events", "incidents", "tickets", "rain_forecasts")}

    def incidents(self, flt: IncidentFilter) -> list[Incident]:
        """See ``Store.incidents``."""
        where, args = where_sql(incident_terms(flt), "%s")
        rows = self._rows(f"SELECT {columns(Incident)} FROM incidents WHERE {where} "
                          "ORDER BY level DESC, t_first_ms DESC, id DESC LIMIT %s", [*args, flt.limit])
        return [Incident(*r) for r in rows]

    def incident(self, incident_id: int) -> Incident | None:
        """See ``Store.incident``."""
        rows = self._rows(f"SELECT {columns(Incident)} FROM incidents WHERE id = %s", [incident_id])
        return Incident(*rows[0]) if rows else None

    def timeline(self, incident_id: int) -> list[TimelineEntry]:
        """See ``Store.timeline``."""
        rows = self._rows(f"SELECT {columns(TimelineEntry)} FROM timeline WHERE incident_id = %s "
                          "ORDER BY at_ms, n", [incident_id])
        return [TimelineEntry(*r) for r in rows]

    def events(self, incident_id: int | None = None, sensor: int | None = None,
               since_ms: int | None = None, limit: int = 500) -> list[Event]:
        """See ``Store.events``."""
        where, args = where_sql(event_terms(incident_id, sensor, since_ms), "%s")
        rows = self._rows(f"SELECT {columns(Event)} FROM events WHERE {where} "
                          "ORDER BY t_ms DESC, id DESC LIMIT %s", [*args, limit])
        return [Event(*r) for r in rows]

    def tickets(self, state: str = "", limit: int = 500) -> list[Ticket]:
        """See ``Store.tickets``."""
        where, args = ("state = %s", [state]) if state else ("TRUE", [])
        rows = self._rows(f"SELECT {columns(Ticket)} FROM tickets WHERE {where} "
                          "ORDER BY state = 'open' DESC, t_opened_ms DESC LIMIT %s", [*args, limit])
        return [Ticket(*r) for r in rows]

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """See ``Store.dead_letters``."""
        with self._reader() as con, con.cursor(row_factory=dict_row) as cur:
            return cur.execute(f"SELECT {', '.join(DEAD_LETTER_COLUMNS)} FROM dead_letters "
                               "ORDER BY received_at_ms DESC LIMIT %s", [limit]).fetchall()

    def works_orders(self) -> list[WorksOrder]:
        """See ``Store.works_orders``."""
        return [WorksOrder(*r) for r in self._rows(f"SELECT {columns(WorksOrder)} FROM works_orders ORDER BY id")]

    def construction_sites(self) -> list[ConstructionSite]:
        """See ``Store.construction_sites``."""
        return [ConstructionSite(*r) for r in
                self._rows(f"SELECT {columns(ConstructionSite)} FROM construction_sites ORDER BY id")]

    def rain_forecasts(self, limit: int) -> list[RainForecastRecord]:
        """See ``Store.rain_forecasts``."""
        rows = self._rows(f"SELECT {columns(RainForecastRecord)} FROM rain_forecasts "
                          "ORDER BY issued_ms DESC, id DESC LIMIT %s", [limit])
        return [RainForecastRecord(*r) for r in reversed(rows)]

    def credentials(self) -> list[Credential]:
        """See ``Store.credentials``."""
        return [Credential(*r) for r in self._rows(f"SELECT {columns(Credential)} FROM credentials ORDER BY id")]

    def audit(self, after_seq: int = 0, before_seq: int | None = None, limit: int = 500,
              newest_first: bool = True) -> list[AuditEntry]:
        """See ``Store.audit``."""
        rows = self._rows(f"SELECT {columns(AuditEntry)} FROM audit WHERE seq > %s AND seq < %s "
                          f"ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT %s",
                          [after_seq, before_seq if before_seq is not None else 2**62, limit])
        return [AuditEntry(*r) for r in rows]

    def close(self) -> None:
        """See ``Store.close``."""
        try:
            if not (self._con.closed or self._con.broken):
                self._snapshot(self._con)
        finally:
            self._con.close()
            if self._wcon is not None:
                self._wcon.close()
            self._pool.close()


def _batch(rows: np.ndarray) -> ReadingBatch:
    """COPY rows (big-endian) as a batch in native byte order."""
    return ReadingBatch.of(rows["sensor"], rows["t_ms"], rows["value"])


def _safe(url: str) -> str:
    """``url`` without its password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "(an unreadable address)"
    return " ".join(f"{k}={v}" for k, v in info.items() if k != "password")
