"""Stores: the ``Store`` contract and its implementations (``open_store`` picks one)."""

from .base import AppendResult, Checkpoint, DeadLetter, IncidentFilter, Store, WarnChanges
from .embedded import EmbeddedStore


def open_store(location: str, memory_limit: str = "2GB") -> Store:
    """The store at ``location``: a ``postgresql://`` URI opens the PostgreSQL store, a file path
    (or ':memory:') the embedded DuckDB store."""
    if location.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(location)
    return EmbeddedStore(location, memory_limit=memory_limit)


__all__ = ["AppendResult", "Checkpoint", "DeadLetter", "EmbeddedStore", "IncidentFilter", "Store",
           "WarnChanges", "open_store"]
