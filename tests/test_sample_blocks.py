"""Sample blocks (issue 27): an accelerometer's samples at 100 Hz sent as one block a message, over HTTP
and MQTT — stored as that many readings at exact millisecond times, refused with the field, value
and fix where the block or a sample is bad, one bad sample dead-lettered and the rest kept."""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citylifeline.api import create_app
from citylifeline.city import CityBundle, demo_city_path, load_city
from citylifeline.engine import Engine
from citylifeline.errors import ValidationError
from citylifeline.ingest import Validator, parse_readings
from citylifeline.settings import Config
from citylifeline.units import G_MS2
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.services import SHARED_BROKER, mqtt_names, publisher
from tests.test_mqtt import wait_for

NOW = time.time()
T0 = math.floor(NOW) - 3600  # a whole second an hour ago
ACCEL = "BA-1,acceleration,bridge/bridge/B-1,,Bridge accelerometer 100 Hz,0.01,m/s2" + "," * 12


@pytest.fixture(scope="session")
def block_city(city_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test city with one bridge (the demo city's 2nd St bridge) and a 100 Hz accelerometer on it."""
    d = tmp_path_factory.mktemp("block_city")
    shutil.copytree(city_dir, d, dirs_exist_ok=True)
    bridges = json.loads((demo_city_path() / "bridges.geojson").read_text(encoding="utf-8"))
    bridges["features"] = [f for f in bridges["features"] if f["properties"]["id"] == "B-1"]
    (d / "bridges.geojson").write_text(json.dumps(bridges), encoding="utf-8")
    yaml_text = (d / "city.yaml").read_text(encoding="utf-8")
    (d / "city.yaml").write_text(yaml_text.replace("  places:", "  bridge:\n    geojson: bridges.geojson\n  places:"),
                                 encoding="utf-8")
    with (d / "sensors.csv").open("a", encoding="utf-8") as fh:
        fh.write(ACCEL + "\n")
    return d


@pytest.fixture(scope="session")
def block_bundle(block_city: Path) -> CityBundle:
    return load_city(block_city)


@pytest.fixture
def block_config(store_location: str, block_city: Path) -> Config:
    return Config.load(environ={}, db=store_location, city=str(block_city), memory_limit="512MB",
                       admin_token=ADMIN_TOKEN, rate_limit_per_s=0.0)


@pytest.fixture
def block_engine(block_config: Config, block_bundle: CityBundle) -> Iterator[Engine]:
    e = Engine(block_config, block_bundle)
    e.start()
    yield e
    e.stop()


@pytest.fixture
def client(block_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(block_engine, manage_engine=False), headers=AUTH) as c:
        yield c


def samples(n: int, amplitude: float = 0.01) -> list[float]:
    """A bridge's first mode (2.5 Hz) under traffic, and sensor noise, as a gateway rounds them."""
    k = np.arange(n)
    rng = np.random.default_rng(n)
    return np.round(amplitude * np.sin(2 * np.pi * 2.5 * k / 100) + rng.normal(0, amplitude / 10, n), 6).tolist()


def block(values: list[Any], t0: object = T0, hz: object = 100, **more: Any) -> dict[str, Any]:
    return {"sensor": "BA-1", "t0": t0, "hz": hz, "values": values, **more}


def post(client: TestClient, **body: Any) -> Any:
    return client.post("/api/v1/readings", json=body)


def stored(client: TestClient, sensor: str = "BA-1") -> dict[str, Any]:
    got: dict[str, Any] = client.get("/api/v1/readings", params={"sensor": sensor, "start": NOW - 86_400,
                                                                  "end": NOW + 86_400, "limit": 100_000}).json()
    return got


# ---- HTTP ---------------------------------------------------------------------------------------


def test_a_block_of_100_hz_samples_is_stored_as_that_many_readings_10_ms_apart(client: TestClient) -> None:
    """Ten seconds at 100 Hz in g: 1,000 readings, t0 + 10 ms · k, in m/s²; an ISO-8601 t0 with
    milliseconds and an offset starts the next block where it says."""
    v = samples(1000)
    r = post(client, blocks=[block(v, unit="g")])
    assert r.status_code == 200, r.text
    assert r.json() | {"errors": []} == {"received": 1000, "stored": 1000, "duplicates": 0, "rejected": 0,
                                         "detail": "", "errors": []}
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + 10 + 8 * 3600)) + ".250+08:00"  # 10.25 s on
    r = post(client, blocks=[block(v[:4], t0=iso)])
    assert r.status_code == 200 and r.json()["stored"] == 4
    got = stored(client)
    assert got["unit"] == "m/s2" and len(got["t"]) == 1004
    assert got["t"][:1000] == [T0 * 1000 + 10 * k for k in range(1000)]
    assert got["t"][1000:] == [T0 * 1000 + 10_250 + 10 * k for k in range(4)]
    assert np.allclose(got["value"][:1000], np.array(v) * G_MS2) and np.allclose(got["value"][1000:], v[:4])


def test_the_silence_between_blocks_is_no_fault_but_a_silent_accelerometer_is(client: TestClient,
                                                                               block_engine: Engine) -> None:
    """An accelerometer at 100 Hz sending a block a second while another sensor reports twice a second
    gets no no-data ticket between its blocks (``detect.health.BLOCK_S``); silent for a minute while the
    other goes on, it gets one."""
    reg = block_engine.registry
    other = next(i for i in range(len(reg)) if reg.ids[i] != "BA-1" and reg.interval_s[i] >= 1.0)
    value = float(np.nan_to_num((reg.physical_min[other] + reg.physical_max[other]) / 2))

    def tickets() -> list[str]:
        return [t.sensor_id for t in block_engine.store.open_tickets() if t.fault == "no_data"]

    for k in range(30):
        t = T0 + k
        r = post(client, blocks=[block(samples(100), t0=t)],
                 readings=[{"sensor": reg.ids[other], "t": t + 0.5, "value": value},
                           {"sensor": reg.ids[other], "t": t + 0.99, "value": value}])
        assert r.status_code == 200 and r.json()["stored"] == 102, r.text
    for k in range(30, 100):  # the accelerometer silent for 70 s
        post(client, readings=[{"sensor": reg.ids[other], "t": T0 + k + 0.5, "value": value}])
    wait_for(lambda: "BA-1" in tickets())
    assert tickets().count("BA-1") == 1
    opened = next(t for t in block_engine.store.open_tickets() if t.sensor_id == "BA-1")
    assert opened.t_opened_ms >= (T0 + 29) * 1000 + 990 + 50_000  # after BLOCK_S × no_data_intervals of silence


def test_readings_and_blocks_mix_in_one_body_and_what_is_sent_again_is_a_duplicate(client: TestClient) -> None:
    body = {"readings": [{"sensor": "P-1", "t": T0, "value": 0.3, "unit": "MPa"}],
            "blocks": [block(samples(500)), block(samples(300), t0=T0 + 3)]}  # the blocks overlap 2 s
    first = post(client, **body).json()
    assert (first["received"], first["stored"], first["duplicates"]) == (801, 601, 200)
    again = post(client, **body).json()
    assert (again["received"], again["stored"], again["duplicates"]) == (801, 0, 801)
    got = stored(client)
    assert got["t"] == [T0 * 1000 + 10 * k for k in range(600)]  # the first of two samples on one time stays
    assert got["value"][:500] == samples(500)


@pytest.mark.parametrize(("hz", "offsets_ms"), [
    (300, [0, 3, 7, 10, 13, 17, 20]),  # 3⅓ ms: rounded to the nearest millisecond
    (400, [0, 3, 5, 8, 10, 13, 15]),  # 2.5 ms: halves round up
    (51.2, [0, 20, 39, 59, 78, 98, 117]),  # a vibration logger's 51.2 Hz: 19.53125 ms
    (1000, [0, 1, 2, 3, 4, 5, 6]),
])
def test_a_rate_that_is_not_whole_milliseconds_is_rounded_half_up(client: TestClient, hz: float,
                                                                    offsets_ms: list[int]) -> None:
    assert post(client, blocks=[block(samples(7), hz=hz)]).json()["stored"] == 7
    assert stored(client)["t"] == [T0 * 1000 + o for o in offsets_ms]


BAD_BLOCKS = [  # (the block, the field named, words of the message, readings it counts as)
    (block([0.1, 0.2, 0.3], hz=0), "blocks[0].hz", "above 0 and at most 1000", 3),
    (block([0.1, 0.2, 0.3], hz=-100), "blocks[0].hz", "not a sampling rate", 3),
    (block([0.1, 0.2, 0.3], hz=5000), "blocks[0].hz", "at most 1000 samples a second", 3),
    (block([0.1, 0.2, 0.3], hz="100"), "blocks[0].hz", "not a number", 3),
    ({"sensor": "BA-1", "t0": T0, "values": [0.1, 0.2, 0.3]}, "blocks[0].hz", "is missing", 3),
    (block("0.1,0.2,0.3"), "blocks[0].values", "not a list", 1),
    (block({"0": 0.1}), "blocks[0].values", "not a list", 1),
    (block([]), "blocks[0].values", "is empty", 1),
    ({"sensor": "BA-1", "t0": T0, "hz": 100}, "blocks[0].values", "is missing", 1),
    (5, "blocks[0]", "is not an object", 1),
    (block([0.1, 0.2, 0.3], sensor="BA-9"), "blocks[0].sensor", "did you mean 'BA-1'", 3),
    (block([0.1, 0.2, 0.3], sensor=None), "blocks[0].sensor", "not a sensor id", 3),
    (block([0.1, 0.2, 0.3], t0="2026-11-23T10:00:00"), "blocks[0].t0", "no UTC offset", 3),
    (block([0.1, 0.2, 0.3], t0="yesterday"), "blocks[0].t0", "not a time", 3),
    (block([0.1, 0.2, 0.3], t0=NOW + 86_400), "blocks[0].t0", "in the future", 3),
    (block([0.1, 0.2, 0.3], t0=NOW * 1000), "blocks[0].t0", "looks like milliseconds", 3),
    (block([0.1, 0.2, 0.3], t0=None), "blocks[0].t0", "is missing", 3),
    (block([0.1, 0.2, 0.3], unit="psi"), "blocks[0].unit", "send one of m/s2, g, mg, gal", 3),
    ({**block([0.1, 0.2, 0.3]), "t": T0}, "blocks[0].t", "unknown field (a block's first sample's time is t0", 3),
]


@pytest.mark.parametrize(("bad", "field", "words", "count"), BAD_BLOCKS)
def test_a_bad_block_is_refused_naming_field_value_and_fix_and_the_rest_is_stored(
        client: TestClient, bad: Any, field: str, words: str, count: int) -> None:
    r = post(client, readings=[{"sensor": "P-1", "t": T0, "value": 0.3, "unit": "MPa"}],
             blocks=[bad, block(samples(50), t0=T0 + 60)])
    assert r.status_code == 422, r.text
    body = r.json()
    assert (body["received"], body["stored"], body["rejected"]) == (1 + count + 50, 51, count)
    errors = body["errors"]
    assert [e["index"] for e in errors] == list(range(1, 1 + count))  # after the reading, each sample of the block
    assert all(e["field"] == field and e["message"].startswith(field) and words in e["message"] for e in errors)
    assert any(w in errors[0]["message"] for w in ("send", "add", "check", "did you mean"))
    dead = [d for d in client.get("/api/v1/dead-letters").json() if d["field"] == field]
    assert len(dead) == count and all(words in d["reason"] for d in dead)
    assert len(stored(client)["t"]) == 50


def test_a_bad_sample_is_refused_alone_and_the_rest_of_its_block_is_stored(client: TestClient) -> None:
    """null, text and NaN inside a block: three dead letters with each sample's time; 97 readings stored."""
    v: list[Any] = samples(100)
    v[3], v[5], v[7] = None, "x", "NaN_HERE"
    body = json.dumps({"blocks": [block(v)]}).replace('"NaN_HERE"', "NaN")  # NaN as some gateways write it
    r = client.post("/api/v1/readings", content=body.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    out = r.json()
    assert (out["received"], out["stored"], out["rejected"]) == (100, 97, 3)
    assert [(e["index"], e["field"]) for e in out["errors"]] == [(3, "blocks[0].values[3]"), (5, "blocks[0].values[5]"),
                                                                  (7, "blocks[0].values[7]")]
    words = [e["message"] for e in out["errors"]]
    assert "is missing" in words[0] and "'x' is not a number" in words[1] and "not a finite number" in words[2]
    dead = {d["field"]: d for d in client.get("/api/v1/dead-letters").json()}
    assert dead["blocks[0].values[5]"]["sensor"] == "BA-1" and dead["blocks[0].values[5]"]["value"] == "x"
    assert float(dead["blocks[0].values[7]"]["t"]) == pytest.approx(T0 + 0.07, abs=1e-6)
    got = stored(client)
    assert got["t"] == [T0 * 1000 + 10 * k for k in range(100) if k not in (3, 5, 7)]


def test_a_block_running_into_the_future_keeps_its_samples_up_to_the_clock_skew(client: TestClient,
                                                                                  block_engine: Engine) -> None:
    skew = block_engine.config.max_clock_skew_s
    out = post(client, blocks=[block(samples(1000), t0=time.time() + skew - 5)]).json()
    assert out["received"] == 1000 and 0 < out["rejected"] < 1000 and out["stored"] + out["rejected"] == 1000
    first_refused = out["errors"][0]["index"]
    assert out["errors"][0]["field"] == f"blocks[0].values[{first_refused}] (its time, t0 + index / hz)"
    assert "in the future" in out["errors"][0]["message"] and 500 <= first_refused <= 600
    assert len(stored(client)["t"]) == first_refused  # the earlier samples, all of them


def test_more_samples_than_a_request_may_hold_are_refused_whole_with_the_limit(block_engine: Engine) -> None:
    small = block_engine.config
    block_engine.config = small.with_(max_batch_readings=1000)
    try:
        with TestClient(create_app(block_engine, manage_engine=False), headers=AUTH) as c:
            r = post(c, readings=[{"sensor": "P-1", "t": T0, "value": 3e5}], blocks=[block(samples(1000))])
            assert r.status_code == 413, r.text
            assert "1001 readings (1000 of them samples in blocks)" in r.json()["detail"]
            assert "limit is 1000" in r.json()["detail"] and r.json()["field"] == "blocks"
            assert post(c, blocks=[block(samples(1000))]).status_code == 200
    finally:
        block_engine.config = small


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"blocks": []}, "blocks", "'blocks' must be a non-empty list"),
    ({"blocks": {"sensor": "BA-1"}}, "blocks", "'blocks' must be a non-empty list"),
    ({"readings": [], "blocks": []}, "readings", "non-empty list"),
    ({"samples": []}, "readings", "'blocks' list of sample blocks"),
])
def test_a_body_with_no_readings_or_blocks_is_refused_whole(client: TestClient, body: Any, field: str,
                                                              words: str) -> None:
    r = post(client, **body)
    assert r.status_code == 400 and words in r.json()["detail"] and r.json()["field"] == field


# ---- MQTT ---------------------------------------------------------------------------------------


@pytest.fixture
def mqtt_engine(block_config: Config, block_bundle: CityBundle) -> Iterator[tuple[Engine, str]]:
    """A started engine on the block city, ingesting from the shared broker under a prefix of its own."""
    with mqtt_names() as (prefix, client_id):
        e = Engine(block_config.with_(mqtt_url=f"mqtt://{SHARED_BROKER[0]}:{SHARED_BROKER[1]}",
                                      mqtt_topic_prefix=prefix, mqtt_client_id=client_id), block_bundle)
        e.start()
        try:
            assert e.mqtt.connected.wait(15), "the engine did not connect to the broker"
            yield e, prefix
        finally:
            e.stop()


def test_blocks_over_mqtt_are_stored_and_bad_ones_dead_lettered_by_topic(mqtt_engine: tuple[Engine, str]) -> None:
    """A gateway's message of blocks, a sensor's own block (its topic names the sensor), a block with a null
    sample and one with no usable rate: each second's samples stored at its 10 ms times, the null one and
    the bad block's samples dead letters naming the topic and the field."""
    engine, prefix = mqtt_engine
    v = samples(100)
    with_gap: list[Any] = samples(100)
    with_gap[42] = None
    messages = [
        (f"{prefix}/gateway/g-1", {"readings": [{"sensor": "P-1", "t": T0, "value": 0.3, "unit": "MPa"}],
                                    "blocks": [block(v), block(v, t0=T0 + 1)]}),
        (f"{prefix}/sensor/BA-1", {"t0": T0 + 2, "hz": 100, "values": v, "unit": "m/s2"}),
        (f"{prefix}/sensor/BA-1", [{"t0": T0 + 3, "hz": 100, "values": with_gap}, {"t": T0 + 5, "value": 0.5}]),
        (f"{prefix}/gateway/g-2", {"blocks": [block(v, t0=T0 + 4, hz=0)]}),
    ]
    pub = publisher(*SHARED_BROKER)
    try:
        for topic, doc in messages:
            pub.publish(topic, json.dumps(doc), qos=1).wait_for_publish(30)
        wait_for(lambda: engine.mqtt.status()["messages_acked"] == len(messages))
    finally:
        pub.disconnect()
        pub.loop_stop()
    got = engine.store.readings(engine.registry.idx("BA-1"), 0, 2**62)
    expected = [T0 * 1000 + 10 * k for k in range(400) if k != 342] + [(T0 + 5) * 1000]
    assert got.t_ms.tolist() == expected
    assert np.allclose(got.value[:100], v) and engine.store.count_readings() == len(expected) + 1  # and P-1's
    dead = engine.store.dead_letters(1000)
    gap = [d for d in dead if d["field"] == f"{prefix}/sensor/BA-1 blocks[0].values[42]"]
    assert len(gap) == 1 and "is missing" in gap[0]["reason"] and gap[0]["source"] == f"mqtt:{prefix}/sensor/BA-1"
    assert float(gap[0]["t"]) == pytest.approx(T0 + 3.42, abs=1e-6)
    rate = [d for d in dead if d["field"] == f"{prefix}/gateway/g-2 blocks[0].hz"]
    assert len(rate) == 100 and all("not a sampling rate" in d["reason"] for d in rate)
    assert engine.mqtt.status()["dead_letters"] == 101


# ---- anything a gateway may send ----------------------------------------------------------------

junk = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
                    max_leaves=6)
sample = st.one_of(st.floats(-1e3, 1e3), st.floats(), st.integers(-10**20, 10**20), st.none(), st.booleans(),
                   st.text(max_size=3))
any_block = st.one_of(st.fixed_dictionaries(
    {"sensor": st.sampled_from(["BA-1", "P-1", "nope", "", None]),
     "t0": st.one_of(st.floats(NOW - 86_400, NOW + 600), st.floats(), st.text(max_size=25), st.none(), junk),
     "hz": st.one_of(st.floats(0.001, 1000), st.floats(), st.integers(-5, 5000), st.text(max_size=4), st.none()),
     "values": st.one_of(st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=40), st.lists(sample, max_size=40),
                         junk)},
    optional={"unit": st.sampled_from(["g", "mg", "m/s2", "MPa", "", "furlong"]), "t": st.floats()}), junk)


def test_any_blocks_become_readings_or_rejections_with_their_field_never_an_exception(
        block_bundle: CityBundle) -> None:
    """Whatever the blocks hold: nothing raises but a refusal of the whole body; every sample is stored or
    refused with a message naming its field, and each refusal is a dead letter; what is stored is a finite
    value at a time in the accepted range."""
    config = Config.load(environ={})
    check = Validator(block_bundle.sensors, config, lambda: int(time.time() * 1000))
    runs = [0]

    @given(st.lists(any_block, min_size=1, max_size=4), st.lists(st.fixed_dictionaries(
        {"sensor": st.just("P-1"), "t": st.floats(NOW - 3600, NOW), "value": st.floats(0, 1e6)}), max_size=2))
    @settings(max_examples=1_500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def parse(blocks: list[Any], readings: list[Any]) -> None:
        body = json.dumps({"readings": readings, "blocks": blocks}).encode()
        try:
            parsed = parse_readings(body, check, 10_000)
        except ValidationError as e:
            assert e.field in ("readings", "blocks", "body") and str(e)
            return
        runs[0] += 1
        assert len(parsed.batch) + len(parsed.rejections) == parsed.received
        assert len(parsed.dead_letters) == len(parsed.rejections)
        assert sorted({r.index for r in parsed.rejections}) == [r.index for r in parsed.rejections]
        assert all(r.message.startswith(r.field) and 0 <= r.index < parsed.received for r in parsed.rejections)
        b = parsed.batch
        assert np.isfinite(b.value).all() and (b.sensor >= 0).all()
        assert ((b.t_ms >= check.earliest_ms) & (b.t_ms <= time.time() * 1000 + config.max_clock_skew_s * 1000)).all()

    parse()
    assert runs[0] >= 500
