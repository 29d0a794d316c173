"""The ``citylifeline`` command: demo, serve, ingest, replay.

Thin on purpose: each command builds a ``Config``, calls the library, and prints the outcome.
A ``CityLifelineError`` becomes a one-line message with the fix and exit status 2; there are
no tracebacks for users.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .auth.model import ROLES, new_token
from .errors import CityLifelineError, ConfigError
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

    def doc(name: str) -> str:  # a setting's text as argparse help (which reads % as a format)
        return defaults[name].help.replace("%", "%%")
    p = argparse.ArgumentParser(prog="citylifeline", description="Urban lifeline safety monitoring and early warning.")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser, server: bool = False) -> None:
        sp.add_argument("--db", help=doc("db") + f" (default {defaults['db'].default})")
        sp.add_argument("--city", help=doc("city") + " (default demo)")
        if server:
            sp.add_argument("--host", help=f"listen address (default {defaults['host'].default})")
            sp.add_argument("--port", type=int, help=f"TCP port (default {defaults['port'].default})")
            sp.add_argument("--mqtt", dest="mqtt_url", help=doc("mqtt_url"))

    sp = sub.add_parser("demo", help="serve the demo city with a live digital-twin feed (a burst and a stuck sensor)")
    common(sp, server=True)
    sp.add_argument("--no-feed", action="store_true", help="serve only; no twin feed")
    sp.add_argument("--scenario", default=None, help="the twin's scenario: a shipped name (city_day, slow_leak, "
                    "burst …) or a YAML file (default city_day)")
    sp.add_argument("--history", default=None, help="how much of the scenario has already happened when the demo "
                    "starts, e.g. 8h or 2d (default 8h)")
    sp.add_argument("--water-history", default=None, help="the water network's days before the scenario, for the "
                    "water analyst to calibrate on, e.g. 22d (0 for none; default 22d)")
    sp.set_defaults(run=_demo)

    def cluster_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--cluster", metavar="auto|local|ADDRESS",
                        help="the distributed mode on Ray: 'local' starts a Ray cluster on this machine, 'auto' "
                             "joins the one this machine belongs to, or a Ray address (ray://head:10001); db must "
                             "be PostgreSQL")
        sp.add_argument("--partitions", dest="cluster_partitions", type=int, help=doc("cluster_partitions"))
        sp.add_argument("--partition-by", dest="cluster_partition_by", help=doc("cluster_partition_by"))
        sp.add_argument("--nats", dest="nats_url", help=doc("nats_url"))

    sp = sub.add_parser("serve", help="serve the REST/WebSocket API and the dashboard over a city and a store "
                                      "(or, with --cluster, over the city's partitions run on Ray)")
    common(sp, server=True)
    cluster_args(sp)
    sp.set_defaults(run=_serve)

    sp = sub.add_parser("ingest", help="import CSV/Parquet/Excel readings through the pipeline (store, detect, warn)")
    common(sp)
    sp.add_argument("files", nargs="+", help=".csv, .csv.gz, .parquet or .xlsx files: long (columns sensor, t, value"
                                             "[, unit]) or wide SCADA exports (a time column and a column per sensor)")
    sp.add_argument("--timezone", help="time zone of times without a UTC offset, e.g. Asia/Shanghai")
    sp.add_argument("--map", help="for wide exports: a CSV of rules table,column,sensor,unit from columns to sensors "
                                  "(see citylifeline/ingest/wide.py)")
    sp.add_argument("--url", help="send to a running server at this base URL instead of opening the store")
    token_arg(sp)
    cluster_args(sp)
    sp.set_defaults(run=_ingest)

    sp = sub.add_parser("replay", help="re-run the pipeline over stored or file data; write events and incidents")
    common(sp)
    sp.add_argument("--input", nargs="*", default=[], help="replay these files instead of the stored readings")
    sp.add_argument("--timezone", help="time zone of times without a UTC offset in --input files")
    sp.add_argument("--out", required=True, help="JSON file for the events, incidents and tickets")
    sp.set_defaults(run=_replay)

    twin = sub.add_parser("twin", help="the digital twin: simulate scenarios, feed them to a server").add_subparsers(
        required=True, metavar="TWIN-COMMAND")
    sp = twin.add_parser("list", help="the shipped scenarios")
    sp.set_defaults(run=_twin_list)
    sp = twin.add_parser("run", help="simulate a scenario: readings.parquet and truth.json")
    sp.add_argument("scenario", help="a scenario YAML file or the name of a shipped one")
    sp.add_argument("--out", required=True, help="output directory")
    sp.set_defaults(run=_twin_run)
    sp = twin.add_parser("feed", help="stream a scenario's readings to a server, live or faster")
    sp.add_argument("scenario", help="a scenario YAML file or the name of a shipped one")
    sp.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
    sp.add_argument("--history", default="0s", help="place the scenario's start this long before now (e.g. 2h); "
                    "the past part is sent at once (or at --speed), the rest live")
    sp.add_argument("--speed", type=float, help="send the past part this many times faster than real time")
    token_arg(sp)
    sp.set_defaults(run=_twin_feed)

    sp = sub.add_parser("token", help="print a fresh random token (for the admin_token setting)")
    sp.set_defaults(run=lambda args: print(new_token()))
    cred = sub.add_parser("credential", help="credentials of a running server (needs the admin's token)"
                          ).add_subparsers(required=True, metavar="CREDENTIAL-COMMAND")
    sp = cred.add_parser("add", help="make a credential and print its token (shown only this once)")
    sp.add_argument("name", help="a person's user name or a device's id")
    sp.add_argument("--role", required=True, choices=ROLES)
    sp.add_argument("--sensors", nargs="*", default=[], help="device: the sensor ids or patterns (GW17-*) it writes")
    sp.add_argument("--lifelines", nargs="*", default=[], help="person: scope of lifelines (default all)")
    sp.add_argument("--districts", nargs="*", default=[], help="person: scope of districts (default all)")
    sp.add_argument("--rate", type=float, default=0.0, help="requests a second (default: the server's)")
    sp.set_defaults(run=_credential_add)
    sp = cred.add_parser("list", help="every credential, without tokens")
    sp.set_defaults(run=_credential_list)
    sp = cred.add_parser("revoke", help="revoke a credential by id")
    sp.add_argument("id")
    sp.set_defaults(run=_credential_revoke)
    for sp in (cred.choices["add"], cred.choices["list"], cred.choices["revoke"]):
        sp.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
        token_arg(sp)

    bench = sub.add_parser("bench", help="benchmarks and scorers").add_subparsers(required=True, metavar="BENCH")
    sp = bench.add_parser("scenarios", help="score the platform's warnings against the twin's truth")
    sp.add_argument("--scenario", nargs="*", help="scenario names or files (default: every shipped scenario)")
    sp.add_argument("--json", help="also write the full matches to this JSON file")
    sp.add_argument("--write-docs", action="store_true", help="replace the scenario section of docs/benchmarks.md")
    sp.add_argument("--compare", action="store_true",
                    help="also score every scenario with the AI detector off, and with AI signs opening incidents")
    sp.add_argument("--generated", type=int, nargs="*", default=[],
                    help="also score the generated multi-lifeline cases of these seeds (bench/cascade_cases.py), "
                         "replayed with the demo's analysts")
    sp.add_argument("--cases", type=int, default=8, help="generated cases per seed")
    sp.set_defaults(run=_bench_scenarios)
    sp = bench.add_parser("nab", help="run the anomaly detector over NAB-format data and compute the NAB scores")
    sp.add_argument("--data", required=True, type=Path, help="the data directory (category/file.csv)")
    sp.add_argument("--labels", required=True, type=Path, help="the windows file (combined_windows.json)")
    sp.add_argument("--out", type=Path, help="write NAB result files here, at the data files' relative paths")
    sp.set_defaults(run=_bench_nab)
    sp = bench.add_parser("leaks", help="simulate a water network's year with its leaks, detect them on the model "
                                        "and score by BattLeDIM's economic rules")
    sp.add_argument("--inp", required=True, type=Path, help="the network's EPANET .inp")
    sp.add_argument("--sensors", type=Path, help="sensor placement JSON (pressure_nodes, flow_links, level_tanks, "
                                                 "amr_demand_nodes); required unless --generate")
    sp.add_argument("--leaks", nargs="*", type=Path, default=[],
                    help="leak lists (BattLeDIM JSON), one year each; the n-th is simulated on real-network "
                         "variant n (mismatch seed n) with demand seed n-1")
    sp.add_argument("--name", nargs="*", default=[], help="a name per leak list (default: the file name)")
    sp.add_argument("--write-docs", action="store_true", help="replace the leak section of docs/benchmarks.md")
    sp.add_argument("--generate", type=Path, help="instead: write a random leak list for --inp here")
    sp.add_argument("--seed", type=int, default=2019, help="with --generate: the random seed")
    sp.add_argument("--period", nargs=2, default=["2019-01-01 00:00", "2019-12-31 23:55"], metavar=("START", "END"),
                    help="with --generate: the year's first and last step")
    sp.set_defaults(run=_bench_leaks)
    sp = bench.add_parser("gas", help="the gas analyst against generated leaks and leak-free summers, with the "
                                      "methane threshold rules as the peer")
    sp.add_argument("--seeds", nargs="*", type=int, default=[11, 12], help="case seeds (default: the scoring ones)")
    sp.add_argument("--leaks", type=int, default=30, help="leaks of 1–10 m³/h per seed and sensor layout")
    sp.add_argument("--summers", type=int, default=3, help="leak-free summer scenarios per seed")
    sp.add_argument("--days", type=int, default=10, help="days of each summer scenario")
    sp.add_argument("--fit", action="store_true",
                    help="instead: fit judge.COEF and judge.P_LEAK on these seeds' episodes and print them")
    sp.add_argument("--write-docs", action="store_true", help="replace the gas section of docs/benchmarks.md")
    sp.set_defaults(run=_bench_gas)
    sp = bench.add_parser("bridges", help="the bridge analyst on the bridge twin's held-out years: false damage "
                                          "warnings, time to warning, weights and overloads, with the fixed limits")
    sp.add_argument("--days", type=int, default=30, help="days of traffic weighed")
    sp.add_argument("--healthy-days", type=int, default=365, help="days of each healthy bridge-year")
    sp.add_argument("--write-docs", action="store_true", help="replace the bridges section of docs/benchmarks.md")
    sp.set_defaults(run=_bench_bridges)
    sp = bench.add_parser("drainage", help="the waterlogging forecast on held-out storms against the SWMM truth: "
                                           "lead time, hits, false warnings, depth, with the fixed limits")
    sp.add_argument("--seeds", type=int, nargs="*", help="storm seeds (default: the held-out ones)")
    sp.add_argument("--write-docs", action="store_true", help="replace the drainage section of docs/benchmarks.md")
    sp.set_defaults(run=_bench_drainage)
    sp = bench.add_parser("cascade", help="the coupling of the lifelines and an incident's cascade timed on the "
                                          "demo city and on a city of ~100,000 assets")
    sp.add_argument("--tiles", type=int, default=8, help="the big city: tiles × tiles demo cities (8: 116,000 assets)")
    sp.add_argument("--risk-tiles", type=int, default=10,
                    help="the risk map's big city (10: 113,000 assets on the map)")
    sp.add_argument("--write-docs", action="store_true", help="replace the cascade section of docs/benchmarks.md")
    sp.set_defaults(run=_bench_cascade)
    sp = bench.add_parser("cascade-choice", help="choose the cascade's listing threshold on generated scenarios "
                                                 "of the development seeds (leave one seed out)")
    sp.add_argument("--seeds", type=int, nargs="*", help="development seeds (default: bench/cascade_cv.py DEV_SEEDS)")
    sp.add_argument("--cases", type=int, default=8, help="generated cases per seed")
    sp.add_argument("--write-docs", action="store_true", help="replace its section of docs/benchmarks.md")
    sp.set_defaults(run=_bench_cascade_choice)
    return p


def token_arg(sp: argparse.ArgumentParser) -> None:
    """The --token option of commands that talk to a running server."""
    sp.add_argument("--token", default=os.environ.get("CITYLIFELINE_TOKEN", ""),
                    help="the credential to send with (default: $CITYLIFELINE_TOKEN)")


def _api(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    import httpx

    r = httpx.request(method, args.url.rstrip("/") + path, json=body, timeout=30,
                      headers={"Authorization": f"Bearer {args.token}"} if args.token else {})
    if r.status_code >= 400:
        raise ConfigError(f"{method} {path}: HTTP {r.status_code}: {r.json().get('detail', r.text[:300])}")
    return r.json()


def _credential_add(args: argparse.Namespace) -> int:
    c = _api(args, "POST", "/api/v1/credentials", {"name": args.name, "role": args.role, "sensors": args.sensors,
                                                   "lifelines": args.lifelines, "districts": args.districts,
                                                   "rate_per_s": args.rate})
    print(f"{c['id']}  {c['name']}  {c['role']}\ntoken (shown only now): {c['token']}")
    return 0


def _credential_list(args: argparse.Namespace) -> int:
    for c in _api(args, "GET", "/api/v1/credentials"):
        scope = ", ".join(c["sensors"]) or f"{','.join(c['lifelines']) or 'all'} / {','.join(c['districts']) or 'all'}"
        print(f"{c['id']:<16} {c['name']:<20} {c['role']:<9} {'active' if c['active'] else 'revoked':<8} {scope}")
    return 0


def _credential_revoke(args: argparse.Namespace) -> int:
    c = _api(args, "DELETE", f"/api/v1/credentials/{args.id}")
    print(f"revoked {c['id']} ({c['name']})")
    return 0


def _config(args: argparse.Namespace, **extra: Any) -> Config:
    flags = ("db", "city", "host", "port", "mqtt_url", "nats_url", "cluster_partitions", "cluster_partition_by")
    return Config.load(**{f: getattr(args, f, None) for f in flags}, **extra)


def _serve(args: argparse.Namespace) -> int:
    if args.cluster:
        from .cluster.front import serve_cluster

        serve_cluster(_config(args), args.cluster)
        return 0
    from .server import serve

    serve(_config(args))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import DEMO_ANALYSTS, DEMO_HISTORY, DEMO_SCENARIO, DEMO_WATER_HISTORY, run_demo

    config = _config(args)
    if args.db is None:
        config = config.with_(db="var/demo.duckdb")
    if args.city is None:
        config = config.with_(city="demo")
    if "CITYLIFELINE_ANALYSTS" not in os.environ:  # the demo shows the water analyst learning, too
        config = config.with_(analysts=DEMO_ANALYSTS)
    run_demo(config, feed=not args.no_feed, scenario=args.scenario or DEMO_SCENARIO,
             history=args.history or DEMO_HISTORY, water_history=args.water_history or DEMO_WATER_HISTORY)
    return 0


def _progress(n: int, seconds: float) -> None:
    if sys.stderr.isatty():
        rate = n / seconds if seconds > 0 else 0
        print(f"\r  {n:>12,} readings  {rate:>12,.0f} /s", end="", file=sys.stderr, flush=True)


def _ingest(args: argparse.Namespace) -> int:
    from .ingest.wide import load_column_map

    columns = load_column_map(args.map) if args.map else None
    if args.cluster:  # to the partitions' broker: the running cluster stores and detects
        from .cluster.cluster import Cluster

        sent = Cluster(_config(args)).publish_files(args.files, args.timezone, progress=_progress, columns=columns)
        print(f"\npublished {sent.stored:,} of {sent.received:,} readings to the cluster's partitions in "
              f"{sent.seconds:.1f} s; {sent.rejected:,} refused (kept as dead letters)")
        for r in sent.first_rejections:
            print(f"  refused: {r.message}")
        return 1 if sent.rejected else 0
    if args.url:
        from .ingest.post import post_files

        if columns:
            raise ConfigError("--map is for ingest into the store (or --cluster); --url sends long files "
                              "(sensor, t, value): ingest a wide export without --url, on the server's machine")

        posted = post_files(args.url, args.files, naive_tz=args.timezone, progress=_progress, token=args.token)
        print(f"\nsent {posted.received:,} readings: {posted.stored:,} stored, {posted.duplicates:,} already stored, "
              f"{posted.rejected:,} refused")
        return 1 if posted.rejected else 0
    from .city import load_city
    from .offline import ingest_files
    from .pipeline import Pipeline
    from .store import open_store

    config = _config(args)
    bundle = load_city(config.city)
    store = open_store(config.db, config.memory_limit)
    try:
        report = ingest_files(Pipeline(bundle, store, config), args.files, args.timezone, progress=_progress,
                              columns=columns)
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


def _twin_list(args: argparse.Namespace) -> int:
    from .twin.scenario import load_scenario, scenarios_dir

    for path in sorted(scenarios_dir().glob("*.yaml")):
        s = load_scenario(path)
        print(f"{path.stem:<18} {s.duration_s / 3600:6.1f} h  {s.description}")
    return 0


def _twin_run(args: argparse.Namespace) -> int:
    from .twin.runner import simulate, write_run
    from .twin.scenario import load_scenario

    run = simulate(load_scenario(args.scenario))
    readings, truth = write_run(run, args.out)
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in run.seconds.items())
    print(f"{len(run.readings):,} readings from {run.sensors} sensors → {readings}\n"
          f"{len(run.truth)} incidents and {len(run.readings.faults)} sensor faults → {truth}\n({timing})")
    return 0


def _twin_feed(args: argparse.Namespace) -> int:
    import time

    from .twin.feed import feed
    from .twin.runner import simulate
    from .twin.scenario import load_scenario, parse_duration

    scenario = load_scenario(args.scenario)
    now_ms = int(time.time() * 1000)
    start = (now_ms - round(parse_duration(args.history, "--history") * 1000)) // 60_000 * 60_000
    run = simulate(scenario.shifted(start))
    print(f"simulated {len(run.readings):,} readings; feeding {args.url} …", flush=True)
    stats = feed(run.readings, args.url, history_until_ms=now_ms, speed=args.speed, token=args.token)
    print(f"sent {stats.sent:,} readings in {stats.posts:,} requests ({stats.retries} retries)")
    return 0


RULES_ONLY = {"anomaly_threshold": 1.1, "ai_review_deviations": 0.0}
"""The AI off: no AI signs and no AI review of rule warnings."""
AI_OPENS_INCIDENTS = {"anomaly_threshold": 0.3, "anomaly_corroborate_sensors": 3}
"""The best policy that lets AI signs open incidents, on the tuning variants (bench/anomaly_policy.py)."""


def _bench_scenarios(args: argparse.Namespace) -> int:
    from .bench import cascade_cv
    from .bench.cascades import cascade_table
    from .bench.scenarios import comparison, merged, replay_run, scenario_paths, table, write_docs
    from .city import load_city
    from .twin.runner import simulate
    from .twin.scenario import load_scenario

    paths = [Path(p) if Path(p).is_file() else None for p in (args.scenario or [])]
    named = [p for p in (args.scenario or []) if not Path(p).is_file()]
    files = [p for p in paths if p is not None] + (scenario_paths(named) if named or not args.scenario else [])
    scores, rules_only, ai_opens = [], [], []
    for path in files:
        print(f"  {path.stem} …", file=sys.stderr, flush=True)
        scenario = load_scenario(path)
        bundle = load_city(scenario.city)
        run = simulate(scenario, bundle)
        scores.append(replay_run(run, Config.load(environ={}), bundle))
        if args.compare:
            rules_only.append(replay_run(run, Config.load(environ={}, **RULES_ONLY), bundle))
            ai_opens.append(replay_run(run, Config.load(environ={}, **AI_OPENS_INCIDENTS), bundle))
    shipped = list(scores)
    if args.generated:
        by_seed = cascade_cv.run_seeds(load_city("demo"), tuple(args.generated), args.cases,
                                       lambda name: print(f"  {name} …", file=sys.stderr, flush=True))
        scores += [merged(f"generated, seed {seed} ({len(cases)} cases)", [c.score for c in cases])
                   for seed, cases in by_seed.items()]
    text = table(scores) + "\n" + cascade_table([(s.scenario, s.cascades) for s in scores])
    if args.compare:
        text = comparison({"default (rules, AI review of minor warnings, AI signs as evidence)": shipped,
                           "rules only (AI off)": rules_only,
                           "AI signs open incidents (threshold 0.3, 3 sensors)": ai_opens}) + "\n" + text
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps([{"scenario": s.scenario, "matches": s.matches,
                                                "cascades_missed": s.cascades.missed} for s in scores],
                                              ensure_ascii=False, indent=1), encoding="utf-8")
    if args.write_docs:
        write_docs(scores, text)
    return 0


def _bench_nab(args: argparse.Namespace) -> int:
    from .bench import nab, nab_run

    files = nab.load_corpus(args.data, args.labels)
    if not files:
        raise ConfigError(f"no data file named in {args.labels} exists under {args.data}; "
                          "--data is the directory that holds the category folders")
    nab_run.score_corpus(files[:1])  # load the compiled kernel outside the timing
    run = nab_run.score_corpus(files)
    print(nab_run.table(nab_run.evaluate_parts(files, run.scores)))
    print(f"{run.points:,} points in {run.seconds:.2f} s ({run.points / run.seconds:,.0f} points/s on one core), "
          f"{run.state_bytes_per_sensor:.0f} bytes of state per sensor")
    if args.out:
        n = nab_run.write_results(args.out, files, run.scores)
        print(f"wrote {n} result files under {args.out}")
    return 0


def _bench_gas(args: argparse.Namespace) -> int:
    import time

    from .bench import gas
    from .bench.report import bench_command

    began = time.perf_counter()
    results = gas.run_seeds(args.seeds, args.leaks, args.summers, args.days, record=args.fit)
    if args.fit:
        coef, p_leak = gas.fit([row for r in results for row in r.rows])
        print(f"COEF = np.array({[round(float(c), 3) for c in coef]})\nP_LEAK = {p_leak:.6f}")
        return 0
    for layout in ("demo", "every-space"):
        chosen = [r for r in results if r.leak_m3h == 0 or r.case.endswith(f"({layout})")]
        print(gas.table(layout, gas.goals(chosen)))
    if args.write_docs:
        gas.write_docs(results, args.seeds, bench_command(args.write_docs), time.perf_counter() - began)
    return 0


def _bench_bridges(args: argparse.Namespace) -> int:
    from .bench import bridges

    return _report(args, bridges.run(args.days, args.healthy_days), bridges.markdown, "<!-- bridges -->")


def _report(args: argparse.Namespace, result: dict[str, Any], markdown: Any, marker: str) -> int:
    """Print a benchmark's section (with the command that ran it) and, with --write-docs, put it in
    docs/benchmarks.md."""
    from .bench.report import bench_command, replace_section

    result["command"] = bench_command(args.write_docs)
    md = markdown(result)
    print(md)
    if args.write_docs:
        replace_section(marker, md)
    return 0


def _bench_drainage(args: argparse.Namespace) -> int:
    from .bench import drainage

    result = drainage.run(tuple(args.seeds) if args.seeds else drainage.SEEDS + drainage.LIGHT_SEEDS)
    return _report(args, result, drainage.markdown, "<!-- drainage -->")


def _bench_cascade_choice(args: argparse.Namespace) -> int:
    from .bench import cascade_cv

    result = cascade_cv.run(tuple(args.seeds) if args.seeds else cascade_cv.DEV_SEEDS, args.cases)
    return _report(args, result, cascade_cv.markdown, "<!-- cascade choice -->")


def _bench_cascade(args: argparse.Namespace) -> int:
    from .bench import cascade

    return _report(args, cascade.run(args.tiles, args.risk_tiles), cascade.markdown, "<!-- cascade -->")


def _bench_leaks(args: argparse.Namespace) -> int:
    from .bench import leaks
    from .bench.report import bench_command

    if args.generate:
        leaks.save_leaks(leaks.generate_leaks(args.inp, args.seed, *args.period), args.generate)
        print(f"wrote a leak list for {args.inp} to {args.generate}")
        return 0
    if not args.sensors or not args.leaks:
        raise ConfigError("bench leaks needs --sensors and at least one --leaks file (or --generate)")
    results = []
    for k, path in enumerate(args.leaks):
        name = args.name[k] if k < len(args.name) else path.stem
        print(f"{name}: simulating, fitting and detecting …", flush=True)
        results.append(leaks.run(args.inp, path, args.sensors, name, seed=k, mismatch_seed=k + 1))
    print(leaks.table(results))
    for r in results:
        print(leaks.per_leak_table(r))
    if args.write_docs:
        leaks.write_docs(results, bench_command(args.write_docs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
