"""The drainage twin: SWMM (through pyswmm) drives the sewer level, flow and rain sensors.

Each scenario runs a copy of the city's SWMM model with the scenario's rain (from its weather,
as 5-minute intensities at the rain gauge) and dates, from a six-hour warm-up so the sewers
carry their dry-weather flow, stepping at the shortest sensor interval.  Sensors: ``level`` at a
manhole is the water depth above its invert, at the underpass sag the water depth on the road;
``flow`` in a conduit; ``rainfall`` at the gauge.  Storms are weather, not injected incidents:
the model decides where the water goes, and the truth records *waterlogging* wherever it
stands on a street — the underpass sag once the water is 15 cm deep (where traffic is impeded)
until it drains below 5 cm, each sewer catchment (the tree above one outfall) while any of
its manholes overflows onto the road by more than 20 L/s, and each waterlogging point the city
declared (``city.swmm.add_waterlogging_points``) once the water on its street reaches the point's
warning depth, until it drains below a third of it; and, as secondary effects of those (parent
named), the cable wells, metro entrances and stations beside them that the water pours into
(``twin.cascade.ingress``).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import networkx as nx
import numpy as np

from ..analysis.drainage.model import SWMM_LOCK, SwmmModel, walk
from ..analysis.drainage.places import point_streets, street_depth
from ..batch import F64
from ..city.bundle import CityBundle
from ..errors import ConfigError
from .base import Signals, Truth, TwinContext
from .cascade import ingress

WARMUP_S = 6 * 3600
RAIN_STEP_S = 300
SAG_WET_M, SAG_DRY_M = 0.15, 0.05
FLOODING_M3S = 0.02  # overflow from a manhole (20 L/s) worth calling waterlogging
SCAN_EVERY = 5  # look for flooding manholes every 5 steps (5 minutes)
END_MARGIN_S = 900  # run SWMM a little past the scenario so its last steps are reported
UNDERPASS = "S-UP1"  # the storage node of the railway underpass's sag
RAIN_CELL_M = 800.0
CELL_SPREAD = 0.15
STORM_KMH = (20.0, 50.0)
IMPERV_ERROR, WIDTH_ERROR, ROUGHNESS_ERROR = 0.08, 0.25, 0.10
"""The real city against its model.  Rain: the catchments get the storm as a field, not the gauge's
point — cells of ``RAIN_CELL_M`` whose rain differs from the gauge's by a log-normal factor of
``CELL_SPREAD`` and arrives earlier or later as the storm crosses the city at ``STORM_KMH`` (rain
varies by tens of percent within a few kilometres, and urban hydrology needs it at that scale:
Berne et al., J. Hydrol. 299:166, 2004; Emmanuel et al., Atmos. Res. 103:20, 2012).  Sewers: the real
network drains as the SWMM file says only roughly — each subcatchment's imperviousness and width and
each pipe's roughness are off by log-normal factors (width, the least known, most: the parameters a
calibration moves, Krebs et al., J. Hydrol. 512:482, 2014), drawn once per scenario from its seed."""


def model_path(bundle: CityBundle) -> Path:
    """The SWMM file of a city bundle's drainage layer."""
    spec = (bundle.config.get("layers") or {}).get("drainage") or {}
    if "swmm" not in spec:
        raise ConfigError(f"{bundle.path}: the city has no drainage layer from a SWMM file")
    return bundle.path.parent / str(spec["swmm"])


def _element(asset: str) -> tuple[str, str]:
    layer_kind_name = asset.split("/", 2)
    return layer_kind_name[1], layer_kind_name[2]


class DrainageTwin:
    """Sewer levels and flows and rainfall, from SWMM."""

    lifeline: ClassVar[str] = "drainage"
    incident_types: ClassVar[tuple[str, ...]] = ()

    def simulate(self, ctx: TwinContext) -> Signals:
        """See ``LifelineTwin.simulate``."""
        if not ctx.sensors:
            return Signals.from_series({})
        os.environ.setdefault("OMP_NUM_THREADS", "1")  # pyswmm's per-step reads crawl with threads
        from pyswmm import Links, Nodes, Simulation

        began = time.perf_counter()
        step = ctx.model_step_s()
        n_steps = math.ceil(ctx.scenario.duration_s / step)
        tz = ZoneInfo(ctx.bundle.city.timezone)
        start = datetime.fromtimestamp(ctx.scenario.start_ms / 1000, tz).replace(tzinfo=None)
        values = np.full((n_steps, len(ctx.sensors)), np.nan)
        flood: dict[str, list[tuple[int, float]]] = {}
        street: dict[str, list[tuple[int, float]]] = {}  # the water on the street at each waterlogging point
        with SWMM_LOCK, tempfile.TemporaryDirectory(prefix="citylifeline-swmm-") as tmp:
            inp = Path(tmp) / "run.inp"
            field = RainField.draw(ctx)
            inp.write_text(self._input(model_path(ctx.bundle).read_text(encoding="utf-8"), ctx, start, field), "utf-8")
            with Simulation(str(inp)) as sim:
                nodes, links = Nodes(sim), Links(sim)
                read = [self._reader(s.kind, s.asset, nodes, links) for s in ctx.sensors]
                all_nodes = [(nd.nodeid, nd) for nd in nodes]
                sag = next((nd for name, nd in all_nodes if name == UNDERPASS), None)
                streets = point_streets(ctx.bundle.city, SwmmModel.of_file(model_path(ctx.bundle), []))
                points = {key: (nodes[node], full, per_m) for key, (node, full, per_m) in streets.items()
                          if node != UNDERPASS}  # the underpass has its own truth
                sim.step_advance(step)
                next_scan = 0
                for _ in sim:
                    # SWMM's routing steps need not land on the reporting step: place each
                    # reading by the model's own clock, not by counting iterations
                    k = round((sim.current_time - start).total_seconds() / step)
                    if k < 0:
                        continue
                    if k >= n_steps:
                        break
                    rain = float(ctx.scenario.weather.rain_mm_h(np.array([k * step]))[0]) / 1000 / 3600  # the gauge's
                    for j, fn in enumerate(read):
                        values[k, j] = rain if fn is None else fn()
                    if sag is not None:
                        flood.setdefault(UNDERPASS, []).append((k, float(sag.depth)))
                    for key, (nd, full, per_m) in points.items():
                        street.setdefault(key, []).append((k, float(street_depth(nd.depth, full, per_m))))
                    if k >= next_scan:  # overflowing manholes: every few minutes is enough
                        next_scan = k + SCAN_EVERY
                        for name, nd in all_nodes:
                            q = nd.flooding
                            if q > FLOODING_M3S and name != UNDERPASS:
                                flood.setdefault(name, []).append((k, q))
        truth = self._truth(ctx, flood, step) + self._point_truth(ctx, street, step)
        return Signals.from_series(ctx.sampled(_fill_gaps(values), step), truth, time.perf_counter() - began)

    @staticmethod
    def _reader(kind: str, asset: str, nodes: Any, links: Any) -> Any:
        what, name = _element(asset)
        if kind == "rainfall":
            return None
        if kind == "level" and what in ("junction", "storage", "outfall"):
            node = nodes[name]
            return lambda: float(node.depth)
        if kind == "flow" and what in ("conduit", "orifice", "weir", "pump"):
            link = links[name]
            return lambda: float(link.flow)
        raise ConfigError(f"the drainage twin cannot read a {kind} sensor on {asset}")

    @staticmethod
    def _input(text: str, ctx: TwinContext, start: datetime, field: RainField | None = None) -> str:
        """The model with the scenario's dates and rain (over ``field``'s cells, with its model errors)."""
        begin = start - timedelta(seconds=WARMUP_S)
        end = start + timedelta(seconds=ctx.scenario.duration_s + END_MARGIN_S)
        dates = {"START_DATE": begin.strftime("%m/%d/%Y"), "START_TIME": begin.strftime("%H:%M:%S"),
                 "REPORT_START_DATE": begin.strftime("%m/%d/%Y"), "REPORT_START_TIME": begin.strftime("%H:%M:%S"),
                 "END_DATE": end.strftime("%m/%d/%Y"), "END_TIME": end.strftime("%H:%M:%S")}
        t = np.arange(-WARMUP_S, ctx.scenario.duration_s + RAIN_STEP_S, RAIN_STEP_S, dtype=float)
        rain = ctx.scenario.weather.rain_mm_h(t + RAIN_STEP_S / 2)  # each interval's mean, roughly
        series = "\n".join(f"RAIN {(start + timedelta(seconds=float(s))).strftime('%m/%d/%Y %H:%M')} {r:.2f}"
                           for s, r in zip(t, rain, strict=True))
        if field is not None:
            series += "\n" + field.series(ctx, t, start)
        out = []
        for section, line, data in walk(text):
            if line.strip().startswith("["):
                out += [line, series] if section == "[TIMESERIES]" else [line]
                continue
            if section == "[TIMESERIES]":
                continue
            if field is not None and data:
                line = field.edit(section, line)
            key = line.split()[0] if section == "[OPTIONS]" and line.strip() else ""
            out.append(f"{key:<20} {dates[key]}" if key in dates else line)
            if field is not None and section == "[RAINGAGES]" and data:
                out += field.gauges()
        return "\n".join(out) + "\n"

    @staticmethod
    def _point_truth(ctx: TwinContext, street: dict[str, list[tuple[int, float]]], step: int) -> list[Truth]:
        """Waterlogging at each declared point once the street's water reaches its warning depth, until it
        drains below a third of it; expected of the level sensors on its node and the nodes beside."""
        layer = ctx.bundle.city.layers["drainage"]
        out = []
        for key, samples in sorted(street.items()):
            a = layer.assets[key]
            bar = float(a.props["depth_m"])
            wet = [k for k, d in samples if d >= bar]
            if not wet:
                continue
            node = f"drainage/{a.props['node_kind']}/{a.props['node']}"
            dry = [k for k, d in samples if d < bar / 3 and k > wet[0]]
            expected = sorted(s.id for s in ctx.sensors for n in layer.nodes_of(s.asset)
                              if s.kind != "rainfall" and (n == node or n in layer.graph[node]))
            peak = max(d for _, d in samples)
            out.append(_waterlogging(ctx, layer, f"waterlogging-{a.name}", key, wet[0], dry[0] if dry else None,
                                     step, expected, peak,
                                     f"{peak:.2f} m of water at {a.props.get('label', a.name)}"))
            out += ingress(out[-1], samples, step, ctx.bundle.city, ctx.scenario.start_ms)  # into the wells beside
        return out

    @staticmethod
    def _truth(ctx: TwinContext, flood: dict[str, list[tuple[int, float]]], step: int) -> list[Truth]:
        """Waterlogging as a duty officer would log it: the underpass once it stands deep
        enough to stop traffic, and each sewer catchment (the tree above one outfall) while any
        of its manholes overflows, placed at the manhole that overflows most."""
        layer = ctx.bundle.city.layers["drainage"]
        catchment = {n: i for i, part in enumerate(nx.connected_components(layer.graph)) for n in part}
        watching: dict[int, list[str]] = {}  # the level and flow sensors of each catchment
        for s in ctx.sensors:
            if s.kind != "rainfall" and layer.nodes_of(s.asset):
                watching.setdefault(catchment[layer.nodes_of(s.asset)[0]], []).append(s.id)
        out = []
        sag = flood.pop(UNDERPASS, [])
        wet = [k for k, d in sag if d >= SAG_WET_M]
        if wet:
            key = f"drainage/storage/{UNDERPASS}"
            dry = [k for k, d in sag if d < SAG_DRY_M and k > wet[0]]
            expected = sorted(s.id for s in ctx.sensors for n in layer.nodes_of(s.asset)
                              if s.kind != "rainfall" and (n == key or n in layer.graph[key]))
            peak = max(d for _, d in sag)
            out.append(_waterlogging(ctx, layer, f"waterlogging-{UNDERPASS}", key, wet[0],
                                     dry[0] if dry else None, step, expected, peak,
                                     f"{peak:.2f} m of water on the road in the railway underpass"))
            out += ingress(out[-1], sag, step, ctx.bundle.city, ctx.scenario.start_ms)
        by_catchment: dict[int, list[tuple[str, list[tuple[int, float]]]]] = {}
        for name, samples in flood.items():
            by_catchment.setdefault(catchment[f"drainage/junction/{name}"], []).append((name, samples))
        for cid, manholes in sorted(by_catchment.items()):
            worst, samples = max(manholes, key=lambda m: max(q for _, q in m[1]))
            first = min(k for _, ss in manholes for k, _ in ss)
            last = max(k for _, ss in manholes for k, _ in ss) + SCAN_EVERY
            peak = max(q for _, q in samples)
            out.append(_waterlogging(ctx, layer, f"waterlogging-{worst}", f"drainage/junction/{worst}", first, last,
                                     step, sorted(watching.get(cid, [])), peak,
                                     f"{len(manholes)} manholes overflowing, {worst} most ({peak * 1000:.0f} L/s)"))
        return out


class RainField:
    """The storm over the city's cells and the real sewers' departures from the model (``RAIN_CELL_M`` …)."""

    def __init__(self, cell_of: dict[str, str], shift_s: dict[str, float], factor: dict[str, float],
                 errors: dict[str, float]) -> None:
        self.cell_of, self.shift_s, self.factor, self.errors = cell_of, shift_s, factor, errors

    @classmethod
    def draw(cls, ctx: TwinContext) -> RainField:
        """A scenario's field, from its seed (the gauge's own cell reads the storm as the scenario gives it)."""
        layer = ctx.bundle.city.layers["drainage"]
        rng = np.random.default_rng([ctx.scenario.seed, 9173])
        gauge = next((a.xy for a in layer.assets.values() if a.kind == "raingauge"), None)
        subs = [a for a in layer.assets.values() if a.kind == "subcatchment"]
        if gauge is None or not subs:
            return cls({}, {}, {}, {})
        speed = rng.uniform(*STORM_KMH) / 3.6
        heading = rng.uniform(0, 2 * math.pi)
        gx, gy = gauge
        cell_of, shift, factor = {}, {}, {}
        for a in subs:
            x, y = a.xy
            cell = f"TW{math.floor((x - gx) / RAIN_CELL_M + 0.5)}_{math.floor((y - gy) / RAIN_CELL_M + 0.5)}"
            cell_of[a.name] = cell.replace("-", "m")
        for cell in sorted(set(cell_of.values())):
            i, j = (int(v.replace("m", "-")) for v in cell[2:].split("_"))
            if i == 0 and j == 0:
                shift[cell], factor[cell] = 0.0, 1.0  # the gauge's cell
                continue
            along = (i * math.cos(heading) + j * math.sin(heading)) * RAIN_CELL_M
            shift[cell] = along / speed
            factor[cell] = float(np.exp(rng.normal(0.0, CELL_SPREAD) - CELL_SPREAD ** 2 / 2))
        errors = {}
        for a in subs:
            errors[f"imperv:{a.name}"] = float(np.exp(rng.normal(0.0, IMPERV_ERROR)))
            errors[f"width:{a.name}"] = float(np.exp(rng.normal(0.0, WIDTH_ERROR)))
        for a in layer.assets.values():
            if a.kind == "conduit":
                errors[f"n:{a.name}"] = float(np.exp(rng.normal(0.0, ROUGHNESS_ERROR)))
        return cls(cell_of, shift, factor, errors)

    def gauges(self) -> list[str]:
        """The cells' hidden gauges, for [RAINGAGES]."""
        return [f"{c} INTENSITY 0:05 1.0 TIMESERIES RAIN_{c}" for c in sorted(self.factor)]

    def series(self, ctx: TwinContext, t: F64, start: datetime) -> str:
        """Each cell's rain series: the storm shifted and scaled."""
        lines = []
        for c in sorted(self.factor):
            rain = ctx.scenario.weather.rain_mm_h(t + RAIN_STEP_S / 2 - self.shift_s[c]) * self.factor[c]
            lines += [f"RAIN_{c} {(start + timedelta(seconds=float(s))).strftime('%m/%d/%Y %H:%M')} {r:.2f}"
                      for s, r in zip(t, rain, strict=True)]
        return "\n".join(lines)

    def edit(self, section: str, line: str) -> str:
        """A model line as the real network is: a subcatchment on its cell's rain with its real
        imperviousness and width; a conduit with its real roughness."""
        f = line.split()
        if section == "[SUBCATCHMENTS]" and f[0] in self.cell_of:
            f[1] = self.cell_of[f[0]]
            f[4] = f"{min(100.0, float(f[4]) * self.errors[f'imperv:{f[0]}']):.2f}"
            f[5] = f"{float(f[5]) * self.errors[f'width:{f[0]}']:.2f}"
        elif section == "[CONDUITS]" and f"n:{f[0]}" in self.errors:
            f[4] = f"{float(f[4]) * self.errors[f'n:{f[0]}']:.4f}"
        else:
            return line
        return " ".join(f)


def _fill_gaps(values: F64) -> F64:
    """Steps the model skipped (a routing step longer than the reporting step) hold the value
    before them (or after them, at the very start)."""
    import pandas as pd

    return pd.DataFrame(values).ffill().bfill().to_numpy(np.float64)


def _waterlogging(ctx: TwinContext, layer: Any, tid: str, key: str, first: int, last: int | None, step: int,
                  expected: list[str], magnitude: float, description: str) -> Truth:
    x, y = layer.assets[key].xy
    end_ms = None if last is None else ctx.scenario.start_ms + last * step * 1000
    return Truth(tid, "waterlogging", "drainage", key, x, y, ctx.scenario.start_ms + first * step * 1000, end_ms,
                 expected, round(float(magnitude), 3), description)
