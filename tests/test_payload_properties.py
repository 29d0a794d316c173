"""Property tests of the readings payload parser: any input gives a clear verdict and loses nothing."""

from __future__ import annotations

import json
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from citylifeline.city import CityBundle
from citylifeline.errors import ValidationError
from citylifeline.ingest import Validator, parse_readings
from citylifeline.settings import Config

NOW_S = time.time()
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=8)
reading_like = st.fixed_dictionaries({}, optional={
    "sensor": st.sampled_from(["P-1", "P-2", "F-1", "nope", ""]) | json_values,
    "t": st.floats(NOW_S - 86400 * 400, NOW_S + 600) | st.sampled_from(["2026-01-01T00:00:00Z", "bad"]) | json_values,
    "value": st.floats(-1e9, 1e9) | st.floats() | json_values,  # st.floats(): huge, NaN and infinite too
    "unit": st.sampled_from(["MPa", "kPa", "m3/h", "furlong"]) | json_values,
})


def validator(bundle: CityBundle) -> Validator:
    return Validator(bundle.sensors, Config.load(environ={}), lambda: int(NOW_S * 1000))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(reading_like | json_values, min_size=1, max_size=20))
def test_every_reading_is_either_accepted_or_refused_with_its_field(bundle: CityBundle, rows: list[object]) -> None:
    body = json.dumps({"readings": rows}).encode()
    parsed = parse_readings(body, validator(bundle), 1000)
    assert len(parsed.batch) + len(parsed.rejections) == len(rows)
    assert len(parsed.dead_letters) == len(parsed.rejections)
    for r in parsed.rejections:
        assert r.field.startswith(f"readings[{r.index}]") and r.field in r.message


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_bodies_get_a_verdict_not_a_crash(bundle: CityBundle, body: bytes) -> None:
    try:
        parsed = parse_readings(body, validator(bundle), 1000)
    except ValidationError as e:
        assert e.field and str(e)
    else:
        assert len(parsed.batch) + len(parsed.rejections) == parsed.received


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["P-1", "P-2", "P-3"]), st.integers(0, 10**6),
                          st.floats(-1e6, 1e6)), min_size=1, max_size=50))
def test_valid_readings_round_trip_exactly(bundle: CityBundle, rows: list[tuple[str, int, float]]) -> None:
    t0 = int(NOW_S) - 2 * 10**6
    body = json.dumps({"readings": [{"sensor": s, "t": t0 + dt, "value": v, "unit": "Pa"} for s, dt, v in rows]})
    parsed = parse_readings(body.encode(), validator(bundle), 1000)
    assert parsed.rejections == []
    got = list(zip(parsed.batch.sensor.tolist(), parsed.batch.t_ms.tolist(), parsed.batch.value.tolist(), strict=True))
    assert got == [(bundle.sensors.index[s], (t0 + dt) * 1000, v) for s, dt, v in rows]


def test_a_value_that_overflows_in_its_unit_is_refused_not_lost(bundle: CityBundle) -> None:
    body = json.dumps({"readings": [{"sensor": "P-1", "t": NOW_S - 60, "value": 1e308, "unit": "MPa"},
                                    {"sensor": "P-2", "t": NOW_S - 60, "value": 0.3, "unit": "MPa"}]}).encode()
    parsed = parse_readings(body, validator(bundle), 100)
    assert len(parsed.batch) == 1 and [r.field for r in parsed.rejections] == ["readings[0].value"]
    assert "1e+308 MPa" in parsed.rejections[0].message and "Pa" in parsed.rejections[0].message
