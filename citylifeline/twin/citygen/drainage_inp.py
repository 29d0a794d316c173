"""Render the demo city's sewer (``drainage.Sewer``) as a SWMM 5 input file.

The rain gauge's time series is a placeholder here: the drainage twin writes each scenario's
rain (and its dates) into a copy of the file before running it.
"""

from __future__ import annotations

import math

from . import geography as g
from .drainage import (
    OUTFALL_INVERT_M,
    SAG_AREA_PER_M_DEPTH,
    SEWAGE_PATTERN,
    UNDERPASS_AREA_HA,
    UNDERPASS_NODE,
    Sewer,
    Wedge,
    manhole,
)

MANHOLE_PONDED_M2 = 150.0  # street surface that floods around a manhole before water runs away
SAG_MAX_DEPTH_M = 2.0
OPTIONS = """[OPTIONS]
FLOW_UNITS           CMS
INFILTRATION         HORTON
FLOW_ROUTING         DYNWAVE
LINK_OFFSETS         DEPTH
MIN_SLOPE            0
ALLOW_PONDING        YES
SKIP_STEADY_STATE    NO
START_DATE           06/03/2026
START_TIME           00:00:00
REPORT_START_DATE    06/03/2026
REPORT_START_TIME    00:00:00
END_DATE             06/04/2026
END_TIME             00:00:00
DRY_DAYS             3
REPORT_STEP          00:01:00
WET_STEP             00:01:00
DRY_STEP             00:05:00
ROUTING_STEP         0:00:10
INERTIAL_DAMPING     PARTIAL
NORMAL_FLOW_LIMITED  BOTH
VARIABLE_STEP        0.75
MIN_SURFAREA         1.14
MAX_TRIALS           8
HEAD_TOLERANCE       0.0015
THREADS              1
"""


def _xy(x: float, y: float) -> str:
    wx, wy = g.to_world(x, y)
    return f"{wx:.2f} {wy:.2f}"


def render(sewer: Sewer, wedges: list[Wedge], sewage_m3s: dict[str, float]) -> str:
    """The whole .inp text."""
    nodes, inv = sewer.nodes, sewer.invert_m
    out = ["[TITLE]", "Binhe District combined sewer (CityLifeline demo city)", "", OPTIONS]
    out += ["[RAINGAGES]", ";Name Format Interval SCF Source", "RG1 INTENSITY 0:05 1.0 TIMESERIES RAIN", ""]
    sub = [(w.name, w.outlet, w.area_ha, w.imperv_pct, 150.0) for w in wedges]
    sub.append(("SC-UP1", "S-UP1", UNDERPASS_AREA_HA, 95.0, 200.0))
    out += ["[SUBCATCHMENTS]", ";Name RainGage Outlet Area %Imperv Width %Slope CurbLen"]
    out += [f"{n} RG1 {o} {a:.3f} {i:.1f} {w:.1f} 1.0 0" for n, o, a, i, w in sub]
    out += ["", "[SUBAREAS]", ";Subcatch N-Imperv N-Perv S-Imperv S-Perv PctZero RouteTo"]
    out += [f"{n} 0.013 0.15 1.5 5 25 OUTLET" for n, *_ in sub]
    out += ["", "[INFILTRATION]", ";Subcatch MaxRate MinRate Decay DryTime MaxInfil"]
    out += [f"{n} 60 6 4 7 0" for n, *_ in sub]
    out += ["", "[JUNCTIONS]", ";Name Elev MaxDepth InitDepth SurDepth Aponded"]
    for n in sorted(nodes):
        out.append(f"{manhole(n)} {inv[n]:.3f} {nodes[n].ground_m - inv[n]:.3f} 0 0 {MANHOLE_PONDED_M2:.0f}")
    out += ["", "[OUTFALLS]", ";Name Elev Type Stage Gated"]
    out += [f"O-{o} {OUTFALL_INVERT_M:.3f} FIXED {g.RIVER_LEVEL_M:.2f} NO" for o in sorted(sewer.outfalls)]
    sag = float(g.ground_m(*g.UNDERPASS))
    out += ["", "[STORAGE]", ";Name Elev MaxDepth InitDepth Shape A1 A2 A0 SurDepth Fevap",
            f"S-UP1 {sag:.3f} {SAG_MAX_DEPTH_M} 0 FUNCTIONAL {SAG_AREA_PER_M_DEPTH} 1 10 0 0", ""]
    conduits, xsections = [], []
    for n, d in sorted(sewer.down.items()):
        if not d:
            continue
        length = math.dist((nodes[n].x, nodes[n].y), (nodes[d].x, nodes[d].y))
        conduits.append(f"C-{n} {manhole(n)} {manhole(d)} {length:.1f} 0.013 0 0 0 0")
        xsections.append(f"C-{n} CIRCULAR {sewer.diameter_m[n]} 0 0 0 1")
    for o in sorted(sewer.outfalls):
        biggest = max((sewer.diameter_m[n] for n, d in sewer.down.items() if d == o), default=0.6)
        bank_y = g.RIVER_Y[0] if nodes[o].y < g.RIVER_Y[0] else g.RIVER_Y[1]
        conduits.append(f"C-O-{o} {manhole(o)} O-{o} {abs(nodes[o].y - bank_y):.1f} 0.013 0 0 0 0")
        xsections.append(f"C-O-{o} CIRCULAR {min(biggest * 1.25, 1.8):.2f} 0 0 0 1")
    conduits.append(f"C-UP1 S-UP1 {manhole(UNDERPASS_NODE)} 15.0 0.013 0 0 0 0")
    xsections.append("C-UP1 CIRCULAR 0.3 0 0 0 1")
    out += ["[CONDUITS]", ";Name From To Length Roughness InOffset OutOffset InitFlow MaxFlow", *conduits, ""]
    out += ["[XSECTIONS]", ";Link Shape Geom1 Geom2 Geom3 Geom4 Barrels", *xsections, ""]
    out += ["[DWF]", ";Node Constituent Baseline Patterns"]
    out += [f'{manhole(n)} FLOW {q:.7f} "SEWAGE"' for n, q in sorted(sewage_m3s.items())]
    pat = " ".join(f"{m:.2f}" for m in SEWAGE_PATTERN)
    out += ["", "[PATTERNS]", f"SEWAGE HOURLY {pat}", ""]
    out += ["[TIMESERIES]", "RAIN 06/03/2026 00:00 0", "RAIN 06/04/2026 00:00 0", ""]
    out += ["[REPORT]", "INPUT NO", "CONTROLS NO", "SUBCATCHMENTS NONE", "NODES NONE", "LINKS NONE", ""]
    out += ["[COORDINATES]", ";Node X Y"]
    out += [f"{manhole(n)} {_xy(nodes[n].x, nodes[n].y)}" for n in sorted(nodes)]
    for o in sorted(sewer.outfalls):
        bank_y = g.RIVER_Y[0] if nodes[o].y < g.RIVER_Y[0] else g.RIVER_Y[1]
        out.append(f"O-{o} {_xy(nodes[o].x, bank_y)}")
    out += [f"S-UP1 {_xy(g.UNDERPASS[0], g.UNDERPASS[1] + 12)}", "", "[Polygons]", ";Subcatch X Y"]
    for w in wedges:
        out += [f"{w.name} {_xy(x, y)}" for x, y in w.polygon]
    ux, uy = g.UNDERPASS
    out += [f"SC-UP1 {_xy(x, y)}" for x, y in ((ux - 75, uy + 5), (ux + 75, uy + 5), (ux + 75, uy + 40),
                                                (ux - 75, uy + 40), (ux - 75, uy + 5))]
    out += ["", "[SYMBOLS]", ";Gage X Y", f"RG1 {_xy(1230.0, 1230.0)}", ""]
    return "\n".join(out)
