"""The front of the distributed mode: the REST API, the WebSocket and the dashboard over a cluster.

``serve --cluster`` runs the same ``Engine`` and FastAPI app as one process, with two parts swapped:

- the store is a ``ClusterStore``: incidents, events, timelines, tickets, readings and dead letters
  are read from the partitions that own them (by id — ids are striped by partition —, by sensor, or
  from every partition, merged in the store's order), with each partition's sensor numbers turned
  into the city's; credentials, sessions and the audit log live in the front's own schema;
- in place of the pipeline, a ``ClusterPipeline``: readings accepted over HTTP or MQTT are
  validated at the edge as always, then published to their units' subjects and acknowledged once
  JetStream has stored them (the partitions store, deduplicate and detect them); a person's action
  goes to the partition that owns the incident or ticket; and every ``FRONT_CHECK_S`` the
  writer thread asks each partition what changed — incidents and tickets for the WebSocket, each
  sensor's newest reading and threshold level for the map.

The front holds nothing a partition needs: stop it and start another, and nothing is lost.  A
partition that was restarted is noticed by its new ``epoch``; its live incidents and open tickets
are then sent again in full.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pyarrow as pa

from ..batch import NO_TIME, ReadingBatch
from ..city.bundle import CityBundle
from ..city.sensors import SensorRegistry
from ..engine import Engine
from ..errors import StoreError
from ..forecasts import KEPT
from ..settings import Config
from ..store.base import AppendResult, Checkpoint, DeadLetter, DeadLetters, IncidentFilter, Store, WarnChanges
from ..store.postgres import PostgresStore
from ..warn.lifecycle import ACTIVE_STATES
from ..warn.model import Event, Incident, Ticket, TimelineEntry
from . import feed
from .cluster import Cluster, partition_of_record
from .plan import schema_url

FRONT_CHECK_S = 0.25
PUBLISH_TIMEOUT_S = 30.0


def front_engine(cluster: Cluster, config: Config | None = None) -> Engine:
    """An ``Engine`` over ``cluster``'s partitions (started), for ``api.create_app``; ``config``: the
    front's own settings (its MQTT broker, say), the cluster's by default."""
    front = open_front_store(cluster)
    store = ClusterStore(cluster, front)
    try:
        engine = Engine(config or cluster.config, cluster.bundle, store=store,
                        lifelines=lambda bundle, s: ClusterPipeline(cluster, store, bundle))
    except Exception:
        store.close()
        raise
    engine.check_every_s = FRONT_CHECK_S
    return engine


def open_front_store(cluster: Cluster) -> PostgresStore:
    """The front's own schema (``<cluster_schema>_front``): credentials, sessions, the audit log."""
    schema = f"{cluster.plan.schema}_front"
    with psycopg.connect(cluster.pg_url, autocommit=True, connect_timeout=10) as con:
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')  # the name is checked by make_plan
    return PostgresStore(schema_url(cluster.pg_url, schema))


class ClusterStore(Store):
    """The partitions' records, read as one store; credentials and audit in ``front``."""

    def __init__(self, cluster: Cluster, front: Store) -> None:
        self.cluster, self.front, self.n = cluster, front, cluster.plan.n
        self.last_t = np.empty(0, np.int64)
        self.last_value = np.empty(0, np.float64)
        self._seq = 0
        self.registry: SensorRegistry | None = None
        self.to_city: list[np.ndarray] = []  # partition → its sensor numbers' city numbers
        self.part_of = self.local_of = np.empty(0, np.int32)  # city number → (partition, its number there)

    # ---- sensors -------------------------------------------------------------------------------
    def sensor_ids(self) -> list[str]:
        return self.front.sensor_ids()

    def register_sensors(self, registry: SensorRegistry) -> SensorRegistry:
        """The city's numbering (kept in the front's schema) and the map to each partition's own."""
        self.registry = reg = self.front.register_sensors(registry)
        n = len(reg)
        self.last_t, self.last_value = np.full(n, -1, np.int64), np.full(n, np.nan)
        self.part_of, self.local_of = np.full(n, -1, np.int32), np.full(n, -1, np.int32)
        self.to_city = []
        for k, ids in enumerate(self.cluster.read(None, "sensor_ids")):
            city = reg.lookup(ids)
            self.to_city.append(city)
            self.part_of[city], self.local_of[city] = k, np.arange(len(city), dtype=np.int32)
        return reg

    def _where(self, sensor: int) -> tuple[int, int]:
        """(partition, its number) of city sensor ``sensor``."""
        if not 0 <= sensor < len(self.part_of) or self.part_of[sensor] < 0:
            raise StoreError(f"sensor number {sensor} is in no partition of the cluster")
        return int(self.part_of[sensor]), int(self.local_of[sensor])

    def _city(self, k: int, record: Any) -> Any:
        """An event or ticket of partition ``k`` with the city's sensor number."""
        return replace(record, sensor=int(self.to_city[k][record.sensor]))

    # ---- readings: the partitions' -----------------------------------------------------------
    def readings(self, sensor: int, start_ms: int, end_ms: int, limit: int = 100_000) -> ReadingBatch:
        k, local = self._where(sensor)
        b: ReadingBatch = self.cluster.read(k, "readings", local, start_ms, end_ms, limit)[0]
        return ReadingBatch.of(np.full(len(b), sensor), b.t_ms, b.value)

    def hourly(self, sensor: int, start_ms: int, end_ms: int) -> dict[str, np.ndarray]:
        k, local = self._where(sensor)
        return self.cluster.read(k, "hourly", local, start_ms, end_ms)[0]

    def count_readings(self) -> int:
        return int(sum(self.cluster.read(None, "count_readings")))

    def retain(self, before_ms: int) -> int:
        """Nothing at the front: each partition holds (and reduces) its own readings."""
        return 0

    def _missing(self, old: ReadingBatch) -> ReadingBatch:
        raise StoreError("the front stores no readings: they are published to the partitions")

    def _write(self, readings: ReadingBatch, seq: int, dead_letters: pa.Table) -> None:
        raise StoreError("the front stores no readings: they are published to the partitions")

    def replay_batches(self, after_seq: int = 0, chunk_rows: int = 1_000_000) -> Iterator[tuple[int, ReadingBatch]]:
        raise StoreError("replay a partition's own schema (cluster_schema_pK): the front stores no readings")

    # ---- warning records: the partitions' ----------------------------------------------------
    def incidents(self, flt: IncidentFilter) -> list[Incident]:
        every = [i for part in self.cluster.read(None, "incidents", flt) for i in part]
        every.sort(key=lambda i: (-i.level, -i.t_first_ms, -i.id))
        return every[: flt.limit]

    def incident(self, incident_id: int) -> Incident | None:
        if incident_id < 1:
            return None
        return self.cluster.read(partition_of_record(incident_id, self.n), "incident", incident_id)[0]

    def timeline(self, incident_id: int) -> list[TimelineEntry]:
        if incident_id < 1:
            return []
        return self.cluster.read(partition_of_record(incident_id, self.n), "timeline", incident_id)[0]

    def events(self, incident_id: int | None = None, sensor: int | None = None,
               since_ms: int | None = None, limit: int = 500) -> list[Event]:
        if sensor is not None:
            k, local = self._where(sensor)
            found = [(k, self.cluster.read(k, "events", incident_id, local, since_ms, limit)[0])]
        elif incident_id is not None:
            k = partition_of_record(incident_id, self.n) if incident_id > 0 else 0
            found = [(k, self.cluster.read(k, "events", incident_id, None, since_ms, limit)[0])]
        else:
            found = list(enumerate(self.cluster.read(None, "events", None, None, since_ms, limit)))
        every: list[Event] = [self._city(k, e) for k, part in found for e in part]
        every.sort(key=lambda e: (-e.t_ms, -e.id))
        return every[:limit]

    def tickets(self, state: str = "", limit: int = 500) -> list[Ticket]:
        parts = self.cluster.read(None, "tickets", state, limit)
        every: list[Ticket] = [self._city(k, t) for k, part in enumerate(parts) for t in part]
        every.sort(key=lambda t: (t.state != "open", -t.t_opened_ms))
        return every[:limit]

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        every = [d for part in self.cluster.read(None, "dead_letters", limit) for d in part]
        every.sort(key=lambda d: -d["received_at_ms"])
        return every[:limit]

    # ---- the front's own: credentials, works orders, audit -----------------------------------------
    def save_warnings(self, changes: WarnChanges, checkpoint: Checkpoint | None = None) -> None:
        """Credentials, works orders and audit entries (the front's); incidents and tickets are the partitions'."""
        if changes.incidents or changes.tickets or changes.events or changes.timeline or checkpoint is not None:
            raise StoreError("the front saves only credentials and audit entries; incidents and tickets are "
                             "saved by the partition that owns them")
        self.front.save_warnings(changes)

    def _save(self, changes: WarnChanges, checkpoint: Checkpoint | None) -> None:
        self.save_warnings(changes, checkpoint)

    def known_events(self, events: Sequence[Event]) -> list[bool]:
        return self.front.known_events(events)

    def load_checkpoint(self) -> Checkpoint | None:
        return None  # the front detects nothing

    def next_ids(self) -> dict[str, int]:
        return self.front.next_ids()

    def credentials(self) -> list[Any]:
        return self.front.credentials()

    def works_orders(self) -> list[Any]:
        return self.front.works_orders()  # the front's, pushed to every partition (``ClusterPipeline.works``)

    def construction_sites(self) -> list[Any]:
        return self.front.construction_sites()  # kept at the front: the risk map is the front's

    def rain_forecasts(self, limit: int) -> list[Any]:
        return self.front.rain_forecasts(limit)  # the front's, pushed likewise (``ClusterPipeline.rain_forecasts``)

    def audit(self, after_seq: int = 0, before_seq: int | None = None, limit: int = 500,
              newest_first: bool = True) -> list[Any]:
        return self.front.audit(after_seq, before_seq, limit, newest_first)

    def verify_audit(self, chunk: int = 10_000) -> tuple[int, str]:
        return self.front.verify_audit(chunk)

    def audit_logs(self) -> list[str]:
        return ["", *(f"p{k}" for k in range(self.n))]

    def audit_of(self, log: str, before_seq: int | None = None, limit: int = 500) -> list[Any]:
        """The front's own log (``""``), or partition k's (``"pk"``: its incidents' and tickets' actions)."""
        if not log:
            return super().audit_of(log, before_seq, limit)
        self._known_log(log)
        return self.cluster.read(int(log[1:]), "audit", 0, before_seq, limit)[0]

    def verify_audit_of(self, log: str) -> tuple[int, str]:
        if not log:
            return super().verify_audit_of(log)
        self._known_log(log)
        n, problem = self.cluster.read(int(log[1:]), "verify_audit")[0]
        return int(n), str(problem)

    def close(self) -> None:
        self.front.close()


class ClusterPipeline:
    """In place of the pipeline at the front (``pipeline.Lifelines``): readings go to the broker,
    actions to the owning partition, and ``escalate`` — every ``FRONT_CHECK_S`` on the writer thread — gathers
    what the partitions changed."""

    def __init__(self, cluster: Cluster, store: ClusterStore, bundle: CityBundle) -> None:
        self.cluster, self.store = cluster, store
        self.registry = store.register_sensors(bundle.sensors)
        city = bundle.sensors
        self._to_router = None if self.registry.ids == city.ids else city.lookup(self.registry.ids)
        self.tz = ZoneInfo(bundle.city.timezone)
        self.watermark_ms = NO_TIME
        self._levels = np.zeros(len(self.registry), np.int8)
        self._seen: list[tuple[str, int, int]] = [("", 0, -1)] * cluster.plan.n  # (epoch, change, seq) per partition
        self.works(store.works_orders())  # the front's works orders, to the partitions (as Pipeline's own, at start)
        self.construction_sites(store.construction_sites())
        self.rain_forecasts(store.rain_forecasts(KEPT))
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="citylifeline-front-nats", daemon=True).start()
        self._js: Any = None
        self._nc: Any = None
        self._publish(self._connect())

    # ---- readings: to the broker ---------------------------------------------------------------------
    async def _connect(self) -> None:
        self._nc, self._js = await feed.connect(self.cluster.nats_url)
        await feed.ensure_stream(self._js, self.cluster.plan)

    def _publish(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(PUBLISH_TIMEOUT_S)

    def append(self, batch: ReadingBatch, dead_letters: Sequence[DeadLetter] = (),
               source: str = "") -> AppendResult:
        """Publish validated readings to their units' subjects (and refused ones, as dead letters, to
        partition 0); returns once JetStream has stored every message.  ``stored`` counts the readings
        handed over: the partition drops any it already has."""
        if self._to_router is not None:
            batch = ReadingBatch(self._to_router[batch.sensor].astype(np.int32), batch.t_ms, batch.value)
        messages = self.cluster.router.split(batch) if len(batch) else []
        if dead_letters:
            letters = DeadLetters.of(dead_letters).with_source(source)
            messages.append(feed.dead_letter_message(self.cluster.plan, letters))
        if messages:
            self._publish(feed.publish(self._js, messages, self.cluster.plan.stream))
        return AppendResult(ReadingBatch.empty(), len(batch), 0, 0)

    def detect(self, result: AppendResult, watermark_ms: int = NO_TIME) -> WarnChanges:
        """Nothing here: the partitions detect what they consume (their changes come by ``escalate``)."""
        return WarnChanges()

    # ---- people: to the owning partition -------------------------------------------------------------
    def act(self, incident_id: int, action: str, actor: str, assignee: str = "", text: str = "",
            source: str = "", credential: str = "", role: str = "") -> tuple[Incident, WarnChanges]:
        inc = self.cluster.act(incident_id, action, actor, assignee=assignee, text=text, source=source,
                               credential=credential, role=role)
        return inc, WarnChanges(incidents={inc.id: inc})

    def close_ticket(self, ticket_id: int, actor: str, note: str, source: str = "", credential: str = "",
                     role: str = "") -> WarnChanges:
        changes = self.cluster.close_ticket(ticket_id, actor, note, source=source, credential=credential, role=role)
        k = partition_of_record(ticket_id, self.cluster.plan.n)
        return WarnChanges(tickets={key: self.store._city(k, t) for key, t in changes.tickets.items()})

    # ---- what the partitions changed -----------------------------------------------------------------
    def escalate(self) -> WarnChanges:
        """The partitions escalate their own incidents; here, gather every partition's changes since the
        last call, and refresh the sensors' newest readings and levels."""
        import ray

        views = ray.get([a.view.remote(seen[1] if seen[0] else 0, seen[2])
                         for a, seen in zip(self.cluster.actors, self._seen, strict=True)], timeout=30)
        out = WarnChanges()
        for k, (v, seen) in enumerate(zip(views, self._seen, strict=True)):
            if v["epoch"] != seen[0] or v["overflow"]:  # new (or restarted) partition: everything live, again
                changed: list[Any] = [*self.cluster.read(k, "incidents", IncidentFilter(
                    states=ACTIVE_STATES, limit=1_000_000))[0], *self.cluster.read(k, "open_tickets")[0]]
            else:
                changed = v["changes"]
            for record in changed:
                if isinstance(record, Incident):
                    out.incidents[record.id] = record
                else:
                    ticket = self.store._city(k, record)
                    out.tickets[ticket.id] = ticket
            if "last_t" in v:  # one entry per sensor of the partition, in its numbering
                city = self.store.to_city[k]
                self.store.last_t[city] = v["last_t"]
                self.store.last_value[city] = v["last_value"]
                self._levels[city] = v["levels"]
            self.watermark_ms = max(self.watermark_ms, int(v["watermark_ms"]))
            self._seen[k] = (v["epoch"], v["changed"], v["seq"])
        return out

    def threshold_levels(self) -> np.ndarray:
        return self._levels.copy()

    def works(self, orders: list[Any]) -> None:
        """To every partition's analysts (the engine gives them all at its start and at each change)."""
        self.cluster.works(orders)

    def construction_sites(self, sites: list[Any]) -> None:
        """To every partition's correlator (at the start and at each change)."""
        self.cluster.construction_sites(sites)

    def rain_forecasts(self, forecasts: list[Any]) -> None:
        """To every partition's analysts (at the start and whenever one comes)."""
        self.cluster.rain_forecasts(forecasts)

    def close(self) -> None:
        async def bye() -> None:
            if self._nc is not None:
                await self._nc.close()
        try:
            self._publish(bye())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)


def serve_cluster(config: Config, address: str) -> None:
    """``serve --cluster``: start the city's partitions on Ray (``address``: local, auto or a cluster's)
    and serve the API, WebSocket and dashboard over them until interrupted; a local cluster's workers
    are then stopped (checkpointed), a shared cluster's detached ones keep running."""
    import ray

    from ..server import addresses, make_server, require_admin

    require_admin(config)
    cl = Cluster(config)
    plan = cl.plan
    print(f"CityLifeline distributed mode for {cl.bundle.city.name}: {len(cl.bundle.sensors)} sensors in "
          f"{plan.n} partitions by {plan.by}; feed {config.nats_url} stream {plan.stream}; store "
          f"PostgreSQL {config.db.rpartition('@')[2]}", flush=True)
    for k in range(plan.n):
        units = [u for u, p in zip(plan.units, plan.partition_of_unit, strict=True) if p == k]
        print(f"  p{k}: {', '.join(units)}  subjects {plan.filter_subject(k)}  schema {plan.store_schema(k)}")
    cl.start(address)
    try:
        _, server = make_server(config, front_engine(cl))
        print(f"started on Ray ({address}); publish files with `citylifeline ingest --cluster {address} FILES`, "
              f"or POST readings to the front\n{addresses(config)}", flush=True)
        server.run()
    finally:
        if address == "local":
            cl.stop()
            ray.shutdown()
