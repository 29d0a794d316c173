"""Columnar readings: CSV (also gzipped), Parquet and Excel files read in chunks with pyarrow, and
Arrow IPC streams (the fast body of ``POST /api/v1/readings`` and of MQTT gateway messages).  A
file without a ``sensor`` column is a wide SCADA export, turned long by ``wide``.

Columns: ``sensor`` (id), ``t`` (ISO-8601 text, epoch seconds, or an Arrow/Parquet timestamp),
``value`` (number) and optionally ``unit``.  Times without a UTC offset are refused unless a
time zone is given (``citylifeline ingest --timezone Asia/Shanghai``).  Sensor ids and units are
dictionary-encoded, so each distinct id or unit is looked up once per chunk, not once per row.

An Arrow stream may be compressed (LZ4 or ZSTD buffers): its size once unpacked is read from each
message's metadata and bounded (``unpacked_limit``) before anything is decompressed, so a few
kilobytes that would unpack to gigabytes are refused as cheaply as they arrived.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import PayloadTooLarge, ValidationError
from ..store.base import DeadLetters
from . import wide
from .arrow_size import stream_size
from .payload import Parsed
from .validate import (
    BAD_TIME,
    NAIVE_TIME,
    Rejection,
    Validator,
    assemble,
    merge_by_reading,
    parse_iso,
    seconds_to_ms,
)
from .wide import ColumnMap

REQUIRED = ("sensor", "t", "value")
ARROW_STREAM = "application/vnd.apache.arrow.stream"  # the media type of an Arrow IPC stream
UNPACKED_BYTES_PER_READING = 256
"""How many bytes an Arrow stream may unpack to per reading it may hold.  A reading's columns take some
30 to 100 bytes (t and value 8 each; sensor id and unit as text with 4-byte offsets, or dictionary codes);
256 leaves room for long ids and an extra column or two.  With the default ``max_batch_readings``
(200,000) a stream may unpack to 51 MB: about what the JSON path holds for a maximal body, and far below
what a compressed body can claim (32 KB of ZSTD can unpack to gigabytes)."""


def read_file(path: str | Path, validator: Validator, chunk_rows: int = 1_000_000,
              naive_tz: str | None = None, columns: ColumnMap | None = None) -> Iterator[Parsed]:
    """Validated chunks of the readings in a .csv (or .csv.gz), .parquet or Excel file, long or wide
    (``wide``: a time column and a column per sensor, mapped by ``columns``)."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"file {str(p)!r} not found", field="path", value=str(p))
    name = p.name.lower()
    kind = next((k for k, ends in FILE_KINDS.items() if name.endswith(ends)), None)
    if kind == "excel":
        for table, rb in wide.excel_sheets(p):
            yield from _tables(table, iter([rb]), validator, naive_tz, columns, wide.sheet_unit(table))
        return
    if kind == "parquet":
        pf = pq.ParquetFile(p)
        names, batches = pf.schema_arrow.names, pf.iter_batches(batch_size=chunk_rows)
    elif kind == "csv":
        names = wide.csv_header(p)
        if wide.is_wide(names):
            w = wide.plan(p.name, names, validator.registry.lookup, columns)
            yield from _wide(p.name, _csv_rows(p, lambda: wide.open_wide_csv(p, w, WIDE_BLOCK_BYTES)), w, validator,
                             naive_tz)
            return
        opts = pacsv.ConvertOptions(column_types={"sensor": pa.string(), "unit": pa.string()},
                                    strings_can_be_null=True)
        batches = _csv_rows(p, lambda: pacsv.open_csv(p, convert_options=opts,
                                                      read_options=pacsv.ReadOptions(block_size=64 << 20)))
    else:
        raise ValidationError(f"{p}: unknown file type {p.suffix!r}; use .csv, .csv.gz, .parquet or .xlsx",
                              field="path", value=str(p))
    yield from _tables(p.name, batches, validator, naive_tz, columns, None, names)


WIDE_BLOCK_BYTES = 1 << 19
"""A wide export is read in blocks this size (a few days of a year's file), so that several exports
interleave by time (``offline.interleaved``)."""
FILE_KINDS = {"csv": (".csv", ".txt", ".csv.gz", ".txt.gz"), "parquet": (".parquet",),
              "excel": (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")}


def _csv_rows(p: Path, open_reader: Callable[[], Iterator[pa.RecordBatch]]) -> Iterator[pa.RecordBatch]:
    """A CSV reader's chunks, its errors named by file."""
    try:
        reader = open_reader()
    except pa.ArrowInvalid as e:
        raise ValidationError(f"{p}: not a readable CSV file ({e})", field="path", value=str(p)) from None
    try:
        yield from reader
    except pa.ArrowInvalid as e:
        raise ValidationError(f"{p}: cannot read on ({e}); fix that cell of the file, or skip its column with a "
                              "column map (citylifeline ingest --map), and ingest it again: what was stored stays, "
                              "once", field="path", value=str(p)) from None


def _tables(table: str, batches: Iterator[pa.RecordBatch], validator: Validator, naive_tz: str | None,
            columns: ColumnMap | None, unit: str | None, names: list[str] | None = None) -> Iterator[Parsed]:
    """Long chunks validated as they are; a wide table's turned long first."""
    first = next(batches, None)
    if first is None:
        return
    names = names or first.schema.names
    rest = itertools.chain([first], batches)
    if not wide.is_wide(names):
        _check_columns(names, table)
        row0 = 0
        for rb in rest:
            yield validate_arrow(rb, validator, table, f"file:{table}", row0, naive_tz)
            row0 += rb.num_rows
        return
    w = wide.plan(table, names, validator.registry.lookup, columns, unit)
    yield from _wide(table, rest, w, validator, naive_tz)


def _wide(table: str, batches: Iterator[pa.RecordBatch], w: wide.WideTable, validator: Validator,
          naive_tz: str | None) -> Iterator[Parsed]:
    row0 = 0
    for rb in batches:
        long, row, col = wide.to_long(rb, w)
        at = row0

        def namer(i: int, field: str, row: np.ndarray = row, col: np.ndarray = col, at: int = at) -> str:
            where = w.time if field == "t" else w.columns[int(col[i])]
            return f"{table} row {at + int(row[i]) + 2}, column {where}: {field}"  # + the header line

        yield validate_arrow(long, validator, table, f"file:{table}", naive_tz=naive_tz, namer=namer)
        row0 += rb.num_rows


def unpacked_limit(max_readings: int, max_body_bytes: int) -> int:
    """The most bytes an Arrow stream may unpack to: ``UNPACKED_BYTES_PER_READING`` per reading it may hold,
    and never less than the largest body accepted (so a stream sent uncompressed is never refused by it)."""
    return max(max_readings * UNPACKED_BYTES_PER_READING, max_body_bytes)


def parse_arrow_stream(body: bytes, validator: Validator, max_readings: int, source: str) -> Parsed:
    """Validate readings sent as an Arrow IPC stream (``application/vnd.apache.arrow.stream``): the
    columns of a readings file, any number of record batches, buffers compressed or not; the body is
    refused whole if it is not such a stream, lacks a column, holds more than ``max_readings`` or would
    unpack to more than ``unpacked_limit`` bytes (those two checked before anything is decompressed)."""
    try:
        rows, size = stream_size(body)
    except (pa.ArrowException, OSError, ValueError, struct.error) as e:
        raise _not_a_stream(body, e) from None
    if rows > max_readings:
        raise PayloadTooLarge(f"the Arrow stream holds {rows} readings; the limit is {max_readings}: split the batch",
                              field="body", value=rows)
    limit = unpacked_limit(max_readings, validator.config.max_payload_bytes)
    if size > limit:
        raise PayloadTooLarge(f"the Arrow stream unpacks to {size} bytes; the limit is {limit} "
                              f"({UNPACKED_BYTES_PER_READING} bytes per reading for {max_readings} readings): "
                              "compress less or split the batch", field="body", value=size)
    try:
        table = pa.ipc.open_stream(body).read_all()
        names = table.schema.names
    except (pa.ArrowException, OSError, ValueError) as e:  # ValueError: a name that is not UTF-8
        raise _not_a_stream(body, e) from None
    _check_columns(names, "the Arrow stream")
    table = table.select([c for c in (*REQUIRED, "unit") if c in names])  # only the columns read
    try:
        table.validate(full=True)  # offsets in bounds and strings UTF-8, before any value is read
    except (pa.ArrowException, ValueError) as e:
        raise _not_a_stream(body, e) from None
    return validate_arrow(table.combine_chunks().to_batches()[0] if table.num_rows else
                          pa.RecordBatch.from_pylist([], table.schema), validator, "arrow", source)


def _not_a_stream(body: bytes, e: Exception) -> ValidationError:
    return ValidationError(f"the body is not an Arrow IPC stream ({e}); send the columns sensor, t, value "
                           "(and optionally unit) written with pyarrow.ipc.new_stream", field="body",
                           value=body[:16].hex())


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
                   naive_tz: str | None = None, namer: Callable[[int, str], str] | None = None) -> Parsed:
    """Validate a record batch of readings as whole columns; ``where`` names it in messages (a file's
    name, say), ``source`` in dead letters; ``namer`` names a reading's field where rows are not the batch's."""
    def name(i: int, col: str) -> str:
        return namer(i, col) if namer else f"{where} row {row0 + i + 1}: {col}"

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
    t_col = rb.column(rb.schema.get_field_index("t"))
    raw_t = _Lazy(t_col)
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
    rows = pa.array([r.index for r in rejections], pa.int64())
    raw = {"sensor": sensor_col, "t": t_col, "value": values, **({"unit": unit_col} if unit_col is not None else {})}
    dead = DeadLetters.build(len(rejections), source=source, reason=[r.message for r in rejections],
                             field=[r.field for r in rejections], **{k: _raw_text(c, rows) for k, c in raw.items()})
    return Parsed(batch, rejections, dead, n)


def _raw_text(col: pa.Array, rows: pa.Array) -> pa.Array:
    """The values of ``col`` at ``rows`` as text of at most 200 characters, for dead letters (a timestamp
    beyond the years 1-9999 as its count of units since 1970)."""
    part = col.take(rows)
    if pa.types.is_timestamp(part.type):
        beyond = pc.binary_join_element_wise(part.cast(pa.int64()).cast(pa.string()),
                                             f" {part.type.unit} after 1970-01-01 (beyond the year 9999)", "")
        return pc.if_else(pa.array(_in_datetime_range(part)), part.cast(pa.string()), beyond)
    return pc.utf8_slice_codeunits(part.cast(pa.string()), 0, 200)


_DATETIME_S = (-62_135_596_800, 253_402_300_799)  # the years 1 to 9999, the range of Python's datetime
_PER_S = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _in_datetime_range(col: pa.Array) -> np.ndarray:
    """Where the values of a timestamp column fall in the years 1-9999 (nulls too): beyond, no reading's
    time is plausible, a cast to milliseconds may wrap around, and Python cannot show the value."""
    per = _PER_S[col.type.unit]
    lo, hi = max(_DATETIME_S[0] * per, -2**63), min(_DATETIME_S[1] * per, 2**63 - 1)
    raw = col.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    return (raw >= lo) & (raw <= hi)


def _times(col: pa.Array, naive_tz: str | None, where: str) -> np.ndarray:
    if pa.types.is_timestamp(col.type):
        in_range = _in_datetime_range(col)
        if col.type.tz is None:
            if naive_tz is None:
                raise ValidationError(f"{where}: column t has times without a time zone; give one with "
                                      "--timezone (e.g. Asia/Shanghai) or write UTC times", field="t",
                                      value=str(col.type))
            col = pc.assume_timezone(col, naive_tz, ambiguous="earliest", nonexistent="earliest")
        ms = col.cast(pa.timestamp("ms", tz="UTC"), safe=False).cast(pa.int64())
        out = ms.fill_null(NAIVE_TIME - 1).to_numpy(zero_copy_only=False).copy()
        out[~in_range] = BAD_TIME  # refused as not a time, each on its own
        return out
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return seconds_to_ms(col.cast(pa.float64(), safe=False).fill_null(np.nan).to_numpy(zero_copy_only=False))
    text = col.cast(pa.string()).fill_null("").to_pylist()
    return parse_iso(text, naive_tz)


class _Lazy:
    """Index an Arrow array only where a message needs the raw value."""

    def __init__(self, arr: pa.Array) -> None:
        self.arr = arr

    def __getitem__(self, i: int) -> object:
        value = self.arr[int(i)]
        try:
            return value.as_py()
        except (OverflowError, ValueError):  # a timestamp Python's datetime cannot hold: as _raw_text shows it
            return _raw_text(self.arr, pa.array([int(i)], pa.int64()))[0].as_py()
