"""Run the platform's anomaly detector, unchanged, over a NAB corpus and score it.

Each data file is one sensor of a registry; the detector sees every file's rows in time order
through the same ``AnomalyDetector.score`` the live pipeline uses.  ``write_results`` writes
NAB-format result files (``timestamp,value,anomaly_score,label``, same relative paths as the
data), and ``evaluate`` scores the three profiles with one threshold each for the whole set.

Hold-out discipline: ``split`` puts every other file of each category (in name order) in the
tuning part and the rest in the hold-out part.  The shipped parameters were chosen on the tuning
part only (``bench/nab.py`` reports both parts and the whole).
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..batch import ReadingBatch
from ..city.sensors import SensorRegistry, SensorSpec
from ..detect.anomaly import AnomalyDetector
from ..settings import Config
from . import nab


@dataclass(frozen=True)
class Run:
    """Anomaly scores per file, and how long scoring took."""

    scores: dict[str, npt.NDArray[np.float64]]
    seconds: float
    points: int
    state_bytes_per_sensor: float


def registry_for(files: Sequence[nab.NabFile]) -> SensorRegistry:
    """One generic sensor per data file (the detector reads nothing else from it)."""
    return SensorRegistry([SensorSpec(id=f.path, kind="signal", asset=f"nab/{i}", layer="nab")
                           for i, f in enumerate(files)])


def score_corpus(files: Sequence[nab.NabFile], config: Config | None = None,
                 params: npt.NDArray[np.float64] | None = None) -> Run:
    """Score every row of every file with a fresh detector (one sensor per file)."""
    det = AnomalyDetector(registry_for(files), config or Config.load(environ={}))
    if params is not None:
        det.params = params
    batches = [ReadingBatch.of(np.full(len(f.t_ms), i), f.t_ms, f.value) for i, f in enumerate(files)]
    started = time.perf_counter()
    scores = {f.path: det.score(b)[0] for f, b in zip(files, batches, strict=True)}
    seconds = time.perf_counter() - started
    return Run(scores, seconds, sum(len(b) for b in batches), det.state_bytes_per_sensor())


def split(files: Sequence[nab.NabFile]) -> tuple[list[nab.NabFile], list[nab.NabFile]]:
    """(tuning, hold-out): alternate files of each category, in name order."""
    by_cat: dict[str, list[nab.NabFile]] = defaultdict(list)
    for f in sorted(files, key=lambda f: f.path):
        by_cat[f.path.split("/")[0]].append(f)
    tune = [f for group in by_cat.values() for f in group[0::2]]
    hold = [f for group in by_cat.values() for f in group[1::2]]
    return tune, hold


def evaluate(files: Sequence[nab.NabFile], scores: dict[str, npt.NDArray[np.float64]]) -> dict[str, dict[str, float]]:
    """Per profile: the best corpus threshold and the normalised score with its counts."""
    out = {}
    for name, profile in nab.PROFILES.items():
        threshold, result = nab.best_threshold(files, scores, profile)
        out[name] = {"threshold": threshold, **result}
    return out


def evaluate_parts(files: Sequence[nab.NabFile],
                   scores: dict[str, npt.NDArray[np.float64]]) -> dict[str, dict[str, dict[str, float]]]:
    """``evaluate`` on the whole set and, when both are non-empty, on the tuning and hold-out parts."""
    parts = {"all": evaluate(files, scores)}
    tune, hold = split(files)
    if tune and hold:
        parts["tuning part"] = evaluate(tune, scores)
        parts["hold-out part"] = evaluate(hold, scores)
    return parts


def write_results(out_dir: Path, files: Sequence[nab.NabFile], scores: dict[str, npt.NDArray[np.float64]]) -> int:
    """NAB result files under ``out_dir`` at the data files' relative paths; returns files written."""
    for f in files:
        path = Path(out_dir) / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        label = np.zeros(len(f.t_ms), dtype=np.int8)
        for left, right in f.windows:
            label[left:right + 1] = 1
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["timestamp", "value", "anomaly_score", "label"])
            for t, v, s, lab in zip(f.t_ms.tolist(), f.value.tolist(), scores[f.path].tolist(), label.tolist(),
                                    strict=True):
                stamp = datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
                w.writerow([stamp, repr(v), f"{s:.6f}", lab])
    return len(files)


def table(parts: dict[str, dict[str, dict[str, float]]]) -> str:
    """A markdown table: one row per part (all, tuning, hold-out), a column per profile."""
    lines = ["| part | windows | standard | low FP | low FN | found / missed / false (standard) |",
             "|---|---:|---:|---:|---:|---|"]
    for part, res in parts.items():
        std = res["standard"]
        windows = int(std["tp"] + std["fn"])
        lines.append(f"| {part} | {windows} | {std['score']:.1f} | {res['reward_low_FP_rate']['score']:.1f} | "
                     f"{res['reward_low_FN_rate']['score']:.1f} | {int(std['tp'])} / {int(std['fn'])} / "
                     f"{int(std['fp'])} |")
    return "\n".join(lines)
