"""How a city is split for the distributed mode: units into partitions, and where each goes.

A **unit** is the sensors of one key — by default their lifeline (``by="lifeline"``), or their
district, or both (``"district+lifeline"``): its sensors, their detector state and the incidents
among them live in one partition.  Units are dealt to ``n`` partitions largest first, each to the
partition with the fewest sensors so far, so the partitions are about even.  Every partition has

- a **feed**: NATS JetStream subjects ``<schema>.readings.p<k>.<unit number>`` in the stream
  ``<SCHEMA>_READINGS`` (one per unit, so a
  gateway can publish a unit's readings knowing nothing more than the plan);
- a **store**: its own PostgreSQL schema ``<schema>_p<k>`` in the shared database, a complete
  store with its own writer lock, checkpoints and audit chain;
- **ids**: its incidents, events and tickets are numbered k+1, k+1+n, … so they are unique city-wide.

An incident is correlated inside one partition, and incidents never join across lifelines, so
splitting by lifeline gives exactly the single process's incidents.  Splitting by district does
only where no network crosses a district boundary: a burst main is felt by pressure sensors
across the whole water network, and alarms that one process joins into one incident become one
per district.  For a province, the districts are its cities (whose networks are separate), so
``district+lifeline`` gives as many partitions as it needs; within one city, use ``lifeline``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import numpy as np
import numpy.typing as npt

from ..city.bundle import CityBundle
from ..city.sensors import SensorRegistry
from ..errors import ConfigError


@dataclass(frozen=True)
class Plan:
    """Which partition each district (and so each sensor) belongs to."""

    by: str  # lifeline | district | district+lifeline
    units: tuple[str, ...]  # sorted; a unit's number is its place here
    partition_of_unit: tuple[int, ...]
    n: int
    schema: str = "citylifeline"

    @property
    def prefix(self) -> str:
        """The subjects' prefix: ``<schema>.readings`` (clusters of two schemas share a broker apart)."""
        return f"{self.schema}.readings"

    @property
    def stream(self) -> str:
        """The JetStream stream that holds every partition's subjects."""
        return f"{self.schema.upper()}_READINGS"

    def partition_of(self, registry: SensorRegistry) -> npt.NDArray[np.int16]:
        """The partition of each sensor of ``registry``."""
        return np.asarray(self.partition_of_unit, dtype=np.int16)[self.unit_numbers(registry)]

    def unit_numbers(self, registry: SensorRegistry) -> npt.NDArray[np.int32]:
        """Each sensor's unit number (its index in ``units``)."""
        number = {u: i for i, u in enumerate(self.units)}
        try:
            return np.array([number[u] for u in unit_keys(registry, self.by)], dtype=np.int32)
        except KeyError as e:
            raise ConfigError(f"sensors of {e.args[0]!r} are not in the cluster's plan (made for units "
                              f"{', '.join(self.units)}): restart the cluster with the new sensors") from None

    def subject(self, unit: int) -> str:
        """The JetStream subject of unit number ``unit``."""
        return f"{self.prefix}.p{self.partition_of_unit[unit]}.{unit}"

    def filter_subject(self, k: int) -> str:
        """The subjects partition ``k`` consumes."""
        return f"{self.prefix}.p{k}.>"

    def consumer(self, k: int) -> str:
        """Partition ``k``'s durable JetStream consumer."""
        return f"{re.sub(r'[^A-Za-z0-9_-]', '_', self.schema)}_p{k}"

    def store_schema(self, k: int) -> str:
        """Partition ``k``'s PostgreSQL schema."""
        return f"{self.schema}_p{k}"

    def sensors(self, bundle: CityBundle, k: int) -> SensorRegistry:
        """The sensors of partition ``k``, in the city's order."""
        mine = self.partition_of(bundle.sensors) == k
        return SensorRegistry([s for s, m in zip(bundle.sensors.specs, mine, strict=True) if m])

    def bundle(self, bundle: CityBundle, k: int) -> CityBundle:
        """The city as partition ``k`` sees it: the whole model, its own sensors."""
        return CityBundle(bundle.city, self.sensors(bundle, k), bundle.path, bundle.config)


BY = ("lifeline", "district", "district+lifeline")


def unit_keys(registry: SensorRegistry, by: str) -> list[str]:
    """Each sensor's unit key."""
    if by == "lifeline":
        return list(registry.layer)
    if by == "district":
        return list(registry.district)
    if by == "district+lifeline":
        return [f"{d}/{ll}" for d, ll in zip(registry.district, registry.layer, strict=True)]
    raise ConfigError(f"cluster partitions by {by!r}: use one of {', '.join(BY)}")


def make_plan(registry: SensorRegistry, n: int, schema: str = "citylifeline", by: str = "lifeline") -> Plan:
    """Deal the units of ``registry`` to ``n`` partitions, largest first, to the emptiest."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", schema):
        raise ConfigError(f"cluster schema {schema!r}: use lower-case letters, digits and _ (a PostgreSQL name)")
    keys = unit_keys(registry, by)
    units = sorted(set(keys))
    if n < 1 or n > len(units):
        raise ConfigError(f"{n} partitions for {len(units)} unit(s) by {by} ({', '.join(units)}): a unit is never "
                          f"split, so use 1 to {len(units)} partitions")
    size = {u: 0 for u in units}
    for u in keys:
        size[u] += 1
    load = [0] * n
    part = {}
    for u in sorted(units, key=lambda u: (-size[u], u)):
        k = min(range(n), key=lambda j: (load[j], j))
        part[u] = k
        load[k] += size[u]
    return Plan(by, tuple(units), tuple(part[u] for u in units), n, schema)


def schema_url(url: str, schema: str) -> str:
    """``url`` (a libpq URI) with ``schema`` as its search path."""
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"
