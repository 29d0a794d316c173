"""One partition of the distributed mode: its units' pipeline, fed from JetStream.

A ``PartitionWorker`` is what each Ray actor holds (``cluster.Cluster``); it is a plain object, so
it also runs, and is tested, without Ray.  It opens its partition's store (a schema of the shared
PostgreSQL database), builds the same ``Pipeline`` as the single process — which restores the
last checkpoint and re-runs the detectors over readings committed after it — and then consumes its
subjects (on a consumer made afresh, so what a dead predecessor had fetched and not committed comes
first, in order): fetch up to ``fetch_messages`` messages, validate them at the edge as any Arrow body,
commit their readings (and dead letters), acknowledge the messages, detect.  So after a crash at
any point nothing acknowledged is lost and nothing is detected twice.  Escalation runs as in the
engine, every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any

import nats.errors
import psycopg
import pyarrow as pa

from ..batch import NO_TIME, ReadingBatch
from ..city.bundle import load_city
from ..engine import RETENTION_CHECK_S
from ..errors import CityLifelineError, StoreError
from ..ingest import Validator
from ..ingest.files import parse_arrow_stream
from ..pipeline import Pipeline, wall_ms
from ..settings import Config
from ..store.base import DeadLetter, DeadLetters, IncidentFilter, WarnChanges
from ..store.postgres import PostgresStore
from ..warn.model import Incident
from . import feed
from .feed import ACK_WAIT_S
from .plan import Plan, schema_url

log = logging.getLogger("citylifeline.cluster")
ESCALATION_CHECK_S = 5.0
FETCH_WAIT_S = 0.1
"""The longest a fetch waits for more messages once the first one came (nats-py waits to fill the
batch): a bound on the latency the partition adds when readings trickle in."""
CHANGE_LOG = 10_000  # changed incidents and tickets kept for the front (``view``)
READS = frozenset(("incidents", "incident", "timeline", "events", "tickets", "open_tickets", "dead_letters",
                   "readings", "hourly", "sensor_ids", "count_readings", "audit", "verify_audit"))
"""The store's reads the front may ask a partition for (``read``)."""


def rss_bytes() -> int:
    """This process's resident memory (0 where there is no /proc)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def open_partition_store(pg_url: str, plan: Plan, k: int) -> PostgresStore:
    """Partition ``k``'s store: its schema in the shared database (made if missing)."""
    schema = plan.store_schema(k)
    with psycopg.connect(pg_url, autocommit=True, connect_timeout=10) as con:
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')  # the name is checked by make_plan
    return PostgresStore(schema_url(pg_url, schema))


class PartitionWorker:
    """Partition ``k`` of ``plan``: a pipeline over its store, consuming its JetStream subjects."""

    def __init__(self, city: str, config: Config, plan: Plan, k: int, pg_url: str, nats_url: str,
                 fetch_messages: int = 64) -> None:
        self.plan, self.k, self.fetch_messages = plan, k, fetch_messages
        self.nats_url = nats_url
        began = time.perf_counter()
        self.store = open_partition_store(pg_url, plan, k)
        try:
            self.pipeline = Pipeline(plan.bundle(load_city(city), k), self.store, config, partition=(k, plan.n))
        except Exception:
            self.store.close()
            raise
        self.validator = Validator(self.pipeline.registry, config, wall_ms)
        self.max_readings = config.max_batch_readings
        self.retention_days = config.retention_days
        self.started_s = time.perf_counter() - began  # restore and re-detection included
        self.counts: dict[str, float] = dict.fromkeys(
            ("messages", "readings", "duplicates", "dead_letters", "commits", "busy_s", "commit_s", "ack_s",
             "detect_s", "first_commit_at", "last_commit_at", "reduced_readings"), 0)
        self._lock = threading.Lock()  # the pipeline: the consumer and people's actions take turns
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.epoch = uuid.uuid4().hex  # a new one after a restart: the front then takes a fresh snapshot
        self._changes: deque[tuple[int, Any]] = deque(maxlen=CHANGE_LOG)  # (number, changed incident or ticket)
        self._changed = 0  # changes numbered so far
        self._checks = 0  # broker checks begun
        self._drained_at_check = -1  # the last check that found nothing left for this partition
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"citylifeline-p{k}", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError(f"partition {k} could not subscribe to {nats_url} within 30 s: {self._error}")

    # ---- what the cluster asks -----------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Counts, the newest commit, live incidents, and the process (for a drill that kills it)."""
        with self._lock:
            active = len(self.pipeline.correlator.active)
        return {"partition": self.k, "pid": os.getpid(), "rss_bytes": rss_bytes(), "seq": self.pipeline.seq,
                "active_incidents": active,
                "sensors": len(self.pipeline.registry), "started_s": round(self.started_s, 3),
                "recovered_readings": self.pipeline.recovered_readings, **self.counts}

    def stored(self) -> int:
        """Readings in the partition's store."""
        return self.store.count_readings()

    def drain(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Wait until every message published before the call is committed and detected."""
        after = self._checks
        deadline = time.monotonic() + timeout_s
        while self._drained_at_check <= after:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"partition {self.k} stopped consuming: {self._error}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"partition {self.k} still has messages after {timeout_s} s")
            time.sleep(0.05)
        return self.status()

    def incidents(self, limit: int = 10_000) -> list[dict[str, Any]]:
        """Every incident of the partition, oldest first."""
        return [i.to_dict() for i in reversed(self.store.incidents(IncidentFilter(limit=limit)))]

    def tickets(self) -> list[dict[str, Any]]:
        """Every maintenance ticket of the partition."""
        return [t.to_dict() for t in self.store.tickets(limit=10_000)]

    def act(self, incident_id: int, action: str, actor: str, assignee: str = "", text: str = "",
            source: str = "", credential: str = "", role: str = "") -> Incident:
        """A lifecycle action on one of the partition's incidents (``Pipeline.act``)."""
        with self._lock:
            inc, changes = self.pipeline.act(incident_id, action, actor, assignee, text, source, credential, role)
            self._note(changes)
        return inc

    def close_ticket(self, ticket_id: int, actor: str, note: str, source: str = "", credential: str = "",
                     role: str = "") -> WarnChanges:
        """Close one of the partition's maintenance tickets by hand (``Pipeline.close_ticket``)."""
        with self._lock:
            changes = self.pipeline.close_ticket(ticket_id, actor, note, source, credential, role)
            self._note(changes)
        return changes

    def works(self, orders: list[Any]) -> None:
        """Every works order, for the partition's analysts (``Pipeline.works``)."""
        with self._lock:
            self.pipeline.works(orders)

    def construction_sites(self, sites: list[Any]) -> None:
        """Every construction site, for the partition's correlator (``Pipeline.construction_sites``)."""
        with self._lock:
            self.pipeline.construction_sites(sites)

    def rain_forecasts(self, forecasts: list[Any]) -> None:
        """The newest rain forecasts, for the partition's analysts (``Pipeline.rain_forecasts``)."""
        with self._lock:
            self.pipeline.rain_forecasts(forecasts)

    def read(self, name: str, *args: Any) -> Any:
        """One of the store's reads (``READS``), for the front; sensors are the partition's numbers."""
        if name not in READS:
            raise ValueError(f"{name!r} is not a read a partition answers; use one of {', '.join(sorted(READS))}")
        return getattr(self.store, name)(*args)

    def view(self, after: int, seen_seq: int) -> dict[str, Any]:
        """For the front, at each of its polls (``front.FRONT_CHECK_S``): the incidents and tickets
        changed after change number ``after`` (``overflow`` if some of them are no longer kept), and —
        if detection has moved on since commit ``seen_seq`` — each sensor's newest time and value and
        its threshold level."""
        with self._lock:
            changes = [c for n, c in self._changes if n > after]
            out: dict[str, Any] = {
                "epoch": self.epoch, "changed": self._changed, "changes": changes, "seq": self.pipeline.seq,
                "overflow": bool(self._changes) and self._changes[0][0] > after + 1,
                "watermark_ms": self.pipeline.watermark_ms}
            if self.pipeline.seq != seen_seq:
                out |= {"last_t": self.store.last_t.copy(), "last_value": self.store.last_value.copy(),
                        "levels": self.pipeline.threshold_levels()}
        return out

    def _note(self, changes: WarnChanges) -> None:
        """Keep what changed for the front (under the lock)."""
        for record in [*changes.incidents.values(), *changes.tickets.values()]:
            self._changed += 1
            self._changes.append((self._changed, record))

    def stop(self) -> None:
        """Stop consuming (finishing the batch in hand), checkpoint and close the store."""
        self._stop.set()
        self._thread.join(30)
        with self._lock:
            self.pipeline.close()
            self.store.close()

    # ---- the consumer ----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._consume())
        except BaseException as e:  # drain() reports it
            self._error = e
            log.exception("partition %s stopped consuming", self.k)

    async def _consume(self) -> None:
        nc, js = await feed.connect(self.nats_url)
        try:
            await feed.ensure_stream(js, self.plan)
            sub = await feed.fresh_consumer(js, self.plan, self.k)
            self._ready.set()
            held = Held()
            next_escalation = time.monotonic() + ESCALATION_CHECK_S
            next_retention = 0.0  # after the first commit, then hourly
            while not self._stop.is_set():
                try:
                    for m in await sub.fetch(self.fetch_messages, timeout=FETCH_WAIT_S):
                        held.add(m)
                except (nats.errors.TimeoutError, TimeoutError):  # nothing waiting
                    check = self._checks = self._checks + 1
                    info = await sub.consumer_info()
                    if info.num_pending == 0 and info.num_ack_pending == 0 and not held:
                        self._drained_at_check = check
                for group, watermark_ms in held.ready(time.monotonic() - ACK_WAIT_S / 2):
                    await self._commit(nc, group, watermark_ms)
                if self.retention_days > 0 and self.counts["commits"] and time.monotonic() >= next_retention:
                    next_retention = time.monotonic() + RETENTION_CHECK_S
                    self._retain()
                if time.monotonic() >= next_escalation:
                    next_escalation = time.monotonic() + ESCALATION_CHECK_S
                    with self._lock:
                        self._note(self.pipeline.escalate())
        finally:
            await nc.close()

    def _retain(self) -> None:
        """Reduce the partition's readings older than ``retention_days`` to hourly statistics (as the
        single process's store thread does); a failure is logged and retried at the next check."""
        try:
            n = self.store.retain_days(self.retention_days)
        except StoreError:
            log.exception("partition %s could not reduce its old readings", self.k)
            return
        self.counts["reduced_readings"] += n
        if n:
            log.info("partition %s reduced %d readings older than %s days to hourly statistics", self.k, n,
                     self.retention_days)

    async def _commit(self, nc: Any, msgs: list[Any], watermark_ms: int) -> None:
        began = time.time()
        batches: list[ReadingBatch] = []
        letters: list[Sequence[DeadLetter]] = []  # whole columns of dead letters, joined once
        for m in msgs:
            source = f"nats:{m.subject}"
            gateway_letters = feed.read_dead_letters(m.data)
            if gateway_letters is not None:  # readings a gateway refused, to be kept
                letters.append(gateway_letters)
                continue
            try:
                parsed = parse_arrow_stream(m.data, self.validator, self.max_readings, source)
            except CityLifelineError as e:  # the whole message refused: kept as a dead letter
                letters.append([DeadLetter(source, str(e), getattr(e, "field", "") or "body",
                                           payload=m.data[:256].hex())])
                continue
            batches.append(parsed.batch)
            letters.append(parsed.dead_letters)
        dead = DeadLetters.concat(letters)
        with self._lock:
            result = self.pipeline.append(ReadingBatch.concat(batches) if batches else ReadingBatch.empty(),
                                          dead, "nats")
        committed = time.time()
        for m in msgs:  # committed: now the broker may forget them
            await m.ack()
        await nc.flush()
        acked = time.time()
        with self._lock:
            self._note(self.pipeline.detect(result, watermark_ms))
        c = self.counts
        c["commit_s"] += committed - began
        c["ack_s"] += acked - committed
        c["detect_s"] += time.time() - acked
        c["messages"] += len(msgs)
        c["readings"] += result.stored
        c["duplicates"] += result.duplicates
        c["dead_letters"] += len(dead)
        c["commits"] += 1
        c["busy_s"] += time.time() - began
        c["first_commit_at"] = c["first_commit_at"] or began
        c["last_commit_at"] = time.time()


class Held:
    """Messages fetched but not yet committed, grouped by the gateway's batch (``feed.Router``)."""

    def __init__(self) -> None:
        self.groups: dict[str, list[Any]] = {}  # batch → its messages so far, in order of arrival
        self.meta: dict[str, tuple[int, int, float]] = {}  # batch → (messages expected, watermark, first seen)
        self.seqs: set[int] = set()  # stream sequence numbers held (a redelivery is not held twice)

    def __bool__(self) -> bool:
        return bool(self.groups)

    def add(self, m: Any) -> None:
        seq = m.metadata.sequence.stream
        if seq in self.seqs:
            return
        self.seqs.add(seq)
        try:
            meta = pa.ipc.open_stream(m.data).schema.metadata or {}
        except (pa.ArrowException, OSError, ValueError):
            meta = {}  # not Arrow: refused with its reason when committed
        batch = meta.get(b"batch", b"").decode(errors="replace") or f"message-{seq}"
        try:
            parts, watermark = int(meta.get(b"parts", b"1")), int(meta.get(b"watermark_ms", str(NO_TIME).encode()))
        except ValueError:
            parts, watermark = 1, NO_TIME
        self.groups.setdefault(batch, []).append(m)
        self.meta.setdefault(batch, (parts, watermark, time.monotonic()))

    def ready(self, stale_before: float) -> list[tuple[list[Any], int]]:
        """The complete groups (and those waiting since ``stale_before``: a gateway that died half-way),
        oldest first, with their watermarks; they leave the holding."""
        out = []
        for batch in list(self.groups):
            parts, watermark, since = self.meta[batch]
            if len(self.groups[batch]) >= parts or since < stale_before:
                msgs = self.groups.pop(batch)
                del self.meta[batch]
                self.seqs -= {m.metadata.sequence.stream for m in msgs}
                out.append((msgs, watermark))
        return out
