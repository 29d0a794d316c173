"""Choose how the AI anomaly detector raises incidents, on twin runs the scorer never sees.

The shipped scenarios are the scorer's test set, so the live policy (``anomaly_threshold`` and
``anomaly_corroborate_sensors``) is chosen on *tuning variants* of them: the same city and kinds
of incident, but another random seed (other noise, demand, traffic and weather draws) and a start
five weeks earlier.  Each candidate policy is scored on every variant; the policy with the most
true incidents found minus false incidents wins (ties: fewer false).  Rules alone (the AI off)
are scored too, as the baseline.  Each variant is simulated once and replayed per policy; the
policies are shared between ``--jobs`` worker processes.

    python bench/anomaly_policy.py [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from citylifeline.bench.scenarios import LifelineScore, replay_run, scenario_paths  # noqa: E402
from citylifeline.city import load_city  # noqa: E402
from citylifeline.settings import Config  # noqa: E402
from citylifeline.twin.runner import simulate  # noqa: E402
from citylifeline.twin.scenario import load_scenario  # noqa: E402

WEEK_MS = 7 * 86_400_000
POLICIES = [(1.1, 0, 0.0)] + [(0.3, n, r) for n in (0, 3) for r in (0.0, 2.0, 3.0, 5.0)]
"""(anomaly_threshold, anomaly_corroborate_sensors, ai_review_deviations); (1.1, 0, 0) is rules alone."""


def part(policies: list[tuple[float, int, float]]) -> list[dict[str, object]]:
    """Score ``policies`` on every tuning variant (simulated once each)."""
    totals = {p: LifelineScore() for p in policies}
    for path in scenario_paths():
        s = load_scenario(path)
        s = replace(s, seed=s.seed + 1000, start_ms=s.start_ms - 5 * WEEK_MS)
        bundle = load_city(s.city)
        run = simulate(s, bundle)
        for thr, n, review in policies:
            config = Config.load(environ={}, anomaly_threshold=thr, anomaly_corroborate_sensors=n,
                                 ai_review_deviations=review)
            for ls in replay_run(run, config, bundle).by_lifeline.values():
                totals[(thr, n, review)].add(ls)
        print(f"  {path.stem} done", file=sys.stderr, flush=True)
    return [{"policy": list(p), **{k: v for k, v in t.row().items() if k in ("found", "missed", "false")}}
            for p, t in totals.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--part", type=int, help=argparse.SUPPRESS)  # a worker: score every jobs-th policy
    args = ap.parse_args()
    if args.part is not None:
        print(json.dumps(part(POLICIES[args.part::args.jobs])))
        return
    workers = [subprocess.Popen([sys.executable, __file__, "--jobs", str(args.jobs), "--part", str(k)],
                                stdout=subprocess.PIPE) for k in range(args.jobs)]
    results = [r for w in workers for r in json.loads(w.communicate()[0])]
    print("| threshold | corroborating sensors | AI review (deviations) | found | missed | false | found − false |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in sorted(results, key=lambda r: r["policy"]):
        thr, n, review = r["policy"]
        label = "AI off" if thr > 1 else f"{thr}"
        print(f"| {label} | {n} | {review or 'off'} | {r['found']} | {r['missed']} | {r['false']} | "
              f"{r['found'] - r['false']} |")
    best = max(results, key=lambda r: (r["found"] - r["false"], -r["false"]))
    thr, n, review = best["policy"]
    print(f"\nchosen: anomaly_threshold={thr}, anomaly_corroborate_sensors={n}, ai_review_deviations={review}")


if __name__ == "__main__":
    main()
