"""The distributed mode on Ray: one named actor per partition of the city.

``Cluster.start`` joins a Ray cluster (``address``: ``"auto"`` for the one this machine belongs to,
or ``"ray://host:10001"`` / ``"host:6379"`` for another; ``"local"`` starts a private one on this
machine) and starts, or finds, an actor per partition (``cluster.worker.PartitionWorker``).  Ray
restarts an actor that dies (``max_restarts=-1``), on any node; the new one restores its
partition's last checkpoint from PostgreSQL and takes over its JetStream consumer, where every
message it had not committed is still waiting.  Calls in flight when it died are retried.

The driver holds no state: readings go to the broker (``publish``), incidents come from the
partitions' stores, and a second driver can attach to running actors by their names.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..batch import ReadingBatch
from ..city.bundle import CityBundle, load_city
from ..errors import ConfigError
from ..ingest import Validator, read_file
from ..ingest.wide import ColumnMap
from ..offline import IngestReport
from ..pipeline import wall_ms
from ..settings import Config
from ..store.base import DeadLetter, WarnChanges
from ..warn.model import Incident
from . import feed
from .plan import Plan, make_plan

ACTOR_NAMESPACE = "citylifeline"
READ_TIMEOUT_S = 60.0  # a partition being restarted answers once it has restored its checkpoint


def start_ray(address: str = "local", num_cpus: int | None = None) -> None:
    """Join (or, for ``"local"``, start) a Ray cluster, unless this process already has."""
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # bind and advertise 127.0.0.1
    if address == "local":
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, namespace=ACTOR_NAMESPACE,
                 log_to_driver=False, _node_ip_address="127.0.0.1")
    else:
        ray.init(address=address, namespace=ACTOR_NAMESPACE, log_to_driver=False)


class Cluster:
    """The partitions' actors for one city (settings ``city``, ``db``: the shared PostgreSQL database,
    ``nats_url``, ``cluster_partitions``, ``cluster_partition_by``, ``cluster_schema``)."""

    def __init__(self, config: Config, bundle: CityBundle | None = None) -> None:
        if not config.db.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"the distributed mode shares a PostgreSQL database between its partitions; db is "
                              f"{config.db!r}: give a postgresql:// URI (--db or CITYLIFELINE_DB)")
        self.config, self.pg_url, self.nats_url = config, config.db, config.nats_url
        self.bundle = bundle or load_city(config.city)
        self.plan: Plan = make_plan(self.bundle.sensors, config.cluster_partitions, config.cluster_schema,
                                    config.cluster_partition_by)
        self.router = feed.Router(self.plan, self.bundle.sensors)
        self.actors: list[Any] = []

    def start(self, address: str = "local", cpus_per_partition: float = 1.0) -> Cluster:
        """Start (or find by name) every partition's actor, and wait until each is consuming."""
        import ray

        from .worker import PartitionWorker

        start_ray(address, None if address != "local" else max(2, int(self.plan.n * cpus_per_partition)))
        remote = ray.remote(PartitionWorker).options
        self.actors = [remote(name=self.actor_name(k), get_if_exists=True, max_restarts=-1, max_task_retries=-1,
                              num_cpus=cpus_per_partition, lifetime="detached" if address != "local" else None
                              ).remote(str(self.config.city), self.config, self.plan, k, self.pg_url, self.nats_url)
                       for k in range(self.plan.n)]
        ray.get([a.status.remote() for a in self.actors])  # each has restored and subscribed
        return self

    def actor_name(self, k: int) -> str:
        """Partition ``k``'s actor name in the Ray namespace ``citylifeline``."""
        return f"{self.plan.schema}-p{k}"

    def publish(self, batch: ReadingBatch, dead_letters: Sequence[DeadLetter] = ()) -> int:
        """Publish readings of the whole city (sensor numbers of the city's registry) to their units'
        subjects, and readings refused at the edge to partition 0; returns once JetStream has stored
        them all (messages published)."""
        messages = self.router.split(batch)
        if dead_letters:
            messages.append(feed.dead_letter_message(self.plan, dead_letters))

        async def go() -> int:
            nc, js = await feed.connect(self.nats_url)
            try:
                await feed.ensure_stream(js, self.plan)
                return await feed.publish(js, messages, self.plan.stream)
            finally:
                await nc.close()
        return asyncio.run(go())

    def publish_files(self, paths: Sequence[str | Path], naive_tz: str | None = None,
                      progress: Callable[[int, float], None] | None = None,
                      columns: ColumnMap | None = None) -> IngestReport:
        """Validate readings files as ``ingest`` does (wide exports mapped by ``columns``) and publish
        them (the partitions store and detect them); the report counts what was published and refused."""
        report = IngestReport()
        validator = Validator(self.bundle.sensors, self.config, wall_ms)
        start = time.perf_counter()
        for path in paths:
            for parsed in read_file(path, validator, naive_tz=naive_tz, columns=columns):
                self.publish(parsed.batch, parsed.dead_letters)
                report.received += parsed.received
                report.stored += len(parsed.batch)
                report.rejected += len(parsed.rejections)
                report.first_rejections.extend(parsed.rejections[: max(0, 5 - len(report.first_rejections))])
                if progress:
                    progress(report.received, time.perf_counter() - start)
        report.seconds = time.perf_counter() - start
        return report

    def drain(self, timeout_s: float = 120.0) -> list[dict[str, Any]]:
        """Wait until every partition has committed and detected all it was sent; their status."""
        import ray

        return ray.get([a.drain.remote(timeout_s) for a in self.actors])

    def status(self) -> list[dict[str, Any]]:
        """Each partition's status."""
        import ray

        return ray.get([a.status.remote() for a in self.actors])

    def incidents(self) -> list[dict[str, Any]]:
        """Every incident of every partition, in order of first data time."""
        import ray

        every = [i for part in ray.get([a.incidents.remote() for a in self.actors]) for i in part]
        return sorted(every, key=lambda i: (i["t_first_ms"], i["id"]))

    def tickets(self) -> list[dict[str, Any]]:
        """Every maintenance ticket of every partition, in order of opening."""
        import ray

        every = [t for part in ray.get([a.tickets.remote() for a in self.actors]) for t in part]
        return sorted(every, key=lambda t: (t["t_opened_ms"], t["id"]))

    def act(self, incident_id: int, action: str, actor: str, **kw: str) -> Incident:
        """A lifecycle action, on the partition that owns the incident (ids are striped by partition)."""
        import ray

        k = partition_of_record(incident_id, self.plan.n)
        return ray.get(self.actors[k].act.remote(incident_id, action, actor, **kw))

    def close_ticket(self, ticket_id: int, actor: str, note: str, **kw: str) -> WarnChanges:
        """Close a maintenance ticket, on the partition that owns it."""
        import ray

        k = partition_of_record(ticket_id, self.plan.n)
        return ray.get(self.actors[k].close_ticket.remote(ticket_id, actor, note, **kw))

    def works(self, orders: list[Any]) -> None:
        """Every works order, to every partition's analysts."""
        import ray

        ray.get([a.works.remote(orders) for a in self.actors], timeout=READ_TIMEOUT_S)

    def construction_sites(self, sites: list[Any]) -> None:
        """Every construction site, to every partition's correlator."""
        import ray

        ray.get([a.construction_sites.remote(sites) for a in self.actors], timeout=READ_TIMEOUT_S)

    def rain_forecasts(self, forecasts: list[Any]) -> None:
        """The newest rain forecasts, to every partition's analysts."""
        import ray

        ray.get([a.rain_forecasts.remote(forecasts) for a in self.actors], timeout=READ_TIMEOUT_S)

    def read(self, k: int | None, name: str, *args: Any) -> list[Any]:
        """A store read (``worker.READS``) of partition ``k``, or of every partition (``None``): their answers."""
        import ray

        actors = self.actors if k is None else [self.actors[k]]
        return ray.get([a.read.remote(name, *args) for a in actors], timeout=READ_TIMEOUT_S)

    def kill(self, k: int) -> None:
        """Kill partition ``k``'s actor as a crash would (Ray restarts it): for drills and tests."""
        import ray

        ray.kill(self.actors[k], no_restart=False)

    def stop(self) -> None:
        """Stop every actor cleanly (checkpointed); the Ray cluster itself is left running."""
        import ray

        ray.get([a.stop.remote() for a in self.actors])
        for a in self.actors:
            ray.kill(a, no_restart=True)
        self.actors = []


def partition_of_record(record_id: int, partitions: int) -> int:
    """The partition that numbered ``record_id`` (an incident, ticket or event: ``warn.correlate.first_id``)."""
    return (record_id - 1) % partitions
