"""Wide SCADA exports (a time column and a column per sensor): CSV, gzip and Excel, with a column
map, into the same readings as the long form; errors that name the column and the fix."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import numpy as np
import pytest

from citylifeline.city import CityBundle
from citylifeline.cli import main
from citylifeline.errors import ValidationError
from citylifeline.ingest import Validator, read_file
from citylifeline.settings import Config
from citylifeline.store import EmbeddedStore
from citylifeline.units import WATER_HEAD_PA_PER_M

T0_S = 1_767_225_600  # 2026-01-01T00:00:00Z
NOW_MS = (T0_S + 10**6) * 1000
HEADS = """Timestamp,n1,n4,T1
2026-01-01 08:00:00,30.5,31.25,2.5
2026-01-01 08:05:00,30.25,,2.75
2026-01-01 08:10:00,30.0,31.0,3.0
"""
MAP = """table,column,sensor,unit
Pressures*,n1,P-1,m
Pressures*,n4,P-2,m
Pressures*,T1,L-1,
"""


def readings(paths: list[Path], bundle: CityBundle, config: Config, **kw: object) -> tuple:
    v = Validator(bundle.sensors, config, lambda: NOW_MS)
    parsed = [p for path in paths for p in read_file(path, v, **kw)]
    batch = parsed[0].batch.concat([p.batch for p in parsed])
    return batch, [r for p in parsed for r in p.rejections]


def test_a_wide_gzip_csv_with_a_column_map_gives_the_long_readings(tmp_path: Path, bundle: CityBundle,
                                                                    config: Config) -> None:
    from citylifeline.ingest.wide import load_column_map

    (tmp_path / "Pressures_m.csv.gz").write_bytes(gzip.compress(HEADS.encode()))
    (tmp_path / "map.csv").write_text(MAP, encoding="utf-8")
    batch, bad = readings([tmp_path / "Pressures_m.csv.gz"], bundle, config, naive_tz="Asia/Shanghai",
                          columns=load_column_map(tmp_path / "map.csv"))
    assert not bad and len(batch) == 8  # 9 cells, one empty: no reading
    reg = bundle.sensors
    got = sorted(zip(batch.sensor.tolist(), batch.t_ms.tolist(), batch.value.tolist(), strict=True))
    t = (T0_S + 3600 * (8 - 8)) * 1000  # 08:00 in Shanghai is 00:00 UTC
    assert (reg.idx("P-2"), t + 600_000, pytest.approx(31.0 * WATER_HEAD_PA_PER_M)) in got
    assert (reg.idx("L-1"), t + 300_000, 2.75) in got  # no unit: the sensor's canonical one (m)
    assert not any(s == reg.idx("P-2") and ts == t + 300_000 for s, ts, _ in got)


def test_columns_named_as_sensors_need_no_map_and_others_are_named_in_the_error(tmp_path: Path, bundle: CityBundle,
                                                                                config: Config) -> None:
    (tmp_path / "ok.csv").write_text("time,P-1,F-1\n2026-01-01T00:00:00Z,300000,0.1\n"
                                     "2026-01-01T00:01:00Z,299000,0.2\n", encoding="utf-8")
    batch, bad = readings([tmp_path / "ok.csv"], bundle, config)
    assert not bad and len(batch) == 4 and set(batch.sensor.tolist()) == {bundle.sensors.idx("P-1"),
                                                                          bundle.sensors.idx("F-1")}
    (tmp_path / "Pressures.csv").write_text(HEADS, encoding="utf-8")
    with pytest.raises(ValidationError, match=r"\['n1', 'n4', 'T1'\] are not sensor ids.*column map"):
        readings([tmp_path / "Pressures.csv"], bundle, config, naive_tz="UTC")
    (tmp_path / "none.csv").write_text("P-1,P-2\n1,2\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="one time column named timestamp"):
        readings([tmp_path / "none.csv"], bundle, config)


def test_a_template_rule_maps_many_columns_and_an_empty_sensor_skips_one(tmp_path: Path, bundle: CityBundle,
                                                                          config: Config) -> None:
    from citylifeline.ingest.wide import load_column_map

    (tmp_path / "x.csv").write_text("Timestamp,1,2,3\n2026-01-01T00:00:00Z,0.3,0.31,junk\n", encoding="utf-8")
    (tmp_path / "map.csv").write_text("table,column,sensor,unit\n*,3,,\nx.csv,*,P-{column},MPa\n", encoding="utf-8")
    batch, bad = readings([tmp_path / "x.csv"], bundle, config, columns=load_column_map(tmp_path / "map.csv"))
    assert not bad and sorted(batch.value.tolist()) == [pytest.approx(3.0e5), pytest.approx(3.1e5)]
    (tmp_path / "bad.csv").write_text("table,column\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="first line must be table,column,sensor,unit"):
        load_column_map(tmp_path / "bad.csv")


def test_a_bad_cell_is_refused_by_row_and_column_and_the_rest_kept(tmp_path: Path, bundle: CityBundle,
                                                                    config: Config) -> None:
    (tmp_path / "w.csv").write_text("Timestamp,P-1,P-2\n2026-01-01T00:00:00Z,300000,inf\n"
                                    "2026-01-01T00:01:00Z,301000,302000\nsoon,303000,\n", encoding="utf-8")
    batch, bad = readings([tmp_path / "w.csv"], bundle, config)
    assert len(batch) == 3 and len(bad) == 2
    messages = sorted(r.message for r in bad)  # by the file's line (the header is line 1) and column
    assert messages[0].startswith("w.csv row 2, column P-2: value: inf is not a finite number")
    assert messages[1].startswith("w.csv row 4, column Timestamp: t: 'soon' is not a time")


def test_an_excel_workbook_reads_every_sheet_with_the_unit_its_name_gives(tmp_path: Path, bundle: CityBundle,
                                                                          config: Config) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(tmp_path / "scada.xlsx")
    for name, col, values in (("Pressures (MPa)", "P-1", [0.30, 0.29]), ("Flows (L_s)", "F-1", [100.0, 110.0])):
        sheet = book.add_worksheet(name)
        sheet.write_row(0, 0, ["Timestamp", col])
        for r, v in enumerate(values, start=1):
            sheet.write_row(r, 0, [f"2026-01-01T00:0{r}:00Z", v])
    book.close()
    batch, bad = readings([tmp_path / "scada.xlsx"], bundle, config)
    assert not bad and len(batch) == 4
    by = dict(zip(zip(batch.sensor.tolist(), batch.t_ms.tolist(), strict=True), batch.value.tolist(), strict=True))
    assert by[(bundle.sensors.idx("P-1"), T0_S * 1000 + 60_000)] == pytest.approx(3.0e5)
    assert by[(bundle.sensors.idx("F-1"), T0_S * 1000 + 120_000)] == pytest.approx(0.11)  # 110 L/s in m³/s


def test_cli_ingest_takes_a_wide_export_and_its_map(tmp_path: Path, city_dir: Path) -> None:
    (tmp_path / "Pressures_m.csv").write_text(HEADS, encoding="utf-8")
    (tmp_path / "map.csv").write_text(MAP, encoding="utf-8")
    db = tmp_path / "w.duckdb"
    assert main(["ingest", "--city", str(city_dir), "--db", str(db), "--timezone", "Asia/Shanghai",
                 "--map", str(tmp_path / "map.csv"), str(tmp_path / "Pressures_m.csv")]) == 0
    store = EmbeddedStore(db)
    try:
        assert store.count_readings() == 8
        assert np.isfinite(store.last_value[:3]).any()
    finally:
        store.close()


def test_battledims_2018_exports_go_onto_l_town_with_the_shipped_map() -> None:
    """The competition's own 2018 files: every column of each maps onto the shipped L-Town city, and
    the tank's year goes in whole (105,120 five-minute readings) with nothing refused."""
    from citylifeline.city import load_city
    from citylifeline.city.bundle import demo_city_path
    from citylifeline.ingest.wide import csv_header, load_column_map, plan
    from tests.conftest import shared_bench

    d = shared_bench() / "battledim" / "2018"
    bundle = load_city("ltown")
    columns = load_column_map(demo_city_path("ltown") / "battledim_columns.csv")
    for name, n in (("Pressures_m", 33), ("Flows_m3_h", 3), ("Levels_m", 1), ("Demands_L_h", 82)):
        table = f"{name}.csv.gz"
        assert len(plan(table, csv_header(d / table), bundle.sensors.lookup, columns).sensors) == n
    v = Validator(bundle.sensors, Config.load(environ={}), lambda: NOW_MS)
    parsed = list(read_file(d / "Levels_m.csv.gz", v, naive_tz="UTC", columns=columns))
    batch = parsed[0].batch.concat([p.batch for p in parsed])
    assert len(batch) == 105_120 and not any(p.rejections for p in parsed)
    assert set(batch.sensor.tolist()) == {bundle.sensors.idx("T1")} and 0 < batch.value.min() < batch.value.max() < 10
    assert batch.t_ms.min() == 1_514_764_800_000 and batch.t_ms.max() == 1_546_300_500_000  # 2018, 00:00 to 23:55


def test_files_ingested_together_are_merged_by_time() -> None:
    """A year of pressures and a year of flows go in side by side: each batch holds both files' readings
    up to the earliest time both have been read to, the batches in time order, each chunk's count
    with it."""
    from citylifeline.batch import ReadingBatch
    from citylifeline.ingest.payload import Parsed
    from citylifeline.offline import interleaved

    def chunks(sensor: int, days: list[tuple[int, int]]):  # type: ignore[no-untyped-def]
        for a, b in days:  # a file read a few days at a time, as a wide export is
            t = np.arange(a * 86_400_000, b * 86_400_000, 300_000, dtype=np.int64)
            yield Parsed(ReadingBatch.of(np.full(len(t), sensor), t, np.ones(len(t))), [], [], len(t))

    readers = [chunks(0, [(0, 3), (3, 6), (6, 9)]), chunks(1, [(0, 1), (1, 2), (2, 9)])]
    parts = [p for _, p in interleaved(readers, ["pressures.csv", "flows.csv"])]
    counted = [p for p in parts if p.received]
    merged = [p.batch for p in parts if len(p.batch)]
    assert sum(p.received for p in counted) == 2 * 9 * 288 and all(not len(p.batch) for p in counted)
    assert sum(len(b) for b in merged) == 2 * 9 * 288
    assert all(a.t_ms.max() < b.t_ms.min() for a, b in itertools.pairwise(merged))  # in time order
    assert all(set(b.sensor.tolist()) == {0, 1} for b in merged)  # both files, side by side
