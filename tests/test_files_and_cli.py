"""File ingest (CSV, Parquet) through the pipeline, and the CLI commands around it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from citylifeline.city import CityBundle
from citylifeline.cli import main
from citylifeline.errors import ValidationError
from citylifeline.ingest import Validator, read_file
from citylifeline.settings import Config
from citylifeline.store import EmbeddedStore, IncidentFilter

T0_S = 1_767_225_600  # 2026-01-01T00:00:00Z


def day_table(sensors: list[str], minutes: int = 120, drop_at: int = 60) -> pa.Table:
    """A time-major table: normal pressure, then P-1 drops to level II."""
    s, t, v = [], [], []
    for m in range(minutes):
        for sid in sensors:
            s.append(sid)
            t.append(T0_S + 60 * m)
            low = sid == "P-1" and m >= drop_at
            v.append((140e3 if low else 300e3) + (m % 7) * 10.0)
    return pa.table({"sensor": s, "t": t, "value": v})


def test_csv_and_parquet_give_the_same_batch(tmp_path: Path, bundle: CityBundle, config: Config) -> None:
    tbl = day_table(["P-1", "P-2"], minutes=30)
    pq.write_table(tbl, tmp_path / "r.parquet")
    iso = tbl.set_column(1, "t", pa.array([
        np.datetime_as_string(np.datetime64(int(x), "s"), unit="s") + "+00:00" for x in tbl["t"].to_pylist()]))
    pa.csv.write_csv(iso, tmp_path / "r.csv")
    v = Validator(bundle.sensors, config, lambda: (T0_S + 10**6) * 1000)
    a = [p.batch for p in read_file(tmp_path / "r.parquet", v)]
    b = [p.batch for p in read_file(tmp_path / "r.csv", v, chunk_rows=7)]
    ta, tb = a[0], b[0].concat(b)
    assert len(ta) == 60 and np.array_equal(ta.sensor, tb.sensor) and np.array_equal(ta.t_ms, tb.t_ms)
    assert np.array_equal(ta.value, tb.value)


def test_bad_rows_name_the_file_row_and_field(tmp_path: Path, bundle: CityBundle, config: Config) -> None:
    (tmp_path / "bad.csv").write_text(
        "sensor,t,value,unit\n"
        "P-1,2026-01-01T00:00:00Z,0.3,MPa\n"
        "NOPE,2026-01-01T00:01:00Z,0.3,MPa\n"
        "P-1,2026-01-01 00:02:00,0.3,MPa\n"
        "P-1,2026-01-01T00:03:00Z,,MPa\n"
        "P-1,2026-01-01T00:04:00Z,0.3,furlong\n", encoding="utf-8")
    v = Validator(bundle.sensors, config, lambda: (T0_S + 10**6) * 1000)
    parsed = next(iter(read_file(tmp_path / "bad.csv", v)))
    assert len(parsed.batch) == 1 and parsed.batch.value[0] == pytest.approx(3e5)
    msgs = {r.field: r.message for r in parsed.rejections}
    assert set(msgs) == {"bad.csv row 2: sensor", "bad.csv row 3: t", "bad.csv row 4: value", "bad.csv row 5: unit"}
    assert "no UTC offset" in msgs["bad.csv row 3: t"] and "furlong" in msgs["bad.csv row 5: unit"]
    assert len(parsed.dead_letters) == 4 and parsed.dead_letters[0].source == "file:bad.csv"
    with pytest.raises(ValidationError, match=r"\['id', 'val'\] are not sensor ids.*write the columns sensor, t, "):
        (tmp_path / "cols.csv").write_text("id,time,val\n", encoding="utf-8")
        list(read_file(tmp_path / "cols.csv", v))


def test_naive_local_times_need_a_timezone(tmp_path: Path, bundle: CityBundle, config: Config) -> None:
    (tmp_path / "local.csv").write_text("sensor,t,value\nP-1,2026-01-01 08:00:00,300000\n", encoding="utf-8")
    v = Validator(bundle.sensors, config, lambda: (T0_S + 10**6) * 1000)
    with pytest.raises(ValidationError, match="--timezone"):
        list(read_file(tmp_path / "local.csv", v))
    shanghai = next(iter(read_file(tmp_path / "local.csv", v, naive_tz="Asia/Shanghai"))).batch
    assert shanghai.t_ms.tolist() == [T0_S * 1000]


def test_cli_ingest_then_replay_gives_the_same_incidents(tmp_path: Path, city_dir: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    pq.write_table(day_table(["P-1", "P-2", "P-3"]), tmp_path / "day.parquet")
    db = str(tmp_path / "cli.duckdb")
    assert main(["ingest", "--db", db, "--city", str(city_dir), str(tmp_path / "day.parquet")]) == 0
    out = capsys.readouterr().out
    assert "360 readings" in out and "360 stored" in out and "1 incidents" in out
    assert main(["ingest", "--db", db, "--city", str(city_dir), str(tmp_path / "day.parquet")]) == 0
    assert "0 stored, 360 already stored" in capsys.readouterr().out
    assert main(["replay", "--db", db, "--city", str(city_dir), "--out", str(tmp_path / "out.json")]) == 0
    replayed = json.loads((tmp_path / "out.json").read_text())
    store = EmbeddedStore(db)
    live = [i.to_dict() for i in store.incidents(IncidentFilter())]
    store.close()
    keys = ("lifeline", "level", "sensors", "t_first_ms", "t_last_ms", "event_count", "title")
    assert [{k: i[k] for k in keys} for i in replayed["incidents"]] == [{k: i[k] for k in keys} for i in live]
    assert replayed["readings"] == 360 and replayed["incidents"][0]["level"] == "II"


def test_cli_errors_are_one_line_with_the_fix(tmp_path: Path, city_dir: Path) -> None:
    missing = subprocess.run([sys.executable, "-m", "citylifeline.cli", "ingest", "--db", str(tmp_path / "x.duckdb"),
                              "--city", str(city_dir), str(tmp_path / "nope.csv")], capture_output=True, text=True,
                             timeout=120)
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    no_city = subprocess.run([sys.executable, "-m", "citylifeline.cli", "replay", "--city", str(tmp_path),
                              "--out", str(tmp_path / "o.json")], capture_output=True, text=True, timeout=120)
    assert no_city.returncode == 2 and "city.yaml" in no_city.stderr and "Traceback" not in no_city.stderr


def test_cli_ingest_url_sends_a_file_to_a_running_server(tmp_path: Path, config: Config, bundle: CityBundle,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import time

    from tests.conftest import ADMIN_TOKEN, serving

    with serving(config) as (engine, base):
        now = int(time.time())
        lines = ["sensor,t,value,unit"] + [f"P-1,{now - 600 + 60 * k},{0.3 + 0.001 * k},MPa" for k in range(10)]
        lines.append(f"P-1,{now - 30},0.3,furlong")
        (tmp_path / "r.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        code = main(["ingest", "--url", base, "--token", ADMIN_TOKEN, str(tmp_path / "r.csv")])
        assert code == 1  # one reading refused
        assert "sent 11 readings: 10 stored, 0 already stored, 1 refused" in capsys.readouterr().out
        again = ["ingest", "--url", base, "--token", ADMIN_TOKEN, str(tmp_path / "r.csv")]
        assert main(again) == 1
        assert "0 stored, 10 already stored" in capsys.readouterr().out
        assert engine.store.count_readings() == 10
        assert engine.store.readings(0, (now - 600) * 1000, (now + 1) * 1000).value[-1] == pytest.approx(309e3)


def test_replay_does_not_write_to_the_store_it_reads(tmp_path: Path, bundle: CityBundle, config: Config) -> None:
    from citylifeline.batch import ReadingBatch
    from citylifeline.city.sensors import SensorRegistry
    from citylifeline.offline import replay

    store = EmbeddedStore(tmp_path / "src.duckdb")
    store.register_sensors(SensorRegistry(bundle.sensors.specs[:2]))  # stored before more sensors were defined
    store.append(ReadingBatch.of([1, 0], [T0_S * 1000] * 2, [3e5, 3e5]))
    result = replay(bundle, config, source=store)
    assert store.sensor_ids() == ["P-1", "P-2"] and result.report.received == 2
    store.close()


@pytest.mark.parametrize("codec", [None, "lz4", "zstd"])
def test_an_arrow_streams_readings_and_unpacked_size_are_read_without_unpacking_it(bundle: CityBundle,
                                                                                  codec: str | None) -> None:
    from citylifeline.errors import PayloadTooLarge
    from citylifeline.ingest.arrow_size import stream_size
    from citylifeline.ingest.files import parse_arrow_stream

    def stream(table: pa.Table, chunk: int | None = None) -> bytes:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression=codec)) as w:
            w.write_table(table, max_chunksize=chunk)
        return bytes(sink.getvalue().to_pybytes())

    n = 5000
    table = pa.table({"sensor": pa.array([f"S-{i % 50}" for i in range(n)]).dictionary_encode(),
                      "t": np.arange(n, dtype=np.float64), "unit": [None if i % 3 else "MPa" for i in range(n)]})
    for chunk in (None, 700):
        body = stream(table, chunk)
        back = pa.ipc.open_stream(body).read_all()
        real = sum(b.size for c in back.columns for ch in c.chunks for b in ch.buffers() if b is not None) + \
            back.column("sensor").chunk(0).dictionary.nbytes  # the dictionary is sent once
        rows, size = stream_size(body)
        assert rows == n and real <= size <= real + 64, (rows, size, real)
    # one reading whose sensor id's dictionary unpacks to 8 MiB: refused by the size read from the metadata
    check = Validator(bundle.sensors, Config.load(environ={}, max_payload_bytes=100_000), lambda: T0_S * 1000)
    huge = pa.DictionaryArray.from_arrays(pa.array([0], pa.int32()), pa.array(["P" * (8 << 20)]))
    body = stream(pa.table({"sensor": huge, "t": [float(T0_S)], "value": [0.3]}))
    with pytest.raises(PayloadTooLarge, match=r"unpacks to 83886\d\d bytes; the limit is 256000 \(256 bytes per "
                                              r"reading for 1000 readings\): compress less or split the batch") as e:
        parse_arrow_stream(body, check, 1000, "http")
    assert e.value.field == "body"
    with pytest.raises(PayloadTooLarge, match="holds 5000 readings; the limit is 4999: split the batch"):
        parse_arrow_stream(stream(table), check, 4999, "http")
