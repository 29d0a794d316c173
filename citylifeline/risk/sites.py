"""Third-party construction sites near the lifelines: a register, so that the risk map and the
detectors know where excavators dig.

Most gas-network accidents in China are caused by third-party construction (199 of 235, 84.68 %, in
2023–24; ../shared/DOMAIN.md §6), and the field's first defence is a register of works with a
geofence around the pipes (the US "811" one-call ticket).  A site is an area (a GeoJSON polygon in
WGS84, or a point with a radius), the works done there, the contractor and permit, and its time;
while it is in force, the assets within ``factors.WORKS_REACH_M`` of it carry a higher likelihood on
the risk map (``riskmap.assess``) and their sensors' rate limits tighten (``SENSITIVITY``: the
detectors see a small, fast change as the first sign of a strike).

Time: ``start_ms`` to ``end_ms`` (epoch ms; no end: until finished).  ``state``: ``open`` until
``finished`` or ``cancelled``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from ..city.model import City
from ..errors import ValidationError

KINDS = ("excavation", "piling", "drilling", "trenchless", "demolition", "road_works", "other")
STATES = ("open", "finished", "cancelled")
MAX_TEXT = 300
MAX_RADIUS_M = 2000.0
MAX_AREA_M2 = 4e6  # 2 km × 2 km: a site, not a district
SENSITIVITY = 0.5
"""Within a site's reach the sensors' rate limits are this share of their own (``Correlator``)."""


@dataclass
class ConstructionSite:
    """One site (see the module docstring); ``wkt`` is its area in the city's CRS."""

    id: int
    name: str
    kind: str
    wkt: str
    contractor: str
    permit: str
    start_ms: int
    end_ms: int | None
    state: str
    created_at_ms: int
    created_by: str
    updated_at_ms: int

    @property
    def geometry(self) -> BaseGeometry:
        return shapely.from_wkt(self.wkt)

    def active(self, t_ms: int) -> bool:
        """In force at ``t_ms``."""
        return self.state == "open" and self.start_ms <= t_ms and (self.end_ms is None or t_ms < self.end_ms)

    def to_dict(self, city: City) -> dict[str, Any]:
        """JSON-ready, with the area as GeoJSON in WGS84."""
        d = asdict(self)
        world = city.geometry_to_wgs84(self.geometry)
        d.pop("wkt")
        d["geometry"] = shapely.geometry.mapping(world)
        return d


def site_area(city: City, geometry: Any, radius_m: float | None) -> BaseGeometry:
    """The area of a site in the city's CRS from GeoJSON (WGS84) and an optional radius (for a point
    or a line); a ``ValidationError`` naming the field, the value and the fix otherwise."""
    try:
        g = shape(geometry)
    except Exception:
        raise ValidationError(f"geometry {str(geometry)[:80]!r} is not GeoJSON; give a Polygon, or a Point with "
                              "radius_m, in WGS84 longitude/latitude", field="geometry", value=str(geometry)[:80]) \
            from None
    if g.is_empty or not g.is_valid:
        raise ValidationError("geometry is empty or not valid (a polygon crossing itself?); draw the site's "
                              "boundary once round", field="geometry", value=g.wkt[:80])
    lon, lat = shapely.get_coordinates(g).T
    if not ((lon >= -180) & (lon <= 180) & (lat >= -90) & (lat <= 90)).all():
        raise ValidationError("geometry is not in WGS84 longitude/latitude (GeoJSON's order: longitude first)",
                              field="geometry", value=g.wkt[:80])
    local = city.geometry_from_wgs84(g)
    if radius_m is not None:
        if not 0 < radius_m <= MAX_RADIUS_M:
            raise ValidationError(f"radius_m {radius_m} is not a site's radius; give 1–{MAX_RADIUS_M:.0f} m",
                                  field="radius_m", value=radius_m)
        local = local.buffer(radius_m)
    elif local.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValidationError(f"a {g.geom_type} has no area; give a Polygon, or radius_m with it",
                              field="radius_m", value=None)
    if local.area > MAX_AREA_M2:
        raise ValidationError(f"the site covers {local.area / 1e6:.1f} km²; a construction site is at most "
                              f"{MAX_AREA_M2 / 1e6:.0f} km²: register each site on its own", field="geometry",
                              value=round(local.area))
    return local


def check_site(name: str, kind: str, start_ms: int, end_ms: int | None) -> None:
    """A ``ValidationError`` naming the field, the value and the fix, unless the site can be registered."""
    if not name.strip() or len(name) > MAX_TEXT:
        raise ValidationError(f"name {name[:40]!r}: give the site's name (1–{MAX_TEXT} characters)", field="name",
                              value=name[:40])
    if kind not in KINDS:
        raise ValidationError(f"kind {kind!r} is not a kind of works; use one of {', '.join(KINDS)}", field="kind",
                              value=kind)
    if end_ms is not None and end_ms <= start_ms:
        raise ValidationError(f"end {end_ms} ms is not after start {start_ms} ms; give the works' last day",
                              field="end", value=end_ms)
