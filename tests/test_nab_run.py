"""``citylifeline bench nab``: the AI detector over NAB-format data, result files, hold-out split."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from citylifeline.bench import nab, nab_run
from citylifeline.cli import main
from tests.conftest import shared_bench

NAB = shared_bench() / "nab"
FEW = ["artificialWithAnomaly/art_daily_jumpsup.csv", "realKnownCause/ec2_request_latency_system_failure.csv",
       "artificialNoAnomaly/art_noisy.csv"]


@pytest.fixture(scope="module")
def corpus() -> list[nab.NabFile]:
    return nab.load_corpus(NAB / "data", NAB / "combined_windows.json")


def test_cli_writes_nab_result_files_at_the_same_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    for rel in FEW:
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(NAB / "data" / rel, data / rel)
    windows = json.loads((NAB / "combined_windows.json").read_text())
    (tmp_path / "windows.json").write_text(json.dumps({k: windows[k] for k in FEW}))
    assert main(["bench", "nab", "--data", str(data), "--labels", str(tmp_path / "windows.json"),
                 "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "| all | 4 |" in printed and "points/s" in printed and "wrote 3 result files" in printed
    files = {f.path: f for f in nab.load_corpus(data, tmp_path / "windows.json")}
    for rel in FEW:
        with (tmp_path / "out" / rel).open() as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["timestamp", "value", "anomaly_score", "label"]
        f = files[rel]
        assert len(rows) - 1 == len(f.t_ms)
        assert [float(r[1]) for r in rows[1:6]] == f.value[:5].tolist()
        scores = np.array([float(r[2]) for r in rows[1:]])
        assert ((scores >= 0) & (scores <= 1)).all() and scores.max() > 0
        label = np.array([int(r[3]) for r in rows[1:]])
        assert label.sum() == sum(r - left + 1 for left, r in f.windows)
        assert rows[1][0] == "2014-04-01 00:00:00" if "art_" in rel else len(rows[1][0]) == 19


def test_a_wrong_data_directory_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "nab", "--data", str(tmp_path), "--labels", str(NAB / "combined_windows.json")]) == 2
    assert "directory that holds the category folders" in capsys.readouterr().err


def test_the_split_is_disjoint_complete_and_stratified(corpus: list[nab.NabFile]) -> None:
    tune, hold = nab_run.split(corpus)
    assert {f.path for f in tune} | {f.path for f in hold} == {f.path for f in corpus}
    assert not {f.path for f in tune} & {f.path for f in hold}
    for part in (tune, hold):
        assert {f.path.split("/")[0] for f in part} == {f.path.split("/")[0] for f in corpus}
    assert [f.path for f in nab_run.split(list(reversed(corpus)))[0]] == [f.path for f in tune]


def test_on_nab_the_detector_beats_a_random_detector(corpus: list[nab.NabFile]) -> None:
    run = nab_run.score_corpus(corpus)
    ours = nab_run.evaluate(corpus, run.scores)["standard"]["score"]
    rng = np.random.default_rng(0)
    randoms = [nab_run.evaluate(corpus, {f.path: rng.random(len(f.t_ms)) for f in corpus})["standard"]["score"]
               for _ in range(3)]
    assert ours > max(randoms) + 10, (ours, randoms)
    assert run.state_bytes_per_sensor < 512
