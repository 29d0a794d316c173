"""MQTT ingestion against the real broker: topics and payloads, acknowledgement only after commit,
dead letters that never block, the persistent session, and a broker restart mid-stream."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from citylifeline.engine import Engine
from citylifeline.ingest.mqtt import Message, parse_messages
from citylifeline.settings import Config
from tests.services import SHARED_BROKER, Broker, mqtt_names, publisher

NOW = time.time()
SENSORS = ("P-1", "P-2", "P-3", "P-FAR")


def gateway_body(k: int, sensors: tuple[str, ...] = SENSORS) -> str:
    """Reading ``k`` of every sensor: a minute apart, within the last day."""
    return json.dumps({"readings": [{"sensor": s, "t": NOW - 86_000 + 20 * k, "value": 0.3 + 1e-4 * k, "unit": "MPa"}
                                    for s in sensors]})


def wait_for(fn: object, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not fn():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not true after {timeout_s} s"
        time.sleep(0.05)


def msg(topic: str, payload: str, mid: int = 1) -> Message:
    return Message(mid, 1, 1, topic, payload.encode())


def test_each_topic_shape_gives_readings_and_anything_else_a_dead_letter_naming_the_topic(engine: Engine) -> None:
    p = "city/v1"
    parsed = parse_messages([
        msg(f"{p}/sensor/P-1", json.dumps({"t": NOW - 60, "value": 0.3, "unit": "MPa"})),
        msg(f"{p}/sensor/P-2", json.dumps([{"t": NOW - 60, "value": 0.31}, {"t": NOW - 120, "value": 3.1e5}])),
        msg(f"{p}/gateway/g-7", gateway_body(1, ("P-3", "P-FAR"))),
        msg(f"{p}/gateway/g-8", json.dumps({"readings": [{"sensor": "P-1", "t": NOW - 30, "value": "high"}]})),
        msg(f"{p}/sensor/P-3", "not json"),
        msg(f"{p}/valve/V-1", "{}"),
        msg(f"{p}/sensor/P-1", json.dumps([1, 2])),
    ], p, engine.validator, 1000)
    assert len(parsed.batch) == 5
    reasons = {d.source: d for d in parsed.dead_letters}
    assert set(reasons) == {f"mqtt:{p}/gateway/g-8", f"mqtt:{p}/sensor/P-3", f"mqtt:{p}/valve/V-1",
                            f"mqtt:{p}/sensor/P-1"}
    bad_value = reasons[f"mqtt:{p}/gateway/g-8"]
    assert bad_value.field == f"{p}/gateway/g-8 readings[0].value" and "high" in bad_value.reason
    assert "not valid JSON" in reasons[f"mqtt:{p}/sensor/P-3"].reason and '"value"' in reasons[
        f"mqtt:{p}/sensor/P-3"].reason
    assert f"{p}/sensor/SENSOR_ID" in reasons[f"mqtt:{p}/valve/V-1"].reason
    assert "object" in reasons[f"mqtt:{p}/sensor/P-1"].reason


def test_a_gateway_may_send_an_arrow_stream_beside_json_and_a_broken_one_is_a_dead_letter(engine: Engine) -> None:
    from tests.test_api import arrow_body

    p = "city/v1"
    stream = arrow_body({"sensor": ["P-1", "P-2", "NOPE"], "t": [NOW - 60] * 3, "value": [0.3, 0.31, 0.3],
                         "unit": ["MPa"] * 3})
    parsed = parse_messages([Message(1, 1, 1, f"{p}/gateway/g-7", stream),
                             msg(f"{p}/gateway/g-8", gateway_body(1, ("P-3",))),
                             Message(3, 1, 1, f"{p}/gateway/g-9", stream[:40])], p, engine.validator, 1000)
    assert sorted(parsed.batch.sensor.tolist()) == sorted(engine.registry.index[s] for s in ("P-1", "P-2", "P-3"))
    assert parsed.received == 4 and np.allclose(np.sort(parsed.batch.value), [3.0e5, 3.001e5, 3.1e5])
    reasons = {d.source: d for d in parsed.dead_letters}
    assert set(reasons) == {f"mqtt:{p}/gateway/g-7", f"mqtt:{p}/gateway/g-9"}
    assert reasons[f"mqtt:{p}/gateway/g-7"].field == "arrow row 3: sensor" and "NOPE" in reasons[
        f"mqtt:{p}/gateway/g-7"].reason
    assert "not an Arrow IPC stream" in reasons[f"mqtt:{p}/gateway/g-9"].reason


@pytest.fixture
def mqtt_engine(config: Config) -> Iterator[tuple[Engine, str]]:
    """A started engine ingesting from the shared broker under a topic prefix of its own."""
    with mqtt_names() as (prefix, client_id):
        e = Engine(config.with_(mqtt_url=f"mqtt://{SHARED_BROKER[0]}:{SHARED_BROKER[1]}",
                                mqtt_topic_prefix=prefix, mqtt_client_id=client_id))
        e.start()
        try:
            assert e.mqtt.connected.wait(15), "the engine did not connect to the broker"
            yield e, prefix
        finally:
            e.stop()


def test_readings_over_mqtt_are_stored_once_and_bad_messages_never_block(mqtt_engine: tuple[Engine, str]) -> None:
    engine, prefix = mqtt_engine
    pub = publisher(*SHARED_BROKER)
    try:
        sent = []
        for k in range(300):
            sent.append(pub.publish(f"{prefix}/gateway/g-1", gateway_body(k), qos=1))
            if k % 50 == 7:  # bad messages in the middle of the stream
                sent.append(pub.publish(f"{prefix}/gateway/g-1", b"\x00garbage", qos=1))
        for k in range(0, 300, 3):  # re-delivered readings (a gateway re-sending after a timeout)
            sent.append(pub.publish(f"{prefix}/gateway/g-1", gateway_body(k), qos=1))
        for s in sent:
            s.wait_for_publish(30)
        wait_for(lambda: engine.mqtt.status()["messages_acked"] == len(sent))
    finally:
        pub.disconnect()
        pub.loop_stop()
    assert engine.store.count_readings() == 300 * len(SENSORS)
    got = engine.store.readings(engine.registry.idx("P-2"), 0, 2**62)
    assert len(got) == 300 and np.all(np.diff(got.t_ms) == 20_000)
    status = engine.mqtt.status()
    assert status["connected"] and status["dead_letters"] == 6 and status["readings"] == 400 * len(SENSORS)
    garbage = [d for d in engine.store.dead_letters(100) if d["source"] == f"mqtt:{prefix}/gateway/g-1"]
    assert len(garbage) == 6 and all("not valid JSON" in d["reason"] for d in garbage)


def test_the_session_keeps_what_arrives_while_the_platform_is_down(
        config: Config) -> None:
    with mqtt_names() as (prefix, client_id):
        cfg = config.with_(mqtt_url=f"mqtt://{SHARED_BROKER[0]}:{SHARED_BROKER[1]}", mqtt_topic_prefix=prefix,
                           mqtt_client_id=client_id)
        e = Engine(cfg)
        e.start()
        assert e.mqtt.connected.wait(15)
        e.stop()  # the session stays at the broker
        pub = publisher(*SHARED_BROKER)
        for k in range(40):  # published while the platform is down: the broker holds them for its session
            pub.publish(f"{prefix}/sensor/P-1", json.dumps({"t": NOW - 80_000 + 60 * k, "value": 0.3}), qos=1
                        ).wait_for_publish(10)
        pub.disconnect()
        pub.loop_stop()
        e = Engine(cfg)
        e.start()
        try:
            wait_for(lambda: e.store.count_readings() == 40 and e.mqtt.status()["messages_acked"] == 40)
        finally:
            e.stop()


def test_a_broker_restart_mid_stream_loses_no_acknowledged_reading(tmp_path: Path, config: Config) -> None:
    broker = Broker(tmp_path / "broker")
    broker.start()
    engine = Engine(config.with_(mqtt_url=f"mqtt://127.0.0.1:{broker.port}", mqtt_topic_prefix="cl",
                                 mqtt_client_id="platform"))
    engine.start()
    pub = None
    try:
        assert engine.mqtt.connected.wait(15)
        pub = publisher("127.0.0.1", broker.port, "gateway-1")
        acked: list[int] = []
        pub.on_publish = lambda c, u, mid, rc, props: acked.append(mid)
        for k in range(400):
            pub.publish("cl/gateway/g-1", gateway_body(k), qos=1)
            if k == 150:
                broker.stop()  # mid-stream; the publisher and the platform both reconnect
                time.sleep(1.0)
                broker.start()
            time.sleep(0.002)
        wait_for(lambda: len(acked) == 400, 60)  # every message acknowledged by the broker in the end
        wait_for(lambda: engine.store.count_readings() == 400 * len(SENSORS), 60)
        assert engine.store.count_readings() == 400 * len(SENSORS)
    finally:
        if pub is not None:
            pub.disconnect()
            pub.loop_stop()
        engine.stop()
        broker.stop()
