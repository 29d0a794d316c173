"""The water twin: clock, units, burst, stuck sensor, demo thresholds, and the HTTP feed."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from citylifeline.errors import CityModelError, ConfigError, ValidationError
from citylifeline.twin import feed as feed_mod
from citylifeline.twin.water import (
    DEMO_BURST_JUNCTION,
    DEMO_STUCK_SENSOR,
    Burst,
    TwinOutput,
    WaterScenario,
    WaterSensor,
    demo_scenario,
    demo_sensors,
    read_sensors_csv,
    simulate,
)
from citylifeline.units import convert

TZ = ZoneInfo("Asia/Shanghai")
START_MS = int(datetime(2025, 3, 10, 8, 0, tzinfo=TZ).timestamp() * 1000)  # a Monday, 08:00 local
SENSORS_CSV = Path(__file__).resolve().parents[1] / "citylifeline" / "data" / "demo_city" / "sensors.csv"
NEAR_BURST = ("P-13", "P-14", "P-15")  # junctions 211, 215, 229: one pipe from the burst at 213
FAR_AWAY = ("P-01", "P-05")  # junctions 101 (west) and 131 (north-east)
BURST_AT_S = 3600.0
STUCK_AT_S = 5400.0


def thresholds() -> dict[str, dict[str, Any]]:
    """Each sensor's thresholds from the demo sensors file, in canonical units."""
    out: dict[str, dict[str, Any]] = {}
    with open(SENSORS_CSV, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            kind, unit = row["kind"], row["unit"]
            levels = {c: convert(float(row[c]), kind, unit) for c in row
                      if c.startswith(("high_", "low_")) and row[c]}
            rate = convert(float(row["rate_per_min"]), kind, unit) if row["rate_per_min"] else None
            out[row["id"]] = {"kind": kind, "levels": levels, "rate_per_min": rate}
    return out


@pytest.fixture(scope="module")
def normal_day() -> TwinOutput:
    return simulate(demo_scenario(START_MS, 86400.0, seed=3))


@pytest.fixture(scope="module")
def incident() -> tuple[TwinOutput, TwinOutput]:
    """Three hours with the demo burst at 09:00 and the stuck sensor from 09:30, and the same
    hours (same seed, so the same noise) without them."""
    quiet = simulate(demo_scenario(START_MS, 3 * 3600.0, seed=5))
    broken = simulate(demo_scenario(START_MS, 3 * 3600.0, burst_at_s=BURST_AT_S, stuck_at_s=STUCK_AT_S,
                                    seed=5))
    return quiet, broken


def test_deterministic_for_a_seed() -> None:
    scn = demo_scenario(START_MS, 1800.0, burst_at_s=600.0, seed=11)
    a, b = simulate(scn), simulate(scn)
    assert np.array_equal(a.value, b.value) and np.array_equal(a.t_ms, b.t_ms)
    assert np.array_equal(a.sensor_id, b.sensor_id) and a.ground_truth == b.ground_truth
    c = simulate(demo_scenario(START_MS, 1800.0, burst_at_s=600.0, seed=12))
    assert not np.array_equal(a.value, c.value)


def test_columns_sorted_and_canonical(normal_day: TwinOutput) -> None:
    out = normal_day
    n_sensors = len(demo_sensors())
    assert len(out) == 1440 * n_sensors
    assert out.t_ms.dtype == np.int64 and out.value.dtype == np.float64
    assert out.t_ms[0] == START_MS and np.all(np.diff(out.t_ms) >= 0)
    first = out.sensor_id[:n_sensors].tolist()
    assert first == sorted(first)
    assert np.all(np.diff(np.unique(out.t_ms)) == 60_000)
    kind = {s.id: s.kind for s in demo_sensors()}
    for sid in first:
        _, v = out.series(sid)
        if kind[sid] == "pressure":  # gauge Pa, ~0.3-0.5 MPa, to the device's 100 Pa
            assert v.min() > 2e5 and v.max() < 6e5
            assert np.all(v % 100 == 0)
        elif kind[sid] == "flow":  # m3/s: Net3's mains carry up to ~0.9 m3/s
            assert v.min() > -0.01 and v.max() < 1.5
        else:  # tank level in m
            assert v.min() > 1 and v.max() < 13


def test_demand_cycle_and_pump_schedule_follow_local_time(normal_day: TwinOutput) -> None:
    """Net3's Lake pump (its outlet is pipe 101, sensor F-02) runs from 01:00 to 15:00 local time."""
    t, q = normal_day.series("F-02")
    local = [datetime.fromtimestamp(x / 1000, TZ) for x in t]
    hour = np.array([d.hour + d.minute / 60 for d in local])
    running = q > 0.05
    assert np.all(running[(hour >= 1.05) & (hour < 14.95)])
    assert not np.any(running[(hour >= 15.05) | (hour < 0.95)])


def test_burst_drops_pressure_near_it_only_after_it_starts(incident: tuple[TwinOutput, TwinOutput]) -> None:
    quiet, broken = incident
    k = int(BURST_AT_S // 60)
    for sid in NEAR_BURST:
        _, before = quiet.series(sid)
        _, after = broken.series(sid)
        assert np.abs(after[:k] - before[:k]).max() <= 100  # same noise, same hydraulics, ±1 digit
        drop = 1 - after[k:] / before[k:]
        assert drop.min() > 0.2 and drop.max() < 0.5, (sid, drop.min(), drop.max())
    for sid in FAR_AWAY:
        _, before = quiet.series(sid)
        _, after = broken.series(sid)
        assert np.abs(1 - after[k:] / before[k:]).max() < 0.05
    _, q0 = quiet.series("F-04")
    _, q1 = broken.series("F-04")
    assert np.all(q1[k:] > 2 * q0[k:])  # the main feeding the riverside district carries the burst
    burst = next(g for g in broken.ground_truth if g["type"] == "burst")
    assert burst["element"] == DEMO_BURST_JUNCTION
    assert burst["asset"] == f"water/junction/{DEMO_BURST_JUNCTION}"
    assert burst["start_ms"] == START_MS + BURST_AT_S * 1000
    assert {*NEAR_BURST, "F-04"} <= set(burst["expected_sensors"])


def test_demo_burst_crosses_level_II_within_two_minutes_and_stays(
        incident: tuple[TwinOutput, TwinOutput]) -> None:
    _, broken = incident
    limits = thresholds()
    t, _ = broken.series("P-13")
    after = (t >= START_MS + BURST_AT_S * 1000 + 120_000)  # from the second reading after the burst on
    for sid in NEAR_BURST:
        _, v = broken.series(sid)
        assert np.all(v[after] < limits[sid]["levels"]["low_II"]), sid
    _, q = broken.series("F-04")
    assert np.all(q[after] > limits["F-04"]["levels"]["high_IV"])


def test_stuck_sensor_repeats_its_last_value(incident: tuple[TwinOutput, TwinOutput]) -> None:
    _, broken = incident
    k = int(STUCK_AT_S // 60)
    _, v = broken.series(DEMO_STUCK_SENSOR)
    assert np.all(v[k:] == v[k - 1])
    assert len(np.unique(v[:k])) > 10
    stuck = next(g for g in broken.ground_truth if g["type"] == "stuck")
    assert stuck["sensor"] == DEMO_STUCK_SENSOR and stuck["start_ms"] == START_MS + STUCK_AT_S * 1000
    assert stuck["expected_sensors"] == [DEMO_STUCK_SENSOR]


def test_a_normal_day_stays_inside_every_threshold(normal_day: TwinOutput) -> None:
    for sid, spec in thresholds().items():
        _, v = normal_day.series(sid)
        assert len(v) == 1440
        for col, limit in spec["levels"].items():
            if col.startswith("low_"):
                assert v.min() > limit, (sid, col, v.min(), limit)
            else:
                assert v.max() < limit, (sid, col, v.max(), limit)
        if spec["rate_per_min"] is not None:
            assert np.abs(np.diff(v)).max() < spec["rate_per_min"], sid


def test_sensors_file_is_read_and_loads_into_the_demo_city() -> None:
    sensors = demo_sensors()
    kinds = [s.kind for s in sensors]
    assert kinds.count("pressure") >= 12 and kinds.count("flow") >= 3 and kinds.count("level") == 3
    assert WaterSensor("P-01", "pressure", "101") in sensors and sensors[0].asset == "water/junction/101"
    from citylifeline.city import load_city

    bundle = load_city("demo")
    assert len(bundle.sensors) == len(sensors)
    i = bundle.sensors.idx("P-14")
    assert bundle.sensors.low[i, 2] == pytest.approx(convert(0.303, "pressure", "MPa"), rel=0.05)


def test_wrong_sensor_and_incident_definitions_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "sensors.csv"
    bad.write_text("id,kind,asset\nP-1,pressure,water/pipe/20\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="junction"):
        read_sensors_csv(bad)
    one = (WaterSensor("P", "pressure", "215"),)
    with pytest.raises(ConfigError, match="tank"):
        simulate(WaterScenario(START_MS, 600.0, (WaterSensor("L", "level", "215"),)))
    with pytest.raises(CityModelError, match="not a junction"):
        simulate(WaterScenario(START_MS, 600.0, one, bursts=(Burst("1", 60.0),)))
    with pytest.raises(ConfigError, match="whole number"):
        simulate(WaterScenario(START_MS, 600.0, one, step_s=0.5))


@pytest.mark.slow
def test_sensors_file_is_what_the_script_writes(tmp_path: Path) -> None:
    from citylifeline.twin import make_demo_sensors

    out = tmp_path / "sensors.csv"
    make_demo_sensors.write(out)
    with open(out, encoding="utf-8") as a, open(SENSORS_CSV, encoding="utf-8") as b:
        fresh, committed = list(csv.reader(a)), list(csv.reader(b))
    assert fresh[0] == committed[0] and len(fresh) == len(committed)
    for new, old in zip(fresh[1:], committed[1:], strict=True):
        for x, y in zip(new, old, strict=True):  # numbers may differ in the last digit across platforms
            if x != y:
                assert abs(float(x) - float(y)) <= 10 ** -(len(y.partition(".")[2])) + 1e-9, (new[0], x, y)


# --- the feed, against a tiny local server ---------------------------------------------------

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


def _readings(t_ms: list[int]) -> TwinOutput:
    ids = np.array(["P-01", "P-02"] * len(t_ms), dtype=object)
    t = np.repeat(np.array(t_ms, dtype=np.int64), 2)
    return TwinOutput(ids, t, np.arange(len(t), dtype=np.float64) * 1000.0)


def test_feed_catches_up_then_never_sends_the_future_and_retries(server: _Server) -> None:
    now_ms = int(time.time() * 1000)
    readings = _readings([now_ms + d for d in range(-60_000, 1601, 400)])  # history, then 1.6 s ahead
    began = time.time()
    stats = feed_mod.feed(readings, server.url, speed=10.0, catch_up_until_ms=now_ms - 10_000,
                          batch_every_s=0.1, chunk=50)
    # the last 10 s of history replay in 1 s at 10x, then the wall clock holds the rest back
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
            feed_mod.feed(_readings([now_ms - 5000]), s.url, catch_up_until_ms=now_ms)
    finally:
        s.httpd.shutdown()
