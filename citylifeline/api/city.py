"""The city: sensors, network layers as GeoJSON, and the platform's status at a glance."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request

from .. import levels
from ..auth.model import Credential
from ..city.geojson import layer_to_geojson
from ..errors import NotFound
from ..store.base import IncidentFilter
from ..warn.lifecycle import ACTIVE_STATES
from .auth import ADMIN, VIEWER, client_of, in_scope
from .jsonresponse import JSON
from .readings import engine_of
from .schemas import Error

router = APIRouter(prefix="/api/v1", tags=["city"])


@router.get("/sensors", summary="Every sensor with its kind, asset, position and thresholds")
def sensors(request: Request, layer: str = Query("", description="only this lifeline"),
            who: Credential = VIEWER) -> JSON:
    """Sensors (in the credential's scope) in their canonical units; ``lon``/``lat`` in WGS84 for maps."""
    engine = engine_of(request)
    reg, mask = engine.registry, engine.access.sensor_mask(who)
    rows = [engine.sensor_json(i) for i in range(len(reg))
            if reg.active[i] and mask[i] and (not layer or reg.layer[i] == layer)]
    return JSON(rows)


@router.get("/sensors/{sensor_id}", summary="One sensor", responses={404: {"model": Error}})
def sensor(request: Request, sensor_id: str, who: Credential = VIEWER) -> JSON:
    """One sensor, with its newest reading."""
    engine = engine_of(request)
    i = engine.registry.idx(sensor_id)
    in_scope(who, bool(engine.access.sensor_mask(who)[i]), f"sensor {sensor_id}")
    d = engine.sensor_json(i)
    has = i < len(engine.store.last_t) and engine.store.last_t[i] >= 0
    d["latest"] = {"t": int(engine.store.last_t[i]), "value": float(engine.store.last_value[i])} if has else None
    return JSON(d)


@router.get("/assets/{key:path}/coupling", summary="What an asset touches and depends on in other lifelines",
            responses={404: {"model": Error}})
def asset_coupling(request: Request, key: str, _: Credential = VIEWER) -> JSON:
    """The assets of other lifelines coupled to ``key`` (layer/kind/name): crossing it, within 15 m, in
    the same tunnel compartment, carried by the same bridge, or declared dependent in city.yaml
    (``cascade.coupling``), nearest first, with WGS84 ``lon``/``lat`` and the line between them."""
    engine = engine_of(request)
    city = engine.city
    asset = city.asset(key)  # NotFound (404) names it
    out = []
    for other, kind, distance in engine.cascader().coupling.of(key):
        b = city.asset(other)
        lon, lat = city.to_wgs84(*b.xy)
        out.append({"key": other, "kind": kind, "distance_m": round(distance, 1), "layer": b.layer,
                    "name": b.props.get("label") or b.name, "lon": float(lon), "lat": float(lat)})
    lon, lat = city.to_wgs84(*asset.xy)
    return JSON({"key": key, "lon": float(lon), "lat": float(lat), "coupled": out})


@router.get("/layers", summary="The city's layers and how many assets each has")
def layers(request: Request, _: Credential = VIEWER) -> JSON:
    """Layer names with asset counts and bounds (WGS84)."""
    city = engine_of(request).city
    out = []
    for name, layer in city.layers.items():
        xmin, ymin, xmax, ymax = layer.bounds()
        (lon0, lon1), (lat0, lat1) = city.to_wgs84([xmin, xmax], [ymin, ymax])
        out.append({"name": name, "assets": len(layer.assets), "bounds": [lon0, lat0, lon1, lat1]})
    return JSON({"city": city.name, "crs": city.crs.to_string(), "timezone": city.timezone,
                           "layers": out})


@router.get("/layers/{name}", summary="A layer as GeoJSON (WGS84)", responses={404: {"model": Error}})
def layer_geojson(request: Request, name: str, _: Credential = VIEWER) -> JSON:
    """Every asset of the layer as a GeoJSON feature with key, kind, name and properties."""
    engine = engine_of(request)
    if name not in engine.city.layers:
        raise NotFound(f"layer {name!r} does not exist; the city has {', '.join(engine.city.layers)}")
    cache = request.app.state.geojson  # layers do not change while the server runs
    if name not in cache:
        cache[name] = layer_to_geojson(engine.city.layers[name], engine.city)
    return JSON(cache[name], media_type="application/geo+json")


@router.get("/status", summary="The platform at a glance")
def status(request: Request, who: Credential = VIEWER) -> JSON:
    """Sensors, open incidents by level, open tickets and the newest data time, of the credential's
    scope; and the platform's own state: readings stored (in all), MQTT ingestion and its threads."""
    engine = engine_of(request)
    store = engine.store
    mask = engine.access.sensor_mask(who)
    active = [i for i in store.incidents(IncidentFilter(states=ACTIVE_STATES, limit=1_000_000))
              if engine.access.sees_incident(who, i.lifeline, i.sensors)]
    by_level = {levels.roman(s): sum(1 for i in active if i.level == s) for s in (4, 3, 2, 1)}
    n = min(len(mask), len(store.last_t))
    last_t = store.last_t[:n][mask[:n]]  # of the sensors in scope
    return JSON({
        "city": engine.city.name, "sensors": int((engine.registry.active & mask).sum()),
        "sensors_reporting": int((last_t >= 0).sum()),
        "readings": store.count_readings(), "active_incidents": len(active), "active_by_level": by_level,
        "open_tickets": sum(1 for t in store.open_tickets() if mask[t.sensor]),
        "newest_reading_ms": int(last_t.max()) if len(last_t) else None,
        "mqtt": None if engine.mqtt is None else engine.mqtt.status(),
        "threads": engine.threads(),
    })


@router.get("/analysts/{name}", summary="A lifeline analyst's state per watched asset",
            responses={404: {"model": Error}})
def analyst_state(request: Request, name: str, who: Credential = VIEWER) -> JSON:
    """What the analyst judges now, per asset it watches (the gas analyst: every space's verdict, leak
    probability, methane and usual biogas; the bridge analyst: every bridge's class and reasons, frequency
    history, overweight vehicles and fatigue per gauge; the drainage analyst: every waterlogging point's and
    catchment's water now and forecast two hours ahead with its band, and the rain), limited to the assets
    whose sensors are in the credential's scope."""
    engine = engine_of(request)
    analyst = engine.analyst(name)
    mask = engine.access.sensor_mask(who)
    seen = {a for a, m in zip(engine.registry.asset, mask, strict=False) if m}
    state = analyst.status()
    for key, field in (("spaces", "space"), ("bridges", "asset")):  # the gas analyst's spaces, the bridges
        if key in state:
            state[key] = [row for row in state[key] if row[field] in seen]
    if "places" in state:  # the drainage analyst's points and catchments, by the sensor they are told on
        ids = {i for i, m in zip(engine.registry.ids, mask, strict=False) if m}
        state["places"] = [row for row in state["places"] if row["sensor"] in ids]
    return JSON(state)


@router.post("/analysts/{name}/recalibrate", summary="Make a lifeline analyst learn again",
             responses={404: {"model": Error}})
async def recalibrate(request: Request, name: str, who: Credential = ADMIN) -> JSON:
    """The analyst forgets its calibration and learns again from the next readings, as after a
    known change of the network (a new main, a zone boundary moved) or the sensors it set aside
    repaired; the water analyst then watches for bursts after a day, for slow leaks after three
    weeks (its status says how far it is).  Audited; its status after."""
    engine = engine_of(request)
    return JSON(await asyncio.wrap_future(engine.recalibrate(who, client_of(request), name)))
