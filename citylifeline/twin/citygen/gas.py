"""Build the demo city's gas network and the cable wells beside it (GeoJSON), and their sensors.

    python -m citylifeline.twin.citygen.gas            # rewrite gas.geojson and cable_wells.geojson
    python -m citylifeline.twin.citygen.gas --sensors  # and sensors_gas.csv

A medium-pressure (0.3 MPa) polyethylene network in the gas lane of every street — 2.8 m from
the sewer manholes on the centre line and 2.8 m from the cable wells on the other side — fed
from the city gate and regulator station ``G-RS1`` west of Beiyi Road and crossing the river on
bridges B-1 and B-2 (B-3 carries none).  Each junction carries the average load of the
households and businesses around it (``demand_m3h``, standard m³/h): 0.8 m³ per household per
day for cooking and water heating, more for restaurants, the hospitals and the food factory.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Sequence

import shapely

from . import geography as g
from .io import feature, write_geojson

REGULATOR = (-150.0, 1500.0)
PER_HOUSEHOLD_M3_DAY = 0.8
BLOCK_M3_DAY = {"commercial": 600.0, "hospital": 900.0, "school": 150.0, "industrial": 2500.0, "park": 0.0}


def junction(node: str) -> str:
    """The gas junction at a street node."""
    return f"G-{node}"


def cable_well(node: str) -> str:
    """The cable well at a street node."""
    return f"C-{node}"


def gas_nodes() -> dict[str, g.StreetNode]:
    """Street nodes with gas: all but the middle of bridge B-3."""
    return {k: n for k, n in g.street_nodes().items() if not (g.in_river_band(n.y) and n.x == g.BRIDGE_X[2])}


def _diameter_m(e: g.StreetEdge) -> float:
    if e.main:
        return 0.2
    line = e.a.y if e.a.y == e.b.y else e.a.x
    return 0.15 if line % 600 == 0 else 0.1


def loads_m3h() -> dict[str, float]:
    """Average gas load at each junction (standard m³/h)."""
    nodes = gas_nodes()
    out: dict[str, float] = defaultdict(float)
    for b in g.blocks():
        around = [n for n in nodes.values() if b.x0 <= n.x <= b.x0 + g.BLOCK_M and b.y0 <= n.y <= b.y0 + g.BLOCK_M
                  and (n.x in (b.x0, b.x0 + g.BLOCK_M) or n.y in (b.y0, b.y0 + g.BLOCK_M))]
        day = b.households * PER_HOUSEHOLD_M3_DAY if b.use == "residential" else BLOCK_M3_DAY[b.use]
        for n in around:
            out[n.name] += day / 24 / len(around)
    return out


def gas_features() -> list[dict[str, object]]:
    """Regulator, junctions and pipes."""
    nodes, loads = gas_nodes(), loads_m3h()
    feats = [feature(shapely.Point(*REGULATOR), id="G-RS1", kind="regulator", name="城西门站调压站 West city gate",
                     outlet_pressure_mpa=0.3)]
    for n in nodes.values():
        feats.append(feature(shapely.Point(*n.lane("gas")), id=junction(n.name), kind="junction",
                             elevation_m=round(n.ground_m, 2), demand_m3h=round(loads.get(n.name, 0.0), 3)))
    first = g.node_name(0.0, REGULATOR[1])
    feats.append(feature(shapely.LineString([REGULATOR, nodes[first].lane("gas")]), id="GP-RS1", kind="pipe",
                         **{"from": "G-RS1", "to": junction(first)}, diameter_m=0.3, material="steel"))
    for e in g.street_edges():
        if e.a.name in nodes and e.b.name in nodes:
            feats.append(feature(shapely.LineString([e.a.lane("gas"), e.b.lane("gas")]), id=f"GP-{e.name}",
                                 kind="pipe", **{"from": junction(e.a.name), "to": junction(e.b.name)},
                                 diameter_m=_diameter_m(e), material="PE100", street=e.street))
    return feats


def cable_well_features() -> list[dict[str, object]]:
    """Power and telecom cable wells at every street node off the bridges."""
    return [feature(shapely.Point(*n.lane("cable")), id=cable_well(n.name), kind="cable_well", sealed=True)
            for n in g.street_nodes().values() if not g.in_river_band(n.y)]


def main(argv: Sequence[str] | None = None) -> None:
    """Command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sensors", action="store_true", help="also rewrite sensors_gas.csv")
    args = ap.parse_args(argv)
    print(write_geojson("gas.geojson", gas_features()))
    print(write_geojson("cable_wells.geojson", cable_well_features()))
    if args.sensors:
        from .gas_sensors import write_sensors_file

        print(write_sensors_file())


if __name__ == "__main__":
    main()
