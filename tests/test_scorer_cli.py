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
