"""The demo city's gas sensors: regulator outlet, far-end pressures, and methane detectors in the
sewer manholes and cable wells beside the mains (they serve gas safety, whichever layer their
space belongs to).

Methane limits at 10 / 20 / 25 / 50 %LEL — Chinese combustible-gas practice alarms at 20–25 %LEL
and evacuates at 50 %LEL — stay as evidence: a hot manhole's biogas crosses them, and the gas
analyst (``analysis.gas``) judges every methane episode instead.  Pressures of the
regulated 0.3 MPa network warn below 0.28 / 0.26 / 0.24 / 0.20 MPa and above 0.32 / 0.34 /
0.36 / 0.40 MPa; the regulator's outflow above 1.2 / 1.4 / 1.6 / 2.0 × the highest of a cold
week (the heaviest normal load).  ``write_sensors_file`` checks that a hot week and a cold week
of load raise none of the pressure and flow limits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..scenario import scenario_from_dict
from . import baseline as bl
from .io import DATA, write_sensors

PRESSURE = {"G-RS1": "城西门站出口 West city gate outlet", "G-N1600": "东南端 south-east end",
            "G-N1614": "东北端 north-east end", "G-N0000": "西南端 south-west end", "G-N0814": "金寨路北端 north end"}
METHANE = {  # space → what it is next to
    "drainage/junction/S-N1209": "第八中学西侧检查井 manhole by No. 8 Middle School",
    "tunnel/cable_well/C-N1209": "第八中学西侧电缆井 cable well by No. 8 Middle School",
    "drainage/junction/S-N1308": "第八中学南侧检查井 manhole south of No. 8 Middle School",
    "tunnel/cable_well/C-N1409": "第八中学东侧电缆井 cable well east of No. 8 Middle School",
    "drainage/junction/S-N0605": "第一人民医院西侧检查井 manhole by the First People's Hospital",
    "tunnel/cable_well/C-N0805": "第一人民医院东侧电缆井 cable well by the First People's Hospital",
    "drainage/junction/S-N0200": "南一环路检查井 manhole, Nanyihuan Rd",
    "tunnel/cable_well/C-N0402": "二街南一路电缆井 cable well, 2nd St × Nanyi Rd",
    "drainage/junction/S-N1002": "五街南一路检查井 manhole, 5th St × Nanyi Rd",
    "tunnel/cable_well/C-N1404": "七街南二路电缆井 cable well, 7th St × Nan'er Rd",
    "drainage/junction/S-N0210": "一街北一路检查井 manhole, 1st St × Beiyi Rd",
    "tunnel/cable_well/C-N0612": "三街北二路电缆井 cable well, 3rd St × Bei'er Rd",
    "drainage/junction/S-N1012": "五街北二路检查井 manhole, 5th St × Bei'er Rd",
    "tunnel/cable_well/C-N1614": "东环街北环路电缆井 cable well, Donghuan St × Beihuan Rd",
    "drainage/junction/S-N0808": "金寨路大桥北桥头检查井 manhole at the Jinzhai Rd Bridge's north end",
    "tunnel/cable_well/C-N0406": "二街桥南桥头电缆井 cable well at the 2nd St Bridge's south end",
}
SCHOOL_LEAK_PLACE = "gas/junction/G-N1209"
"""The gas main beside No. 8 Middle School (6th St), 2.8 m from manhole S-N1209 and cable well C-N1209."""


def rows() -> list[dict[str, Any]]:
    """Every gas sensor (thresholds of flow filled in by ``write_sensors_file``)."""
    out: list[dict[str, Any]] = []
    for i, (node, what) in enumerate(PRESSURE.items(), 1):
        kind = "regulator" if node == "G-RS1" else "junction"
        out.append({"id": f"GP-{i:02d}", "kind": "pressure", "asset": f"gas/{kind}/{node}", "unit": "MPa",
                    "name": f"燃气压力 Gas pressure, {what}", "min_duration_s": 120, "physical_min": -0.1,
                    "physical_max": 1.0, **bl.levels("low", (0.28, 0.26, 0.24, 0.20), 3, up=False),
                    **bl.levels("high", (0.32, 0.34, 0.36, 0.40), 3, up=True)})
    out.append({"id": "GF-01", "kind": "flow", "asset": "gas/pipe/GP-RS1", "unit": "m3/h", "min_duration_s": 300,
                "name": "城西门站出口流量 Gas flow out of the west city gate"})
    for i, (space, what) in enumerate(METHANE.items(), 1):
        out.append({"id": f"GM-{i:02d}", "kind": "methane", "asset": space, "lifeline": "gas", "unit": "%LEL",
                    "name": f"甲烷浓度 Methane, {what}", "min_duration_s": 120, "physical_min": 0,
                    "physical_max": 100, **bl.levels("high", (10, 20, 25, 50), 0, up=True)})
    out.append({"id": "GE-01", "kind": "ethane", "asset": "tunnel/cable_well/C-N1209", "lifeline": "gas", "unit": "ppm",
                "name": "乙烷浓度 Ethane (laser), 第八中学西侧电缆井 cable well by No. 8 Middle School",
                "physical_min": 0, "physical_max": 10000})
    for r in out:
        r["interval_s"] = 60
    return out


def write_sensors_file(path: Path = DATA / "sensors_gas.csv") -> Path:
    """Derive the flow thresholds from a cold week, check a hot week, write sensors_gas.csv."""
    from ...city.bundle import load_city
    from ...city.sensors import SensorRegistry, load_sensors_csv
    from ..runner import simulate

    table = rows()
    write_sensors(path, table)
    bundle = load_city(DATA)
    assets = {a.key: a.layer for a in bundle.city.assets()}
    bundle.sensors = SensorRegistry(load_sensors_csv(path, {}, assets, {a.key: a.xy for a in bundle.city.assets()}))
    cold = scenario_from_dict({"duration": "7d", "start": "2026-01-12T00:00:00+08:00", "seed": 13,
                               "weather": {"temperature_c": {"mean": 2, "swing": 6}}})
    flow = simulate(cold, bundle, lifelines=("gas",)).readings
    top = float(bl.in_unit(flow.value[flow.sensor_id == "GF-01"], "flow", "m3/h").max())
    table[len(PRESSURE)] |= bl.levels("high", [top * f for f in (1.2, 1.4, 1.6, 2.0)], 0, up=True)
    hot = scenario_from_dict({"duration": "7d", "start": "2026-07-20T00:00:00+08:00", "seed": 14,
                              "weather": {"temperature_c": {"mean": 31, "swing": 8}}})
    r = simulate(hot, bundle, lifelines=("gas",)).readings
    for row in (x for x in table if x["kind"] != "methane"):
        v = bl.in_unit(r.value[r.sensor_id == row["id"]], row["kind"], row["unit"])
        if (row.get("high_IV") and np.max(v) >= float(row["high_IV"])) or \
                (row.get("low_IV") and np.min(v) <= float(row["low_IV"])):
            raise RuntimeError(f"{row['id']}: a hot week reaches level IV ({np.min(v):.3f}–{np.max(v):.3f})")
    return write_sensors(path, table)
