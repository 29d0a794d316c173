"""Build the demo city's water network (EPANET, through WNTR) and its sensors.

    python -m citylifeline.twin.citygen.water            # rewrite water.inp
    python -m citylifeline.twin.citygen.water --sensors  # and sensors_water.csv (simulates a week)

A looped grid under every street, in the water lane: junctions ``W-<street node>`` with the
ground's elevation, pipes ``WP-<street edge>`` (DN400 under Changjiang Avenue and Jinzhai Road,
DN300 on every other street, DN200 elsewhere), crossing the river on the three bridges.  The
waterworks' clear-water reservoir lies west of the district and its pump station lifts into
the grid; an elevated tank on the northern hill floats on the system and switches the pumps
(on below 2 m, off above 5.5 m).  Each block's demand — 200 L per resident per day, hospitals
600 L per bed, schools 50 L per pupil, shops and factories by the block — is shared among the
junctions around the block and follows its land use's daily pattern.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import geography as g
from .io import DATA

PATTERNS = {
    "RES": (0.55, 0.45, 0.40, 0.40, 0.45, 0.70, 1.25, 1.55, 1.35, 1.10, 1.00, 1.05,
            1.15, 1.00, 0.90, 0.90, 0.95, 1.10, 1.40, 1.55, 1.40, 1.15, 0.90, 0.70),
    "COM": (0.30, 0.25, 0.25, 0.25, 0.30, 0.40, 0.70, 1.10, 1.40, 1.50, 1.50, 1.55,
            1.50, 1.45, 1.40, 1.40, 1.40, 1.35, 1.25, 1.10, 0.90, 0.70, 0.50, 0.40),
    "HOS": (0.80, 0.75, 0.70, 0.70, 0.75, 0.85, 1.05, 1.20, 1.25, 1.20, 1.15, 1.15,
            1.15, 1.10, 1.10, 1.10, 1.10, 1.10, 1.10, 1.05, 1.00, 0.95, 0.90, 0.85),
    "IND": (0.40, 0.40, 0.40, 0.40, 0.40, 0.50, 0.90, 1.50, 1.60, 1.60, 1.60, 1.55,
            1.40, 1.60, 1.60, 1.60, 1.50, 1.10, 0.70, 0.60, 0.50, 0.45, 0.40, 0.40),
}
"""Hourly multipliers from local midnight (means are 1.0 within a few per cent)."""
PATTERN_OF = {"residential": "RES", "commercial": "COM", "hospital": "HOS", "school": "COM", "industrial": "IND",
              "park": "COM"}
DAILY_M3 = {"commercial": 60.0, "industrial": 400.0, "park": 10.0}
PER_PERSON_M3_DAY = 0.2
PER_BED_M3_DAY = 0.6
PER_PUPIL_M3_DAY = 0.05
PLANT = (-300.0, 600.0)  # clear-water reservoir of the waterworks, west of the district
PLANT_HEAD_M = 10.0
PUMP_POINT = (0.12, 46.0)  # m3/s, m: one duty point → a standard three-point curve
TANK = (1200.0, 2250.0)
TANK_BOTTOM_M = 44.0
TANK_LEVELS_M = (0.5, 3.5, 6.5)  # min, initial, max
TANK_DIAMETER_M = 18.0
PUMP_ON_M, PUMP_OFF_M = 2.0, 5.5
ROUGHNESS_HW = 120.0  # Hazen-Williams C of ductile iron


def junction(node: str) -> str:
    """The water junction at a street node."""
    return f"W-{node}"


def _diameter_m(edge: g.StreetEdge) -> float:
    if edge.main:
        return 0.4
    line = edge.a.y if edge.a.y == edge.b.y else edge.a.x
    return 0.3 if line % 600 == 0 else 0.2


def _block_nodes(block: g.Block, nodes: dict[str, g.StreetNode]) -> list[str]:
    """Street nodes on the block's perimeter."""
    x0, y0, x1, y1 = block.x0, block.y0, block.x0 + g.BLOCK_M, block.y0 + g.BLOCK_M
    return [n.name for n in nodes.values() if x0 <= n.x <= x1 and y0 <= n.y <= y1
            and (n.x in (x0, x1) or n.y in (y0, y1))]


def block_demand_m3s(block: g.Block) -> float:
    """Average daily demand of a block, m3/s."""
    if block.use == "residential":
        m3 = block.population * PER_PERSON_M3_DAY
    elif block.use == "hospital":
        m3 = float(block.props.get("beds", 0)) * PER_BED_M3_DAY  # type: ignore[arg-type]
    elif block.use == "school":
        m3 = float(block.props.get("pupils", 0)) * PER_PUPIL_M3_DAY  # type: ignore[arg-type]
    else:
        m3 = DAILY_M3[block.use]
    return m3 / 86400.0


def build() -> Any:
    """The ``WaterNetworkModel`` of the demo city (coordinates in EPSG:4548 metres)."""
    import wntr

    wn = wntr.network.WaterNetworkModel()
    wn.options.time.pattern_timestep = 3600
    wn.options.time.hydraulic_timestep = 60
    wn.options.time.duration = 86400
    wn.options.hydraulic.inpfile_units = "LPS"
    wn.options.hydraulic.headloss = "H-W"
    for name, mult in PATTERNS.items():
        mean = sum(mult) / len(mult)
        wn.add_pattern(name, [m / mean for m in mult])
    nodes = g.street_nodes()
    for node in nodes.values():
        wn.add_junction(junction(node.name), base_demand=0.0, elevation=round(node.ground_m, 2),
                        coordinates=g.to_world(*node.lane("water")))
    for e in g.street_edges():
        wn.add_pipe(f"WP-{e.name}", junction(e.a.name), junction(e.b.name), length=e.length_m,
                    diameter=_diameter_m(e), roughness=ROUGHNESS_HW)
    demands: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for b in g.blocks():
        around = _block_nodes(b, nodes)
        for n in around:
            demands[n][PATTERN_OF[b.use]] += block_demand_m3s(b) / len(around)
    for n, by_pattern in sorted(demands.items()):
        j = wn.get_node(junction(n))
        j.demand_timeseries_list.clear()
        for pattern, q in sorted(by_pattern.items()):
            j.add_demand(round(q, 8), pattern)
    wn.add_reservoir("W-PLANT", base_head=PLANT_HEAD_M, coordinates=g.to_world(*PLANT))
    wn.add_junction("W-PS1", base_demand=0.0, elevation=float(g.ground_m(PLANT[0] + 150, PLANT[1])),
                    coordinates=g.to_world(PLANT[0] + 150, PLANT[1]))
    wn.add_curve("PUMP-CURVE", "HEAD", [PUMP_POINT])
    wn.add_pump("WPU-1", "W-PLANT", "W-PS1", pump_type="HEAD", pump_parameter="PUMP-CURVE")
    first = nodes[g.node_name(0.0, PLANT[1])]
    wn.add_pipe("WP-TRUNK", "W-PS1", junction(first.name), length=150.0, diameter=0.6, roughness=ROUGHNESS_HW)
    lo, init, hi = TANK_LEVELS_M
    wn.add_tank("W-T1", elevation=TANK_BOTTOM_M, init_level=init, min_level=lo, max_level=hi,
                diameter=TANK_DIAMETER_M, coordinates=g.to_world(*TANK))
    top = nodes[g.node_name(TANK[0], g.Y_MAX)]
    wn.add_pipe("WP-TANK", "W-T1", junction(top.name), length=150.0, diameter=0.4, roughness=ROUGHNESS_HW)
    from wntr.network.controls import Control, ControlAction, ValueCondition

    pump, tank = wn.get_link("WPU-1"), wn.get_node("W-T1")
    wn.add_control("PUMP-ON", Control(ValueCondition(tank, "level", "<", PUMP_ON_M), ControlAction(pump, "status", 1)))
    wn.add_control("PUMP-OFF", Control(ValueCondition(tank, "level", ">", PUMP_OFF_M),
                                       ControlAction(pump, "status", 0)))
    return wn


def write(path: Path = DATA / "water.inp") -> Path:
    """Write water.inp."""
    import wntr

    wntr.network.write_inpfile(build(), str(path), units="LPS")
    return path


def main(argv: Sequence[str] | None = None) -> None:
    """Command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sensors", action="store_true", help="also rewrite sensors_water.csv")
    args = ap.parse_args(argv)
    print(write())
    if args.sensors:
        from .water_sensors import write_sensors_file

        print(write_sensors_file())


if __name__ == "__main__":
    main()
