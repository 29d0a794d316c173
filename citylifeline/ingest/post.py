"""Send a readings file to a running server over HTTP (``citylifeline ingest --url``).

The embedded store has one writer — the server — so while it runs, files go in through its
API like any other client.  Each request is acknowledged after commit; a failed request is
retried, which is harmless because (sensor, time) duplicates are ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import StoreError, ValidationError
from .validate import NAIVE_TIME, parse_iso

BATCH = 10_000
RETRIES = 8


class PostReport:
    """Totals over all requests."""

    def __init__(self) -> None:
        self.received = self.stored = self.duplicates = self.rejected = 0


def post_files(url: str, paths: Iterable[str | Path], naive_tz: str | None = None,
               progress: Callable[[int, float], None] | None = None, token: str = "") -> PostReport:
    """POST the readings of ``paths`` to ``url``/api/v1/readings in batches, with a device's (or the
    admin's) ``token``."""
    report = PostReport()
    start = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url.rstrip("/"), timeout=60, headers=headers) as client:
        for path in paths:
            for rows in _rows(Path(path), naive_tz):
                for i in range(0, len(rows), BATCH):
                    body = _send(client, rows[i:i + BATCH])
                    report.received += body.get("received", 0)
                    report.stored += body.get("stored", 0)
                    report.duplicates += body.get("duplicates", 0)
                    report.rejected += body.get("rejected", 0)
                    if progress:
                        progress(report.received, time.perf_counter() - start)
    return report


def _send(client: httpx.Client, rows: list[dict[str, object]]) -> dict[str, int]:
    delay = 0.2
    for _ in range(RETRIES):
        try:
            r = client.post("/api/v1/readings", json={"readings": rows})
        except httpx.TransportError:
            r = None
        if r is not None and r.status_code in (200, 422):
            body: dict[str, int] = r.json()
            return body
        if r is not None and r.status_code < 500 and r.status_code != 429:
            raise ValidationError(f"the server refused the batch: {r.status_code} {r.text[:300]}")
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
    raise StoreError(f"the server at {client.base_url} did not accept a batch after {RETRIES} tries")


def _rows(path: Path, naive_tz: str | None) -> Iterable[list[dict[str, object]]]:
    if path.suffix.lower() == ".parquet":
        batches: Iterable[pa.RecordBatch] = pq.ParquetFile(path).iter_batches(batch_size=100_000)
    else:
        batches = pacsv.open_csv(path, convert_options=pacsv.ConvertOptions(column_types={"sensor": pa.string()}))
    for rb in batches:
        cols = rb.to_pydict()
        t = rb.column(rb.schema.get_field_index("t"))
        if pa.types.is_timestamp(t.type):
            if t.type.tz is None and naive_tz is None:
                raise ValidationError(f"{path}: column t has no time zone; give --timezone", field="t")
            ms = t.cast(pa.timestamp("ms", tz=t.type.tz)).cast(pa.int64()).to_numpy(zero_copy_only=False)
            if t.type.tz is None:  # local wall time → UTC through the given zone
                ms = parse_iso([str(v) for v in t.to_pylist()], naive_tz)
            times: list[object] = [int(m) / 1000 for m in ms]
        elif pa.types.is_string(t.type):
            parsed = parse_iso(cols["t"], naive_tz)
            times = [raw if m <= NAIVE_TIME else int(m) / 1000 for raw, m in zip(cols["t"], parsed, strict=True)]
        else:
            times = cols["t"]
        units = cols.get("unit")
        yield [{"sensor": s, "t": tt, "value": v, **({"unit": units[i]} if units and units[i] else {})}
               for i, (s, tt, v) in enumerate(zip(cols["sensor"], times, cols["value"], strict=True))]
