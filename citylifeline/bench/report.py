"""Writing benchmark results into docs/benchmarks.md: the machine, and one section per benchmark."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


def bench_command(write_docs: bool) -> str:
    """The command to name in a report: ``make bench`` when it writes the docs (that is what runs
    it), else the command line as given."""
    return "make bench" if write_docs else " ".join(["python", *sys.argv])


def machine() -> str:
    """'AMD EPYC, 2 cores, 24 GiB RAM, Python 3.11.7' for the report."""
    model, mem_kb = "unknown CPU", 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines()
                          if x.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores, {mem_kb / 2**20:.0f} GiB RAM, Python {platform.python_version()}"


def replace_section(marker: str, markdown: str, path: Path = DOCS) -> None:
    """Put ``markdown`` (which starts with ``marker``) in place of the section after ``marker``
    (up to the next ``<!-- `` marker), or append it."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if marker in text:
        head, _, rest = text.partition(marker)
        nxt = rest.find("\n<!-- ", 1)
        text = head + markdown.rstrip("\n") + "\n" + ("\n" + rest[nxt + 1:] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + markdown
    path.write_text(text, encoding="utf-8")
