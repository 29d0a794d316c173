"""Columnar readings: CSV and Parquet files read in chunks with pyarrow, and Arrow IPC streams (the
fast body of ``POST /api/v1/readings`` and of MQTT gateway messages).

Columns: ``sensor`` (id), ``t`` (ISO-8601 text, epoch seconds, or an Arrow/Parquet timestamp),
``value`` (number) and optionally ``unit``.  Times without a UTC offset are refused unless a
time zone is given (``citylifeline ingest --timezone Asia/Shanghai``).  Sensor ids and units are
dictionary-encoded, so each distinct id or unit is looked up once per chunk, not once per row.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import PayloadTooLarge, ValidationError
from .payload import Parsed
from .validate import (
    NAIVE_TIME,
    Rejection,
    Validator,
    assemble,
    merge_by_reading,
    parse_iso,
    seconds_to_ms,
)

REQUIRED = ("sensor", "t", "value")
ARROW_STREAM = "application/vnd.apache.arrow.stream"  # the media type of an Arrow IPC stream


def read_file(path: str | Path, validator: Validator, chunk_rows: int = 1_000_000,
              naive_tz: str | None = None) -> Iterator[Parsed]:
    """Validated chunks of the readings in a .csv or .parquet file."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"file {str(p)!r} not found", field="path", value=str(p))
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        pf = pq.ParquetFile(p)
        _check_columns(pf.schema_arrow.names, p)
        batches: Iterator[pa.RecordBatch] = pf.iter_batches(batch_size=chunk_rows)
    elif suffix in (".csv", ".txt"):
        opts = pacsv.ConvertOptions(column_types={"sensor": pa.string(), "unit": pa.string()},
                                    strings_can_be_null=True)
        try:
            reader = pacsv.open_csv(p, convert_options=opts, read_options=pacsv.ReadOptions(block_size=64 << 20))
        except pa.ArrowInvalid as e:
            raise ValidationError(f"{p}: not a readable CSV file ({e})", field="path", value=str(p)) from None
        _check_columns(reader.schema.names, p)
        batches = iter(reader)
    else:
        raise ValidationError(f"{p}: unknown file type {suffix!r}; use .csv or .parquet", field="path",
                              value=str(p))
    row0 = 0
    try:
        for rb in batches:
            yield validate_arrow(rb, validator, p.name, f"file:{p.name}", row0, naive_tz)
            row0 += rb.num_rows
    except pa.ArrowInvalid as e:
        raise ValidationError(f"{p}: cannot read rows after row {row0}: {e}", field="path", value=str(p)) from None


def parse_arrow_stream(body: bytes, validator: Validator, max_readings: int, source: str) -> Parsed:
    """Validate readings sent as an Arrow IPC stream (``application/vnd.apache.arrow.stream``): the
    columns of a readings file, any number of record batches; the body is refused whole if it is not
    such a stream, lacks a column or holds more than ``max_readings``."""
    try:
        table = pa.ipc.open_stream(body).read_all()
        table.validate(full=True)  # offsets in bounds and strings UTF-8, before any value is read
    except (pa.ArrowException, OSError, ValueError) as e:  # ValueError: a name that is not UTF-8
        raise ValidationError(f"the body is not an Arrow IPC stream ({e}); send the columns sensor, t, value "
                              "(and optionally unit) written with pyarrow.ipc.new_stream", field="body",
                              value=body[:16].hex()) from None
    _check_columns(table.schema.names, "the Arrow stream")
    if table.num_rows > max_readings:
        raise PayloadTooLarge(f"the stream holds {table.num_rows} readings; the limit is {max_readings}: "
                              "split the batch", field="readings", value=table.num_rows)
    return validate_arrow(table.combine_chunks().to_batches()[0] if table.num_rows else
                          pa.RecordBatch.from_pylist([], table.schema), validator, "arrow", source)


def _check_columns(names: list[str], where: object) -> None:
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ValidationError(f"{where}: missing column(s) {missing}; readings have columns "
                              "sensor, t, value and optionally unit", field="columns", value=names)
    twice = sorted({c for c in names if c in (*REQUIRED, "unit") and names.count(c) > 1})
    if twice:
        raise ValidationError(f"{where}: column(s) {twice} appear more than once; write each once",
                              field="columns", value=names)


def _is_text(t: pa.DataType) -> bool:
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)
            or (pa.types.is_dictionary(t) and _is_text(t.value_type)))


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


COLUMN_TYPES = {  # column: (accepts its Arrow type, what to write instead)
    "sensor": (_is_text, "text (string)"),
    "t": (lambda t: pa.types.is_timestamp(t) or _is_number(t) or _is_text(t),
          "a timestamp, epoch seconds or ISO-8601 text"),
    "value": (lambda t: _is_number(t) or _is_text(t), "numbers"),
    "unit": (_is_text, "text (string)"),
}


def _check_types(schema: pa.Schema, where: object) -> None:
    for col, (accepts, instead) in COLUMN_TYPES.items():
        if col in schema.names and not accepts(schema.field(col).type):
            raise ValidationError(f"{where}: column {col} has type {schema.field(col).type}; write {instead}",
                                  field=col, value=str(schema.field(col).type))


def validate_arrow(rb: pa.RecordBatch, v: Validator, where: str, source: str, row0: int = 0,
                   naive_tz: str | None = None) -> Parsed:
    """Validate a record batch of readings as whole columns; ``where`` names it in messages (a file's
    name, say), ``source`` in dead letters."""
    def name(i: int, col: str) -> str:
        return f"{where} row {row0 + i + 1}: {col}"

    _check_columns(rb.schema.names, where)
    _check_types(rb.schema, where)
    out: list[Rejection] = []
    n = rb.num_rows
    sensor_col = rb.column(rb.schema.get_field_index("sensor"))
    enc = sensor_col if pa.types.is_dictionary(sensor_col.type) else pc.dictionary_encode(sensor_col.cast(pa.string()))
    codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    by_code = np.append(v.registry.lookup_arrow(enc.dictionary), -1).astype(np.int32)  # code -1: no id
    idx = by_code[codes]
    if (idx < 0).any():
        bad = np.flatnonzero(idx < 0)
        ids = sensor_col.take(pa.array(bad)).to_pylist()
        found: list[Rejection] = []
        v.sensors(ids, lambda j, col: name(int(bad[j]), col), found)
        out.extend(Rejection(int(bad[r.index]), r.field, r.value, r.message) for r in found)
    t_ms = _times(rb.column(rb.schema.get_field_index("t")), naive_tz, where)
    values = rb.column(rb.schema.get_field_index("value"))
    try:
        vals = values.cast(pa.float64(), safe=not _is_number(values.type)).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ValidationError(f"{where}: column value is not numeric ({values.type}); write numbers only",
                              field="value", value=str(values.type)) from None
    raw_t = _Lazy(rb.column(rb.schema.get_field_index("t")))
    raw_v = _Lazy(values)
    v.check_times(t_ms, raw_t, name, out)  # type: ignore[arg-type]
    v.check_values(vals, np.zeros(n, np.bool_), raw_v, name, out)  # type: ignore[arg-type]
    unit_col = rb.column(rb.schema.get_field_index("unit")) if "unit" in rb.schema.names else None
    if unit_col is not None:
        uenc = pc.dictionary_encode(unit_col.cast(pa.string()))
        codes = uenc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
        vals = v.units(idx, vals, codes, uenc.dictionary.to_pylist(), name, out)
    rejections = merge_by_reading(out)
    batch, _ = assemble(idx, t_ms, vals, rejections)
    raw_unit = _Lazy(unit_col) if unit_col is not None else None
    dead = [r.dead_letter(source, _Lazy(sensor_col)[r.index], raw_t[r.index], raw_v[r.index],
                          raw_unit[r.index] if raw_unit else None) for r in rejections]
    return Parsed(batch, rejections, dead, n)


def _times(col: pa.Array, naive_tz: str | None, where: str) -> np.ndarray:
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            if naive_tz is None:
                raise ValidationError(f"{where}: column t has times without a time zone; give one with "
                                      "--timezone (e.g. Asia/Shanghai) or write UTC times", field="t",
                                      value=str(col.type))
            col = pc.assume_timezone(col, naive_tz, ambiguous="earliest", nonexistent="earliest")
        ms = col.cast(pa.timestamp("ms", tz="UTC"), safe=False).cast(pa.int64())
        return ms.fill_null(NAIVE_TIME - 1).to_numpy(zero_copy_only=False)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return seconds_to_ms(col.cast(pa.float64(), safe=False).fill_null(np.nan).to_numpy(zero_copy_only=False))
    text = col.cast(pa.string()).fill_null("").to_pylist()
    return parse_iso(text, naive_tz)


class _Lazy:
    """Index an Arrow array only where a message needs the raw value."""

    def __init__(self, arr: pa.Array) -> None:
        self.arr = arr

    def __getitem__(self, i: int) -> object:
        return self.arr[int(i)].as_py()
