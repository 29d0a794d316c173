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
from typing import Any

from ..batch import ReadingBatch
from ..city.bundle import CityBundle, load_city
from ..settings import Config
from . import feed
from .plan import STREAM, Plan, make_plan

ACTOR_NAMESPACE = "citylifeline"


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
    """The partitions' actors for one city, its database and its broker."""

    def __init__(self, config: Config, partitions: int, pg_url: str, nats_url: str,
                 bundle: CityBundle | None = None, schema: str = "citylifeline", stream: str = STREAM,
                 by: str = "lifeline") -> None:
        self.config, self.pg_url, self.nats_url, self.stream = config, pg_url, nats_url, stream
        self.bundle = bundle or load_city(config.city)
        self.plan: Plan = make_plan(self.bundle.sensors, partitions, schema, by)
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
                              ).remote(str(self.config.city), self.config, self.plan, k, self.pg_url, self.nats_url,
                                       self.stream)
                       for k in range(self.plan.n)]
        ray.get([a.status.remote() for a in self.actors])  # each has restored and subscribed
        return self

    def actor_name(self, k: int) -> str:
        """Partition ``k``'s actor name in the Ray namespace ``citylifeline``."""
        return f"{self.plan.schema}-p{k}"

    def publish(self, batch: ReadingBatch) -> int:
        """Publish readings of the whole city (sensor numbers of the city's registry) to their units'
        subjects; returns once JetStream has stored them all (messages published)."""
        messages = self.router.split(batch)

        async def go() -> int:
            nc, js = await feed.connect(self.nats_url)
            try:
                await feed.ensure_stream(js, self.plan, self.stream)
                return await feed.publish(js, messages, self.stream)
            finally:
                await nc.close()
        return asyncio.run(go())

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

    def act(self, incident_id: int, action: str, actor: str, **kw: str) -> dict[str, Any]:
        """A lifecycle action, on the partition that owns the incident (ids are striped by partition)."""
        import ray

        k = partition_of_incident(incident_id, self.plan.n)
        return ray.get(self.actors[k].act.remote(incident_id, action, actor, **kw))

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


def partition_of_incident(incident_id: int, partitions: int) -> int:
    """The partition that numbered ``incident_id``."""
    return (incident_id - 1) % partitions
