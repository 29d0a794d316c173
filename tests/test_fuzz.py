"""Fuzzing: the HTTP API from its own OpenAPI schema (schemathesis), and the MQTT message parser
(hypothesis).  No input may give a 5xx or an exception; every message is either readings or a dead letter."""

from __future__ import annotations

import datetime
import io
import json
import time

import pyarrow as pa
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citylifeline.api import create_app
from citylifeline.city import CityBundle
from citylifeline.engine import Engine
from citylifeline.errors import ValidationError
from citylifeline.ingest import Validator, parse_arrow_stream
from citylifeline.ingest.mqtt import Message, parse_messages
from citylifeline.settings import Config
from citylifeline.store.base import storable
from tests.conftest import AUTH

API_EXAMPLES = 250  # per operation: 45 operations, so over 10,000 requests per store, all as the admin


def fuzz(operation: schemathesis.APIOperation, calls: dict[str, int]) -> None:
    """``API_EXAMPLES`` requests to ``operation`` from its schema; none may get a 5xx."""

    @given(case=operation.as_strategy())
    @settings(max_examples=API_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def call(case: schemathesis.Case) -> None:
        response = case.call(headers=AUTH)
        calls[operation.label] = calls.get(operation.label, 0) + 1
        assert response.status_code < 500, (f"{case.method} {case.formatted_path} {case.query} -> "
                                            f"{response.status_code}: {response.text[:300]}")

    call()


def test_no_request_built_from_the_openapi_schema_gets_a_server_error(engine: Engine) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(engine, manage_engine=False))
    calls: dict[str, int] = {}
    for found in schema.get_all_operations():
        fuzz(found.ok(), calls)
    assert len(calls) >= 40 and sum(calls.values()) >= 10_000, calls


PREFIX = "city/v1"
json_values = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
                           lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                                                      max_size=4), max_leaves=12)
reading = st.fixed_dictionaries({"t": st.one_of(st.floats(1.7e9, 1.9e9), st.text(max_size=30), st.none()),
                                 "value": st.one_of(st.floats(allow_infinity=True), st.text(max_size=5))},
                                optional={"unit": st.sampled_from(["MPa", "kPa", "m", "bar", "", "furlong"]),
                                              "sensor": st.sampled_from(["P-1", "P-2", "nope", ""])})
payload = st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()),
                    reading.map(lambda r: json.dumps(r).encode()),
                    st.lists(reading, max_size=5).map(lambda r: json.dumps({"readings": r}).encode()),
                    st.lists(reading, max_size=5).map(lambda r: json.dumps(r).encode()))
topic = st.one_of(st.sampled_from([f"{PREFIX}/sensor/P-1", f"{PREFIX}/sensor/P-3", f"{PREFIX}/gateway/g",
                                   f"{PREFIX}/sensor/", f"{PREFIX}/x/y", "other/topic", PREFIX]),
                  st.text(max_size=30).map(lambda t: f"{PREFIX}/{t}"))


def test_every_mqtt_message_becomes_readings_or_a_dead_letter_never_an_exception(bundle: CityBundle) -> None:
    check = Validator(bundle.sensors, Config.load(environ={}), lambda: int(time.time() * 1000))
    runs = [0]

    @given(st.lists(st.tuples(topic, payload), min_size=1, max_size=6))
    @settings(max_examples=4_000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def parse(messages: list[tuple[str, bytes]]) -> None:
        parsed = parse_messages([Message(i, 1, 1, t, p) for i, (t, p) in enumerate(messages)], PREFIX,
                                check, 1000)
        runs[0] += 1
        assert len(parsed.batch) + len(parsed.rejections) == parsed.received
        topics = {storable(f"mqtt:{t}") for t, _ in messages}  # dead letters keep text storable (NUL escaped)
        assert all(d.reason and d.source in topics for d in parsed.dead_letters)
        whole = [d for d in parsed.dead_letters if d.field in ("topic", "body", "payload", "readings")]
        assert len(whole) <= len(messages)
        if parsed.received == 0:  # no message gave a reading: each was refused whole, with its reason
            assert len(whole) == len(messages)

    parse()
    assert runs[0] >= 4_000


def arrow_stream(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


GOOD_STREAM = arrow_stream(pa.table({"sensor": ["P-1", "P-2"], "t": [time.time() - 60] * 2, "value": [0.3, 0.31]}))
pairs = st.one_of(*(st.lists(el, min_size=2, max_size=2) for el in (
    st.text(max_size=4) | st.none(), st.floats() | st.none(), st.integers(-2**63, 2**63 - 1) | st.none(),
    st.booleans(), st.lists(st.integers(0, 3), max_size=2), st.binary(max_size=3), st.datetimes(),
    st.datetimes(timezones=st.just(datetime.UTC)),
    st.dictionaries(st.sampled_from("ab"), st.integers(0, 3), min_size=1))))
names = st.sampled_from(["sensor", "t", "value", "unit", "x"])
columns = st.one_of(st.lists(st.tuples(names, pairs), min_size=1, max_size=5),  # any columns, or the three of
                    st.tuples(pairs, pairs, pairs, st.lists(st.tuples(names, pairs), max_size=2)).map(  # any type
                        lambda c: [("sensor", c[0]), ("t", c[1]), ("value", c[2]), *c[3]]))


def stream_of(cols: list[tuple[str, list[object]]]) -> bytes:
    return arrow_stream(pa.Table.from_arrays([pa.array(v) for _, v in cols], names=[c for c, _ in cols]))


arrow_bodies = st.one_of(
    st.binary(max_size=300), columns.map(stream_of),  # noise, and streams of any columns of any type
    st.tuples(st.integers(0, len(GOOD_STREAM) - 1), st.binary(min_size=1, max_size=4)).map(  # a good stream, hit
        lambda hit: GOOD_STREAM[:hit[0]] + hit[1] + GOOD_STREAM[hit[0] + len(hit[1]):]))


def test_every_arrow_body_becomes_readings_or_a_validation_error(bundle: CityBundle) -> None:
    """Bytes, streams of any columns, and good streams with bytes overwritten (bad offsets, names
    and strings that are not UTF-8): each is parsed or refused with a ValidationError naming a field."""
    check = Validator(bundle.sensors, Config.load(environ={}), lambda: int(time.time() * 1000))
    outcomes = {"parsed": 0, "refused": 0}

    @given(arrow_bodies)
    @settings(max_examples=3_000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def parse(body: bytes) -> None:
        try:
            parsed = parse_arrow_stream(body, check, 1000, "http")
        except ValidationError as e:
            assert e.field and str(e), body
            outcomes["refused"] += 1
            return
        assert len(parsed.batch) + len(parsed.rejections) == parsed.received
        outcomes["parsed"] += 1

    parse()
    assert len(parse_arrow_stream(GOOD_STREAM, check, 1000, "http").batch) == 2
    assert outcomes["parsed"] >= 40 and outcomes["refused"] >= 1000, outcomes
