"""Hostile inputs, by class, for the HTTP API and MQTT ingestion (``make test`` runs a bounded set,
``bench/hostile.py`` a long one).

The classes are those an independent probe used to stop ingestion and get 5xx answers:

- ``depth``: JSON nested 30 to 100,000 levels, as the whole body, a reading's value, its sensor;
- ``size``: long strings, many readings, more than one request may hold;
- ``encoding``: lone surrogate escapes in ids, times, units and keys; bytes that are not UTF-8; NUL;
- ``numbers``: integers of hundreds of digits, 1e400, NaN, times of 1e300 s;
- ``compression``: Arrow streams compressed with zstd/lz4 that unpack to far more than they weigh;
- ``arrow``: Arrow schemas of the wrong kind: nested, binary, dictionary, timestamps past any date.

Reading bodies mix each bad reading with good ones (``Case.good``): every good reading must be
stored, whatever sits beside it.  Each good reading has its own time, so none is a duplicate.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

CLASSES = ("depth", "size", "encoding", "numbers", "compression", "arrow")
JSON_TYPE = "application/json"
ARROW_TYPE = "application/vnd.apache.arrow.stream"
SURROGATES = ("\\ud800", "\\udfff", "\\ud83d", "x\\udc00y", "\\ud800\\ud800")


@dataclass(frozen=True)
class Case:
    """One hostile request or message: its class, what it is, the body, and the good readings inside."""

    cls: str
    name: str
    body: bytes
    content_type: str = JSON_TYPE
    good: int = 0


@dataclass(frozen=True)
class Request:
    """A hostile request to another route: method, path with query, JSON body (or none)."""

    cls: str
    method: str
    path: str
    body: bytes | None = None


class Good:
    """Good readings of the given sensors, each at a time of its own (so none is a duplicate)."""

    def __init__(self, sensors: list[str], t0_s: float) -> None:
        self.sensors, self.t0_s, self.n = sensors, t0_s, 0

    def rows(self, k: int) -> list[str]:
        """``k`` good readings as JSON object texts."""
        out = []
        for _ in range(k):
            s = self.sensors[self.n % len(self.sensors)]
            out.append(f'{{"sensor": "{s}", "t": {self.t0_s + self.n * 0.001:.3f}, "value": 0.3}}')
            self.n += 1
        return out

    def table(self, k: int) -> pa.Table:
        """``k`` good readings as an Arrow table (sensor, t, value)."""
        rows = [json.loads(r) for r in self.rows(k)]
        return pa.table({"sensor": [r["sensor"] for r in rows], "t": [float(r["t"]) for r in rows],
                         "value": [r["value"] for r in rows]})


def nested(depth: int, leaf: str = "1") -> str:
    """JSON of ``depth`` nested lists around ``leaf``."""
    return "[" * depth + leaf + "]" * depth


def bad_readings(rng: np.random.Generator, sensor: str) -> Iterator[tuple[str, str]]:
    """(class, a JSON reading text that must be refused on its own)."""
    t = '"2026-11-23T10:00:00+08:00"'
    for d in (30, 500, 990, 1000, 1020):
        yield "depth", f'{{"sensor": "{sensor}", "t": {t}, "value": {nested(d)}}}'
        yield "depth", f'{{"sensor": {nested(d, chr(34) + sensor + chr(34))}, "t": {t}, "value": 1}}'
    for s in SURROGATES:
        yield "encoding", f'{{"sensor": "{s}", "t": {t}, "value": 1}}'
        yield "encoding", f'{{"sensor": "{sensor}", "t": "2026-11-23T10:00:00{s}", "value": 1}}'
        yield "encoding", f'{{"sensor": "{sensor}", "t": {t}, "value": 1, "unit": "{s}"}}'
        yield "encoding", f'{{"sensor": "{sensor}", "t": {t}, "value": 1, "{s}": 2}}'
        yield "encoding", f'{{"sensor": "{sensor}", "t": {t}, "value": "{s}"}}'
    yield "encoding", f'{{"sensor": "{sensor}\\u0000", "t": {t}, "value": 1}}'
    yield "encoding", '{"sensor": "\\u0000", "t": "\\u0000", "value": 1, "unit": "\\u0000"}'
    for digits in (19, 20, 100, 309, 400, int(rng.integers(300, 4000))):
        big = "1" + "0" * (digits - 1)
        yield "numbers", f'{{"sensor": "{sensor}", "t": {t}, "value": {big}}}'
        yield "numbers", f'{{"sensor": "{sensor}", "t": {big}, "value": 1}}'
        yield "numbers", f'{{"sensor": "{sensor}", "t": -{big}, "value": -{big}}}'
    for v in ("1e400", "-1e400", "NaN", "Infinity", "-Infinity", "1e-400", "1e300"):
        yield "numbers", f'{{"sensor": "{sensor}", "t": {v}, "value": {v}}}'
    yield "size", f'{{"sensor": "{"S" * 200_000}", "t": {t}, "value": 1}}'
    yield "size", f'{{"sensor": "{sensor}", "t": "{"9" * 100_000}", "value": 1}}'
    yield "size", f'{{"sensor": "{sensor}", "t": {t}, "value": 1, "unit": "{"m" * 50_000}"}}'


def reading_bodies(rng: np.random.Generator, good: Good, max_bytes: int, arrow: bool = True) -> Iterator[Case]:
    """Hostile ``POST /api/v1/readings`` bodies: bad readings among good ones, and bad bodies (and
    with ``arrow``, Arrow streams: bombs and wrong schemas)."""
    sensor = good.sensors[0]
    for cls, bad in bad_readings(rng, sensor):
        k = int(rng.integers(1, 4))
        rows = good.rows(k)
        rows.insert(int(rng.integers(0, k + 1)), bad)
        yield Case(cls, "a bad reading among good ones", ('{"readings": [' + ", ".join(rows) + "]}").encode(), good=k)
    for d in (1025, 5000, 100_000):
        yield Case("depth", f"a body {d} deep", nested(d).encode())
        yield Case("depth", f"readings {d} deep", ('{"readings": ' + nested(d) + "}").encode())
    yield Case("encoding", "bytes that are not UTF-8",
               b'{"readings": [{"sensor": "\xed\xa0\x80", "t": 1, "value": 1}]}')
    yield Case("encoding", "latin-1 bytes", '{"readings": [{"sensor": "é", "t": 1, "value": 1}]}'.encode("latin-1"))
    yield Case("encoding", "UTF-16", '{"readings": []}'.encode("utf-16"))
    yield Case("encoding", "NUL bytes", b"\x00" * 100)
    yield Case("size", "one byte over the limit", b" " * (max_bytes + 1))
    n = max_bytes // 40
    yield Case("size", f"{n} bad readings in one request",
               ('{"readings": [' + ", ".join([f'{{"sensor": "nope-{i % 97}", "t": 1, "value": 1}}'
                                              for i in range(n)]) + "]}").encode()[:max_bytes - 2] + b"]}")
    if arrow:
        yield from arrow_bodies(rng, good)


def arrow_bodies(rng: np.random.Generator, good: Good) -> Iterator[Case]:
    """Hostile Arrow IPC streams: compression bombs and schemas of the wrong kind."""
    for codec in ("zstd", "lz4"):
        bomb = pa.table({"sensor": ["P" * 1000] * 200_000, "t": [1.7e9] * 200_000, "value": [1.0] * 200_000})
        yield Case("compression", f"a {codec} bomb", stream(bomb, codec), ARROW_TYPE)
        long_text = pa.table({"sensor": ["x" * 50_000_000], "t": [1.7e9], "value": [1.0]})
        yield Case("compression", f"one {codec} string of 50 MB", stream(long_text, codec), ARROW_TYPE)
        k = int(rng.integers(1, 5))
        yield Case("compression", f"good readings, {codec}", stream(good.table(k), codec), ARROW_TYPE, good=k)
    max_ts = pa.array([np.iinfo(np.int64).max, np.iinfo(np.int64).min + 1], pa.timestamp("s", tz="UTC"))
    for name, cols in (
            ("timestamps past any date", {"sensor": ["a", "b"], "t": max_ts, "value": [1.0, 2.0]}),
            ("nanosecond extremes", {"sensor": ["a", "b"], "t": pa.array([2**62, -2**62], pa.timestamp("ns", "UTC")),
                                     "value": [1.0, 2.0]}),
            ("nested values", {"sensor": ["a", "b"], "t": [1.7e9] * 2, "value": [[1.0], [2.0]]}),
            ("binary ids, not UTF-8", {"sensor": pa.array([b"\xed\xa0\x80", b"\xff"], pa.binary()),
                                       "t": [1.7e9] * 2, "value": [1.0, 2.0]}),
            ("dictionary ids", {"sensor": pa.array(["a", "b"]).dictionary_encode(), "t": [1.7e9] * 2,
                                "value": [1.0, 2.0]}),
            ("huge integer times", {"sensor": ["a", "b"], "t": pa.array([2**63 - 1, -2**63], pa.int64()),
                                    "value": pa.array([2**63 - 1, -2**63], pa.int64())}),
            ("large strings", {"sensor": pa.array(["a", "b"], pa.large_string()), "t": [1.7e9] * 2,
                               "value": [1.0, 2.0]})):
        yield Case("arrow", name, stream(pa.table(cols)), ARROW_TYPE)


def stream(table: pa.Table, codec: str | None = None) -> bytes:
    """``table`` as an Arrow IPC stream, its buffers compressed with ``codec``."""
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression=codec)) as w:
        w.write_table(table)
    return sink.getvalue()


def other_requests(rng: np.random.Generator, sensor: str) -> Iterator[Request]:
    """Hostile requests to every other route that takes text, numbers or a JSON body."""
    s = SURROGATES[int(rng.integers(len(SURROGATES)))]
    deep = nested(int(rng.choice([100, 1000, 5000])))
    big = "1" + "0" * int(rng.integers(300, 500))
    for body in (f'{{"token": "{s}"}}', f'{{"token": {deep}}}', f'{{"token": {big}}}', f'{{"{s}": 1}}',
                 '{"token": "\\u0000"}'):
        yield Request("encoding" if "\\u" in body else "depth" if "[[" in body else "numbers", "POST",
                      "/api/v1/session", body.encode())
    for body in (f'{{"name": "op{s}", "role": "viewer"}}', f'{{"name": "x", "role": "viewer", "districts": ["{s}"]}}',
                 f'{{"name": "x", "role": "viewer", "rate_per_s": {big}}}', f'{{"name": {deep}, "role": "viewer"}}',
                 '{"name": "x", "role": "viewer", "rate_per_s": 1e400}'):
        yield Request("encoding", "POST", "/api/v1/credentials", body.encode())
    for body in (f'{{"action": "acknowledge", "text": "{s}"}}', f'{{"action": "{s}"}}',
                 f'{{"action": "comment", "actor": "{s}", "text": {deep}}}'):
        yield Request("encoding", "POST", "/api/v1/incidents/1/actions", body.encode())
    yield Request("encoding", "POST", "/api/v1/tickets/1/close", f'{{"note": "{s}"}}'.encode())
    yield Request("encoding", "POST", "/api/v1/session", b'{"token": "\xed\xa0\x80"}')
    for route in ("/api/v1/readings", "/api/v1/readings/hourly"):
        for t in ("1e300", "-1e300", "1e308", "nan", "inf", big, "-" + big, "%ED%A0%80", "%00", "1e18"):
            yield Request("numbers", "GET", f"{route}?sensor={sensor}&start={t}")
            yield Request("numbers", "GET", f"{route}?sensor={sensor}&end={t}&start=0")
    for q in ("sensor=%ED%A0%80", "sensor=%00", "sensor=%FF%FE", f"sensor={sensor}&limit={big}"):
        yield Request("encoding", "GET", f"/api/v1/readings?{q}")
    for q in ("lifeline=%ED%A0%80", "level=%00", "limit=" + big, "state=%FF", "since=1e300", "district=%ED%A0%80"):
        yield Request("encoding", "GET", f"/api/v1/incidents?{q}")
    for path in ("/api/v1/incidents/%ED%A0%80", f"/api/v1/incidents/{big}", "/api/v1/sensors/%ED%A0%80",
                 "/api/v1/sensors/%00", f"/api/v1/tickets/{big}/close"):
        yield Request("encoding", "GET" if "close" not in path else "POST", path, b"{}" if "close" in path else None)


def mqtt_messages(rng: np.random.Generator, prefix: str, good: Good,
                  arrow: bool = True) -> Iterator[tuple[str, str, bytes, int]]:
    """(class, topic, payload, good readings inside) for MQTT: gateway and sensor topics (Arrow streams
    among them with ``arrow``)."""
    sensor = good.sensors[0]
    for case in reading_bodies(rng, good, 4 * 1024 * 1024, arrow):
        yield case.cls, f"{prefix}/gateway/g-{case.cls}", case.body, case.good
    t = '"2026-11-23T10:00:00+08:00"'
    for cls, bad in bad_readings(rng, sensor):
        inner = bad.replace(f'"sensor": "{sensor}", ', "")
        if '"sensor"' not in inner:
            yield cls, f"{prefix}/sensor/{sensor}", inner.encode(), 0
    for s in SURROGATES:
        yield "encoding", f"{prefix}/sensor/{s}", f'{{"t": {t}, "value": 1}}'.encode(), 0
    for d in (1025, 5000):
        yield "depth", f"{prefix}/sensor/{sensor}", nested(d).encode(), 0
