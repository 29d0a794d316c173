"""The demo city's geography: streets, a river with three bridges, terrain, blocks and places.

A district of Hefei 2.4 km east-west by 2.1 km north-south (CGCS2000 / 3-degree Gauss-Kruger
CM 117E, metres; local coordinates below are offsets from ``ORIGIN``).  Streets run every
300 m both ways; the river crosses east-west between the Changjiang Avenue embankment (y = 900)
and Binhe Road (y = 1200), and only three north-south streets cross it, on bridges.  The
ground falls gently towards the river, so sewers drain to it.  A railway embankment runs
north-south at x = 2250 and Nanyi Road passes under it through an underpass, the district's
low point in a storm.

Every lifeline lies along the streets, as in a real town, each in its own lane of the street's
cross-section (``LANE_M``): the sewer on the centre line, the water main on one side, the gas
main on the other — 2.8 m from the sewer manholes — and the cable wells beyond it, 2.8 m from
the gas main.  The utility tunnel runs under Changjiang Avenue, the district-heating loop
through the northern blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely

ORIGIN = (520000.0, 3520000.0)
"""Local (0, 0) in EPSG:4548: the district's south-west corner."""
CRS = "EPSG:4548"
BLOCK_M = 300.0
NODE_M = 150.0
X_MAX, Y_MAX = 2400.0, 2100.0
RIVER_Y = (1020.0, 1080.0)  # banks; the embankment roads are y = 900 and y = 1200
RIVER_LEVEL_M = 6.5
BRIDGE_X = (600.0, 1200.0, 1800.0)
AVENUE_Y = 900.0  # Changjiang Avenue: the main east-west road, with the utility tunnel beneath
AVENUE_X = 1200.0  # Jinzhai Road: the main north-south road
RAILWAY_X = 2250.0
UNDERPASS = (RAILWAY_X, 300.0)  # where Nanyi Road dips under the railway
UNDERPASS_DEPTH_M = 5.0
UNDERPASS_HALF_LENGTH_M = 75.0
LANE_M = {"sewer": 0.0, "water": 2.0, "gas": -2.0, "cable": -4.0, "heating": 4.0}
"""Offset of each lifeline from the street centre line, applied diagonally (x and y)."""

E_W_STREETS = {0.0: "南一环路 Nanyihuan Rd", 300.0: "南一路 Nanyi Rd", 600.0: "南二路 Nan'er Rd",
               900.0: "长江中路 Changjiang Ave", 1200.0: "滨河路 Binhe Rd", 1500.0: "北一路 Beiyi Rd",
               1800.0: "北二路 Bei'er Rd", 2100.0: "北环路 Beihuan Rd"}
N_S_STREETS = {0.0: "西环街 Xihuan St", 300.0: "一街 1st St", 600.0: "二街 2nd St", 900.0: "三街 3rd St",
               1200.0: "金寨路 Jinzhai Rd", 1500.0: "五街 5th St", 1800.0: "六街 6th St", 2100.0: "七街 7th St",
               2400.0: "东环街 Donghuan St"}


def to_world(x: float, y: float) -> tuple[float, float]:
    """EPSG:4548 coordinates of a local point."""
    return ORIGIN[0] + x, ORIGIN[1] + y


def ground_m(x: float | np.ndarray, y: float | np.ndarray) -> np.ndarray:
    """Ground elevation (m): 8 m at the river, rising 1 m per 100 m away from it and 1 m per
    1 km eastwards, with the underpass sag under the railway."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    mid = sum(RIVER_Y) / 2
    z = 8.0 + 0.010 * np.maximum(np.abs(y - mid) - (RIVER_Y[1] - RIVER_Y[0]) / 2, 0.0) + 0.001 * x
    sag = np.clip(1 - np.abs(x - UNDERPASS[0]) / UNDERPASS_HALF_LENGTH_M, 0, 1) * (np.abs(y - UNDERPASS[1]) < 1)
    return np.asarray(z - UNDERPASS_DEPTH_M * sag)


def in_river_band(y: float) -> bool:
    """True for y strictly between the two embankment roads (river and riverside parks)."""
    return AVENUE_Y < y < 1200.0


@dataclass(frozen=True)
class StreetNode:
    """A point on a street centre line every ``NODE_M``: intersections and mid-block points."""

    name: str
    x: float
    y: float

    @property
    def ground_m(self) -> float:
        """Ground elevation at the node."""
        return float(ground_m(self.x, self.y))

    def lane(self, lifeline: str) -> tuple[float, float]:
        """Local position of ``lifeline``'s lane at this node."""
        d = LANE_M[lifeline]
        return self.x + d, self.y + d


@dataclass(frozen=True)
class StreetEdge:
    """A street segment between two adjacent nodes."""

    name: str
    a: StreetNode
    b: StreetNode
    street: str
    main: bool  # Changjiang Avenue or Jinzhai Road
    bridge: str = ""  # the bridge carrying it, if any

    @property
    def length_m(self) -> float:
        """Length of the segment."""
        return math.dist((self.a.x, self.a.y), (self.b.x, self.b.y))


def node_name(x: float, y: float) -> str:
    """'N0806' for the node at x = 8·150 m, y = 6·150 m."""
    return f"N{round(x / NODE_M):02d}{round(y / NODE_M):02d}"


def _on_street(x: float, y: float) -> bool:
    on_ns = x % BLOCK_M == 0
    on_ew = y % BLOCK_M == 0
    if not (on_ns or on_ew):
        return False
    return not in_river_band(y) or (on_ns and x in BRIDGE_X)


def street_nodes() -> dict[str, StreetNode]:
    """Every street node, by name."""
    out = {}
    for xi in range(round(X_MAX / NODE_M) + 1):
        for yi in range(round(Y_MAX / NODE_M) + 1):
            x, y = xi * NODE_M, yi * NODE_M
            if _on_street(x, y):
                out[node_name(x, y)] = StreetNode(node_name(x, y), x, y)
    return out


def street_edges() -> list[StreetEdge]:
    """Every street segment between adjacent nodes (east-west first, then north-south)."""
    nodes = street_nodes()
    edges = []
    for n in nodes.values():
        for dx, dy in ((NODE_M, 0.0), (0.0, NODE_M)):
            other = nodes.get(node_name(n.x + dx, n.y + dy))
            if other is None:
                continue
            ew = dy == 0
            if (ew and n.y % BLOCK_M != 0) or (not ew and n.x % BLOCK_M != 0):
                continue  # mid-block nodes connect only along their own street
            street = E_W_STREETS[n.y] if ew else N_S_STREETS[n.x]
            main = (ew and n.y == AVENUE_Y) or (not ew and n.x == AVENUE_X)
            overlaps_river = not ew and min(n.y, other.y) < RIVER_Y[1] and max(n.y, other.y) > RIVER_Y[0]
            bridge = f"B-{BRIDGE_X.index(n.x) + 1}" if overlaps_river else ""
            edges.append(StreetEdge(f"{n.name}{'E' if ew else 'N'}", n, other, street, main, bridge))
    return edges


@dataclass
class Block:
    """A city block between streets, with its land use and people."""

    name: str
    col: int
    row: int
    use: str  # residential, hospital, school, commercial, industrial, park
    label: str = ""
    households: int = 0
    props: dict[str, object] = field(default_factory=dict)

    @property
    def x0(self) -> float:
        """West edge."""
        return self.col * BLOCK_M

    @property
    def y0(self) -> float:
        """South edge."""
        return ROW_Y[self.row]

    def polygon(self, setback_m: float = 15.0) -> shapely.Polygon:
        """The block inside its streets (local coordinates)."""
        return shapely.box(self.x0 + setback_m, self.y0 + setback_m, self.x0 + BLOCK_M - setback_m,
                           self.y0 + BLOCK_M - setback_m)

    @property
    def population(self) -> int:
        """People living in the block (2.7 per household)."""
        return round(self.households * 2.7)


ROW_Y = (0.0, 300.0, 600.0, 1200.0, 1500.0, 1800.0)
SPECIAL_BLOCKS: dict[tuple[int, int], tuple[str, str, dict[str, object]]] = {
    (3, 2): ("hospital", "市第一人民医院 First People's Hospital", {"beds": 1200}),
    (5, 4): ("hospital", "滨湖医院 Binhu Hospital", {"beds": 600}),
    (1, 1): ("school", "实验小学 Experimental Primary School", {"pupils": 1800}),
    (6, 3): ("school", "第八中学 No. 8 Middle School", {"pupils": 2400}),
    (2, 4): ("school", "阳光幼儿园 Sunshine Kindergarten", {"pupils": 320}),
    (4, 0): ("school", "南城小学 Nancheng Primary School", {"pupils": 1500}),
    (2, 2): ("commercial", "长江商城 Changjiang Mall", {}),
    (4, 2): ("commercial", "金寨大厦 Jinzhai Tower", {}),
    (4, 3): ("commercial", "滨河广场 Binhe Plaza", {}),
    (7, 0): ("industrial", "食品厂 Food Factory", {}),
    (7, 1): ("industrial", "物流园 Logistics Park", {}),
    (0, 2): ("park", "西岸公园 West Bank Park", {}),
    (7, 5): ("park", "北湖公园 Beihu Park", {}),
}
RESIDENTIAL_NAMES = (
    "锦绣花园 Jinxiu Garden", "和平里 Heping Li", "新城家园 Xincheng Homes",
    "滨河小区 Riverside Estate", "幸福里 Xingfu Li", "明珠苑 Mingzhu Court",
    "南湖新村 Nanhu Village", "阳光城 Sunshine City", "翠竹园 Cuizhu Garden",
    "金桂苑 Jingui Court", "银杏小区 Yinxing Estate", "春晓花园 Chunxiao Garden",
    "长青里 Changqing Li", "枫林湾 Fenglin Bay", "丽景苑 Lijing Court",
    "东方花园 Dongfang Garden", "紫荆苑 Zijing Court", "桃园新村 Taoyuan Village",
    "华府小区 Huafu Estate", "书香苑 Shuxiang Court", "雅居乐 Yajule",
    "绿地新里 Green New Li", "星河湾 Xinghe Bay", "学府花园 Xuefu Garden",
    "海棠苑 Haitang Court", "湖畔家园 Hupan Homes", "安居苑 Anju Court",
    "兰亭小区 Lanting Estate", "康乐里 Kangle Li", "清风苑 Qingfeng Court",
    "瑞景园 Ruijing Garden", "福润苑 Furun Court", "嘉和园 Jiahe Garden",
    "宝龙城 Baolong City", "天鹅湖 Swan Lake",
)


def blocks(seed: int = 2026) -> list[Block]:
    """The 48 blocks (8 columns × 3 rows on each side of the river), residential unless special."""
    rng = np.random.default_rng(seed)
    out, names = [], iter(RESIDENTIAL_NAMES)
    for row in range(len(ROW_Y)):
        for col in range(8):
            use, label, props = SPECIAL_BLOCKS.get((col, row), ("residential", "", {}))
            households = int(rng.integers(150, 360)) if use == "residential" else 0
            out.append(Block(f"BL{col}{row}", col, row, use, label or next(names), households, dict(props)))
    return out


@dataclass(frozen=True)
class Place:
    """A point of care or gathering: its kind, label and local position."""

    name: str
    kind: str
    label: str
    x: float
    y: float
    props: dict[str, object] = field(default_factory=dict)


METRO_STATIONS = (
    Place("M-1", "metro_station", "地铁1号线 金寨路站 Jinzhai Rd (Line 1)", AVENUE_X + 20, AVENUE_Y - 20,
          {"daily_riders": 52000}),
    Place("M-2", "metro_station", "地铁3号线 北一路站 Beiyi Rd (Line 3)", 620.0, 1480.0, {"daily_riders": 31000}),
    Place("M-3", "metro_station", "地铁1号线 六街站 6th St (Line 1)", 1820.0, 620.0, {"daily_riders": 24000}),
)


@dataclass(frozen=True)
class Bridge:
    """A bridge carrying a north-south street over the river (a simply supported span)."""

    name: str
    label: str
    x: float
    span_m: float
    props: dict[str, float] = field(default_factory=dict)

    @property
    def y0(self) -> float:
        """South abutment."""
        return sum(RIVER_Y) / 2 - self.span_m / 2

    @property
    def y1(self) -> float:
        """North abutment."""
        return sum(RIVER_Y) / 2 + self.span_m / 2


BRIDGES = (
    Bridge("B-1", "二街桥 2nd St Bridge", BRIDGE_X[0], 70.0, {"lanes": 2, "width_m": 12.0}),
    Bridge("B-2", "金寨路大桥 Jinzhai Rd Bridge", BRIDGE_X[1], 80.0, {"lanes": 6, "width_m": 30.0}),
    Bridge("B-3", "六街桥 6th St Bridge", BRIDGE_X[2], 70.0, {"lanes": 2, "width_m": 12.0}),
)
