"""The Numenta Anomaly Benchmark (NAB) score, as NAB defines it, for scoring anomaly detectors.

A corpus is NAB-format data (``data/<category>/<file>.csv`` with ``timestamp,value``) and a
windows file (``combined_windows.json``: per file, the labelled ``[start, end]`` windows).
Scoring, per file (NAB's ``sweeper.py``):

- the first 15 % of rows (at most 750) are a probation period: detections there do not count;
- in a window only the earliest detection counts, earning ``A_tp · σ(y) / σ(-1)`` with
  ``σ(y) = 2 / (1 + e^{5y}) - 1`` and ``y = -(right - i + 1) / width`` (-1 at the left end, ≈0 at
  the right end); a window with no detection costs ``A_fn``;
- a detection outside every window costs ``A_fp · σ(y)``, ``y`` being the distance past the
  previous window's right end in (width - 1) rows; before the first window the full ``A_fp``.

The normalised score is ``100 (S - S_null) / (S_perfect - S_null)`` over the corpus, with
``S_null = -A_fn · windows`` and ``S_perfect = A_tp · windows``.  One threshold per detector
and profile for the whole corpus: ``best_threshold`` sweeps it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow.csv as pacsv

from ..ingest.validate import parse_iso

PROBATION_FRACTION, PROBATION_MAX_ROWS = 0.15, 750


@dataclass(frozen=True)
class Profile:
    """Weights of one NAB scoring profile."""

    name: str
    tp: float
    fp: float
    fn: float


PROFILES = {p.name: p for p in (Profile("standard", 1.0, 0.11, 1.0),
                                Profile("reward_low_FP_rate", 1.0, 0.22, 1.0),
                                Profile("reward_low_FN_rate", 1.0, 0.11, 2.0))}
"""NAB's three application profiles (NAB ``config/profiles.json``; A_tn is unused by the score)."""


@dataclass(frozen=True)
class NabFile:
    """One data file: its path relative to the data directory, rows and windows as row indices."""

    path: str
    t_ms: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    windows: tuple[tuple[int, int], ...]  # inclusive [left, right] row indices

    @property
    def probation(self) -> int:
        """Rows at the start that do not count."""
        return min(math.floor(PROBATION_FRACTION * len(self.t_ms)), PROBATION_MAX_ROWS)


@dataclass(frozen=True)
class FileScore:
    """One file's raw score and counts under one profile."""

    raw: float
    tp: int
    fp: int
    fn: int


def sigma(y: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """NAB's scaled sigmoid, -1 beyond y = 3."""
    y = np.asarray(y, dtype=np.float64)
    return np.where(y > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * np.minimum(y, 3.0))) - 1.0)


MAX_TP = float(sigma(-1.0))


def load_corpus(data_dir: Path, windows_file: Path) -> list[NabFile]:
    """Every file named in the windows file that exists under ``data_dir``, in name order."""
    windows = json.loads(Path(windows_file).read_text(encoding="utf-8"))
    out = []
    for rel in sorted(windows):
        path = Path(data_dir) / rel
        if not path.is_file():
            continue
        tbl = pacsv.read_csv(path)
        t_ms = _parse_times(tbl.column("timestamp").to_pylist())
        idx = []
        for start, end in windows[rel]:
            lo, hi = _parse_times([start, end])
            rows = np.flatnonzero((t_ms >= lo) & (t_ms <= hi))
            if len(rows):
                idx.append((int(rows[0]), int(rows[-1])))
        out.append(NabFile(rel, t_ms, np.asarray(tbl.column("value").to_numpy(), dtype=np.float64), tuple(idx)))
    return out


def _parse_times(text: Sequence[object]) -> npt.NDArray[np.int64]:
    return parse_iso([str(s) for s in text], "UTC")  # NAB's times carry no offset; read them as UTC


def score_file(f: NabFile, detected: npt.NDArray[np.bool_], profile: Profile) -> FileScore:
    """The raw score of boolean per-row detections on one file."""
    hits = np.flatnonzero(detected[f.probation:]) + f.probation
    raw, tp = 0.0, 0
    in_window = np.zeros(len(hits), dtype=bool)
    for left, right in f.windows:
        inside = (hits >= left) & (hits <= right)
        in_window |= inside
        if inside.any():
            i = int(hits[np.argmax(inside)])
            raw += profile.tp * float(sigma(-(right - i + 1) / (right - left + 1))) / MAX_TP
            tp += 1
        else:
            raw -= profile.fn
    outside = hits[~in_window]
    if len(outside):
        rights = np.array([r for _, r in f.windows], dtype=np.int64)
        widths = np.array([r - lft + 1 for lft, r in f.windows], dtype=np.int64)
        prev = np.searchsorted(rights, outside, side="left") - 1  # the last window ending before
        cost = np.full(len(outside), -1.0)
        after = prev >= 0
        y = np.abs(outside[after] - rights[prev[after]]) / np.maximum(widths[prev[after]] - 1, 1)
        cost[after] = sigma(y)
        raw += profile.fp * float(cost.sum())
    return FileScore(raw, tp, len(outside), len(f.windows) - tp)


def corpus_score(files: Sequence[NabFile], detections: Mapping[str, npt.NDArray[np.bool_]],
                 profile: Profile) -> dict[str, float]:
    """The normalised NAB score (0 = never fires, 100 = fires at the left end of every window)."""
    scores = [score_file(f, detections[f.path], profile) for f in files]
    windows = sum(len(f.windows) for f in files)
    raw = sum(s.raw for s in scores)
    null, perfect = -profile.fn * windows, profile.tp * windows
    return {"score": 100.0 * (raw - null) / (perfect - null) if windows else 0.0, "raw": raw,
            "tp": sum(s.tp for s in scores), "fp": sum(s.fp for s in scores), "fn": sum(s.fn for s in scores)}


def best_threshold(files: Sequence[NabFile], scores: Mapping[str, npt.NDArray[np.float64]], profile: Profile,
                   candidates: int = 200) -> tuple[float, dict[str, float]]:
    """The one threshold on anomaly scores that gives the corpus its best normalised score."""
    every = np.concatenate([np.asarray(scores[f.path])[f.probation:] for f in files])
    every = every[np.isfinite(every)]
    levels = np.r_[np.linspace(0.5, 0.99, candidates // 2), 1.0 - np.logspace(-2, -6, candidates - candidates // 2)]
    grid = np.unique(np.quantile(every, levels)) if len(every) else np.array([1.0])
    best: tuple[float, dict[str, float]] | None = None
    for thr in np.append(grid, np.inf):
        result = corpus_score(files, {f.path: np.asarray(scores[f.path]) >= thr for f in files}, profile)
        if best is None or result["score"] > best[1]["score"]:
            best = (float(thr), result)
    assert best is not None
    return best
