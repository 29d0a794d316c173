"""The city's SWMM model as the drainage analyst runs it: the *now-run* that follows the observed
rain five minutes at a time, and the *forecasts* that start from its state over rain scenarios.

SWMM (EPA SWMM 5.2 through pyswmm) is the model the city's drainage layer already is; the
analyst runs the same file the utility maintains, with only its dates and rain replaced:

- each rain gauge of the model reads its own time series (``RAIN_<gauge>``, 5-minute intensities in
  mm/h), written into the file for each run;
- the state between runs is a SWMM hotstart file (depths and flows in every node and link, the
  ponded water, the soil's infiltration state), kept as bytes: the analyst's checkpoint carries them.
  Chained five-minute runs from hotstarts follow a continuous run within 3 cm at the demo city's
  underpass through a 95 mm/h storm (``tests/test_drainage_model.py``);
- the dry-weather sewage follows the model's hourly patterns, so every run carries the real clock.

SWMM keeps one project per process (its engine is a set of globals: opening a second project
ends the first), so every run, the twin's included, holds ``SWMM_LOCK``.

A run reads the place nodes every ``REPORT_S`` and every node's flooding (overflow onto the
street, m³/s) every ``SCAN_S``.  Costs on the demo city (193 manholes, dynamic wave): a five-minute
step 6 ms, a two-hour forecast 0.15 s.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ...errors import ConfigError

SWMM_LOCK = threading.RLock()
"""Held by every SWMM run in the process (the analyst's and the twin's): SWMM has one project at a time."""
STEP_S = 300  # the now-run's step and the rain series' interval
REPORT_S = 60  # place depths are read every minute of a forecast
SCAN_S = 300  # every node's overflow is read every five minutes
F64 = npt.NDArray[np.float64]
PARALLEL_NODES = 1000  # a larger network forecasts its members in worker processes (the demo city: 193)
MAX_WORKERS = 4
DATE_KEYS = ("START_DATE", "START_TIME", "REPORT_START_DATE", "REPORT_START_TIME", "END_DATE", "END_TIME")


@dataclass(frozen=True)
class Run:
    """What a run saw: ``depth_m`` (reports × places), the water depth at each place node every
    ``REPORT_S`` from the run's start (after the first report), and ``flood_m3s`` (scans × nodes),
    each node's overflow onto the street every ``SCAN_S``."""

    depth_m: F64
    flood_m3s: F64


class SwmmModel:
    """One SWMM file, run from hotstarts with the rain given per gauge.

    ``places``: the nodes whose depth is read every minute."""

    def __init__(self, text: str, places: list[str]) -> None:
        self.text = text
        self.sections = _sections(text)
        self.gauges = [line.split()[0] for line in self.sections.get("[RAINGAGES]", [])]
        if not self.gauges:
            raise ConfigError("the drainage model has no [RAINGAGES]; the analyst needs the rain gauges the "
                              "subcatchments read")
        junctions = {ln.split()[0]: ln.split() for ln in self.sections.get("[JUNCTIONS]", [])}
        storages = [ln.split()[0] for ln in self.sections.get("[STORAGE]", [])]
        outfalls = [ln.split()[0] for ln in self.sections.get("[OUTFALLS]", [])]
        self.nodes = [*junctions, *outfalls, *storages]
        """Every node, in SWMM's own order (junctions, outfalls, storage), as ``flood_m3s`` columns."""
        self.full_depth_m = np.array([float(junctions[n][2]) if n in junctions else np.inf for n in self.nodes])
        """Each node's depth to the street: water above it stands on the road (manholes only)."""
        self.ponded_m2 = np.array([float(junctions[n][5]) if n in junctions and len(junctions[n]) > 5 else 0.0
                                   for n in self.nodes])
        """The area SWMM ponds a manhole's overflow on (its depth above the rim is the ponded volume over it)."""
        unknown = [p for p in places if p not in self.nodes]
        if unknown:
            raise ConfigError(f"waterlogging places on nodes {', '.join(unknown)} that the SWMM model does not have; "
                              f"name one of its junctions or storage units")
        self.places = places

    @classmethod
    def of_file(cls, path: str | Path, places: list[str]) -> SwmmModel:
        """The model in a SWMM file."""
        return cls(Path(path).read_text(encoding="utf-8"), places)

    def warm(self, start: datetime, hours: float = 6.0) -> bytes:
        """The state at ``start`` after ``hours`` of dry weather (sewage only): the hotstart to begin from."""
        began = start - timedelta(hours=hours)
        steps = round(hours * 3600 / STEP_S)
        hot, _ = self.run(None, began, np.zeros((len(self.gauges), steps)), save=True)
        return hot

    def step(self, hot: bytes, start: datetime, rain_mm_h: F64) -> tuple[bytes, Run]:
        """One ``STEP_S`` from state ``hot`` at ``start`` (naive local time) under the rain of each
        gauge (mm/h, the step's mean): the state at its end, and what it saw."""
        return self.run(hot, start, np.asarray(rain_mm_h, dtype=float).reshape(-1, 1), save=True)

    def forecast(self, hot: bytes, start: datetime, rain_mm_h: F64) -> Run:
        """From state ``hot`` at ``start`` over a rain scenario (gauges × 5-minute steps, mm/h)."""
        return self.run(hot, start, rain_mm_h, save=False)[1]

    def forecasts(self, hot: bytes, start: datetime, members: list[F64]) -> list[Run]:
        """``forecast`` for each rain scenario: on a network of more than ``PARALLEL_NODES`` nodes, in
        worker processes, one per core (SWMM is one project per process: processes, not threads)."""
        if len(self.nodes) <= PARALLEL_NODES or len(members) < 2 or (os.cpu_count() or 1) < 2:
            return [self.forecast(hot, start, m) for m in members]
        key = hash((self.text, tuple(self.places)))
        with SWMM_LOCK:
            if key not in _POOLS:  # one pool per model and process, kept (an analyst started again reuses it)
                import multiprocessing

                _POOLS[key] = ProcessPoolExecutor(max_workers=min(os.cpu_count() or 2, MAX_WORKERS),
                                                  mp_context=multiprocessing.get_context("spawn"),
                                                  initializer=_worker_model, initargs=(self.text, self.places))
        return list(_POOLS[key].map(_worker_forecast, [(hot, start, m) for m in members]))

    def run(self, hot: bytes | None, start: datetime, rain_mm_h: F64, save: bool) -> tuple[bytes, Run]:
        """Run for as many ``STEP_S`` as ``rain_mm_h`` has columns (gauges × steps); ``save``: return
        the state at the end.  Results are read from SWMM's solver by node index (pyswmm's
        ``Nodes[name]`` looks each name up through the whole list: 50 ms a step on the demo city)."""
        os.environ.setdefault("OMP_NUM_THREADS", "1")  # pyswmm's per-step reads crawl with threads
        from pyswmm import Simulation
        from swmm.toolkit import shared_enum, solver

        rain = np.asarray(rain_mm_h, dtype=float)
        if rain.shape[0] != len(self.gauges):
            raise ValueError(f"rain for {rain.shape[0]} gauges; the model has {len(self.gauges)}")
        reports = rain.shape[1] * STEP_S // REPORT_S
        depth = np.full((reports, len(self.places)), np.nan)
        flood = np.zeros((reports * REPORT_S // SCAN_S, len(self.nodes)))
        node = shared_enum.ObjectType.NODE
        depth_of, flood_of = shared_enum.NodeResult.DEPTH, shared_enum.NodeResult.FLOOD
        state = b""
        with SWMM_LOCK, tempfile.TemporaryDirectory(prefix="citylifeline-swmm-") as tmp:
            inp = Path(tmp) / "run.inp"
            inp.write_text(self.input(start, rain.shape[1] * STEP_S, rain), encoding="utf-8")
            with Simulation(str(inp)) as sim:
                if hot is not None:
                    (Path(tmp) / "in.hsf").write_bytes(hot)
                    sim.use_hotstart(str(Path(tmp) / "in.hsf"))
                k = 0
                # every routing step (seconds, variable): a report is read at the first step that reaches
                # its time; pyswmm's step_advance counts from where the last stride overshot, and drifts
                for _ in sim:
                    if k == 0:
                        index = {solver.project_get_id(node, i): i for i in range(solver.project_get_count(node))}
                        place = [index[p] for p in self.places]
                        every = [index[n] for n in self.nodes]
                    elapsed = (sim.current_time - start).total_seconds()
                    while k < reports and elapsed >= (k + 1) * REPORT_S - 0.5:
                        depth[k] = [solver.node_get_result(i, depth_of) for i in place]
                        k += 1
                        if k % (SCAN_S // REPORT_S) == 0:
                            flood[k * REPORT_S // SCAN_S - 1] = [solver.node_get_result(i, flood_of) for i in every]
                while 0 < k < reports:  # the run's last report is its end, which pyswmm does not yield
                    depth[k] = [solver.node_get_result(i, depth_of) for i in place]
                    k += 1
                    if k % (SCAN_S // REPORT_S) == 0:
                        flood[k * REPORT_S // SCAN_S - 1] = [solver.node_get_result(i, flood_of) for i in every]
                if save:  # SWMM ends exactly at the run's end: the state there
                    sim.save_hotstart(str(Path(tmp) / "out.hsf"))
            if save:
                state = (Path(tmp) / "out.hsf").read_bytes()
        return state, Run(depth, flood)

    def input(self, start: datetime, duration_s: int, rain_mm_h: F64) -> str:
        """The model's text with the run's dates and each gauge reading its own series."""
        end = start + timedelta(seconds=duration_s)
        dates = dict(zip(DATE_KEYS, (start.strftime("%m/%d/%Y"), start.strftime("%H:%M:%S")) * 2
                         + (end.strftime("%m/%d/%Y"), end.strftime("%H:%M:%S")), strict=True))
        stamps = [(start + timedelta(seconds=k * STEP_S)).strftime("%m/%d/%Y %H:%M")
                  for k in range(rain_mm_h.shape[1] + 1)]  # a last 0: the rain ends
        series = [f"RAIN_{g} {s} {r:.3f}" for g, rain in zip(self.gauges, rain_mm_h, strict=True)
                  for s, r in zip(stamps, [*rain, 0.0], strict=True)]
        out: list[str] = []
        for section, line, data in walk(self.text):
            if line.strip().startswith("["):
                out += [line, *series] if section == "[TIMESERIES]" else [line]
            elif section == "[TIMESERIES]" or (section == "[REPORT]" and data):
                continue
            elif section == "[OPTIONS]" and data and line.split()[0] in dates:
                out.append(f"{line.split()[0]:<20} {dates[line.split()[0]]}")
            elif section == "[RAINGAGES]" and data:
                name, form, _, scf = line.split()[:4]  # our series are 5-minute ones
                out.append(f"{name} {form} 0:05 {scf} TIMESERIES RAIN_{name}")
            else:
                out.append(line)
        if "[TIMESERIES]" not in self.sections:
            out += ["[TIMESERIES]", *series]
        return "\n".join(out) + "\n"


_POOLS: dict[int, ProcessPoolExecutor] = {}
_WORKER: list[SwmmModel] = []


def _worker_model(text: str, places: list[str]) -> None:
    _WORKER[:] = [SwmmModel(text, places)]


def _worker_forecast(args: tuple[bytes, datetime, F64]) -> Run:
    return _WORKER[0].forecast(*args)


def walk(text: str) -> Iterator[tuple[str, str, bool]]:
    """Each line of a SWMM file with its section (``[JUNCTIONS]`` …, upper case) and whether it is a
    data line (not a header, a comment or blank)."""
    section = ""
    for line in text.splitlines():
        head = line.strip().upper()
        if head.startswith("["):
            section = head
            yield section, line, False
        else:
            yield section, line, bool(line.strip()) and not line.lstrip().startswith(";")


def _sections(text: str) -> dict[str, list[str]]:
    """Each section's data lines (no comments, no blanks)."""
    out: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("["):
            section = s.upper()
            out.setdefault(section, [])
        elif s and not s.startswith(";") and section:
            out[section].append(s)
    return out
