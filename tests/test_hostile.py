"""Hostile input, by class (``citylifeline.bench.hostile``): deep JSON, huge numbers, lone surrogates,
bytes that are not UTF-8, compression bombs, Arrow schemas of the wrong kind.  Over HTTP no answer is
a 5xx and the good readings beside bad ones are stored; over MQTT every message is acknowledged, the
consumer's threads stay alive, and it goes on ingesting.  ``bench/hostile.py`` runs the long version."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest
from fastapi.testclient import TestClient

from citylifeline.api import create_app
from citylifeline.bench import hostile
from citylifeline.city import CityBundle
from citylifeline.engine import Engine
from citylifeline.errors import ValidationError
from citylifeline.ingest import Validator
from citylifeline.ingest.decode import InvalidText, check_document, decode_json, shown
from citylifeline.ingest.mqtt import Message, parse_messages
from citylifeline.settings import Config
from citylifeline.store.base import unicode_safe
from citylifeline.supervise import Supervised
from tests.conftest import AUTH
from tests.services import SHARED_BROKER, publisher
from tests.test_mqtt import mqtt_engine, wait_for  # noqa: F401 (mqtt_engine: a fixture used here)

SENSORS = ["P-1", "P-2", "P-3"]


def good_stored(engine: Engine, good: hostile.Good) -> int:
    """How many of ``good``'s readings are in the store (they lie in their own time window)."""
    start = int(good.t0_s * 1000)
    end = start + good.n + 1
    return sum(len(engine.store.readings(engine.registry.idx(s), start, end)) for s in good.sensors)


def test_no_hostile_request_gets_a_5xx_and_good_readings_beside_bad_ones_are_stored(engine: Engine) -> None:
    rng = np.random.default_rng(24)
    good = hostile.Good(SENSORS, time.time() - 80_000)
    statuses: Counter[int] = Counter()
    classes: Counter[str] = Counter()
    with TestClient(create_app(engine, manage_engine=False), raise_server_exceptions=False) as client:
        for case in hostile.reading_bodies(rng, good, engine.config.max_payload_bytes):
            r = client.post("/api/v1/readings", content=case.body, headers={**AUTH, "content-type": case.content_type})
            assert r.status_code < 500, f"{case.cls}: {case.name} -> {r.status_code} {r.text[:300]}"
            if r.status_code >= 400 and r.status_code != 422:
                assert r.json()["detail"] and r.json()["field"], r.text  # names the field and the fix
            statuses[r.status_code] += 1
            classes[case.cls] += 1
        for q in hostile.other_requests(rng, "P-1"):
            r = client.request(q.method, q.path, content=q.body, headers={**AUTH, "content-type": "application/json"})
            assert r.status_code < 500, f"{q.method} {q.path[:100]} {(q.body or b'')[:100]!r} -> {r.text[:300]}"
            statuses[r.status_code] += 1
    engine.flush()
    assert set(classes) == set(hostile.CLASSES)
    assert good.n > 100 and good_stored(engine, good) == good.n
    assert statuses[400] and statuses[413] and statuses[422], statuses
    letters = engine.store.dead_letters(10_000)
    assert any("\\ud800" in d["sensor"] and "not valid Unicode" in d["reason"] for d in letters)


def test_the_mqtt_consumer_survives_every_hostile_class_and_keeps_ingesting(
        mqtt_engine: tuple[Engine, str]) -> None:  # noqa: F811 (the fixture imported above)
    engine, prefix = mqtt_engine
    rng = np.random.default_rng(25)
    good = hostile.Good(SENSORS, time.time() - 80_000)
    pub = publisher(*SHARED_BROKER)
    try:
        sent = [pub.publish(topic, payload, qos=1) for _, topic, payload, _ in hostile.mqtt_messages(rng, prefix, good)]
        for s in sent:
            s.wait_for_publish(60)
        wait_for(lambda: engine.mqtt.status()["messages_acked"] == len(sent), 120)
        status = engine.mqtt.status()
        assert status["connected"] and all(t["alive"] and not t["restarts"] for t in status["threads"].values())
        after = hostile.Good(SENSORS, time.time() - 3_000)  # and it goes on ingesting
        body = ('{"readings": [' + ", ".join(after.rows(30)) + "]}").encode()
        pub.publish(f"{prefix}/gateway/after", body, qos=1).wait_for_publish(30)
        wait_for(lambda: engine.mqtt.status()["messages_acked"] == len(sent) + 1)
    finally:
        pub.disconnect()
        pub.loop_stop()
    engine.flush()
    assert len(sent) > 140 and good.n > 100
    assert good_stored(engine, good) == good.n and good_stored(engine, after) == 30


def test_a_supervised_loop_that_dies_is_restarted_and_its_death_is_shown() -> None:
    runs: list[int] = []

    def loop() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RecursionError("maximum recursion depth exceeded")
        if len(runs) == 2:
            raise MemoryError()

    t = Supervised("test-loop", loop)
    t.start()
    t.join(10)
    assert len(runs) == 3 and not t.alive
    assert t.status() == {"alive": False, "restarts": 2, "last_error": "MemoryError: "}


@pytest.mark.parametrize(("body", "message"), [
    (b"[" * 1100 + b"]" * 1100, "nested deeper than 1024 levels"),
    (b'{"a": 1, "b": [' + b"[" * 1000 + b"]" * 1000 + b"]}", None),  # decoded; check_document refuses it
    (b'{"a": "\xed\xa0\x80"}', "not valid Unicode"),
    (b'{"a": "\xff"}', "not UTF-8"),
    (b'{"a": NaN', "not valid JSON"),
])
def test_decoding_refuses_or_returns_something_every_later_step_can_handle(body: bytes, message: str | None) -> None:
    if message and "Unicode" not in message:
        with pytest.raises(ValidationError, match=message) as e:
            decode_json(body, "{}")
        assert e.value.field == "body"
        return
    doc = decode_json(body, "{}")
    with pytest.raises(ValidationError) as e:
        check_document(doc)
    assert e.value.field.startswith("body.") and ("Unicode" in str(e.value) or "deeper than 32" in str(e.value))


def test_lone_surrogates_and_huge_numbers_are_refused_by_field_and_the_rest_decoded() -> None:
    doc = decode_json(b'{"s": "ok\\ud800", "\\udfff": 1, "n": ' + b"9" * 400 + b', "i": 123456789012345678901}', "{}")
    assert isinstance(doc["s"], InvalidText) and str(doc["s"]) == "ok\\ud800" and "not valid Unicode" in repr(doc["s"])
    assert any(isinstance(k, InvalidText) for k in doc)
    assert doc["n"] == float("inf") and doc["i"] == pytest.approx(1.2345678901234568e20)
    with pytest.raises(ValidationError, match="not valid Unicode: a lone surrogate; send UTF-8 text") as e:
        check_document(doc)
    assert e.value.field in ("body.s", "body.\\udfff")
    with pytest.raises(ValidationError, match=r"body\.n: inf is not a finite number"):
        check_document({"n": float("inf")})
    with pytest.raises(ValidationError, match=r"body\.k\[1\]: an integer of 20 digits"):
        check_document({"k": [1, 2**65]})
    assert unicode_safe("a\ud800b") == "a\\ud800b" and unicode_safe("plain") == "plain"
    assert len(shown([[[[[[[[1]]]]]]]])) < 40 and len(shown("x" * 10_000)) < 100


def test_an_mqtt_message_larger_than_max_payload_bytes_is_a_dead_letter_as_over_http(bundle: CityBundle) -> None:
    check = Validator(bundle.sensors, Config.load(environ={}, max_payload_bytes=1_000), lambda: int(time.time() * 1000))
    good = hostile.Good(SENSORS, time.time() - 600)
    small = ('{"readings": [' + ", ".join(good.rows(3)) + "]}").encode()
    large = ('{"readings": [' + ", ".join(good.rows(30)) + "]}").encode()
    parsed = parse_messages([Message(1, 1, 1, "p/gateway/a", small), Message(2, 1, 1, "p/gateway/b", large)], "p",
                            check, 1000)
    assert len(parsed.batch) == 3 and len(parsed.dead_letters) == 1
    letter = parsed.dead_letters[0]
    assert letter.field == "payload" and letter.source == "mqtt:p/gateway/b" and "the limit is 1000" in letter.reason


def test_a_huge_id_or_key_is_refused_without_being_copied_into_messages_or_answers(engine: Engine) -> None:
    good = hostile.Good(SENSORS, time.time() - 600)
    huge = "S" * 5_000_000
    body = ('{"readings": [' + good.rows(1)[0] + f', {{"sensor": "{huge}", "t": 1796000000, "value": 1}}'
            f', {{"sensor": "P-1", "t": 1796000000, "value": 1, "{huge}": 2}}]}}').encode()
    with TestClient(create_app(engine, manage_engine=False)) as client:
        r = client.post("/api/v1/readings", content=body, headers=AUTH)
    assert r.status_code == 422 and r.json()["stored"] == 1 and len(r.content) < 5_000, len(r.content)
    assert "(5,000,000 characters)" in r.json()["errors"][0]["message"]
    engine.flush()
    letters = engine.store.dead_letters(10)
    assert len(letters) == 2 and all(len(d["reason"]) < 1_000 and len(d["field"]) < 200 for d in letters)
