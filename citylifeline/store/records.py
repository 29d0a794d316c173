"""The warning side's tables, made from its record dataclasses, in each store's SQL dialect."""

from __future__ import annotations

from dataclasses import fields

DUCKDB_TYPES = {"int": "BIGINT", "int | None": "BIGINT", "float": "DOUBLE", "float | None": "DOUBLE",
                "str": "VARCHAR", "bool": "BOOLEAN", "list[str]": "VARCHAR[]"}
POSTGRES_TYPES = DUCKDB_TYPES | {"float": "DOUBLE PRECISION", "float | None": "DOUBLE PRECISION", "str": "TEXT",
                                 "list[str]": "TEXT[]"}


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
