"""Write the demo city's places (blocks, hospitals, schools, metro) and base map (streets, river, railway).

    python -m citylifeline.twin.citygen.places
"""

from __future__ import annotations

import shapely

from . import geography as g
from .io import feature, write_geojson


def place_features() -> list[dict[str, object]]:
    """Blocks as polygons (residential with households and population; hospitals, schools,
    commercial, industrial, parks) and metro stations as points."""
    out = []
    for b in g.blocks():
        props: dict[str, object] = {"id": b.name, "kind": b.use if b.use in ("residential", "hospital", "school")
                                    else "other", "name": b.label, "land_use": b.use, **b.props}
        if b.use == "residential":
            props |= {"households": b.households, "population": b.population}
        out.append(feature(b.polygon(), **props))
    for p in g.METRO_STATIONS:
        out.append(feature(shapely.Point(p.x, p.y), id=p.name, kind=p.kind, name=p.label, **p.props))
    return out


def base_features() -> list[dict[str, object]]:
    """Streets (centre lines, named), the river, the railway: the map's background."""
    out = []
    for y, name in g.E_W_STREETS.items():
        out.append(feature(shapely.LineString([(0, y), (g.X_MAX, y)]), id=f"street-y{int(y)}", kind="street",
                           name=name, main=y == g.AVENUE_Y))
    for x, name in g.N_S_STREETS.items():
        parts = [((0, x), (g.AVENUE_Y, x)), ((1200.0, x), (g.Y_MAX, x))] if x not in g.BRIDGE_X else \
            [((0, x), (g.Y_MAX, x))]
        for k, ((y0, xx), (y1, _)) in enumerate(parts):
            out.append(feature(shapely.LineString([(xx, y0), (xx, y1)]), id=f"street-x{int(x)}-{k}", kind="street",
                               name=name, main=x == g.AVENUE_X))
    out.append(feature(shapely.box(-300, g.RIVER_Y[0], g.X_MAX + 300, g.RIVER_Y[1]), id="river", kind="river",
                       name="南淝河 Nanfei River", level_m=g.RIVER_LEVEL_M))
    out.append(feature(shapely.LineString([(g.RAILWAY_X, -200), (g.RAILWAY_X, g.Y_MAX + 200)]), id="railway",
                       kind="railway", name="合九铁路 Hefei-Jiujiang Railway"))
    return out


def main() -> None:
    """Rewrite places.geojson and base.geojson."""
    print(write_geojson("places.geojson", place_features()))
    print(write_geojson("base.geojson", base_features()))


if __name__ == "__main__":
    main()
