"""The distributed mode's feed: readings on NATS JetStream, one subject per unit (``plan``).

A gateway publishes each unit's readings as an Arrow IPC stream (columns ``sensor``, ``t`` as
a UTC millisecond timestamp, ``value``) on the unit's subject; JetStream keeps each message on
disk until the partition that consumes it acknowledges it, which it does only once the readings
are committed to its store.  A partition that dies therefore finds, when it is back, every
message it had not committed still waiting (``fresh_consumer``), and the store drops those it had
committed but not acknowledged as duplicates.  The stream is a work queue: a
message is gone once acknowledged, so the broker holds only what is still on its way.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from typing import Any

import nats
import numpy as np
import pyarrow as pa
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from ..batch import ReadingBatch
from ..city.sensors import SensorRegistry
from ..store.base import DEAD_LETTER_TEXT, DeadLetter, DeadLetters
from .plan import Plan

ACK_WAIT_S = 10.0  # a message handed to a partition that died is handed out again after this
MESSAGE_READINGS = 10_000  # readings per message, at most: NATS refuses messages over 1 MB by default
SCHEMA = pa.schema([("sensor", pa.dictionary(pa.int32(), pa.string())), ("t", pa.timestamp("ms", tz="UTC")),
                    ("value", pa.float64())])


def encode(sensor_ids: pa.Array, batch: ReadingBatch, meta: dict[str, str] | None = None) -> bytes:
    """Readings of ``batch`` (sensor numbers into ``sensor_ids``) as an Arrow IPC stream, with ``meta``
    in its schema's metadata."""
    used, codes = np.unique(batch.sensor, return_inverse=True)  # the message names only its own sensors
    sensor_ids = sensor_ids.take(pa.array(used))
    codes = pa.array(codes.astype(np.int32))
    schema = SCHEMA.with_metadata(meta) if meta else SCHEMA
    rb = pa.RecordBatch.from_arrays([pa.DictionaryArray.from_arrays(codes, sensor_ids),
                                     pa.array(batch.t_ms, pa.timestamp("ms", tz="UTC")), pa.array(batch.value)],
                                    schema=schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as w:
        w.write_batch(rb)
    return sink.getvalue().to_pybytes()


class Router:
    """Splits readings of the whole city into its units' messages."""

    def __init__(self, plan: Plan, registry: SensorRegistry) -> None:
        self.plan = plan
        self.ids = pa.array(registry.ids, pa.string())
        self.unit = plan.unit_numbers(registry)
        self.gateway = uuid.uuid4().hex[:12]
        self.batches = 0

    def split(self, batch: ReadingBatch, per_message: int = MESSAGE_READINGS) -> list[tuple[str, bytes]]:
        """``batch`` (sensor numbers of the city's registry) as (subject, message) pairs, each unit's
        readings in their order.  Each message names its batch, how many messages of the batch its
        partition gets and the batch's newest reading time, so that every partition detects its part
        of the batch at once, against the whole city's watermark — as one process would."""
        self.batches += 1
        return split(self.plan, self.ids, self.unit, batch, f"{self.gateway}-{self.batches}", per_message)


def split(plan: Plan, ids: pa.Array, unit_of_sensor: np.ndarray, batch: ReadingBatch, batch_id: str,
          per_message: int = MESSAGE_READINGS) -> list[tuple[str, bytes]]:
    """See ``Router.split``."""
    if not len(batch):
        return []
    unit = unit_of_sensor[batch.sensor]
    order = np.argsort(unit, kind="stable")
    cuts = np.flatnonzero(np.diff(unit[order])) + 1
    pieces: list[tuple[int, str, np.ndarray]] = []
    for part in np.split(order, cuts):
        u = int(unit[part[0]])
        pieces += [(plan.partition_of_unit[u], plan.subject(u), part[i:i + per_message])
                   for i in range(0, len(part), per_message)]
    parts = np.bincount([p for p, _, _ in pieces], minlength=plan.n)
    watermark = str(int(batch.t_ms.max()))
    seen = [0] * plan.n
    out = []
    for p, subject, rows in pieces:
        meta = {"batch": batch_id, "part": str(seen[p]), "parts": str(parts[p]), "watermark_ms": watermark}
        seen[p] += 1
        out.append((subject, encode(ids, batch.take(rows), meta)))
    return out


DEAD_LETTER_FIELDS = list(DEAD_LETTER_TEXT)


def dead_letter_message(plan: Plan, letters: Sequence[DeadLetter]) -> tuple[str, bytes]:
    """Dead letters of a gateway (readings it refused) as a message to partition 0, which stores them."""
    table = pa.table(DeadLetters.of(letters).columns)
    table = table.replace_schema_metadata({"kind": "dead_letters"})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return plan.subject(plan.partition_of_unit.index(0)), sink.getvalue().to_pybytes()


def read_dead_letters(body: bytes) -> DeadLetters | None:
    """The dead letters of a ``dead_letter_message``; None for any other message."""
    try:
        reader = pa.ipc.open_stream(body)
        if (reader.schema.metadata or {}).get(b"kind") != b"dead_letters":
            return None
        table = reader.read_all().select(DEAD_LETTER_FIELDS)
        return DeadLetters.build(table.num_rows, **{f: table.column(f) for f in DEAD_LETTER_FIELDS})
    except (pa.ArrowException, OSError, ValueError, KeyError, TypeError):
        return None


async def connect(url: str) -> tuple[Any, JetStreamContext]:
    """A NATS connection and its JetStream context."""
    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=-1, reconnect_time_wait=0.5)
    return nc, nc.jetstream()


async def ensure_stream(js: JetStreamContext, plan: Plan) -> None:
    """Create the plan's readings stream (on disk, a work queue) if it does not exist."""
    try:
        await js.stream_info(plan.stream)
    except NotFoundError:
        await js.add_stream(StreamConfig(name=plan.stream, subjects=[f"{plan.prefix}.>"], storage=StorageType.FILE,
                                         retention=RetentionPolicy.WORK_QUEUE, max_msg_size=64 << 20))


async def publish(js: JetStreamContext, messages: list[tuple[str, bytes]], stream: str, in_flight: int = 64) -> int:
    """Publish messages and wait until JetStream has stored each one; returns how many."""
    for i in range(0, len(messages), in_flight):
        await asyncio.gather(*(js.publish(s, m, stream=stream, timeout=30) for s, m in messages[i:i + in_flight]))
    return len(messages)


async def fresh_consumer(js: JetStreamContext, plan: Plan, k: int) -> Any:
    """A pull subscription on partition ``k``'s consumer, made afresh: the messages its last holder
    fetched but did not acknowledge are handed out again at once and in stream order, before newer
    ones (a durable consumer would hold them back until ``ack_wait`` and then hand them out after
    newer ones, which the store would take as late readings).  The stream is a work queue, so what is
    left of it is exactly what was not committed.  Only one worker may hold a partition: the
    partition store's writer lock fences a second."""
    with contextlib.suppress(NotFoundError):
        await js.delete_consumer(plan.stream, plan.consumer(k))
    return await js.pull_subscribe(plan.filter_subject(k), durable=plan.consumer(k), stream=plan.stream,
                                   config=consumer_config(plan, k))


def consumer_config(plan: Plan, k: int, max_ack_pending: int = 1000) -> ConsumerConfig:
    """Partition ``k``'s durable pull consumer."""
    return ConsumerConfig(durable_name=plan.consumer(k), filter_subject=plan.filter_subject(k),
                          ack_wait=ACK_WAIT_S, max_ack_pending=max_ack_pending)
