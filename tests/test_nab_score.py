"""The NAB scorer on detectors whose score can be worked out by hand, and on the shared corpus."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citylifeline.bench.nab import MAX_TP, PROFILES, NabFile, best_threshold, corpus_score, load_corpus, score_file
from tests.conftest import shared_bench

STD = PROFILES["standard"]


def synthetic() -> NabFile:
    """1,000 rows (probation 150), windows at rows 300–399 and 700–799."""
    t = np.arange(1000, dtype=np.int64) * 300_000
    return NabFile("x/synthetic.csv", t, np.zeros(1000), ((300, 399), (700, 799)))


def fire(*rows: int) -> np.ndarray:
    d = np.zeros(1000, dtype=bool)
    d[list(rows)] = True
    return d


def test_null_and_perfect_detectors_score_0_and_100() -> None:
    f = synthetic()
    assert corpus_score([f], {f.path: fire()}, STD)["score"] == pytest.approx(0.0)
    perfect = corpus_score([f], {f.path: fire(300, 700)}, STD)
    assert perfect["score"] == pytest.approx(100.0) and (perfect["tp"], perfect["fp"], perfect["fn"]) == (2, 0, 0)


def test_hand_worked_detections() -> None:
    f = synthetic()
    # only the earliest detection in a window counts: firing at its middle earns sigma(-0.5)/sigma(-1)
    mid = 2 / (1 + math.exp(-2.5)) - 1
    s = score_file(f, fire(350, 360, 399), STD)
    assert s.raw == pytest.approx(mid / MAX_TP - 1.0) and (s.tp, s.fp, s.fn) == (1, 0, 1)
    # before the first window a false positive costs the whole A_fp; in probation nothing
    assert score_file(f, fire(100), STD).raw == pytest.approx(-2.0)
    assert score_file(f, fire(200), STD).raw == pytest.approx(-2.0 - 0.11)
    # just after a window it costs almost nothing, three window lengths later the whole A_fp
    just_after = score_file(f, fire(300, 700, 400), STD).raw
    assert just_after == pytest.approx(2.0 + 0.11 * (2 / (1 + math.exp(5 / 99)) - 1))
    far = score_file(f, fire(300, 700, 999), STD)
    assert far.raw == pytest.approx(2.0 + 0.11 * (2 / (1 + math.exp(5 * 200 / 99)) - 1)) and far.fp == 1
    assert far.raw == pytest.approx(2.0 - 0.11, abs=1e-3)
    # the low-FN profile doubles what a missed window costs
    assert score_file(f, fire(300), PROFILES["reward_low_FN_rate"]).raw == pytest.approx(1.0 - 2.0)


def test_one_threshold_for_the_corpus_beats_firing_everywhere() -> None:
    f = synthetic()
    scores = {f.path: np.where((np.arange(1000) >= 300) & (np.arange(1000) < 310), 0.9, 0.1)}
    thr, result = best_threshold([f], scores, STD)
    assert 0.1 < thr <= 0.9 and result["tp"] == 1 and result["fp"] == 0
    assert result["score"] > corpus_score([f], {f.path: np.ones(1000, bool)}, STD)["score"]


def test_the_shared_corpus_loads_with_its_windows() -> None:
    nab = shared_bench() / "nab"
    files = load_corpus(nab / "data", nab / "combined_windows.json")
    assert len(files) == 24 and sum(len(f.windows) for f in files) == 39
    perfect = {f.path: np.isin(np.arange(len(f.t_ms)), [w[0] for w in f.windows]) for f in files}
    for name, profile in PROFILES.items():
        assert corpus_score(files, perfect, profile)["score"] == pytest.approx(100.0), name
        null = {f.path: np.zeros(len(f.t_ms), bool) for f in files}
        assert corpus_score(files, null, profile)["score"] == pytest.approx(0.0), name
    assert all(f.windows and f.windows[0][0] >= f.probation for f in files if f.windows)
