"""Build the demo city's combined sewer (SWMM 5) under its streets.

    python -m citylifeline.twin.citygen.drainage            # rewrite drainage.inp
    python -m citylifeline.twin.citygen.drainage --sensors  # and sensors_drainage.csv

Manholes ``S-<street node>`` on every street's centre line; gravity sewers drain each bank to
outfalls on the river at the four north-south streets that end there (x = 300, 900, 1500,
2100 m; no sewer crosses a bridge).  The network is the shortest-path tree from the outfalls
over the streets, so every manhole has one way down.  Inverts sit about 2.5 m under the ground
and fall at least 0.2 % towards the outfall; pipes are sized by the rational method for a
35 mm/h design storm (a two-year storm in Hefei), so ordinary rain flows freely and a 70–80
mm/h cloudburst surcharges.  Each block drains as four wedges to the manholes in the middle of
its sides; households add dry-weather sewage with a daily pattern.  The railway underpass on
Nanyi Road is a storage node ``S-UP1`` — the road's sag — fed by its own road and embankment
and drained by a 300 mm pipe into the manhole below it: in a cloudburst the sewer backs up and
the sag fills.
"""

from __future__ import annotations

import argparse
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import geography as g
from .io import DATA

OUTFALL_X = (300.0, 900.0, 1500.0, 2100.0)
OUTFALL_INVERT_M = 6.8  # just above the river's normal level (6.5 m)
DEPTH_M = 2.5  # usual ground-to-invert depth of a street sewer
MIN_SLOPE = 0.002
MANNING_N = 0.013
DESIGN_RAIN_MM_H = 35.0
RUNOFF = {"residential": 0.6, "commercial": 0.85, "industrial": 0.75, "school": 0.55, "hospital": 0.55, "park": 0.15}
DIAMETERS_M = (0.4, 0.5, 0.6, 0.8, 1.0, 1.2, 1.5)
SEWAGE_M3_PERSON_DAY = 0.18
SEWAGE_PATTERN = (0.5, 0.4, 0.35, 0.35, 0.4, 0.6, 1.2, 1.6, 1.4, 1.15, 1.05, 1.1,
                  1.2, 1.05, 0.95, 0.95, 1.0, 1.15, 1.45, 1.6, 1.45, 1.2, 0.9, 0.7)
UNDERPASS_NODE = g.node_name(*g.UNDERPASS)
UNDERPASS_AREA_HA = 2.0
SAG_AREA_PER_M_DEPTH = 600.0  # m² of flooded road per metre of water depth (a 150 m V-sag, 20 m wide)


def manhole(node: str) -> str:
    """The manhole at a street node."""
    return f"S-{node}"


@dataclass
class Sewer:
    """The sewer tree: each manhole's downstream neighbour, invert and the pipes between."""

    nodes: dict[str, g.StreetNode]
    down: dict[str, str]  # manhole node → the next node towards its outfall ('' at an outfall)
    invert_m: dict[str, float]
    diameter_m: dict[str, float]  # by upstream node
    outfalls: list[str]


def sewer_tree() -> Sewer:
    """The drainage tree over the streets (no bridge edges), inverts and pipe sizes."""
    nodes = sewer_nodes()
    adj: dict[str, list[tuple[str, float]]] = {n: [] for n in nodes}
    for e in g.street_edges():
        if not e.bridge:
            adj[e.a.name].append((e.b.name, e.length_m))
            adj[e.b.name].append((e.a.name, e.length_m))
    outfalls = [n.name for n in nodes.values() if n.x in OUTFALL_X and n.y in (g.AVENUE_Y, 1200.0)]
    dist = {n: math.inf for n in nodes}
    down: dict[str, str] = {}
    heap = [(0.0, o, "") for o in outfalls]
    while heap:
        d, n, via = heapq.heappop(heap)
        if d >= dist[n]:
            continue
        dist[n], down[n] = d, via
        for m, length in adj[n]:
            if d + length < dist[m]:
                heapq.heappush(heap, (d + length, m, n))
    unreached = [n for n in nodes if n not in down]
    if unreached:
        raise RuntimeError(f"manholes without a way to an outfall: {unreached[:5]}")
    invert = {n: nodes[n].ground_m - DEPTH_M for n in nodes}
    for n in sorted(nodes, key=lambda k: -dist[k]):  # from the far ends down to the outfalls
        if down[n]:
            length = math.dist((nodes[n].x, nodes[n].y), (nodes[down[n]].x, nodes[down[n]].y))
            invert[down[n]] = min(invert[down[n]], invert[n] - MIN_SLOPE * length)
    for o in outfalls:
        invert[o] = min(invert[o], OUTFALL_INVERT_M + 0.3)
    area = _contributing_area_ha(nodes, down, dist)
    diameter = {}
    for n, nxt in down.items():
        if not nxt:
            continue
        length = math.dist((nodes[n].x, nodes[n].y), (nodes[nxt].x, nodes[nxt].y))
        slope = max((invert[n] - invert[nxt]) / length, MIN_SLOPE)
        q = area[n] * 1e4 * DESIGN_RAIN_MM_H / 1000 / 3600
        diameter[n] = next((dd for dd in DIAMETERS_M if _full_flow(dd, slope) >= q), DIAMETERS_M[-1])
    return Sewer(nodes, down, invert, diameter, outfalls)


def sewer_nodes() -> dict[str, g.StreetNode]:
    """Street nodes with a sewer: all but the middle of the bridges."""
    return {k: n for k, n in g.street_nodes().items() if not g.in_river_band(n.y)}


def _full_flow(d_m: float, slope: float) -> float:
    a, r = math.pi * d_m**2 / 4, d_m / 4
    return a * r ** (2 / 3) * math.sqrt(slope) / MANNING_N


@dataclass(frozen=True)
class Wedge:
    """A quarter of a block draining to the manhole in the middle of one of its sides."""

    name: str
    outlet: str
    area_ha: float
    imperv_pct: float
    polygon: tuple[tuple[float, float], ...]
    runoff: float


def wedges(nodes: dict[str, g.StreetNode]) -> list[Wedge]:
    """Every block's four wedges (each to the nearest manhole in the middle of its side)."""
    out = []
    for b in g.blocks():
        x0, y0, s = b.x0, b.y0, g.BLOCK_M
        cx, cy = x0 + s / 2, y0 + s / 2
        corners = {"S": ((x0, y0), (x0 + s, y0)), "E": ((x0 + s, y0), (x0 + s, y0 + s)),
                   "N": ((x0 + s, y0 + s), (x0, y0 + s)), "W": ((x0, y0 + s), (x0, y0))}
        for side, (p, q) in corners.items():
            mid = ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2)
            outlet = min(nodes.values(), key=lambda n: math.dist((n.x, n.y), mid))
            c = RUNOFF[b.use]
            out.append(Wedge(f"SC-{b.name}{side}", manhole(outlet.name), s * s / 4 / 1e4,
                             round(min(95.0, c * 110), 1), ((cx, cy), p, q, (cx, cy)), c))
    return out


def _contributing_area_ha(nodes: dict[str, g.StreetNode], down: dict[str, str],
                          dist: dict[str, float]) -> dict[str, float]:
    """Runoff-weighted area (ha) draining through each manhole."""
    own = {n: 0.0 for n in nodes}
    for w in wedges(nodes):
        own[w.outlet[2:]] += w.area_ha * w.runoff
    own[UNDERPASS_NODE] += UNDERPASS_AREA_HA * 0.95
    total = dict(own)
    for n in sorted(nodes, key=lambda k: -dist[k]):
        if down[n]:
            total[down[n]] += total[n]
    return total


def sewage_m3s() -> dict[str, float]:
    """Average dry-weather sewage entering each manhole (m3/s), from the households around it."""
    nodes = sewer_nodes()
    out: dict[str, float] = {}
    for b in g.blocks():
        around = [n for n in nodes.values() if b.x0 <= n.x <= b.x0 + g.BLOCK_M and b.y0 <= n.y <= b.y0 + g.BLOCK_M
                  and (n.x in (b.x0, b.x0 + g.BLOCK_M) or n.y in (b.y0, b.y0 + g.BLOCK_M))]
        q = b.population * SEWAGE_M3_PERSON_DAY / 86400 / len(around)
        for n in around:
            out[n.name] = out.get(n.name, 0.0) + q
    return out


def write(path: Path = DATA / "drainage.inp") -> Path:
    """Write drainage.inp."""
    from .drainage_inp import render

    path.write_text(render(sewer_tree(), wedges(sewer_nodes()), sewage_m3s()), encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> None:
    """Command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sensors", action="store_true", help="also rewrite sensors_drainage.csv")
    args = ap.parse_args(argv)
    print(write())
    if args.sensors:
        from .drainage_sensors import write_sensors_file

        print(write_sensors_file())


if __name__ == "__main__":
    main()
