"""``citylifeline bench drainage``: the waterlogging forecast on storms it was not built on, against
the twin's SWMM truth, with today's fixed limits as the peer in the same run.

Each seed draws a storm over the demo city (``storm``: its peak from 15 to 130 mm/h, log-uniform —
10 to 35 for the showers of ``LIGHT_SEEDS``; 1–4 hours long; starting 2–5 hours into a 10-hour
scenario), which the drainage twin runs with the real city's rain field and sewers
(``twin.drainage.RainField``: the model the analyst runs is only an estimate of them).  The
platform replays the readings three ways:

- **forecast**: the drainage analyst with the twin's meteorological service's radar nowcasts
  (``twin.rainforecast``: a storm seen 30–90 minutes before it comes, its timing and rain wrong);
- **gauges**: the drainage analyst with its own rain gauge only (its nowcast);
- **rules**: no analyst: the drainage sensors' fixed limits, as before this analyst.

Scored per waterlogging point (the underpass and the six points of city.yaml) where the truth has
the water on the street reach the point's warning depth (15 cm): *warned* when a warning of that
place (an analyst's forecast for it; for the rules, an incident on a sensor of the point's node or
the nodes beside it, or within ``MATCH_M``) came before the water did, its *lead* the minutes between;
*late* when it came after; *missed* when none came while the water stood.  Points warned that did not
flood are *false places*; storms that flood no point and no catchment count their incidents as
*false incidents*.  The forecast's *depth error* is its last forecast peak before the water came
against the true peak.  Catchments (a manhole overflowing) are in ``bench scenarios``.
"""

from __future__ import annotations

import math
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.drainage.model import SwmmModel, walk
from ..city.bundle import CityBundle, load_city
from ..offline import replay
from ..settings import Config
from ..twin.runner import simulate, write_run
from ..twin.scenario import Scenario, scenario_from_dict
from .report import machine
from .scenarios import twin_forecasts

SEEDS = tuple(range(821, 833))
"""Held-out storm seeds: never looked at while the analyst was built.  (801–812 and the showers 901–910
held out before were looked at once their results were read, and are retired; development used 13–18,
943–999 and the showers among them.)"""
LIGHT_SEEDS = tuple(range(921, 931))
"""Held-out showers (the same), for the false warnings in storms that flood nothing."""
MODES = ("forecast", "gauges", "rules")
MATCH_M = 300.0
CITY_TILES = 5  # 25 districts like the demo's: 4,825 manholes
HOURS = 10


def storm(seed: int) -> Scenario:
    """The storm of ``seed`` over the demo city (module docstring); a ``LIGHT_SEEDS`` one peaks at 10–35
    mm/h (showers that mostly flood nothing: the false warnings' test)."""
    rng = np.random.default_rng(seed)
    low, high = (10.0, 35.0) if seed in LIGHT_SEEDS else (15.0, 130.0)
    peak = float(np.exp(rng.uniform(math.log(low), math.log(high))))
    doc = {"name": f"storm-{seed}", "city": "demo", "duration": f"{HOURS}h", "seed": seed,
           "start": "2026-07-14T10:00:00+08:00", "weather": {"temperature_c": {"mean": 28, "swing": 6}, "rain": [
               {"start": f"{rng.uniform(2, 5):.2f}h", "duration": f"{rng.uniform(1, 4):.2f}h", "peak_mm_h": peak}]}}
    return scenario_from_dict(doc)


def run_storm(seed: int, bundle: CityBundle) -> dict[str, Any]:
    """One storm, replayed in every mode, scored per point."""
    scn = storm(seed)
    run = simulate(scn, bundle, lifelines=("drainage",))
    points = {a.key: a for a in bundle.city.layers["drainage"].assets.values() if a.kind == "waterlogging_point"}
    truth = {}  # point → (start, peak)
    for t in run.truth:
        key = t.place if t.place in points else next(
            (k for k, a in points.items() if t.place == f"drainage/{a.props['node_kind']}/{a.props['node']}"), None)
        if key is not None:
            truth[key] = (t.start_ms, t.magnitude, t.expected_sensors)
    out: dict[str, Any] = {"seed": seed, "peak_mm_h": scn.weather.rain[0].peak_mm_h,
                           "duration_h": scn.weather.rain[0].duration_s / 3600, "truth": len(run.truth),
                           "floods": len(truth)}
    with tempfile.TemporaryDirectory(prefix="cl-drain-") as tmp:
        readings, _ = write_run(run, tmp)
        for mode in MODES:
            config = Config.load(environ={}, analysts="" if mode == "rules" else "drainage")
            began = time.perf_counter()
            result = replay(bundle, config, files=[readings],
                            rain_forecasts=twin_forecasts(scn, bundle) if mode == "forecast" else ())
            out[mode] = _score(mode, result, points, truth, bundle, run.truth)
            out[mode]["replay_s"] = time.perf_counter() - began
    return out


def _score(mode: str, result: Any, points: dict[str, Any], truth: dict[str, Any], bundle: CityBundle,
           all_truth: list[Any]) -> dict[str, Any]:
    drainage = [i for i in result.incidents if i["lifeline"] == "drainage"]
    forecasts = [e for e in result.events if e["kind"] == "waterlogging_forecast" and e["active"]]
    rows = []
    for key, (start, peak, expected) in truth.items():
        if mode == "rules":
            x, y = points[key].xy
            near = [i for i in drainage if set(i["sensors"]) & set(expected) or math.dist((i["x"], i["y"]), (x, y))
                    <= MATCH_M]
            first = min((i["t_first_ms"] for i in near), default=None)
            depth = None
        else:
            mine = [e for e in forecasts if e["asset"] == key]
            first = min((e["t_ms"] for e in mine), default=None)
            before = [e for e in mine if e["t_ms"] <= start]
            depth = abs(before[-1]["value"] - peak) if before else None
        rows.append({"point": key, "lead_min": None if first is None else (start - first) / 60_000,
                     "depth_error_m": depth, "peak_m": peak})
    warned = {e["asset"] for e in forecasts if e["asset"] in points}
    return {"points": rows, "false_places": len(warned - set(truth)) if mode != "rules" else None,
            "incidents": len(drainage), "dry_storm": not all_truth}


def run(seeds: tuple[int, ...] = SEEDS + LIGHT_SEEDS) -> dict[str, Any]:
    """Every storm, and where and when it ran."""
    bundle = load_city("demo")
    began = time.perf_counter()
    storms = [run_storm(s, bundle) for s in seeds]
    text = Path(bundle.city.layers["drainage"].model).read_text(encoding="utf-8")
    city = tiled_city(text, CITY_TILES)
    return {"storms": storms, "seconds": round(time.perf_counter() - began), "machine": machine(),
            "date": date.today().isoformat(), "forecast_s": forecast_seconds(text),
            "city_forecast_s": forecast_seconds(city), "city_manholes": SwmmModel(city, []).full_depth_m.size}


def forecast_seconds(text: str, members: int = 5) -> float:
    """One two-hour forecast of a SWMM model from a storm's state, ``members`` rain scenarios (the analyst's
    ensemble; a large network's in worker processes, ``SwmmModel.forecasts``), in seconds."""
    model = SwmmModel(text, [])
    start = datetime(2026, 7, 14, 15)
    hot = model.warm(start - timedelta(hours=1))
    hot, _ = model.run(hot, start - timedelta(hours=1), np.full((len(model.gauges), 12), 60.0), save=True)
    rain = [np.full((len(model.gauges), 24), 30.0 + 10 * m) for m in range(members)]
    model.forecasts(hot, start, rain[:2])  # a large network's worker processes started (once, as live)
    began = time.perf_counter()
    model.forecasts(hot, start, rain)
    return time.perf_counter() - began


TILED = {"[SUBCATCHMENTS]": (0, 2), "[SUBAREAS]": (0,), "[INFILTRATION]": (0,), "[JUNCTIONS]": (0,),
         "[OUTFALLS]": (0,), "[STORAGE]": (0,), "[CONDUITS]": (0, 1, 2), "[XSECTIONS]": (0,), "[DWF]": (0,),
         "[COORDINATES]": (0,), "[POLYGONS]": (0,)}
"""The sections of a SWMM file whose lines are the network, and the columns that name its elements."""


def tiled_city(text: str, tiles: int, spacing_m: float = 3000.0) -> str:
    """A city of ``tiles`` × ``tiles`` districts, each a copy of the model ``text`` beside the others
    (its elements renamed, its coordinates moved), under the same rain gauge: a city-size network to
    time the forecast on where no public one of thousands of manholes can be installed here."""
    out = []
    for section, line, data in walk(text):
        cols = TILED.get(section)
        if cols is None or not data:
            out.append(line)
            continue
        f = line.split()
        for i in range(tiles):
            for j in range(tiles):
                g = list(f)
                for c in cols:
                    g[c] = f"{f[c]}_{i}{j}"
                if section in ("[COORDINATES]", "[POLYGONS]"):
                    g[1], g[2] = f"{float(f[1]) + i * spacing_m:.2f}", f"{float(f[2]) + j * spacing_m:.2f}"
                out.append(" ".join(g))
    return "\n".join(out) + "\n"


def summary(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per mode: hit rate, median lead, false incidents per dry storm, false places, depth error."""
    out = {}
    for mode in MODES:
        rows = [p for s in r["storms"] for p in s[mode]["points"]]
        leads = [p["lead_min"] for p in rows if p["lead_min"] is not None]
        hits = [x for x in leads if x >= 0]
        dry = [s for s in r["storms"] if s[mode]["dry_storm"]]
        depth = [p["depth_error_m"] for p in rows if p["depth_error_m"] is not None]
        out[mode] = {"floods": len(rows), "warned_before": len(hits), "late": len(leads) - len(hits),
                     "missed": len(rows) - len(leads),
                     "median_lead_min": float(np.median(hits)) if hits else None,
                     "dry_storms": len(dry), "false_incidents_dry": sum(s[mode]["incidents"] for s in dry),
                     "false_places": None if mode == "rules" else sum(s[mode]["false_places"] for s in r["storms"]),
                     "median_depth_error_m": float(np.median(depth)) if depth else None,
                     "replay_s": float(np.median([s[mode]["replay_s"] for s in r["storms"]]))}
    return out


def markdown(r: dict[str, Any]) -> str:
    """The results as the section of docs/benchmarks.md."""
    s = summary(r)
    seeds = ", ".join(str(x["seed"]) for x in r["storms"])
    lines = ["<!-- drainage -->",
             "## Drainage: waterlogging forecast against the fixed limits (`citylifeline bench drainage`)", "",
             f"`{r['command']}` on {r['date']}, {r['machine']}, {r['seconds'] / 60:.0f} min.  Held-out storm seeds "
             f"{seeds} (never looked at while building; the parameters chosen on storms were chosen on development "
             "seeds: `analysis.drainage.rain`), over the demo city "
             "with the real rain field and sewers of the twin (`twin.drainage.RainField`), not the analyst's model. "
             f"A two-hour forecast, five members, dynamic wave: the demo city (193 manholes) {r['forecast_s']:.2f} s; "
             f"a city of 25 such districts ({r['city_manholes']:,} nodes, `tiled_city`: no public SWMM network of "
             f"thousands of manholes installs from the package registries this machine reaches; pystorms' largest "
             f"has 206) {r['city_forecast_s']:.1f} s.", "",
             "| | forecast (radar nowcasts) | gauges alone | fixed limits |", "|---|---|---|---|"]

    def cell(mode: str, key: str, fmt: str = "{}") -> str:
        v = s[mode][key]
        return "—" if v is None else fmt.format(v)
    floods = s["forecast"]["floods"]
    lines += [f"| points flooded ≥ 15 cm ({floods} in {len(r['storms'])} storms): warned before the water | "
              + " | ".join(f"{s[m]['warned_before']} ({100 * s[m]['warned_before'] / max(floods, 1):.0f} %)"
                           for m in MODES) + " |",
              "| … warned after it came / missed | " + " | ".join(f"{s[m]['late']} / {s[m]['missed']}"
                                                              for m in MODES) + " |",
              "| median lead of those warned before | " + " | ".join(cell(m, "median_lead_min", "{:.0f} min")
                                                                   for m in MODES) + " |",
              f"| incidents in storms that flood nothing ({s['forecast']['dry_storms']} storms) | "
              + " | ".join(str(s[m]["false_incidents_dry"]) for m in MODES) + " |",
              "| points warned that did not flood | " + " | ".join(cell(m, "false_places") for m in MODES) + " |",
              "| median depth error (last forecast before the water) | "
              + " | ".join(cell(m, "median_depth_error_m", "{:.2f} m") for m in MODES) + " |",
              "| replay of a storm, median | " + " | ".join(f"{s[m]['replay_s']:.0f} s" for m in MODES) + " |",
              "", "| seed | peak | hours | points flooded | forecast: lead per point (min) | gauges | limits |",
              "|---|---|---|---|---|---|---|"]
    for x in r["storms"]:
        def leads(mode: str, x: dict[str, Any] = x) -> str:
            return ", ".join(f"{p['point'].rsplit('/', 1)[-1]} {'—' if p['lead_min'] is None else round(p['lead_min'])}"
                             for p in x[mode]["points"]) or "—"
        lines.append(f"| {x['seed']} | {x['peak_mm_h']:.0f} mm/h | {x['duration_h']:.1f} | {x['floods']} | "
                     f"{leads('forecast')} | {leads('gauges')} | {leads('rules')} |")
    return "\n".join(lines) + "\n"
