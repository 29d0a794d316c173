"""Write the demo city's asset register as a utility's GIS would export it: a GeoPackage of the pipes
with their install year, material, depth of cover and soil (read by city.yaml ``attributes:``).

    python -m citylifeline.twin.citygen.attributes

The north bank (滨北) is the old town, laid in 1982–2000: water mains of grey cast iron and early
ductile iron, gas mains of cast iron and steel; about one in six of its mains was relaid in
2008–2020.  The south bank (滨南) was built in 2004–2019 with ductile iron and PE.  Heating pipes are
steel; sewers concrete, newer ones HDPE.  Soil within 200 m of the river is wet, corrosive clay for
most pipes; elsewhere one in five lies in corrosive soil.  Depths of cover follow CJJ 207 / GB 50028
practice for each lifeline (water 1.2–1.8 m, gas 0.9–1.5 m, heating 1.5–2.5 m, sewers 2–4 m).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyogrio
import shapely

from ...city.bundle import load_city
from . import geography as g
from .io import DATA

FILE = "assets.gpkg"
LAYER = "pipes"
KINDS = {"water": "pipe", "gas": "pipe", "heating": "pipe", "drainage": "conduit"}
DEPTH_M = {"water": (1.2, 1.8), "gas": (0.9, 1.5), "heating": (1.5, 2.5), "drainage": (2.0, 4.0)}
OLD_MATERIALS = {"water": (("grey_cast_iron", 0.6), ("ductile_iron", 0.4)),
                 "gas": (("cast_iron", 0.3), ("steel", 0.7)),
                 "heating": (("steel", 1.0),), "drainage": (("concrete", 1.0),)}
NEW_MATERIALS = {"water": (("ductile_iron", 0.6), ("pe", 0.4)), "gas": (("pe", 0.7), ("steel", 0.3)),
                 "heating": (("steel", 1.0),), "drainage": (("concrete", 0.5), ("hdpe", 0.5))}


def register(seed: int = 2026) -> pa.Table:
    """One row per pipe: asset key, install year, material, depth of cover (m), soil, geometry (WKB)."""
    rng = np.random.default_rng(seed)
    city = load_city(DATA).city
    names = ("asset", "install_year", "material", "depth_m", "soil", "geometry")
    rows: dict[str, list[object]] = {k: [] for k in names}
    river_y = sum(g.RIVER_Y) / 2 + g.ORIGIN[1]
    for layer, kind in KINDS.items():
        for a in city.layers[layer].assets.values():
            if a.kind != kind:
                continue
            y = a.xy[1]
            old = y > river_y  # the north bank
            relaid = old and rng.random() < 1 / 6
            year = int(rng.integers(2008, 2021)) if relaid else int(rng.integers(1982, 2001)) if old \
                else int(rng.integers(2004, 2020))
            names, shares = zip(*(OLD_MATERIALS if old and not relaid else NEW_MATERIALS)[layer], strict=True)
            near_river = abs(y - river_y) < 200.0
            rows["asset"].append(a.key)
            rows["install_year"].append(year)
            rows["material"].append(str(rng.choice(names, p=shares)))
            rows["depth_m"].append(round(float(rng.uniform(*DEPTH_M[layer])), 2))
            rows["soil"].append("corrosive" if rng.random() < (0.7 if near_river else 0.2) else "normal")
            rows["geometry"].append(shapely.to_wkb(a.geometry))
    return pa.table({k: pa.array(v, type=pa.binary() if k == "geometry" else None) for k, v in rows.items()})


def main() -> None:
    """Rewrite assets.gpkg."""
    table = register()
    path = DATA / FILE
    path.unlink(missing_ok=True)
    pyogrio.write_arrow(table, path, layer=LAYER, driver="GPKG", geometry_name="geometry", geometry_type="LineString",
                        crs=g.CRS)
    print(path, table.num_rows, "pipes")


if __name__ == "__main__":
    main()
