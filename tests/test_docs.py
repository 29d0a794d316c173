"""The docs tell the truth: the README's first commands, every setting, every module on the map."""

from __future__ import annotations

import re
from pathlib import Path

from citylifeline.settings import SETTINGS, markdown

ROOT = Path(__file__).resolve().parents[1]


def test_readme_starts_with_make_demo_and_make_test() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    assert commands[:2] == ["make demo", "make test"]


def test_settings_doc_lists_every_setting() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert doc == markdown(), "regenerate: python -c 'from citylifeline.settings import markdown; print(markdown())'"
    for s in SETTINGS:
        assert f"`CITYLIFELINE_{s.name.upper()}`" in doc


def test_architecture_names_every_module_and_only_real_ones() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = sorted(p for p in (ROOT / "citylifeline").rglob("*.py") if p.name != "__init__.py")
    missing = [str(p.relative_to(ROOT)) for p in modules if p.name not in doc]
    assert not missing, f"docs/architecture.md does not mention {missing}"
    for path in re.findall(r"citylifeline/[\w/]+\.py", doc):
        assert (ROOT / path).is_file(), f"docs/architecture.md names {path}, which does not exist"


def test_a_benchmark_replaces_its_own_section_and_keeps_the_others_apart(tmp_path: Path) -> None:
    from citylifeline.bench.report import replace_section

    doc = tmp_path / "benchmarks.md"
    replace_section("<!-- a -->", "<!-- a -->\n## A\nfirst\n", doc)
    replace_section("<!-- b -->", "<!-- b -->\n## B\n", doc)
    replace_section("<!-- a -->", "<!-- a -->\n## A\nsecond\n", doc)
    assert doc.read_text(encoding="utf-8") == "# Benchmarks\n\n<!-- a -->\n## A\nsecond\n\n<!-- b -->\n## B\n"
