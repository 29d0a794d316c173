"""What makes an asset likely to fail, and what its failure would hurt: the columns of the risk map.

**Likelihood** is an expected number of failures a year, ``f`` — of a kilometre of a pipe (so that
how the GIS cuts a main into segments does not matter), or of one structure or station — put on GB/T
42768's five levels by the practice template (../shared/DOMAIN.md §5: L 1 = less often than once in
50 years … 5 = yearly):

- a pipe's rate per km and year by lifeline and material, at 30 years of age
  (``RATE_PER_KM_YEAR``).  Water mains are scaled from Folkman's survey of 300 North American
  utilities (Utah State University, *Water Main Break Rates in the USA and Canada*, 2018): about
  34 failures per 100 miles a year for cast iron, 22 for steel, 5 for ductile iron, 3 for PVC, 13
  overall.  Gas, heating and sewer rates are orders of magnitude set a priori (cast iron and bare
  steel an order above PE, as in PHMSA's leak repair records), not measured;
- ageing, exponential in age (Shamir & Howard, *JAWWA* 71(5), 1979), ``AGEING_PER_YEAR`` a year;
- corrosive soil doubles a metal pipe's rate (Folkman 2018, §6: corrosion the second cause of
  failure, three utilities in four with corrosive soils) — ``CORROSIVE``;
- third-party construction within ``WORKS_REACH_M``: most gas accidents in China are caused by it
  (84.68 % in 2023–24, DOMAIN.md §6), so a site multiplies a buried main's rate by ``WORKS_FACTOR``;
- the asset's own history (``risk.riskmap``: incidents and alarms, a gamma–Poisson update), and its
  sensors' open faults (a failure there would go unseen: ``BLIND_FACTOR``).

Structures and stations have a rate per asset (``RATE_PER_ASSET_YEAR``).

**Consequence** is GB/T 42768's five levels of severity (S 5 = a death is likely … 1 = minor harm):
a base per kind of asset (``SEVERITY``: a gas main can explode, a bridge fall, a water main floods a
street), one more with a school, hospital, metro or care home within ``PEOPLE_M``, one more with ``CROWD``
people or more within it, and one more when a failure there reaches other lifelines' confined spaces
or what depends on it (``REACH_EDGES`` or more cable wells, manholes or tunnel compartments of another
lifeline within 5 m, or a tunnel, bridge or declared dependency), at most 5.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RATE_PER_KM_YEAR: dict[str, dict[str, float]] = {
    "water": {"grey_cast_iron": 0.21, "cast_iron": 0.21, "steel": 0.14, "asbestos_cement": 0.04,
              "ductile_iron": 0.03, "pvc": 0.016, "pe": 0.016, "": 0.08},
    "gas": {"cast_iron": 0.2, "grey_cast_iron": 0.2, "steel": 0.05, "pe": 0.01, "": 0.05},
    "heating": {"steel": 0.1, "": 0.1},
    "drainage": {"concrete": 0.05, "brick": 0.08, "hdpe": 0.02, "pvc": 0.02, "": 0.04},
}
"""Failures a km a year at 30 years of age, by lifeline and material ('' when the GIS does not say)."""
RATE_PER_ASSET_YEAR: dict[str, float] = {
    "gas/regulator": 0.05, "water/pump": 0.1, "water/tank": 0.01, "water/reservoir": 0.01,
    "heating/plant": 0.05, "heating/substation": 0.05, "bridge/bridge": 0.02, "tunnel/compartment": 0.05,
    "tunnel/cable_well": 0.02, "drainage/junction": 0.01, "drainage/storage": 0.02, "drainage/outfall": 0.01,
    "drainage/waterlogging_point": 0.2,
}
"""Failures a year of one structure or station (an overflowing manhole, a flooded underpass …)."""
MATERIALS = {"grey_cast_iron": ("灰口铸铁", "grey cast iron"), "cast_iron": ("铸铁", "cast iron"),
             "ductile_iron": ("球墨铸铁", "ductile iron"), "steel": ("钢", "steel"), "pe": ("PE 聚乙烯", "PE"),
             "pvc": ("PVC", "PVC"), "hdpe": ("HDPE 高密度聚乙烯", "HDPE"), "concrete": ("混凝土", "concrete"),
             "brick": ("砖砌", "brick"), "asbestos_cement": ("石棉水泥", "asbestos cement")}
PIPE_KINDS = ("pipe", "conduit")
METALS = ("grey_cast_iron", "cast_iron", "ductile_iron", "steel")
AGE_AT_RATE = 30.0
AGEING_PER_YEAR = 0.03
CORROSIVE = 2.0
WORKS_FACTOR = {"gas": 5.0, "water": 3.0, "heating": 3.0, "drainage": 2.0, "tunnel": 3.0}
WORKS_REACH_M = 30.0  # the site's boundary to the pipe: an excavator's reach and the trench's slope
BLIND_FACTOR = 1.5
YEARS_PER_LEVEL = (50.0, 20.0, 5.0, 1.0)  # L 1 below once in 50 years, 2 below once in 20, … 5 yearly

SEVERITY: dict[str, int] = {
    "gas/pipe": 3, "gas/regulator": 4, "water/pipe": 2, "water/pump": 3, "water/tank": 3, "water/reservoir": 3,
    "heating/pipe": 2, "heating/plant": 3, "heating/substation": 2, "drainage/conduit": 1, "drainage/junction": 1,
    "drainage/storage": 2, "drainage/outfall": 1, "drainage/waterlogging_point": 3, "bridge/bridge": 4,
    "tunnel/compartment": 3, "tunnel/cable_well": 2,
}
PEOPLE_M = 60.0
CROWD = 2000  # people within PEOPLE_M: a dense residential quarter
SENSITIVE = ("school", "hospital", "metro_station", "kindergarten", "nursing_home")
REACH_EDGES = 2
BIG_MAIN_M = 0.4  # a water main this wide floods and undermines a street: one level more


def likelihood_level(f_per_year: npt.NDArray[np.float64]) -> npt.NDArray[np.int8]:
    """GB/T 42768 likelihood levels 1–5 of failures a year (``YEARS_PER_LEVEL``)."""
    edges = 1.0 / np.array(YEARS_PER_LEVEL)
    return (1 + np.searchsorted(edges, f_per_year, side="right")).astype(np.int8)


def risk_level(r: npt.NDArray[np.int64]) -> npt.NDArray[np.int8]:
    """The four colours of R = L × S as severities (1 blue … 4 red): 20–25 red, 9–16 orange,
    4–8 yellow, 1–3 blue (the practice template, DOMAIN.md §5)."""
    return (1 + (r >= 4).astype(np.int8) + (r >= 9) + (r >= 20)).astype(np.int8)


def base_rate(layer: str, kind: str, material: str) -> float:
    """Failures a year (of a km of pipe, or of the asset) at 30 years of age, before soil, works and history."""
    if kind in PIPE_KINDS:
        rates = RATE_PER_KM_YEAR.get(layer, {"": 0.05})
        return rates.get(material, rates[""])
    return RATE_PER_ASSET_YEAR.get(f"{layer}/{kind}", 0.0)
