"""The demo city's drainage sensors, with thresholds checked against a simulated normal week.

Level gauges in manholes at the ends of the trunks (by the outfalls) and upstream, one in the
manhole under the railway underpass and one measuring the water on the underpass road itself;
flow meters on three outfall sewers; a rain gauge.  Manhole levels warn at 60 / 75 / 90 / 100 %
of the manhole's depth (level I: water at the road); the underpass at 5 / 15 / 27 / 50 cm of
water on the road (15 cm impedes traffic, 27 cm stalls cars, 50 cm endangers people, as in
Chinese urban waterlogging practice); rain at 16 / 30 / 50 / 70 mm/h; outfall flows at 50 / 75 /
90 / 110 % of their pipe's full-bore capacity.  A normal week with a 20 mm/h shower must raise
none of them — ``write_sensors_file`` checks it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ...city.bundle import CityBundle
from ...city.model import City
from ...city.sensors import SensorRegistry, SensorSpec
from ...city.swmm import read_swmm
from ..scenario import scenario_from_dict
from . import baseline as bl
from . import geography as g
from .drainage import MANNING_N
from .io import DATA, write_sensors

MANHOLES = {"N0206": "西段南岸出口 south bank outfall, 1st St", "N0606": "三街南岸出口 south bank outfall, 3rd St",
            "N1006": "五街南岸出口 south bank outfall, 5th St", "N1406": "七街南岸出口 south bank outfall, 7th St",
            "N0208": "一街北岸出口 north bank outfall, 1st St", "N0608": "三街北岸出口 north bank outfall, 3rd St",
            "N1008": "五街北岸出口 north bank outfall, 5th St", "N1408": "七街北岸出口 north bank outfall, 7th St",
            "N1402": "七街南一路 7th St × Nanyi Rd", "N1502": "铁路下穿检查井 manhole under the railway underpass",
            "N0802": "金寨路南一路 Jinzhai Rd × Nanyi Rd", "N0414": "二街北环路 2nd St × Beihuan Rd",
            "N1209": "第八中学 by No. 8 Middle School", "N0604": "三街南二路 3rd St × Nan'er Rd"}
OUTFALL_PIPES = {"N0606": "三街南岸 3rd St south", "N1406": "七街南岸 7th St south", "N0608": "三街北岸 3rd St north"}
UNDERPASS_M = (0.05, 0.15, 0.27, 0.5)
RAIN_MM_H = (16.0, 30.0, 50.0, 70.0)


def rows(layer: Any) -> list[dict[str, Any]]:
    """Every drainage sensor with its thresholds (in the row's unit)."""
    out: list[dict[str, Any]] = []
    for i, (node, what) in enumerate(MANHOLES.items(), 1):
        a = layer.assets[f"drainage/junction/S-{node}"]
        depth = a.props["max_depth_m"]
        out.append({"id": f"DL-{i:02d}", "kind": "level", "asset": a.key, "unit": "m",
                    "name": f"S-{node}检查井液位 Sewer level at manhole S-{node} ({what})",
                    **bl.levels("high", [depth * f for f in (0.6, 0.75, 0.9, 1.0)], 2, up=True),
                    "physical_min": -0.05, "physical_max": round(depth + 1.0, 2)})
    out.append({"id": "DL-UP1", "kind": "level", "asset": "drainage/storage/S-UP1", "unit": "m",
                "name": "南一路铁路下穿积水深度 Water on the road, Nanyi Rd railway underpass",
                **bl.levels("high", UNDERPASS_M, 2, up=True), "physical_min": -0.05, "physical_max": 3.0})
    for i, (node, what) in enumerate(OUTFALL_PIPES.items(), 1):
        link = layer.assets[f"drainage/conduit/C-O-{node}"]
        full_m3h = _capacity_m3s(link, layer) * 3600
        out.append({"id": f"DF-{i:02d}", "kind": "flow", "asset": link.key, "unit": "m3/h",
                    "name": f"排口流量 Outfall sewer flow, {what}",
                    **bl.levels("high", [full_m3h * f for f in (0.5, 0.75, 0.9, 1.1)], 0, up=True)})
    out.append({"id": "DR-01", "kind": "rainfall", "asset": "drainage/raingauge/RG1", "unit": "mm/h",
                "name": "滨河区雨量站 Rain gauge, Binhe District", **bl.levels("high", RAIN_MM_H, 1, up=True),
                "physical_min": 0, "physical_max": 300})
    for r in out:
        r |= {"interval_s": 60, "min_duration_s": 300 if r["kind"] == "rainfall" else 120}
    return out


def _capacity_m3s(link: Any, layer: Any) -> float:
    a, b = (layer.assets[k] for k in (link.props["start"], link.props["end"]))
    slope = max((a.props["invert_m"] - b.props["invert_m"]) / link.props["length_m"], 0.001)
    d = link.props["diameter_m"]
    return math.pi * d**2 / 4 * (d / 4) ** (2 / 3) * math.sqrt(slope) / MANNING_N


def write_sensors_file(path: Path = DATA / "sensors_drainage.csv") -> Path:
    """Write sensors_drainage.csv after checking a normal week raises no warning."""
    from ..runner import simulate

    layer = read_swmm(DATA / "drainage.inp")
    table = rows(layer)
    city = City("demo", g.CRS, "Asia/Shanghai")
    city.add_layer(layer)
    specs = [SensorSpec(r["id"], r["kind"], r["asset"], "drainage") for r in table]
    layers = {"layers": {"drainage": {"swmm": "drainage.inp"}}}
    bundle = CityBundle(city, SensorRegistry(specs), DATA / "city.yaml", layers)
    week = scenario_from_dict({"duration": "7d", "start": "2026-06-03T00:00:00+08:00", "seed": 12,
                               "weather": {"rain": [{"start": "2d14h", "duration": "3h", "peak_mm_h": 20}]}})
    run = simulate(week, bundle, lifelines=("drainage",))
    for r in table:
        v = bl.in_unit(run.readings.value[run.readings.sensor_id == r["id"]], r["kind"], r["unit"])
        if r.get("high_IV") and np.max(v) >= float(r["high_IV"]):
            raise RuntimeError(f"{r['id']}: a normal week reaches {np.max(v):.3f} {r['unit']}, above level IV")
    return write_sensors(path, table)
