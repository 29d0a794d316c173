"""The pipeline over files and stored data, as fast as the machine allows: ingest and replay.

``ingest_files`` pushes CSV/Parquet readings through the same ``Pipeline`` the server uses
(validation → durable store → detectors → incidents).  ``replay`` runs a fresh pipeline, on a
throw-away in-memory store, over readings already stored (in the order they arrived) or over
files, and returns the events, incidents and tickets it produced — the same ones the live run
produced when the data arrived in the same order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .batch import ReadingBatch
from .city.bundle import CityBundle
from .forecasts import KEPT, RainForecastRecord
from .ingest import Validator, read_file
from .ingest.payload import Parsed
from .ingest.validate import Rejection
from .ingest.wide import ColumnMap
from .pipeline import Pipeline
from .settings import Config
from .store.base import IncidentFilter, Store
from .store.embedded import EmbeddedStore

Progress = Callable[[int, float], None]  # (readings so far, seconds so far)


@dataclass
class IngestReport:
    """Counts of a file ingest or a replay."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    events: int = 0
    incidents_changed: set[int] = field(default_factory=set)
    tickets_changed: set[int] = field(default_factory=set)
    seconds: float = 0.0
    first_rejections: list[Rejection] = field(default_factory=list)

    @property
    def readings_per_s(self) -> float:
        """Throughput of the run."""
        return self.received / self.seconds if self.seconds > 0 else 0.0


def ingest_files(pipeline: Pipeline, paths: Iterable[str | Path], naive_tz: str | None = None,
                 chunk_rows: int = 1_000_000, progress: Progress | None = None,
                 columns: ColumnMap | None = None) -> IngestReport:
    """Validate, store and run detection over the readings in ``paths`` (wide exports mapped by ``columns``)."""
    report = IngestReport()
    validator = Validator(pipeline.registry, pipeline.config, pipeline.clock)
    start = time.perf_counter()
    paths = list(paths)
    readers = [read_file(p, validator, chunk_rows, naive_tz, columns) for p in paths]
    for path, parsed in interleaved(readers, paths):
        result, changes = pipeline.ingest(parsed.batch, parsed.dead_letters, f"file:{Path(path).name}")
        report.received += parsed.received
        report.stored += result.stored
        report.duplicates += result.duplicates
        report.rejected += len(parsed.rejections)
        report.first_rejections.extend(parsed.rejections[: max(0, 5 - len(report.first_rejections))])
        report.events += len(changes.events)
        report.incidents_changed.update(changes.incidents)
        report.tickets_changed.update(changes.tickets)
        if progress:
            progress(report.received, time.perf_counter() - start)
    pipeline.close()
    report.seconds = time.perf_counter() - start
    return report


def interleaved(readers: list[Iterator[Parsed]], paths: list[str | Path]) -> Iterator[tuple[str | Path, Parsed]]:
    """The readings of several files merged by time: a utility's exports — one file per kind of
    sensor, each a year long — go in side by side, as the analysts that compare kinds of sensor
    at the same moment need them.  Each file is read a chunk ahead, and each batch handed on holds
    every file's readings up to the earliest time all of them have been read to; a chunk's refused
    readings and its count go in as it is read (with no readings).  One file goes in as it is read."""
    if len(readers) == 1:
        for parsed in readers[0]:
            yield paths[0], parsed
        return
    srcs = [_Source(path, it) for path, it in zip(paths, readers, strict=True)]
    while True:
        for src in srcs:
            refused = src.refill()
            if refused is not None:
                yield src.path, refused
        pending = [src for src in srcs if src.pos < len(src.t_ms)]
        if not pending:
            return
        cut = min((src.frontier for src in srcs if not src.done), default=2**62)
        yield "files", Parsed(ReadingBatch.concat([src.take(cut) for src in pending]), [], [], 0)


class _Source:
    """One file of ``interleaved``: its reader, its chunk in time order, how far it has been read."""

    def __init__(self, path: str | Path, it: Iterator[Parsed]) -> None:
        self.path, self.it = path, it
        self.rows = ReadingBatch.empty()
        self.t_ms = self.rows.t_ms
        self.pos = 0
        self.frontier = -(2**62)
        self.done = False

    def refill(self) -> Parsed | None:
        """Read the next chunk once this one is handed on; its refusals and count, to go in at once."""
        if self.done or self.pos < len(self.t_ms):
            return None
        nxt = next(self.it, None)
        if nxt is None:
            self.done = True
            return None
        order = np.argsort(nxt.batch.t_ms, kind="stable")
        self.rows, self.pos = nxt.batch.take(order), 0
        self.t_ms = self.rows.t_ms
        if len(self.t_ms):
            self.frontier = max(self.frontier, int(self.t_ms[-1]))
        return Parsed(ReadingBatch.empty(), nxt.rejections, nxt.dead_letters, nxt.received)

    def take(self, cut: int) -> ReadingBatch:
        """The rows up to ``cut``."""
        end = int(np.searchsorted(self.t_ms, cut, side="right"))
        part = self.rows.slice(self.pos, end)
        self.pos = end
        return part


@dataclass
class ReplayResult:
    """What a replay produced."""

    report: IngestReport
    events: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    tickets: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``citylifeline replay --out`` writes)."""
        r = self.report
        return {"readings": r.received, "seconds": round(r.seconds, 3), "readings_per_s": round(r.readings_per_s),
                "events": self.events, "incidents": self.incidents, "tickets": self.tickets}


def replay(bundle: CityBundle, config: Config, source: Store | None = None, files: Iterable[str | Path] = (),
           naive_tz: str | None = None, chunk_rows: int = 1_000_000,
           progress: Progress | None = None, rain_forecasts: Sequence[RainForecastRecord] = ()) -> ReplayResult:
    """Run a fresh pipeline over ``source``'s stored readings (arrival order) and/or ``files``, with
    ``source``'s rain forecasts and ``rain_forecasts`` given to it first."""
    if source is not None:  # keep the source's sensor indices (without writing to it), so no remapping
        bundle = CityBundle(bundle.city, bundle.sensors.reconcile(source.sensor_ids()), bundle.path, bundle.config)
    memory = EmbeddedStore(":memory:", memory_limit=config.memory_limit)
    pipeline = Pipeline(bundle, memory, config.with_(checkpoint_interval_s=1e12))
    forecasts = [*(source.rain_forecasts(KEPT) if source is not None else []), *rain_forecasts]
    if forecasts:
        pipeline.rain_forecasts(forecasts)
    report = IngestReport()
    start = time.perf_counter()
    if source is not None:
        for _, batch in source.replay_batches(after_seq=0, chunk_rows=chunk_rows):
            result, changes = pipeline.ingest(batch)
            report.received += len(batch)
            report.stored += result.stored
            report.events += len(changes.events)
            if progress:
                progress(report.received, time.perf_counter() - start)
    files = list(files)
    if files:
        sub = ingest_files(pipeline, files, naive_tz, chunk_rows, progress)
        report.received += sub.received
        report.stored += sub.stored
        report.rejected += sub.rejected
        report.events += sub.events
    report.seconds = time.perf_counter() - start
    events = [e.to_dict() for e in reversed(memory.events(limit=10_000_000))]
    incidents = [i.to_dict() for i in memory.incidents(IncidentFilter(limit=10_000_000))]
    tickets = [t.to_dict() for t in memory.tickets(limit=10_000_000)]
    memory.close()
    return ReplayResult(report, events, incidents, tickets)
