"""The warning side's tables, made from its record dataclasses, in each store's SQL dialect."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import pyarrow as pa

DUCKDB_TYPES = {"int": "BIGINT", "int | None": "BIGINT", "float": "DOUBLE", "float | None": "DOUBLE",
                "str": "VARCHAR", "bool": "BOOLEAN", "list[str]": "VARCHAR[]"}
POSTGRES_TYPES = DUCKDB_TYPES | {"float": "DOUBLE PRECISION", "float | None": "DOUBLE PRECISION", "str": "TEXT",
                                 "list[str]": "TEXT[]"}

ARROW_TYPES = {"int": pa.int64(), "int | None": pa.int64(), "float": pa.float64(), "float | None": pa.float64(),
               "str": pa.string(), "bool": pa.bool_(), "list[str]": pa.list_(pa.string())}


def table_sql(name: str, record: type, key: str | None, types: dict[str, str]) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``record``'s fields, ``key`` the primary key."""
    cols = [f"{f.name} {types[str(f.type)]}" + (" PRIMARY KEY" if f.name == key else "") for f in fields(record)]
    return f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(cols)})"


def columns(record: type) -> str:
    """The record's column list, in field order."""
    return ", ".join(f.name for f in fields(record))


def marks(record: type, mark: str = "?") -> str:
    """One placeholder per field."""
    return ", ".join(mark for _ in fields(record))


def arrow_table(record: type, rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    """``rows`` (tuples of ``record``'s fields) as an Arrow table: an embedded store inserts a thousand
    events with one statement instead of a thousand."""
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(fields(record))
    return pa.table({f.name: pa.array(c, ARROW_TYPES[str(f.type)]) for f, c in zip(fields(record), cols, strict=True)})
