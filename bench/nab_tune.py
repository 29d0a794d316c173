"""Choose the anomaly kernel's parameters on the tuning part of the shared NAB corpus only.

Random search around the shipped ``anomaly_kernel.DEFAULTS`` (log-uniform steps per parameter).
The objective is a cross-validated NAB standard score *inside* the tuning part: the part is split
again (alternate files per category, ``nab_run.split``); the threshold is chosen on one half and
scored on the other, both ways, and the two scores are averaged.  A parameter set therefore wins
only if its scores mean the same on files its threshold never saw, which is what the hold-out
part (never read here) asks of it.

    python bench/nab_tune.py [--trials 300] [--jobs 2] [--seed 1]

Prints the best parameter vector; paste it into ``DEFAULTS`` after reading the hold-out score
that ``bench/nab.py`` reports for it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from citylifeline.bench import nab, nab_run  # noqa: E402
from citylifeline.detect import anomaly_kernel as K  # noqa: E402
from tests.conftest import shared_bench  # noqa: E402

FIXED = {K.P_MEMORY_DECAY, K.P_WARMUP_MS, K.P_WARMUP, K.P_SEASON_DAYS, K.P_FROZEN}
"""Platform semantics (feedback memory, a day before scoring, frozen transmitters), not tuned."""
BOUNDS = {K.P_ALPHA_SHORT: (0.01, 1.0), K.P_POINT_WEIGHT: (0.0, 1.0), K.P_RISE: (1.0, 3.0), K.P_ALPHA_WEEK: (0.0, 1.0)}


def tuning_part() -> list[nab.NabFile]:
    root = shared_bench() / "nab"
    return nab_run.split(nab.load_corpus(root / "data", root / "combined_windows.json"))[0]


def objective(files: list[nab.NabFile], params: np.ndarray) -> float:
    """Mean of the two cross scores: threshold chosen on one half of ``files``, scored on the other."""
    scores = nab_run.score_corpus(files, params=params).scores
    a, b = nab_run.split(files)
    profile = nab.PROFILES["standard"]
    total = 0.0
    for fit, test in ((a, b), (b, a)):
        threshold, _ = nab.best_threshold(fit, scores, profile)
        total += nab.corpus_score(test, {f.path: scores[f.path] >= threshold for f in test}, profile)["score"]
    return total / 2


def perturb(rng: np.random.Generator, base: np.ndarray, spread: float) -> np.ndarray:
    out = base.copy()
    for i in range(len(base)):
        if i in FIXED or rng.random() < 0.5:
            continue
        if i in BOUNDS:
            lo, hi = BOUNDS[i]
            out[i] = float(np.clip(base[i] + rng.normal(0, spread * (hi - lo) / 2), lo, hi))
        else:
            out[i] = base[i] * float(np.exp(rng.normal(0, spread)))
    return out


def search(trials: int, seed: int) -> tuple[float, np.ndarray]:
    """Greedy random search from DEFAULTS; returns (objective, parameters)."""
    files = tuning_part()
    rng = np.random.default_rng(seed)
    best_p = K.DEFAULTS.copy()
    best = objective(files, best_p)
    for t in range(trials):
        cand = perturb(rng, best_p, 0.6 if t < trials // 2 else 0.25)
        value = objective(files, cand)
        if value > best:
            best, best_p = value, cand
            print(f"trial {t}: {value:.2f}", file=sys.stderr, flush=True)
    return best, best_p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=2, help="independent searches (different seeds) in parallel")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        value, params = search(args.trials, args.seed)
        print(repr(value), " ".join(repr(float(x)) for x in params))
        return
    # separate processes, not a fork: numba's threads do not survive fork
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", "--trials", str(args.trials),
                               "--seed", str(args.seed + j)], stdout=subprocess.PIPE, text=True)
             for j in range(args.jobs)]
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        value, *params = out.split()
        results.append((float(value), np.array([float(x) for x in params])))
    value, params = max(results, key=lambda r: r[0])
    print(f"cross-validated standard score on the tuning part: {value:.2f}")
    print("DEFAULTS = np.array([" + ", ".join(f"{x:.6g}" for x in params) + "])")


if __name__ == "__main__":
    main()
