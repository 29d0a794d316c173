"""The four-colour risk map (风险四色图): every asset's likelihood × consequence on GB/T 42768's 5 × 5
matrix, per asset and per grid cell, static and live, with a list of the top risks and their reasons.

``RiskBase`` holds what changes only with the city (built once: each asset's rate from its material,
age and soil, its severity from the people and places near it and its coupling to other lifelines;
columns, one geometry query each, so that 100,000 assets take seconds).  ``assess`` adds what the
store knows (incidents and alarms of the past year, open sensor faults) and what is happening now
(open incidents, their cascades, waterlogging warned, construction sites) and gives a ``RiskMap``.
The history raises the rate as a gamma–Poisson update would: the asset's own rate counts as
``PRIOR_YEARS`` of experience, each incident on it as one failure, each alarm as ``ALARM_WEIGHT`` of
one; a quiet record lowers nothing (a store's history is short beside a pipe's life).  An asset
in an open incident, or a place warned of water now, is at likelihood 5 (it is failing); an asset an
open incident's cascade reaches with likelihood p has p more failures a year.  GB/T 42768 asks for
the map per point, per category and per area: ``RiskMap.grid`` gives the areas (cells of
``CELL_M``), coloured by their worst asset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
from shapely.strtree import STRtree

from .. import levels
from ..cascade.coupling import KINDS as EDGE_KINDS
from ..cascade.coupling import Coupling
from ..city.model import LIFELINES, Asset, City
from . import factors as fx

PRIOR_YEARS = 5.0
ALARM_WEIGHT = 0.2
CELL_M = 250.0
NOW_F = 1.0  # failures a year of an asset failing now: likelihood 5


@dataclass
class Site:
    """A construction site near the lifelines (``risk.sites``): its area in the city CRS."""

    id: int
    name: str
    geometry: Any


@dataclass
class RiskInputs:
    """What the store and the live platform know (``assess``); empty: the static map."""

    incidents: dict[str, int] = field(default_factory=dict)  # asset → incidents on it in the past year
    alarms: dict[str, int] = field(default_factory=dict)  # asset → warning events on its sensors in the past year
    faulty: set[str] = field(default_factory=set)  # assets whose sensors have open faults
    failing: dict[str, int] = field(default_factory=dict)  # asset → level of the open incident on it
    cascade: dict[str, float] = field(default_factory=dict)  # asset → likelihood an open incident reaches it
    sites: list[Site] = field(default_factory=list)


class RiskBase:
    """The static columns of every asset that can fail (a rate or a severity in ``factors``)."""

    def __init__(self, city: City, coupling: Coupling) -> None:
        assets = [a for name in LIFELINES if name in city.layers for a in city.layers[name].assets.values()
                  if fx.base_rate(a.layer, a.kind, "") > 0 or f"{a.layer}/{a.kind}" in fx.SEVERITY]
        self.city = city
        self.assets: list[Asset] = assets
        self.keys = [a.key for a in assets]
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.layer = np.array([a.layer for a in assets])
        self.geoms = np.array([a.geometry for a in assets], dtype=object)
        xy = np.array([a.xy for a in assets], dtype=np.float64).reshape(-1, 2)
        self.x, self.y = xy[:, 0].copy(), xy[:, 1].copy()
        this_year = float(date.today().year)
        age = np.array([this_year - float(a.props.get("install_year", this_year - fx.AGE_AT_RATE)) for a in assets])
        self.age_years = age
        self.rate = np.array([fx.base_rate(a.layer, a.kind, str(a.props.get("material", ""))) for a in assets])
        self.per = np.array([float(a.props.get("length_m", a.geometry.length)) / 1000.0 if a.kind in fx.PIPE_KINDS
                             else 1.0 for a in assets])  # what the rate is of: km of pipe, or the asset
        self.corrosive = np.array([a.props.get("soil") == "corrosive" and a.props.get("material") in fx.METALS
                                   for a in assets])
        self.rate *= np.exp(fx.AGEING_PER_YEAR * (np.maximum(age, 0.0) - fx.AGE_AT_RATE))
        self.rate *= np.where(self.corrosive, fx.CORROSIVE, 1.0)
        self.severity0 = np.array([fx.SEVERITY.get(f"{a.layer}/{a.kind}", 1) for a in assets], dtype=np.int8)
        big_main = np.array([a.layer == "water" and a.kind == "pipe"
                             and float(a.props.get("diameter_m", 0.0)) >= fx.BIG_MAIN_M for a in assets])
        self.sensitive, self.people = self._people(city)
        self.reach = self._reach(coupling)
        self.severity = np.minimum(5, self.severity0 + big_main + self.sensitive.astype(np.int8)
                                   + (self.people >= fx.CROWD) + (self.reach >= fx.REACH_EDGES)).astype(np.int8)

    def __len__(self) -> int:
        return len(self.keys)

    def _people(self, city: City) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
        """Per asset: a sensitive place within ``PEOPLE_M``, and the people of the places within it."""
        sensitive = np.zeros(len(self), bool)
        people = np.zeros(len(self), np.int64)
        places = list(city.layers["places"].assets.values()) if "places" in city.layers else []
        if places and len(self):
            tree = STRtree([p.geometry for p in places])
            a, p = tree.query(self.geoms, predicate="dwithin", distance=fx.PEOPLE_M)
            is_sensitive = np.array([pl.kind in fx.SENSITIVE for pl in places])
            count = np.array([int(pl.props.get("population", 0) or 0) + int(pl.props.get("pupils", 0) or 0)
                              for pl in places])
            np.logical_or.at(sensitive, a, is_sensitive[p])
            np.add.at(people, a, count[p])
        return sensitive, people

    def _reach(self, coupling: Coupling) -> npt.NDArray[np.int64]:
        """Per asset: the confined spaces of other lifelines within 5 m of it, plus the tunnel, bridge and
        declared dependencies it shares (what a failure of it would reach)."""
        space = np.array([k.split("/")[1] in ("cable_well", "compartment", "junction", "storage")
                          and k.startswith(("tunnel/", "drainage/")) for k in coupling.keys] + [False])
        shared = np.isin(coupling.kind, [EDGE_KINDS.index(k) for k in ("in_tunnel", "on_bridge", "depends")])
        near = coupling.distance_m <= 5.0
        counts = np.zeros(len(coupling.keys), np.int64)
        for a, b in ((coupling.src, coupling.dst), (coupling.dst, coupling.src)):
            counts += np.bincount(a[shared | (near & space[b])], minlength=len(coupling.keys))
        mine = np.array([coupling.index.get(k, -1) for k in self.keys], dtype=np.int64)
        return np.where(mine >= 0, counts[np.maximum(mine, 0)], 0)

    def indices(self, keys: dict[str, Any] | set[str]) -> npt.NDArray[np.int64]:
        """The rows of the known ``keys``."""
        return np.array([self.index[k] for k in keys if k in self.index], dtype=np.int64)


@dataclass
class RiskMap:
    """One assessment: per asset the failures a year, the levels L and S, R = L × S and its colour."""

    base: RiskBase
    inputs: RiskInputs
    f_per_year: npt.NDArray[np.float64]
    likelihood: npt.NDArray[np.int8]
    severity: npt.NDArray[np.int8]
    risk: npt.NDArray[np.int64]
    level: npt.NDArray[np.int8]  # 1 blue … 4 red (``levels``)
    site_of: npt.NDArray[np.int64]  # index into inputs.sites of the site within reach, -1 none

    def counts(self) -> dict[str, int]:
        """Assets per colour."""
        return {levels.COLOUR[k]: int((self.level == k).sum()) for k in levels.SEVERITIES}

    def grid(self, cell_m: float = CELL_M) -> list[dict[str, Any]]:
        """The areas: per cell of ``cell_m`` with assets, its worst level and R, and its assets per colour
        (each asset in the cell of its middle: a GIS cuts mains into segments of a block or so)."""
        b = self.base
        if not len(b):
            return []
        x0, y0 = np.floor(b.x.min() / cell_m) * cell_m, np.floor(b.y.min() / cell_m) * cell_m
        ix, iy = ((b.x - x0) // cell_m).astype(np.int64), ((b.y - y0) // cell_m).astype(np.int64)
        cell = ix * (iy.max() + 1) + iy
        cells, inverse = np.unique(cell, return_inverse=True)
        worst_r = np.zeros(len(cells), np.int64)
        np.maximum.at(worst_r, inverse, self.risk)
        per_colour = np.zeros((len(cells), 5), np.int64)
        np.add.at(per_colour, (inverse, self.level), 1)
        out = []
        for c, r in zip(cells, worst_r, strict=True):
            cx, cy = x0 + (c // (iy.max() + 1)) * cell_m, y0 + (c % (iy.max() + 1)) * cell_m
            k = int(np.searchsorted(cells, c))
            out.append({"x0": float(cx), "y0": float(cy), "size_m": cell_m, "risk": int(r),
                        "level": int(fx.risk_level(np.array([r]))[0]),
                        "assets": {levels.COLOUR[s]: int(per_colour[k, s]) for s in levels.SEVERITIES}})
        return out

    def top(self, n: int = 20) -> list[int]:
        """The rows of the ``n`` highest risks (R, then failures a year × severity)."""
        order = np.lexsort((-self.f_per_year * self.severity, -self.risk))
        return [int(i) for i in order[:n]]

    def reasons(self, i: int) -> list[tuple[str, str]]:
        """Why asset ``i`` stands where it does, in (Chinese, English)."""
        b, a, inp = self.base, self.base.assets[i], self.inputs
        near = f"{fx.PEOPLE_M:.0f}"
        out = []
        material, year, age = a.props.get("material"), a.props.get("install_year"), f"{b.age_years[i]:.0f}"
        if material or year:
            zh, en = fx.MATERIALS.get(str(material), (material or "材质不详", material or "material unknown"))
            out.append((f"{zh}, {year or '年代不详'}年敷设 ({age}年)",
                        f"{en}, laid {year or 'year unknown'} ({age} years)"))
        if b.corrosive[i]:
            out.append(("腐蚀性土壤中的金属管", "a metal pipe in corrosive soil"))
        if self.site_of[i] >= 0:
            site, reach = inp.sites[self.site_of[i]].name, f"{fx.WORKS_REACH_M:.0f}"
            out.append((f"{reach}米内有施工: {site}", f"construction within {reach} m: {site}"))
        n_inc, n_alarm = inp.incidents.get(a.key, 0), inp.alarms.get(a.key, 0)
        if n_inc or n_alarm:
            out.append((f"近期{n_inc}起事件, {n_alarm}次报警", f"{n_inc} incidents and {n_alarm} alarms lately"))
        if a.key in inp.faulty:
            out.append(("监测设备故障, 失效可能无法发现", "its sensors are faulty: a failure would go unseen"))
        if a.key in inp.failing:
            out.append(("正在发生事件", "an incident is open on it now"))
        if a.key in inp.cascade:
            p = f"{inp.cascade[a.key]:.0%}"
            out.append((f"在办事件可能波及 ({p})", f"an open incident may reach it ({p})"))
        if b.sensitive[i]:
            out.append((f"{near}米内有学校/医院/地铁", f"a school, hospital or metro within {near} m"))
        if b.people[i] >= fx.CROWD:
            out.append((f"{near}米内约{b.people[i]}人", f"about {b.people[i]} people within {near} m"))
        if b.reach[i] >= fx.REACH_EDGES:
            out.append((f"紧邻其他生命线{b.reach[i]}处密闭空间或设施",
                        f"beside {b.reach[i]} confined spaces or assets of other lifelines"))
        return out


def assess(base: RiskBase, inputs: RiskInputs | None = None) -> RiskMap:
    """The risk map of ``base`` with what the store and the live platform know (module docstring)."""
    inputs = inputs or RiskInputs()
    f = base.rate.copy()
    site_of = np.full(len(base), -1, np.int64)
    if inputs.sites and len(base):
        tree = STRtree([s.geometry for s in inputs.sites])
        a, s = tree.query(base.geoms, predicate="dwithin", distance=fx.WORKS_REACH_M)
        site_of[a] = s
        f *= np.where(site_of >= 0, [fx.WORKS_FACTOR.get(layer, 1.0) for layer in base.layer], 1.0)
    events = np.zeros(len(base))
    for weight, counts in ((1.0, inputs.incidents), (ALARM_WEIGHT, inputs.alarms)):
        rows = base.indices(set(counts))
        np.add.at(events, rows, weight * np.array([counts[base.keys[r]] for r in rows], dtype=np.float64))
    f = f + events / base.per / PRIOR_YEARS
    f[base.indices(inputs.faulty)] *= fx.BLIND_FACTOR
    for key, p in inputs.cascade.items():
        if key in base.index:
            f[base.index[key]] += p
    f[base.indices(set(inputs.failing))] = np.maximum(f[base.indices(set(inputs.failing))], NOW_F)
    likelihood = fx.likelihood_level(f)
    risk = likelihood.astype(np.int64) * base.severity
    return RiskMap(base, inputs, f, likelihood, base.severity, risk, fx.risk_level(risk), site_of)
