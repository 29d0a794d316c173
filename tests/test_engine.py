"""The engine's two threads: a batch is committed (and acknowledged) while detection is busy, both
queues are bounded, and ``flush`` waits for detection; on each store."""

from __future__ import annotations

import threading
import time

import pytest

from citylifeline.batch import ReadingBatch
from citylifeline.city import CityBundle
from citylifeline.engine import Engine, Overloaded
from citylifeline.ingest import Parsed
from citylifeline.settings import Config


def batch(k: int, value: float = 3.0e5) -> Parsed:
    t_ms = int(time.time() * 1000) - 86_000_000 + 60_000 * k
    return Parsed(ReadingBatch.of([0, 1], [t_ms, t_ms], [value, value]), [], [], 2)


def test_commits_go_on_while_detection_is_busy_and_full_queues_refuse(config: Config, bundle: CityBundle) -> None:
    engine = Engine(config.with_(writer_queue_batches=2), bundle)
    engine.start()
    try:
        release = threading.Event()
        engine.run(release.wait)  # the writer thread (detection, actions) is stuck until released
        first = engine.submit(batch(0))
        assert first.result(10).stored == 2  # committed and acknowledged although nothing can be detected
        acked, refused = [first], 0
        for k in range(1, 12):
            try:
                acked.append(engine.submit(batch(k)))
            except Overloaded as e:
                refused += 1
                assert "busy" in str(e)
            time.sleep(0.05)
        assert refused > 0  # the writer's queue filled, then the store thread's: bounded, not buffered
        assert engine.pipeline.detected_t[0] < 0  # nothing detected yet
        release.set()
        engine.flush(30)
        assert sum(a.result(10).stored for a in acked) == 2 * len(acked) == engine.store.count_readings()
        assert engine.pipeline.detected_t[0] == engine.store.last_t[0]  # every acknowledged batch was detected
    finally:
        release.set()
        engine.stop()


@pytest.mark.parametrize("value", [1.2e5])  # a level-I low pressure
def test_flush_returns_after_the_detection_of_what_was_submitted(engine: Engine, value: float) -> None:
    for k in range(5):
        engine.submit(batch(k, value))
    engine.flush(30)
    assert len(engine.pipeline.correlator.active) == 1  # detected, correlated and saved before flush returned
    assert len(engine.store.events(limit=100)) >= 2
