"""The four-colour risk map (``risk``) and the register of construction sites near the lifelines
(``risk.sites``).  The map is the city's, like its layers: every viewer sees all of it, and any
asset's risk and reasons; the top list holds the assets in the credential's scope, and the sensors
named are only those in it."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from .. import levels
from ..auth.model import Credential
from ..engine import Engine
from ..errors import NotFound
from ..risk.sites import KINDS, MAX_TEXT, STATES, site_area
from .auth import OPERATOR, VIEWER, client_of
from .jsonresponse import JSON
from .readings import engine_of
from .schemas import Error, RecordId
from .works import TIME_HELP, check_state, sees, time_ms

router = APIRouter(prefix="/api/v1", tags=["risk"])


def _level(text: str) -> int:
    return levels.from_roman(text) if text else 1


def _in_scope(engine: Engine, who: Credential, sensors: list[str]) -> list[str]:
    mask, index = engine.access.sensor_mask(who), engine.registry.index
    return [s for s in sensors if mask[index[s]]]


def _scoped(engine: Engine, who: Credential, row: dict[str, Any]) -> dict[str, Any] | None:
    """``row`` with only the sensors in ``who``'s scope, or None for an asset outside it."""
    if not sees(engine, who, row["layer"], row["key"]):
        return None
    return row | {"sensors": _in_scope(engine, who, row["sensors"])}


@router.get("/risk", summary="The risk map's areas: grid cells in four colours, and assets per colour")
def risk_summary(request: Request, _: Credential = VIEWER) -> JSON:
    """GB/T 42768's region level: the city in cells, each coloured by its worst asset (R = L × S:
    20–25 red, 9–16 orange, 4–8 yellow, 1–3 blue), as GeoJSON (WGS84); static and live together."""
    return JSON(engine_of(request).risk().summary())


@router.get("/risk/assets", summary="Assets on the risk map (GeoJSON, WGS84) with likelihood, severity and colour")
def risk_assets(request: Request, min_level: str = Query("II", description="the least level shown: I–IV or a colour"),
                layer: str = Query("", description="only this lifeline"), _: Credential = VIEWER) -> JSON:
    """Each asset at ``min_level`` or worse: its likelihood L and severity S (1–5), R = L × S and its colour."""
    return JSON(engine_of(request).risk().assets_geojson(_level(min_level), layer))


@router.get("/risk/top", summary="The top risks of the week, with their reasons and what watches them")
def risk_top(request: Request, n: int = Query(20, ge=1, le=500), who: Credential = VIEWER) -> JSON:
    """The highest risks in the credential's scope: why (material and age, soil, works nearby, incidents
    and alarms, faults, people and places near, other lifelines touched, in 中文 and English), the sensors
    on them, and for those none watches, what would."""
    engine = engine_of(request)
    rows = [_scoped(engine, who, r) for r in engine.risk().top(n if not (who.lifelines or who.districts) else 20 * n)]
    return JSON([r for r in rows if r is not None][:n])


@router.get("/risk/assets/{key:path}", summary="One asset's risk and its reasons", responses={404: {"model": Error}})
def risk_asset(request: Request, key: str, who: Credential = VIEWER) -> JSON:
    engine = engine_of(request)
    try:
        row = engine.risk().asset(key)
    except KeyError:
        raise NotFound(f"asset {key!r} is not on the risk map; GET /api/v1/risk/assets lists those that are") from None
    return JSON(row | {"sensors": _in_scope(engine, who, row["sensors"])})


class SiteIn(BaseModel):
    """A construction site: where (a GeoJSON polygon, or a point or line with a radius), what, who, when."""

    name: str = Field(max_length=MAX_TEXT, description="the site's name")
    kind: str = Field("excavation", description=f"one of {', '.join(KINDS)}")
    geometry: dict[str, Any] = Field(description="GeoJSON geometry in WGS84 (a Polygon; or a Point or "
                                                 "LineString with radius_m)")
    radius_m: float | None = Field(None, description="for a point or line: the site's reach around it, m")
    contractor: str = Field("", max_length=MAX_TEXT)
    permit: str = Field("", max_length=MAX_TEXT, description="the excavation permit's number")
    start: str | float = Field(description=f"when the works begin: {TIME_HELP}")
    end: str | float | None = Field(None, description=f"when they end (none: until finished): {TIME_HELP}")


@router.get("/construction-sites", summary="Construction sites near the lifelines, newest first")
def list_sites(request: Request, state: str = Query("", description=f"only one state: {', '.join(STATES)}"),
               _: Credential = VIEWER) -> JSON:
    check_state(state, STATES)
    engine = engine_of(request)
    return JSON([s.to_dict(engine.city) for s in reversed(engine.store.construction_sites())
                 if not state or s.state == state])


@router.post("/construction-sites", summary="Register a construction site", status_code=201,
             responses={400: {"model": Error}, 403: {"model": Error}})
async def create_site(request: Request, body: SiteIn, who: Credential = OPERATOR) -> JSON:
    """While the works last, the assets within reach carry a higher likelihood on the risk map and the
    sensors beside the site are watched more closely (``risk.sites``).  Audited."""
    engine = engine_of(request)
    tz = engine.city.timezone
    start = time_ms(body.start, "start", tz)
    assert start is not None
    area = site_area(engine.city, body.geometry, body.radius_m)
    site = await asyncio.wrap_future(engine.create_site(who, client_of(request), body.name, body.kind, area,
                                                        body.contractor, body.permit, start,
                                                        time_ms(body.end, "end", tz)))
    return JSON(site.to_dict(engine.city), status_code=201)


@router.post("/construction-sites/{site_id}/finish", summary="The site's works are over",
             responses={400: {"model": Error}, 404: {"model": Error}})
async def finish_site(request: Request, site_id: RecordId, who: Credential = OPERATOR) -> JSON:
    return await _end(request, site_id, who, "finished")


@router.post("/construction-sites/{site_id}/cancel", summary="The site's works never happened",
             responses={400: {"model": Error}, 404: {"model": Error}})
async def cancel_site(request: Request, site_id: RecordId, who: Credential = OPERATOR) -> JSON:
    return await _end(request, site_id, who, "cancelled")


async def _end(request: Request, site_id: int, who: Credential, state: str) -> JSON:
    engine = engine_of(request)
    site = await asyncio.wrap_future(engine.end_site(who, client_of(request), site_id, state))
    return JSON(site.to_dict(engine.city))
