"""The demo city's water sensors: where they are, and thresholds from a simulated normal week.

Pressure transmitters at every other main-street crossing and next to the hospitals, schools
and metro stations; flow meters on the waterworks' trunk, the tank main, Changjiang Avenue and
Jinzhai Road; a level gauge in the tank.  Thresholds (``baseline``): low pressure levels at
0.92/0.85/0.78/0.68 × the week's minimum, high at 1.08–1.40 × its maximum; high flow at
1.15–1.8 × the maximum; tank levels between its floor and normal minimum; a rate limit at 1.5 ×
the largest one-minute change (left out where pump switching makes it meaningless).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...city.bundle import CityBundle
from ...city.epanet import read_epanet
from ...city.model import City
from ...city.sensors import SensorRegistry, SensorSpec
from ..scenario import Scenario
from . import baseline as bl
from . import geography as g
from .io import DATA, write_sensors
from .water import PUMP_OFF_M, TANK_LEVELS_M

PRESSURE_NODES = {  # street node → what it is next to
    "N0000": "south-west corner", "N0400": "Nanyihuan Rd × 2nd St", "N0804": "Nan'er Rd × Jinzhai Rd",
    "N1600": "south-east corner", "N0004": "waterworks trunk inlet", "N0606": "First People's Hospital",
    "N0306": "Changjiang Mall", "N1204": "6th St metro", "N1406": "Changjiang Ave × 7th St",
    "N0208": "Binhe Rd west", "N0810": "Binhe Plaza", "N1209": "No. 8 Middle School", "N1608": "Binhe Rd east",
    "N0410": "Beiyi Rd metro", "N0411": "Sunshine Kindergarten", "N1011": "Binhu Hospital",
    "N0014": "north-west corner", "N0814": "tank main", "N1614": "north-east corner", "N0202": "Experimental Primary",
}
FLOW_PIPES = {"WP-TRUNK": "waterworks trunk 水厂出厂总管", "WP-TANK": "tank main 水塔进出水管",
              "WP-N0806E": "Changjiang Ave east of Jinzhai Rd 长江中路", "WP-N0808N": "Jinzhai Rd Bridge 金寨路大桥"}
UNIT = {"pressure": "MPa", "flow": "m3/h", "level": "m"}
DECIMALS = {"pressure": 3, "flow": 0, "level": 2}
BASELINE_DAYS = 7


def sensor_rows() -> list[dict[str, Any]]:
    """The sensors without thresholds (id, kind, asset, name, interval)."""
    rows: list[dict[str, Any]] = []
    for i, (node, what) in enumerate(PRESSURE_NODES.items(), 1):
        rows.append({"id": f"WP-{i:02d}", "kind": "pressure", "asset": f"water/junction/W-{node}",
                     "name": f"W-{node}节点压力 Pressure at W-{node} ({what})"})
    for i, (pipe, what) in enumerate(FLOW_PIPES.items(), 1):
        rows.append({"id": f"WF-{i:02d}", "kind": "flow", "asset": f"water/pipe/{pipe}", "name": f"流量 Flow, {what}"})
    rows.append({"id": "WL-01", "kind": "level", "asset": "water/tank/W-T1",
                 "name": "北山水塔液位 Level of the north tank"})
    for r in rows:
        r |= {"interval_s": 60, "unit": UNIT[r["kind"]], "min_duration_s": 120, "rate_level": "III",
              "physical_min": {"pressure": -0.1, "flow": "", "level": 0}[r["kind"]],
              "physical_max": {"pressure": 1.6, "flow": "", "level": 8}[r["kind"]]}
    return rows


def thresholds(row: dict[str, Any], values_in_unit: Any) -> dict[str, str]:
    """Threshold cells of one sensor from its normal week (values in its unit)."""
    kind, d = row["kind"], DECIMALS[row["kind"]]
    lo, hi = bl.spread(values_in_unit)
    out: dict[str, str] = {}
    if kind == "pressure":
        out |= bl.levels("low", [lo * f for f in (0.92, 0.85, 0.78, 0.68)], d, up=False)
        out |= bl.levels("high", [hi * f for f in (1.08, 1.15, 1.25, 1.40)], d, up=True)
        out["rate_per_min"] = bl.rate_limit(values_in_unit, 60, 1.5, 0.02, d, 0.2 * hi)
    elif kind == "flow":
        out |= bl.levels("high", [hi * f for f in (1.15, 1.3, 1.5, 1.8)], d, up=True)
        out["rate_per_min"] = bl.rate_limit(values_in_unit, 60, 1.5, 10.0, d, 0.5 * hi)
    else:
        floor = TANK_LEVELS_M[0]
        out |= bl.levels("low", [floor + f * (lo - floor) for f in (0.5, 0.3, 0.15, 0.05)], d, up=False)
        top = TANK_LEVELS_M[2]
        out |= bl.levels("high", [max(hi, PUMP_OFF_M) + f * (top - max(hi, PUMP_OFF_M)) for f in (0.4, 0.6, 0.8, 0.95)],
                         d, up=True)
    return out


def write_sensors_file(path: Path = DATA / "sensors_water.csv") -> Path:
    """Simulate a normal week and write sensors_water.csv with the thresholds it implies."""
    from ..runner import simulate

    rows = sensor_rows()
    city = City("demo", g.CRS, "Asia/Shanghai")
    layer = read_epanet(DATA / "water.inp")
    city.add_layer(layer)
    specs = [SensorSpec(r["id"], r["kind"], r["asset"], "water", interval_s=60.0, x=layer.assets[r["asset"]].xy[0],
                        y=layer.assets[r["asset"]].xy[1]) for r in rows]
    bundle = CityBundle(city, SensorRegistry(specs), DATA / "city.yaml", {"layers": {"water": {"epanet": "water.inp"}}})
    scenario = Scenario("baseline-week", "demo", 1780416000000, BASELINE_DAYS * 86400.0, seed=11)  # 2026-06-03
    run = simulate(scenario, bundle, lifelines=("water",))
    r = run.readings
    for row in rows:
        mask = r.sensor_id == row["id"]
        row |= thresholds(row, bl.in_unit(r.value[mask], row["kind"], row["unit"]))
    return write_sensors(path, rows)
