"""MQTT ingestion: QoS 1 on a persistent session; a message is acknowledged only once its readings
are committed.

**Topics** (``mqtt_topic_prefix``, default ``citylifeline/v1``), payloads JSON:

- ``PREFIX/sensor/SENSOR_ID`` — one sensor's readings: ``{"t": …, "value": …, "unit": …}`` (unit
  optional), or a block of its samples ``{"t0": …, "hz": …, "values": [...], "unit": …}`` (``blocks``),
  or a list of such objects (an object with ``values`` is a block).
- ``PREFIX/gateway/GATEWAY_ID`` — a gateway's batch, the same body as ``POST /api/v1/readings``:
  ``{"readings": [{"sensor": …, "t": …, "value": …, "unit": …}, …], "blocks": [...]}`` (either list, or
  both), or an Arrow IPC stream of the columns sensor, t, value (and unit) — told apart by its first
  bytes; ten times cheaper to read.

``t``, ``value`` and blocks are as over HTTP (ISO-8601 with an offset, or epoch seconds), and so is the
limit of ``max_batch_readings`` readings and samples a message.  Another shape is one function in
``TOPIC_KINDS`` that turns (topic's last level, decoded payload) into reading objects and block objects.

**Flow.**  paho's network thread queues each message.  The ingest thread takes what has arrived
within ``mqtt_flush_ms``, validates it as one columnar batch, hands it to the engine's writer and,
once the commit is done, sends the PUBACK of every message in it.  A message that is not JSON or of
no known shape, and each bad reading, becomes a dead letter (stored in the same commit, with the
reason) and is acknowledged: bad input never blocks the stream.  If the commit fails (the database
is down) or the writer is full, nothing is acknowledged and the batch is retried with back-off; the
broker sends no more than ``mqtt_receive_maximum`` unacknowledged messages, so nothing piles up.
The session survives restarts (clean start off, a week's expiry): the broker keeps what arrives
while the platform is down and re-sends what it never acknowledged; readings already committed are
counted as duplicates by (sensor, time), never stored twice.  After a reconnect, messages of the
old connection are not acknowledged (their packet ids may be reused); the broker re-sends them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..batch import ReadingBatch
from ..errors import CityLifelineError, ConfigError, PayloadTooLarge, ValidationError
from ..store.base import PAYLOAD_CHARS, DeadLetter, DeadLetters
from ..supervise import Supervised
from .blocks import samples_in, validate_blocks
from .decode import decode_json
from .files import parse_arrow_stream
from .payload import EXAMPLE, Parsed, rows_of, validate_rows

log = logging.getLogger("citylifeline.mqtt")
SESSION_EXPIRY_S = 7 * 86_400
RETRY_S = (0.2, 10.0)  # back-off of a failed commit: first and longest wait
SPLIT_AFTER_TRIES = 4  # a batch failing this often is committed message by message
POISON_TRIES = 3  # a message failing this often alone, while others commit, is a poison message
SENSOR_EXAMPLE = '{"t": "2026-11-23T10:00:00+08:00", "value": 0.31, "unit": "MPa"}'
Rows = tuple[list[object], list[object]]
"""What a message holds: reading objects and block objects."""
ARROW_MAGIC = b"\xff\xff\xff\xff"  # an Arrow IPC stream's first message starts so; JSON never does


def _sensor_rows(sensor_id: str, doc: object, max_readings: int) -> Rows:
    items = doc if isinstance(doc, list) else [doc]
    objs = [r for r in items if isinstance(r, dict)]
    if not items or len(objs) < len(items):
        raise ValidationError(f"a sensor topic takes an object or a non-empty list of objects; send {SENSOR_EXAMPLE}",
                              field="payload", value=type(doc).__name__)
    blocks: list[object] = [{"sensor": sensor_id, **r} for r in objs if "values" in r]
    readings: list[object] = [{"sensor": sensor_id, **r} for r in objs if "values" not in r]
    n = len(readings) + samples_in(blocks)
    if n > max_readings:
        raise PayloadTooLarge(f"{n} readings in one message; the limit is {max_readings}: split the batch",
                              field="payload", value=n)
    return readings, blocks


def _gateway_rows(gateway_id: str, doc: object, max_readings: int) -> Rows:
    return rows_of(doc, max_readings, per="message")


TOPIC_KINDS: dict[str, Callable[[str, object, int], Rows]] = {"sensor": _sensor_rows, "gateway": _gateway_rows}


@dataclass(frozen=True)
class Message:
    """A received message: what to acknowledge (``mid`` on connection ``generation``) and its content."""

    mid: int
    qos: int
    generation: int
    topic: str
    payload: bytes


def parse_messages(messages: list[Message], prefix: str, validator: Any, max_readings: int) -> Parsed:
    """The readings of ``messages`` as one validated batch; messages of no known shape as dead letters.

    Never raises: a message that cannot be read for any reason is a dead letter, and if validating
    the batch fails unexpectedly, the messages are validated one by one so that only the culprit is
    dead-lettered (a poison message never blocks the stream)."""
    try:
        return _parse(messages, prefix, validator, max_readings)
    except Exception:
        if len(messages) == 1:
            log.exception("MQTT message on %s could not be read; kept as a dead letter", messages[0].topic)
            return Parsed(ReadingBatch.empty(), [], [_letter(messages[0], "the message could not be read "
                                                                         "(a fault of the platform, logged)")], 0)
    return Parsed.concat([parse_messages([m], prefix, validator, max_readings) for m in messages])


def _letter(m: Message, reason: str, field: str = "payload") -> DeadLetter:
    return DeadLetter(source=f"mqtt:{m.topic}", reason=reason, field=field,
                      payload=m.payload[:PAYLOAD_CHARS].decode("utf-8", "replace"))


def _parse(messages: list[Message], prefix: str, validator: Any, max_readings: int) -> Parsed:
    rows: list[object] = []
    sources: list[str] = []  # per reading: the topic it came on, and its place in its message
    local: list[int] = []
    blocks: list[object] = []
    block_sources: list[str] = []  # per block: the same
    block_local: list[int] = []
    letters: list[DeadLetter] = []
    columnar: list[Parsed] = []  # gateways' Arrow streams, each validated as columns
    for m in messages:
        source = f"mqtt:{m.topic}"
        try:
            under = m.topic[len(prefix) + 1:] if m.topic.startswith(prefix + "/") else ""
            kind, _, name = under.partition("/")
            if kind not in TOPIC_KINDS or not name or "/" in name:
                raise ValidationError(f"topic {m.topic!r} is not one CityLifeline reads; publish to "
                                      f"{prefix}/sensor/SENSOR_ID or {prefix}/gateway/GATEWAY_ID",
                                      field="topic", value=m.topic)
            if len(m.payload) > validator.config.max_payload_bytes:  # as over HTTP
                raise PayloadTooLarge(f"the message has {len(m.payload)} bytes; the limit is "
                                      f"{validator.config.max_payload_bytes}: split the batch", field="payload",
                                      value=len(m.payload))
            if kind == "gateway" and m.payload.startswith(ARROW_MAGIC):
                columnar.append(parse_arrow_stream(m.payload, validator, max_readings, source))
                continue
            got, got_blocks = TOPIC_KINDS[kind](name, decode_json(m.payload, SENSOR_EXAMPLE if kind == "sensor"
                                                                  else EXAMPLE), max_readings)
        except ValidationError as e:
            letters.append(_letter(m, str(e), e.field))
            continue
        rows += got
        sources += [source] * len(got)
        local += range(len(got))
        blocks += got_blocks
        block_sources += [source] * len(got_blocks)
        block_local += range(len(got_blocks))
    if rows:
        columnar.append(validate_rows(rows, validator, sources,
                                      lambda i, col: f"{sources[i][5:]} readings[{local[i]}].{col}"))
    if blocks:
        columnar.append(validate_blocks(blocks, validator, block_sources,
                                        lambda b: f"{block_sources[b][5:]} blocks[{block_local[b]}]", len(rows)))
    return Parsed.concat([Parsed(ReadingBatch.empty(), [], DeadLetters.of(letters), 0), *columnar])


class MqttIngest:
    """Readings from an MQTT broker into an ``Engine`` (see the module docstring)."""

    def __init__(self, engine: Any, url: str | None = None) -> None:
        cfg = engine.config
        self.engine = engine
        self.prefix = cfg.mqtt_topic_prefix.rstrip("/")
        self.flush_s = cfg.mqtt_flush_ms / 1000
        self.max_readings = cfg.max_batch_readings
        self.client_id = cfg.mqtt_client_id
        parts = urlsplit(url or cfg.mqtt_url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ConfigError(f"mqtt_url={url or cfg.mqtt_url!r} is not a broker address; "
                              "use mqtt://[user:password@]host:1883 or mqtts://host:8883")
        self.host, self.port = parts.hostname, parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self._inbox: queue.Queue[Message] = queue.Queue()
        self._held: list[Message] = []  # the batch being committed
        self._generation = 0
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.acked = self.readings = self.dead_letters = self.poison = 0
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cfg.mqtt_client_id, protocol=mqtt.MQTTv5,
                        manual_ack=True)
        if parts.username:
            c.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        if parts.scheme == "mqtts":
            c.tls_set()
        c.reconnect_delay_set(min_delay=1, max_delay=30)
        c.on_connect, c.on_disconnect, c.on_message = self._on_connect, self._on_disconnect, self._on_message
        c.suppress_exceptions = True  # a callback's fault is logged by paho, never ends its network loop
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = cfg.mqtt_receive_maximum
        self._props = props
        self._client = c
        self._network = Supervised("citylifeline-mqtt-network", self._network_loop)
        self._thread = Supervised("citylifeline-mqtt", self._run)
        self.threads = [self._network, self._thread]

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (in the background, retrying until the broker answers) and start ingesting."""
        self._client.connect_async(self.host, self.port, keepalive=30, clean_start=False, properties=self._props)
        self._network.start()
        self._thread.start()

    def stop(self) -> None:
        """Commit and acknowledge what has arrived, then disconnect (the session stays at the broker)."""
        self._stop.set()
        self._thread.join(timeout=60)
        self._client.disconnect()
        self._network.join(timeout=10)

    def status(self) -> dict[str, Any]:
        """Whether the broker is connected and both threads run (else ``connected`` is false), and what has
        been acknowledged to it."""
        return {"broker": f"{self.host}:{self.port}",
                "connected": self.connected.is_set() and all(t.alive for t in self.threads),
                "messages_acked": self.acked, "readings": self.readings, "dead_letters": self.dead_letters,
                "poison_messages": self.poison, "waiting": self._inbox.qsize(),
                "threads": {t.name: t.status() for t in self.threads}}

    # ---- paho callbacks (its network thread) -------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("the MQTT broker %s:%s refused the connection: %s", self.host, self.port, reason)
            return
        self._generation += 1
        client.subscribe(f"{self.prefix}/#", qos=1)
        if self._generation > 1 and not flags.session_present:
            log.error("the MQTT broker %s:%s had lost this platform's session (client id %s): readings published "
                      "while it was disconnected are gone; give the broker persistence (mosquitto: persistence true)",
                      self.host, self.port, self.client_id)
        else:
            log.info("MQTT connected to %s:%s (session present: %s)", self.host, self.port, flags.session_present)
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("MQTT connection to %s:%s lost (%s); reconnecting", self.host, self.port, reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        topic = bytes(msg._topic).decode("utf-8", "backslashreplace")  # msg.topic raises on bad UTF-8
        self._inbox.put(Message(msg.mid, msg.qos, self._generation, topic, bytes(msg.payload)))

    def _network_loop(self) -> None:
        """paho's network loop (reconnecting by itself) until ``stop`` disconnects."""
        while not self._stop.is_set():
            self._client.loop_forever(retry_first_connection=True)

    # ---- the ingest thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            batch, self._held = self._held or self._take(), []
            if batch:
                self._held = batch  # if this loop dies, its supervisor starts it again on the same batch
                self._commit(batch)
                self._held = []
            elif self._stop.is_set():
                return

    def _take(self) -> list[Message]:
        """The messages that arrive within one flush interval of the first (at most ``max_readings``-worth)."""
        try:
            first = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        out, size = [first], len(first.payload)
        deadline = time.monotonic() + self.flush_s
        while size < 64 * 1024 * 1024:  # 64 MiB of payloads at most in one commit
            try:
                m = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            out.append(m)
            size += len(m.payload)
        return out

    def _commit(self, messages: list[Message]) -> None:
        """Commit the messages' readings and dead letters, then acknowledge them.  If that keeps failing,
        each message is tried alone; one that still fails alone while its own dead letter can be
        committed is a poison message: kept as a dead letter naming the error, and acknowledged.
        While the store is down nothing commits and nothing is acknowledged (tried again with
        back-off); at shutdown the broker keeps what was not acknowledged and sends it again."""
        if self._store(self._parse(messages), messages, tries=SPLIT_AFTER_TRIES):
            return
        pending, wait = list(messages), RETRY_S[0]
        while pending and not self._stop.is_set():
            m = pending[0]
            if self._store(self._parse_one(m), [m], tries=POISON_TRIES) or self._store_poison(m):
                pending, wait = pending[1:], RETRY_S[0]
                if pending and self._store(self._parse(pending), pending, tries=1):
                    return
            else:  # not even its dead letter went in: the store is down
                time.sleep(wait)
                wait = min(2 * wait, RETRY_S[1])

    def _parse_one(self, m: Message) -> Parsed:
        return self._parse([m])

    def _parse(self, messages: list[Message]) -> Parsed:
        return parse_messages(messages, self.prefix, self.engine.validator, self.max_readings)

    def _store(self, parsed: Parsed, messages: list[Message], tries: int | None) -> bool:
        """Commit and acknowledge, retrying with back-off ``tries`` times (None: until it succeeds or
        the platform stops); whether it was committed."""
        wait, n = RETRY_S[0], 0
        while True:
            try:
                result = self.engine.submit(parsed, source="mqtt").result()
                break
            except Exception as e:  # the writer is full or the store is down: ack nothing, retry
                n += 1
                if (tries is not None and n >= tries) or (self._stop.is_set() and wait >= RETRY_S[1]):
                    log.warning("MQTT batch of %d messages not committed after %d tries (%s)", len(messages), n, e)
                    return False
                log.log(logging.WARNING if isinstance(e, CityLifelineError) else logging.ERROR,
                        "MQTT batch of %d messages not committed (%s); retrying in %.1f s", len(messages), e, wait)
                time.sleep(wait)
                wait = min(2 * wait, RETRY_S[1])
        self._ack(messages)
        self.readings += result.stored + result.duplicates
        self.dead_letters += len(parsed.dead_letters)
        return True

    def _store_poison(self, m: Message) -> bool:
        """Keep ``m`` as a dead letter (text escaped) and acknowledge it; whether that was committed."""
        letter = _letter(m, "the message could not be stored (a fault of the platform, logged); its text is kept "
                            "here with unprintable characters escaped")
        if not self._store(Parsed(ReadingBatch.empty(), [], [letter], 0), [m], tries=1):
            return False
        log.error("MQTT message on %s failed to commit alone and was kept as a dead letter", m.topic)
        self.poison += 1
        return True

    def _ack(self, messages: list[Message]) -> None:
        for m in messages:
            if m.generation == self._generation and m.qos > 0:
                self._client.ack(m.mid, m.qos)
                self.acked += 1
