"""Both stores (embedded DuckDB, PostgreSQL): keyed readings, durable appends, warning records,
checkpoints, one writer."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from citylifeline.batch import ReadingBatch
from citylifeline.city import CityBundle
from citylifeline.errors import StoreBusy
from citylifeline.store import Checkpoint, DeadLetter, EmbeddedStore, IncidentFilter, Store, WarnChanges, open_store
from citylifeline.store.postgres import PostgresStore
from citylifeline.warn.model import Event, Incident, Ticket, TimelineEntry

T0 = 1_790_000_000_000


@pytest.fixture
def store(store_location: str, bundle: CityBundle) -> Iterator[Store]:
    s = open_store(store_location, memory_limit="256MB")
    s.register_sensors(bundle.sensors)
    yield s
    s.close()


def batch(sensors: list[int], minutes: list[int], values: list[float] | None = None) -> ReadingBatch:
    vals = values if values is not None else [float(m) for m in minutes]
    return ReadingBatch.of(sensors, [T0 + m * 60_000 for m in minutes], vals)


def test_append_keeps_every_new_reading_and_ignores_redelivery(store: Store) -> None:
    b = batch([0, 1, 0, 1], [0, 0, 1, 1])
    r = store.append(b)
    assert (r.stored, r.duplicates, len(r.new)) == (4, 0, 4)
    again = store.append(b)
    assert (again.stored, again.duplicates, len(again.new)) == (0, 4, 0)
    assert store.count_readings() == 4
    assert store.last_t[:2].tolist() == [T0 + 60_000] * 2


def test_late_and_shuffled_readings_are_stored_once_and_only_new_ones_detected(store: Store) -> None:
    store.append(batch([0], [10]))
    mixed = batch([0, 0, 0, 0, 1, 1], [5, 12, 11, 12, 3, 3], [5.0, 12.0, 11.0, 99.0, 3.0, 3.0])
    r = store.append(mixed)
    assert r.stored == 4  # 5 (late, missing), 11, 12 (new), 3 for sensor 1
    assert r.duplicates == 2  # the second (0, 12) and the second (1, 3)
    assert sorted(zip(r.new.sensor.tolist(), r.new.t_ms.tolist(), strict=True)) == [
        (0, T0 + 11 * 60_000), (0, T0 + 12 * 60_000), (1, T0 + 3 * 60_000)]
    got = store.readings(0, T0, T0 + 3600_000)
    assert ((got.t_ms - T0) // 60_000).tolist() == [5, 10, 11, 12]
    assert got.value.tolist() == [5.0, 10.0, 11.0, 12.0]  # first copy of a repeated key wins
    assert store.append(mixed).stored == 0


def test_readings_survive_reopening_and_replay_in_arrival_order(store_location: str, bundle: CityBundle) -> None:
    path = store_location
    s = open_store(path)
    s.register_sensors(bundle.sensors)
    s.append(batch([1, 0], [5, 5]))
    s.append(batch([0], [1]))  # late
    s.append(batch([0, 1], [6, 6]), [DeadLetter(source="test", reason="bad", field="x")])
    s.close()
    s = open_store(path)
    assert s.count_readings() == 5
    assert s.last_t[:2].tolist() == [T0 + 6 * 60_000] * 2
    chunks = list(s.replay_batches(after_seq=0, chunk_rows=2))
    order = [(int(b.sensor[i]), int((b.t_ms[i] - T0) // 60_000)) for _, b in chunks for i in range(len(b))]
    assert order == [(0, 5), (1, 5), (0, 1), (0, 6), (1, 6)]  # commit order, sensor and time within one
    assert [seq for seq, _ in s.replay_batches(after_seq=2)] == [3]
    assert s.dead_letters()[0]["reason"] == "bad"
    s.close()


def test_sensor_indices_never_change(store_location: str, bundle: CityBundle) -> None:
    path = store_location
    s = open_store(path)
    reg = s.register_sensors(bundle.sensors)
    s.close()
    from citylifeline.city.sensors import SensorRegistry

    reversed_specs = SensorRegistry(list(reversed(bundle.sensors.specs)))
    s = open_store(path)
    again = s.register_sensors(reversed_specs)
    assert again.ids == reg.ids
    dropped = SensorRegistry(bundle.sensors.specs[1:])
    third = s.register_sensors(dropped)
    assert third.ids == reg.ids and not third.active[0] and third.active[1:].all()
    s.close()


def test_warning_records_and_checkpoint_round_trip(store: Store) -> None:
    inc = Incident(id=1, lifeline="water", level=3, state="new", title="t", t_first_ms=T0, t_last_ms=T0,
                   created_at_ms=5, updated_at_ms=5, x=1.0, y=2.0, sensors=["P-1"], assets=["water/junction/123"],
                   event_count=1)
    ev = Event(sensor=0, sensor_id="P-1", t_ms=T0, kind="threshold", level=3, active=True, value=1.0, ref=2.0,
               message="m", id=1, incident_id=1)
    tk = Ticket(id=1, sensor=1, sensor_id="P-2", fault="stuck", state="open", t_opened_ms=T0, t_last_ms=T0,
                created_at_ms=5, updated_at_ms=5, message="stuck")
    cp = Checkpoint(7, {"a.b": np.arange(5), "c.d": np.array([1.5, np.nan])})
    store.save_warnings(WarnChanges(events=[ev], incidents={1: inc}, tickets={1: tk},
                                    timeline=[TimelineEntry(1, 5, "system", "open", "", "new", "x")]), cp)
    assert store.incident(1) == inc
    assert store.events(incident_id=1) == [ev]
    assert store.open_tickets() == [tk]
    assert store.known_events([ev, Event(0, "P-1", T0 + 1, "threshold", 3, True, 1.0, 2.0, "m")]) == [True, False]
    back = store.load_checkpoint()
    assert back is not None and back.seq == 7
    assert np.array_equal(back.arrays["a.b"], np.arange(5)) and np.isnan(back.arrays["c.d"][1])
    inc.state = "resolved"
    store.save_warnings(WarnChanges(incidents={1: inc}))
    assert store.active_incidents() == []
    assert store.incidents(IncidentFilter(states=("resolved",)))[0].state == "resolved"
    assert store.next_ids() == {"events": 2, "incidents": 2, "tickets": 2, "rain_forecasts": 1}


def test_a_second_process_cannot_open_the_store_for_writing(tmp_path: Path) -> None:
    path = tmp_path / "busy.duckdb"
    s = EmbeddedStore(path)
    code = ("import sys\nfrom citylifeline.store import EmbeddedStore\nfrom citylifeline.errors import StoreBusy\n"
            f"try:\n    EmbeddedStore({str(path)!r})\nexcept StoreBusy as e:\n    print(e); sys.exit(3)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    s.close()
    assert out.returncode == 3, out.stderr
    assert "open in another process" in out.stdout and "--url" in out.stdout
    assert issubclass(StoreBusy, Exception)


def test_a_second_writer_cannot_open_the_postgres_store(pg_url: str) -> None:
    s = PostgresStore(pg_url)
    try:
        with pytest.raises(StoreBusy, match="has a writer already"):
            PostgresStore(pg_url)
    finally:
        s.close()
    PostgresStore(pg_url).close()  # free again once the writer has gone


def test_a_dead_letter_of_garbage_with_nul_bytes_is_kept(store: Store) -> None:
    store.append(batch([0], [1]), [DeadLetter(source="mqtt:x", reason="not JSON", field="body",
                                              payload="\x00\x01garbage\x00")])
    kept = store.dead_letters()
    assert store.count_readings() == 1 and kept[0]["payload"] == "\\x00\x01garbage\\x00"


def test_old_days_are_reduced_to_hourly_statistics_and_late_readings_merge(store: Store) -> None:
    day0 = (T0 // 86_400_000 + 1) * 86_400_000  # a UTC midnight
    minutes = list(range(0, 3 * 1440, 30))  # three days, two readings an hour
    store.append(ReadingBatch.of([0] * len(minutes), [day0 + m * 60_000 for m in minutes], [float(m) for m in minutes]))
    assert store.retain(day0 + 2 * 86_400_000 + 5 * 3_600_000) == 2 * 48  # the two whole days before the cut
    assert store.count_readings() == 48
    h = store.hourly(0, 0, 2**62)
    assert len(h["hour_ms"]) == 48 and h["hour_ms"][0] == day0 and set(h["n"].tolist()) == {2}
    assert (h["min"][1], h["max"][1], h["mean"][1]) == (60.0, 90.0, 75.0)
    assert store.readings(0, 0, 2**62).t_ms[0] == day0 + 2 * 86_400_000  # the third day is still raw
    store.append(ReadingBatch.of([0], [day0 + 61 * 60_000], [300.0]))  # late, into an hour already reduced
    assert store.retain(day0 + 2 * 86_400_000) == 1
    h = store.hourly(0, day0 + 3_600_000, day0 + 2 * 3_600_000)
    assert (h["n"][0], h["max"][0], h["mean"][0]) == (3, 300.0, 150.0)
    assert store.retain(day0) == 0


def test_good_readings_and_dead_letters_with_lone_surrogates_and_nul_are_stored_together(
        store: Store, bundle: CityBundle) -> None:
    """Dead-letter text no store could hold as given — lone surrogates (no UTF-8 encodes them), NUL (PostgreSQL's
    text refuses it), in every field — is made storable in one place, so the good readings of the batch and every
    dead letter commit together, whether the letters come as columns (validation) or as a list made by hand."""
    from citylifeline.ingest import Validator
    from citylifeline.ingest.payload import validate_rows
    from citylifeline.settings import Config
    from citylifeline.store.base import DeadLetters

    check = Validator(store.register_sensors(bundle.sensors), Config.load(environ={}), lambda: T0 + 86_400_000)
    good = [{"sensor": "P-1", "t": T0 / 1000 + 60 * k, "value": 0.3} for k in range(3)]
    bad = [{"sensor": "P-\ud800", "t": T0 / 1000, "value": 0.3},
           {"sensor": "P-2", "t": "2026-09-21T10:00:00\udfff", "value": 0.3},
           {"sensor": "P-2\x00", "t": T0 / 1000, "value": 0.3},
           {"sensor": "P-3", "t": T0 / 1000, "value": "0.3\x00\ud83d"},
           {"sensor": "P-3", "t": T0 / 1000, "value": 0.3, "unit": "MPa\x00\udc80"},
           {"sensor": "P-1", "t": T0 / 1000, "value": 0.3, "n\ud800": 1}]
    parsed = validate_rows([good[0], *bad[:3], good[1], *bad[3:], good[2]], check, "http:\ud800\x00")
    assert isinstance(parsed.dead_letters, DeadLetters) and len(parsed.dead_letters) == len(bad)
    r = store.append(parsed.batch, parsed.dead_letters)
    by_hand = [DeadLetter(source="mqtt:a/\udc80", reason="not JSON \ud800", field="body\x00",
                          payload="\x00\ud800" * 3000)]
    store.append(ReadingBatch.empty(), by_hand)
    assert r.stored == 3 and store.count_readings() == 3
    kept = {d["field"]: d for d in store.dead_letters(100)}
    assert len(kept) == len(bad) + 1
    assert kept["readings[1].sensor"]["sensor"] == "P-\\ud800" and kept["readings[1].sensor"]["source"] == \
        "http:\\ud800\\x00"
    assert kept["readings[2].t"]["t"] == "2026-09-21T10:00:00\\udfff"
    assert kept["readings[3].sensor"]["sensor"] == "P-2\\x00" and "did you mean 'P-2'" in \
        kept["readings[3].sensor"]["reason"]
    assert kept["readings[5].value"]["value"] == "0.3\\x00\\ud83d"
    assert kept["readings[6].unit"]["unit"] == "MPa\\x00\\udc80" and "send one of" in kept["readings[6].unit"]["reason"]
    assert "readings[7].n\\ud800" in kept
    letter = kept["body\\x00"]
    assert (letter["source"], letter["reason"]) == ("mqtt:a/\\udc80", "not JSON \\ud800")
    assert len(letter["payload"]) == 4096 and letter["payload"].startswith("\\x00\\ud800\\x00")


def test_dead_letters_as_columns_read_back_as_dead_letters() -> None:
    from citylifeline.store.base import DeadLetters

    letters = DeadLetters.build(3, source="x", reason=["a", "b", "c"], sensor=["P-1", "", "P\x00"])
    assert len(letters) == 3 and letters[2] == DeadLetter(source="x", reason="c", sensor="P\\x00")
    assert [d.reason for d in letters] == ["a", "b", "c"] and len(letters[1:]) == 2 and not DeadLetters.build(0)
    both = DeadLetters.concat([letters, [DeadLetter("", "d")]]).with_source("http")
    assert [d.source for d in both] == ["x", "x", "x", "http"]
    assert DeadLetters.of(list(letters)).table(5).to_pylist() == letters.table(5).to_pylist()
