"""The scenario scorer end to end, as CI runs it: a short scenario, simulated, replayed, scored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citylifeline.cli import main

SHORT = Path(__file__).parent / "data" / "scenarios" / "short.yaml"


def test_bench_scenarios_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "scenarios", "--scenario", str(SHORT), "--json", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    assert "| scenario | lifeline | truths | found |" in out
    rows = [line for line in out.splitlines() if line.startswith("| short | water |")]
    assert rows, out
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[2] == "1" and cells[3] == "1"  # one true incident, found
    matches = json.loads((tmp_path / "m.json").read_text())[0]["matches"]
    found = [m for m in matches if m["result"] == "found"]
    assert found and found[0]["truth"] == "burst-short" and found[0]["detect_s"] < 600
    assert not any(m["result"] == "false" and "WP-03" in m.get("title", "") for m in matches)


def test_bench_scenarios_adds_the_generated_cases_of_a_seed_as_one_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "scenarios", "--scenario", str(SHORT), "--generated", "7", "--cases", "1"]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("| short | water |") for line in out.splitlines())  # beside the scenario named
    rows = [line for line in out.splitlines() if line.startswith("| generated, seed 7 (1 cases) |")]
    assert len(rows) >= 2, out  # a lifeline row (or more) and the cascade row
    cascade = [c.strip() for c in rows[-1].strip("|").split("|")]
    assert int(cascade[2]) + int(cascade[3]) + int(cascade[4]) == int(cascade[1]) >= 1  # a 95 mm burst: the road
    assert int(cascade[10]) >= 1  # from the burst's true place its collapse is foreseen
