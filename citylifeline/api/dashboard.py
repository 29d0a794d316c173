"""The dashboard ("one map") and the read-only views behind it.

The page at ``/`` is static: HTML, CSS and JavaScript shipped in ``citylifeline/web``, with the
map (Leaflet) and chart (uPlot) libraries installed from the npm registry by ``make setup`` and
served from ``/vendor``.  Nothing is fetched from the internet at run time; a base map is used
only when ``map_tile_url`` names a tile server.  The views: every sensor's state (columnar), the
city overview, and sensor health for maintenance.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from .. import levels, overview
from ..auth.model import Credential
from ..city.model import LIFELINES
from ..errors import ConfigError
from ..pipeline import wall_ms
from ..units import KINDS
from ..warn.lifecycle import ACTIONS, ACTIVE_STATES
from .auth import VIEWER
from .jsonresponse import JSON
from .readings import engine_of

router = APIRouter(prefix="/api/v1", tags=["dashboard"])
WEB = Path(__file__).resolve().parent.parent / "web"
VENDOR = {"leaflet": "leaflet/dist", "uplot": "uplot/dist"}
"""npm package → the directory of it that the page loads (see web/package.json)."""


@router.get("/sensor-states", summary="Every sensor's state for the map, as columns")
def sensor_states(request: Request, who: Credential = VIEWER) -> JSON:
    """``sensor``, ``state``, ``t``, ``value`` aligned by position, for the sensors in the credential's
    scope; ``state`` codes are in ``legend`` (0 normal, 1–4 warning severity IV–I, 5 fault, 6 offline)."""
    engine = engine_of(request)
    return JSON(overview.sensor_states(engine, engine.access.sensor_mask(who)))


@router.get("/overview", summary="The city at a glance: counts, response times, trend")
def city_overview(request: Request, who: Credential = VIEWER) -> JSON:
    """Active incidents by lifeline and level, sensors by state, incidents today, mean minutes to
    acknowledge and to resolve, and new incidents per hour over the last day (of the credential's
    scope: its lifelines, its sensors and its incidents)."""
    engine = engine_of(request)
    return JSON(overview.overview(engine, wall_ms(), engine.access.sensor_mask(who),
                                  lambda i: engine.access.sees_incident(who, i.lifeline, i.sensors),
                                  tuple(ll for ll in LIFELINES if not who.lifelines or ll in who.lifelines)))


@router.get("/sensor-health", summary="Sensors needing maintenance, worst first")
def sensor_health(request: Request, who: Credential = VIEWER) -> JSON:
    """Open fault tickets, offline and never-reported sensors, low batteries and weak signals (of the
    sensors in the credential's scope)."""
    engine = engine_of(request)
    return JSON(overview.sensor_health(engine, engine.access.sensor_mask(who)))


@router.get("/ui", summary="What the dashboard needs to draw the city")
def ui(request: Request, _: Credential = VIEWER) -> JSON:
    """City name, layers, level colours, lifecycle actions and the states still being handled,
    display units (display = (canonical − offset) / scale) and the optional base map."""
    engine = engine_of(request)
    cfg = engine.config
    return JSON({
        "city": engine.city.name, "timezone": engine.city.timezone, "lifelines": list(LIFELINES),
        "layers": list(engine.city.layers), "districts": engine.districts(),
        "levels": [{"severity": s, "roman": levels.roman(s), "colour": levels.COLOUR[s]} for s in (4, 3, 2, 1)],
        "actions": {a.name: {"needs": a.needs, "from": list(a.allowed_from)} for a in ACTIONS.values()},
        "active_states": list(ACTIVE_STATES),
        "kinds": {k.name: {"unit": k.canonical, "display": k.display, "scale": k.units[k.display][0],
                           "offset": k.units[k.display][1]} for k in KINDS.values()},
        "tiles": {"url": cfg.map_tile_url, "attribution": cfg.map_tile_attribution} if cfg.map_tile_url else None,
    })


def mount(app: FastAPI, vendor_dir: str) -> None:
    """Serve the page at ``/``, its own files (web/static) at ``/static`` and the npm libraries at ``/vendor``."""
    modules = Path(vendor_dir) if vendor_dir else WEB / "node_modules"
    missing = [pkg for pkg, sub in VENDOR.items() if not (modules / sub).is_dir()]

    @app.get("/", include_in_schema=False, response_model=None)
    def page() -> FileResponse | HTMLResponse:
        if missing:
            return HTMLResponse(_missing_page(modules, missing), status_code=503)
        return FileResponse(WEB / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    for pkg, sub in VENDOR.items():
        if pkg not in missing:
            app.mount(f"/vendor/{pkg}", StaticFiles(directory=modules / sub), name=f"vendor-{pkg}")
    if vendor_dir and missing:
        raise ConfigError(f"web_vendor_dir={vendor_dir!r} has no {', '.join(missing)}: run "
                          f"`npm ci --prefix citylifeline/web` and point the setting at its node_modules")


def _missing_page(modules: Path, missing: list[str]) -> str:
    return (f"<!doctype html><meta charset=utf-8><title>CityLifeline</title><h1>Dashboard not installed</h1>"
            f"<p>The front-end libraries {', '.join(missing)} are not in {modules}. Run <code>make setup</code> "
            "(it runs <code>npm ci</code> in citylifeline/web from the npm registry), or set "
            "CITYLIFELINE_WEB_VENDOR_DIR to a node_modules directory that has them.</p>"
            "<p>The plain status page is at <a href='/plain'>/plain</a>; the API at <a href='/docs'>/docs</a>.</p>")
