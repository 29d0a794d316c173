"""PostgreSQL's binary COPY format for readings rows, built and parsed as NumPy arrays.

A readings row is (sensor int4, t_ms int8, value float8, seq int8), never NULL, so every row
has the same 46 bytes: building a batch or reading one back is one structured-array copy, not a
Python object per reading (psycopg's row-by-row ``write_row`` manages about 0.3 M rows/s here).
Rows of text (dead letters) are built by ``encode_table`` as whole Arrow columns, the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..batch import ReadingBatch
from ..errors import StoreError

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # flags, header-extension length
TRAILER = b"\xff\xff"
ROW = np.dtype([("fields", ">i2"), ("l_sensor", ">i4"), ("sensor", ">i4"), ("l_t", ">i4"), ("t_ms", ">i8"),
                ("l_value", ">i4"), ("value", ">f8"), ("l_seq", ">i4"), ("seq", ">i8")])
COLUMNS = "sensor, t_ms, value, seq"


def encode(batch: ReadingBatch, seq: int) -> bytes:
    """The readings of ``batch`` under commit ``seq`` as one binary COPY stream."""
    rows = np.empty(len(batch), dtype=ROW)
    rows["fields"] = 4
    rows["l_sensor"], rows["l_t"], rows["l_value"], rows["l_seq"] = 4, 8, 8, 8
    rows["sensor"], rows["t_ms"], rows["value"], rows["seq"] = batch.sensor, batch.t_ms, batch.value, seq
    return HEADER + rows.tobytes() + TRAILER


def encode_table(table: pa.Table) -> Iterator[pa.Buffer | bytes]:
    """The rows of ``table`` (columns of int64 or UTF-8 text, no NULLs) as a binary COPY stream, in pieces:
    each row is its field count, then each field's length and bytes (big-endian).  Built by Arrow's
    ``binary_join_element_wise`` over whole columns — the length prefixes as fixed-size binary columns made
    by NumPy — so no Python runs per row; the pieces are the header, the joined rows, the trailer."""
    n = table.num_rows
    parts: list[pa.Array] = [_fixed(np.full(n, table.num_columns, ">i2"))]
    for name, col in zip(table.column_names, table.columns, strict=True):
        arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
        if arr.null_count:
            raise StoreError(f"COPY of {name}: NULL values are not written by encode_table")
        if pa.types.is_integer(arr.type):
            fixed = np.empty(n, np.dtype([("len", ">i4"), ("v", ">i8")]))
            fixed["len"], fixed["v"] = 8, arr.to_numpy(zero_copy_only=False)
            parts.append(_fixed(fixed))
        elif pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            parts.append(_fixed(pc.binary_length(arr).to_numpy(zero_copy_only=False).astype(">i4")))
            parts.append(arr.cast(pa.large_binary()))
        else:
            raise StoreError(f"COPY of {name}: type {arr.type} is not written by encode_table")
    yield HEADER
    if n:
        rows = pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.large_binary()))
        offsets = np.frombuffer(rows.buffers()[1], np.int64, n + 1, rows.offset * 8)
        yield rows.buffers()[2][int(offsets[0]):int(offsets[-1])]
    yield TRAILER


def _fixed(a: np.ndarray) -> pa.Array:
    """Each element of ``a`` as its raw bytes, a large_binary array (for ``binary_join_element_wise``)."""
    width = a.dtype.itemsize
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(a), [None, pa.py_buffer(a.tobytes())]).cast(
        pa.large_binary())


def decode(chunks: Iterable[bytes | bytearray | memoryview], rows_per_block: int = 1_000_000) -> Iterator[np.ndarray]:
    """Structured arrays (fields sensor, t_ms, value, seq) of a binary COPY stream of readings rows,
    in blocks of about ``rows_per_block``."""
    buf = bytearray()
    started = False
    for chunk in chunks:
        buf += chunk
        if not started:
            if len(buf) < len(HEADER):
                continue
            if bytes(buf[:len(SIGNATURE)]) != SIGNATURE:
                raise StoreError("the database sent a COPY stream that is not PostgreSQL's binary format")
            skip = len(HEADER) + int.from_bytes(buf[len(SIGNATURE) + 4:len(HEADER)], "big")
            if len(buf) < skip:
                continue
            del buf[:skip]
            started = True
        if len(buf) >= rows_per_block * ROW.itemsize:
            yield from _take(buf)
    if started:
        yield from _take(buf)
        if bytes(buf) != TRAILER:
            raise StoreError(f"the database's COPY stream ended with {len(buf)} stray bytes")


def _take(buf: bytearray) -> Iterator[np.ndarray]:
    """The whole rows at the front of ``buf``, removed from it (the 2-byte trailer never fills a row)."""
    n = len(buf) // ROW.itemsize
    if n <= 0:
        return
    rows = np.frombuffer(bytes(buf[:n * ROW.itemsize]), dtype=ROW)
    del buf[:n * ROW.itemsize]
    if (rows["fields"] != 4).any():
        raise StoreError("the database's COPY stream has rows of another shape than (sensor, t_ms, value, seq)")
    yield rows
