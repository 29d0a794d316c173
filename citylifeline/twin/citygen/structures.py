"""Build the demo city's bridges, utility tunnel and district-heating loop (GeoJSON).

    python -m citylifeline.twin.citygen.structures            # rewrite the three GeoJSON files
    python -m citylifeline.twin.citygen.structures --sensors  # and their sensor files

Bridges: the three river crossings (``geography.BRIDGES``), each a simply supported prestressed
concrete box girder whose stiffness and mass put its first bending frequency where such spans
have it (about 2–2.6 Hz).  Tunnel: the utility tunnel under Changjiang Avenue, 2.4 km in eight
fire compartments of 300 m, each with a gas cabin, ventilation and a sump.  Heating: a
supply/return loop from the heating plant east of the district round the northern blocks
(Bei'er Rd, 2nd St, Beiyi Rd, Donghuan St), with a substation for every residential block on it.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import shapely

from ...units import E_CONCRETE_C50_PA
from . import geography as g
from .io import feature, write_geojson

BRIDGE_MASS_KG_M = {"B-1": 20000.0, "B-2": 48000.0, "B-3": 20000.0}
BRIDGE_F1_HZ = {"B-1": 2.5, "B-2": 2.1, "B-3": 2.6}
BRIDGE_DEPTH_M = {"B-1": 3.2, "B-2": 3.8, "B-3": 3.2}  # girder depth; the strain gauge is on the bottom flange
COMPARTMENT_M = 300.0
TUNNEL_SECTION_M2 = 10.0  # the gas cabin's cross-section (it is ventilated and monitored on its own)
HEATING_PLANT = (2550.0, 1800.0)
LOOP = ((2400.0, 1800.0), (600.0, 1800.0), (600.0, 1500.0), (2400.0, 1500.0), (2400.0, 1800.0))


def bridge_properties(b: g.Bridge) -> dict[str, float]:
    """Span, mass, stiffness EI and section modulus giving the bridge's first frequency."""
    m = BRIDGE_MASS_KG_M[b.name]
    f1 = BRIDGE_F1_HZ[b.name]
    ei = m * (f1 * 2 * b.span_m**2 / math.pi) ** 2  # f1 = π/(2L²)·√(EI/m)
    return {"span_m": b.span_m, "mass_kg_m": m, "ei_nm2": round(ei, -6), "f1_hz": f1,
            "section_modulus_m3": round(ei / E_CONCRETE_C50_PA / (BRIDGE_DEPTH_M[b.name] * 0.6), 3),
            "lanes": float(b.props["lanes"]), "width_m": float(b.props["width_m"])}


def bridge_features() -> list[dict[str, Any]]:
    """One feature per bridge, its deck as the geometry."""
    return [feature(shapely.LineString([(b.x, b.y0), (b.x, b.y1)]), id=b.name, kind="bridge", name=b.label,
                    **bridge_properties(b)) for b in g.BRIDGES]


def tunnel_features() -> list[dict[str, Any]]:
    """The eight compartments of the utility tunnel under Changjiang Avenue."""
    out = []
    y = g.AVENUE_Y + 6.0  # under the avenue's north carriageway
    for i in range(round(g.X_MAX / COMPARTMENT_M)):
        x0 = i * COMPARTMENT_M
        out.append(feature(shapely.LineString([(x0, y), (x0 + COMPARTMENT_M, y)]), id=f"TC-{i + 1}",
                           kind="compartment",
                           name=f"长江中路综合管廊 {i + 1}号舱段 Changjiang Ave tunnel, compartment {i + 1}",
                           length_m=COMPARTMENT_M, gas_cabin_m3=COMPARTMENT_M * TUNNEL_SECTION_M2, vent_ach=1.0,
                           sump_area_m2=4.0, sump_depth_m=1.2, floor_area_m2=COMPARTMENT_M * 3.0,
                           has_gas_pipe=True))
    return out


def loop_points(step_m: float = g.NODE_M) -> list[tuple[float, float, float]]:
    """(x, y, distance along the loop from the plant) every ``step_m`` round the heating loop."""
    pts, s = [], 0.0
    for (x0, y0), (x1, y1) in pairwise(LOOP):
        n = round(math.dist((x0, y0), (x1, y1)) / step_m)
        for k in range(n):
            u = k / n
            pts.append((x0 + u * (x1 - x0), y0 + u * (y1 - y0), s + u * math.dist((x0, y0), (x1, y1))))
        s += math.dist((x0, y0), (x1, y1))
    return pts


def substations() -> list[tuple[g.Block, tuple[float, float], float]]:
    """(block, connection point, distance along the loop) for every residential block on the loop."""
    pts = loop_points()
    out = []
    for b in g.blocks():
        if b.use != "residential" or b.row < 3 or b.col < 2:
            continue
        cx, cy = b.x0 + g.BLOCK_M / 2, b.y0 + g.BLOCK_M / 2
        x, y, s = min(pts, key=lambda p: math.dist((p[0], p[1]), (cx, cy)))
        if math.dist((x, y), (cx, cy)) <= g.BLOCK_M * 0.75:
            out.append((b, (x, y), s))
    return out


def heating_features() -> list[dict[str, Any]]:
    """Plant, loop junctions and pipes (supply and return pairs), and the substations."""
    lane = g.LANE_M["heating"]
    pts = loop_points()
    names = [f"H-{g.node_name(x, y)}" for x, y, _ in pts]
    feats = [feature(shapely.Point(*HEATING_PLANT), id="HP-1", kind="plant", name="滨河热电厂 Binhe heating plant")]
    for (x, y, s), name in zip(pts, names, strict=True):
        feats.append(feature(shapely.Point(x + lane, y + lane), id=name, kind="junction", loop_m=round(s, 1)))
    ring = ["HP-1", *names, "HP-1"]
    coords = [HEATING_PLANT, *((x + lane, y + lane) for x, y, _ in pts), HEATING_PLANT]
    for i, (a, b) in enumerate(pairwise(ring)):
        feats.append(feature(shapely.LineString([coords[i], coords[i + 1]]), id=f"HL-{i + 1:02d}", kind="pipe",
                             **{"from": a, "to": b}, diameter_m=0.3, circuit="supply+return"))
    for block, (x, y), s in substations():
        feats.append(feature(shapely.Point(x + lane, y + lane), id=f"HS-{block.name}", kind="substation",
                             name=f"{block.label} 换热站 substation", households=block.households, loop_m=round(s, 1)))
    return feats


def main(argv: Sequence[str] | None = None) -> None:
    """Command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sensors", action="store_true", help="also rewrite their sensor files")
    args = ap.parse_args(argv)
    print(write_geojson("bridges.geojson", bridge_features()))
    print(write_geojson("tunnel.geojson", tunnel_features()))
    print(write_geojson("heating.geojson", heating_features()))
    if args.sensors:
        from .structure_sensors import write_sensor_files

        for p in write_sensor_files():
            print(p)


if __name__ == "__main__":
    main()
