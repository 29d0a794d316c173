"""The ``citylifeline`` command: demo, serve, ingest, replay.

Thin on purpose: each command builds a ``Config``, calls the library, and prints the outcome.
A ``CityLifelineError`` becomes a one-line message with the fix and exit status 2; there are
no tracebacks for users.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import CityLifelineError
from .settings import SETTINGS, Config


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``citylifeline`` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except CityLifelineError as e:
        print(f"citylifeline: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    defaults = {s.name: s for s in SETTINGS}
    p = argparse.ArgumentParser(prog="citylifeline", description="Urban lifeline safety monitoring and early warning.")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser, server: bool = False) -> None:
        sp.add_argument("--db", help=defaults["db"].help + f" (default {defaults['db'].default})")
        sp.add_argument("--city", help=defaults["city"].help + " (default demo)")
        if server:
            sp.add_argument("--host", help=f"listen address (default {defaults['host'].default})")
            sp.add_argument("--port", type=int, help=f"TCP port (default {defaults['port'].default})")

    sp = sub.add_parser("demo", help="serve the demo city with a live digital-twin feed (a burst and a stuck sensor)")
    common(sp, server=True)
    sp.add_argument("--no-feed", action="store_true", help="serve only; no twin feed")
    sp.set_defaults(run=_demo)

    sp = sub.add_parser("serve", help="serve the REST/WebSocket API over a city and a store")
    common(sp, server=True)
    sp.set_defaults(run=_serve)

    sp = sub.add_parser("ingest", help="import CSV/Parquet readings through the pipeline (store, detect, warn)")
    common(sp)
    sp.add_argument("files", nargs="+", help=".csv or .parquet files with columns sensor, t, value[, unit]")
    sp.add_argument("--timezone", help="time zone of times without a UTC offset, e.g. Asia/Shanghai")
    sp.add_argument("--url", help="send to a running server at this base URL instead of opening the store")
    sp.set_defaults(run=_ingest)

    sp = sub.add_parser("replay", help="re-run the pipeline over stored or file data; write events and incidents")
    common(sp)
    sp.add_argument("--input", nargs="*", default=[], help="replay these files instead of the stored readings")
    sp.add_argument("--timezone", help="time zone of times without a UTC offset in --input files")
    sp.add_argument("--out", required=True, help="JSON file for the events, incidents and tickets")
    sp.set_defaults(run=_replay)
    return p


def _config(args: argparse.Namespace, **extra: Any) -> Config:
    return Config.load(db=getattr(args, "db", None), city=getattr(args, "city", None),
                       host=getattr(args, "host", None), port=getattr(args, "port", None), **extra)


def _serve(args: argparse.Namespace) -> int:
    from .server import serve

    serve(_config(args))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    config = _config(args)
    if args.db is None:
        config = config.with_(db="var/demo.duckdb")
    if args.city is None:
        config = config.with_(city="demo")
    run_demo(config, feed=not args.no_feed)
    return 0


def _progress(n: int, seconds: float) -> None:
    if sys.stderr.isatty():
        rate = n / seconds if seconds > 0 else 0
        print(f"\r  {n:>12,} readings  {rate:>12,.0f} /s", end="", file=sys.stderr, flush=True)


def _ingest(args: argparse.Namespace) -> int:
    if args.url:
        from .ingest.post import post_files

        sent = post_files(args.url, args.files, naive_tz=args.timezone, progress=_progress)
        print(f"\nsent {sent.received:,} readings: {sent.stored:,} stored, {sent.duplicates:,} already stored, "
              f"{sent.rejected:,} refused")
        return 1 if sent.rejected else 0
    from .city import load_city
    from .offline import ingest_files
    from .pipeline import Pipeline
    from .store import open_store

    config = _config(args)
    bundle = load_city(config.city)
    store = open_store(config.db, config.memory_limit)
    try:
        report = ingest_files(Pipeline(bundle, store, config), args.files, args.timezone, progress=_progress)
    finally:
        store.close()
    print(f"\n{report.received:,} readings in {report.seconds:.1f} s ({report.readings_per_s:,.0f}/s): "
          f"{report.stored:,} stored, {report.duplicates:,} already stored, {report.rejected:,} refused; "
          f"{report.events:,} events, {len(report.incidents_changed)} incidents and "
          f"{len(report.tickets_changed)} tickets opened or changed")
    for r in report.first_rejections:
        print(f"  refused: {r.message}")
    return 1 if report.rejected else 0


def _replay(args: argparse.Namespace) -> int:
    from .city import load_city
    from .offline import replay
    from .store import open_store

    config = _config(args)
    bundle = load_city(config.city)
    source = None if args.input else open_store(config.db, config.memory_limit)
    try:
        result = replay(bundle, config, source=source, files=args.input, naive_tz=args.timezone, progress=_progress)
    finally:
        if source is not None:
            source.close()
    Path(args.out).write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    r = result.report
    print(f"\nreplayed {r.received:,} readings in {r.seconds:.1f} s ({r.readings_per_s:,.0f}/s): "
          f"{len(result.events)} events, {len(result.incidents)} incidents, {len(result.tickets)} tickets "
          f"→ {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
