"""The twin's HTTP feed, against a tiny local server: history, live pacing, retries, stopping."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from citylifeline.errors import ValidationError
from citylifeline.twin import feed as feed_mod
from citylifeline.twin.realism import Readings


class _Server:
    """Fails the first POST with 503 (or every POST with ``status``), records the others."""

    def __init__(self, status: int | None = None) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.calls = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.calls += 1
                code = status or (503 if owner.calls == 1 else 200)
                if code == 200:
                    assert self.path == "/api/v1/readings"
                    owner.received.append((time.time(), json.loads(body)))
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.httpd.shutdown()


def _readings(t_ms: list[int], late_ms: int = 0) -> Readings:
    ids = np.array(["P-01", "P-02"] * len(t_ms), dtype=object)
    t = np.repeat(np.array(t_ms, dtype=np.int64), 2)
    delivered = t + 100
    delivered[1] += late_ms  # the second reading comes late
    return Readings(ids, t, np.arange(len(t), dtype=np.float64) * 1000.0, delivered, [])


def test_feed_catches_up_then_never_sends_the_future_and_retries(server: _Server) -> None:
    now_ms = int(time.time() * 1000)
    readings = _readings([now_ms + d for d in range(-60_000, 1601, 400)])  # history, then 1.6 s ahead
    began = time.time()
    stats = feed_mod.feed(readings, server.url, history_until_ms=now_ms - 10_000, batch_every_s=0.1, chunk=50)
    # the history goes at once, then the wall clock holds the rest back
    assert 1.5 < time.time() - began < 4.0  # the last step is 1.6 s ahead of now_ms
    sent = [(r["sensor"], r["t"], r["value"], at) for at, body in server.received for r in body["readings"]]
    assert stats.sent == len(readings) == len(sent) and stats.retries == 1 and not stats.stopped
    expected = set(zip(readings.sensor_id, readings.t_ms.tolist(), strict=True))
    assert {(s, round(t * 1000)) for s, t, _, _ in sent} == expected
    assert all(t <= at for _, t, _, at in sent)  # nothing time-stamped after the moment it arrived
    assert len(server.received) > 3  # the live part went step by step, not in one go


def test_feed_stops_on_the_event(server: _Server) -> None:
    now_ms = int(time.time() * 1000)
    readings = _readings([now_ms - 1000, now_ms + 3_600_000])
    stop = threading.Event()
    result: list[feed_mod.FeedStats] = []
    worker = threading.Thread(target=lambda: result.append(feed_mod.feed(readings, server.url, stop=stop)))
    worker.start()
    time.sleep(0.8)
    stop.set()
    worker.join(timeout=2)
    assert not worker.is_alive() and result[0].stopped and result[0].sent == 2


def test_feed_gives_up_on_a_refused_payload() -> None:
    s = _Server(status=400)
    try:
        with pytest.raises(ValidationError, match="HTTP 400"):
            now_ms = int(time.time() * 1000)
            feed_mod.feed(_readings([now_ms - 5000]), s.url, history_until_ms=now_ms)
    finally:
        s.httpd.shutdown()


def test_feed_sends_in_delivery_order_and_history_at_speed(server: _Server) -> None:
    now_ms = int(time.time() * 1000)
    readings = _readings([now_ms - 4000 + 200 * k for k in range(10)], late_ms=3000)
    began = time.time()
    feed_mod.feed(readings, server.url, history_until_ms=now_ms, speed=4.0, batch_every_s=0.05, chunk=1000)
    took = time.time() - began
    assert 0.5 < took < 2.5  # about 4 s of deliveries replayed 4x faster
    sent = [(r["sensor"], round(r["t"] * 1000)) for _, body in server.received for r in body["readings"]]
    late = (str(readings.sensor_id[1]), int(readings.t_ms[1]))
    assert sent.index(late) > 10  # delivered 3 s late: sent after readings taken after it
    assert len(sent) == len(readings)
