"""Wide SCADA exports: one time column and one column per sensor, as utilities' historians write
them (BattLeDIM's ``Pressures_m.csv``, ``Flows_m3_h.csv``, ``Levels_m.csv``, ``Demands_L_h.csv``, or
the sheets of its ``2018_SCADA.xlsx``).

A table is *wide* when it has no ``sensor`` column (the long form's).  Its time column is the
one named ``Timestamp``, ``time``, ``t``, ``datetime`` or ``date`` (any case); every other column is
a sensor.  By default a column's name is the sensor's id and its values are in the sensor's
canonical unit, or in the unit an Excel sheet's name ends with in brackets (``Pressures (m)``,
``Demands (L_h)``).
A column map (``citylifeline ingest --map columns.csv``) says otherwise, one rule a line, the first
that matches a column wins::

    table,column,sensor,unit
    Pressures*,*,{column},m
    Demands*,*,AMR-{column},L/h
    Flows*,PUMP_1,,

``table`` is matched (shell patterns) against the file's name, or ``file.xlsx:sheet`` for a sheet;
``column`` against the column's name; ``sensor`` is the id, ``{column}`` standing for the column's
name, and an empty sensor skips the column.  A column no rule and no sensor id matches is an
error that names it, before anything is read.

Each chunk of rows is turned into the long columns by numpy (the time column tiled, the sensor
columns concatenated), so a year of 5-minute readings goes through as a few Arrow arrays, never as
a Python object per cell; an empty cell is no reading and is skipped.  Excel is read by
``fastexcel`` (calamine in Rust, straight to Arrow).
"""

from __future__ import annotations

import csv
import fnmatch
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import ValidationError

TIME_NAMES = ("timestamp", "time", "t", "datetime", "date")
MAP_COLUMNS = ("table", "column", "sensor", "unit")
SHEET_UNIT = re.compile(r"\(([^()]+)\)\s*$")


@dataclass(frozen=True)
class ColumnMap:
    """Rules from a wide table's columns to sensors: (table pattern, column pattern, sensor, unit)."""

    rules: tuple[tuple[str, str, str, str | None], ...] = ()
    source: str = ""

    def sensor(self, table: str, column: str, unit: str | None) -> tuple[str | None, str | None] | None:
        """(sensor id or None to skip, unit) of a column; None when no rule matches."""
        for t_pat, c_pat, sensor, u in self.rules:
            if fnmatch.fnmatchcase(table, t_pat) and fnmatch.fnmatchcase(column, c_pat):
                return (sensor.replace("{column}", column) or None), (u or unit)
        return None


def load_column_map(path: str | Path) -> ColumnMap:
    """A column map from a CSV file with the header ``table,column,sensor,unit``."""
    p = Path(path)
    try:
        rows = list(csv.reader(p.read_text(encoding="utf-8-sig").splitlines()))
    except OSError as e:
        raise ValidationError(f"column map {str(p)!r} cannot be read ({e})", field="map", value=str(p)) from None
    if not rows or [c.strip().lower() for c in rows[0]] != list(MAP_COLUMNS):
        raise ValidationError(f"column map {p}: the first line must be {','.join(MAP_COLUMNS)}", field="map",
                              value=rows[0] if rows else "")
    rules = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(MAP_COLUMNS):
            raise ValidationError(f"column map {p} line {n}: {len(row)} fields; write {len(MAP_COLUMNS)} "
                                  f"({','.join(MAP_COLUMNS)}), an empty sensor to skip a column", field="map",
                                  value=row)
        table, column, sensor, unit = (c.strip() for c in row)
        rules.append((table or "*", column or "*", sensor, unit or None))
    return ColumnMap(tuple(rules), str(p))


@dataclass
class WideTable:
    """A wide table's plan: its time column, and per sensor column its sensor id and unit."""

    table: str
    time: str
    columns: list[str] = field(default_factory=list)
    sensors: list[str] = field(default_factory=list)
    units: list[str | None] = field(default_factory=list)


def is_wide(names: list[str]) -> bool:
    """A table without a ``sensor`` column has a column per sensor."""
    return "sensor" not in names


def plan(table: str, names: list[str], known: Callable[[list[str]], np.ndarray], columns: ColumnMap | None,
         unit: str | None = None) -> WideTable:
    """Which column holds the time and which sensor each other column is; a clear error otherwise."""
    times = [c for c in names if c.strip().lower() in TIME_NAMES]
    if len(times) != 1:
        raise ValidationError(
            f"{table}: a wide table needs one time column named {', '.join(TIME_NAMES)} (any case), found "
            f"{times or 'none'} among {names[:8]}{'…' if len(names) > 8 else ''}; or write the long columns "
            "sensor, t, value", field="columns", value=names[:20])
    out = WideTable(table, times[0])
    unknown = []
    rest = [c for c in names if c != out.time]
    ruled = [columns.sensor(table, c, unit) if columns else None for c in rest]
    plain = [c for c, r in zip(rest, ruled, strict=True) if r is None]
    found = dict(zip(plain, known(plain) >= 0, strict=True)) if plain else {}
    for c, r in zip(rest, ruled, strict=True):
        if r is None:
            if not found[c]:
                unknown.append(c)
                continue
            r = (c, unit)
        if r[0] is not None:
            out.columns.append(c)
            out.sensors.append(r[0])
            out.units.append(r[1])
    if unknown:
        where = f"the column map {columns.source}" if columns else "a column map (citylifeline ingest --map)"
        long = "" if out.columns else "; or, for one reading a row, write the columns sensor, t, value[, unit]"
        raise ValidationError(
            f"{table}: column(s) {unknown[:10]}{'…' if len(unknown) > 10 else ''} are not sensor ids of the city; "
            f"name their sensors (or skip them) in {where}{long}", field="columns", value=unknown[:20])
    return out


def csv_header(p: Path) -> list[str]:
    """The first line's column names of a (possibly compressed) CSV file."""
    with pa.input_stream(str(p), compression="detect") as f:
        first = f.read(1 << 20).split(b"\n", 1)[0].decode("utf-8-sig").rstrip("\r")
    return next(csv.reader([first]))


def open_wide_csv(p: Path, w: WideTable, block_bytes: int) -> Iterator[pa.RecordBatch]:
    """The wide CSV's chunks: the time column as read, the sensor columns as float64."""
    opts = pacsv.ConvertOptions(column_types=dict.fromkeys(w.columns, pa.float64()),
                                include_columns=[w.time, *w.columns], strings_can_be_null=True)
    return iter(pacsv.open_csv(p, convert_options=opts, read_options=pacsv.ReadOptions(block_size=block_bytes)))


def excel_sheets(p: Path) -> Iterator[tuple[str, pa.RecordBatch]]:
    """(``file:sheet``, the sheet as one record batch) of every sheet of an Excel workbook."""
    import fastexcel

    book = fastexcel.read_excel(str(p))
    for name in book.sheet_names:
        yield f"{p.name}:{name}", book.load_sheet(name).to_arrow()


def sheet_unit(table: str) -> str | None:
    """The unit an Excel sheet's name ends with in brackets, if any: ``Pressures (m)`` → ``m``; Excel
    forbids ``/`` in a sheet's name, so ``Flows (m3_h)`` → ``m3/h``."""
    m = SHEET_UNIT.search(table.rsplit(":", 1)[-1])
    return m.group(1).strip().replace("_", "/") if m else None


def to_long(rb: pa.RecordBatch, w: WideTable) -> tuple[pa.RecordBatch, np.ndarray, np.ndarray]:
    """The long columns (sensor, t, value, unit) of a wide chunk, without its empty cells, and for each
    long row the chunk's row and the sensor column it came from (for messages)."""
    n = rb.num_rows
    values = []
    for c in w.columns:
        col = rb.column(rb.schema.get_field_index(c))
        try:
            values.append(col.cast(pa.float64()).to_numpy(zero_copy_only=False))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise ValidationError(f"{w.table}: column {c} holds text that is not a number ({col.type}); clean the "
                                  "export or skip the column in the column map", field=c, value=str(col.type)) from None
    v = np.concatenate(values) if values else np.empty(0)
    keep = np.flatnonzero(~np.isnan(v))
    row, col = keep % n, keep // n
    sensor = pa.DictionaryArray.from_arrays(pa.array(col.astype(np.int32)), pa.array(w.sensors, pa.string()))
    unit_names = sorted({u for u in w.units if u is not None})
    codes = np.array([unit_names.index(u) if u is not None else -1 for u in w.units] or [-1], np.int32)[col]
    unit = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), pa.array(unit_names, pa.string()))
    t = rb.column(rb.schema.get_field_index(w.time)).take(pa.array(row))
    long = pa.record_batch([sensor, t, pa.array(v[keep]), unit], names=["sensor", "t", "value", "unit"])
    return long, row, col
