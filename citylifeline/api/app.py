"""The FastAPI application: REST + WebSocket + OpenAPI over an ``Engine``.

The API is thin: it parses requests, calls the engine or the store, and maps the library's
exceptions to HTTP statuses with a body ``{"detail": message-with-the-fix, "field", "value"}``.
The interactive API documentation at ``/docs`` is served from files installed with the
``fastapi-offline`` package: no CDN is needed.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline

from .. import __version__
from ..engine import Engine
from ..errors import CityLifelineError, RateLimited, Unauthorized, ValidationError
from . import auth, bodyguard, city, dashboard, forecasts, incidents, readings, risk, status_page, works, ws
from .jsonresponse import JSON


def create_app(engine: Engine, manage_engine: bool = True) -> FastAPI:
    """The app serving ``engine``; with ``manage_engine`` the app starts and stops it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import asyncio

        app.state.hub.loop = asyncio.get_running_loop()
        if manage_engine:
            engine.start()
        try:
            yield
        finally:
            if manage_engine:
                engine.stop()

    app = FastAPIOffline(title="CityLifeline", version=__version__, lifespan=lifespan,
                         default_response_class=JSON,
                         description="Urban lifeline safety monitoring and early warning "
                                     "(城市生命线安全运行监测预警). Readings in, graded incidents out.")
    app.state.engine = engine
    app.state.hub = ws.Hub()
    app.state.geojson = {}
    engine.add_listener(app.state.hub.publish)

    @app.exception_handler(CityLifelineError)
    async def library_error(request: Request, exc: CityLifelineError) -> JSON:
        body: dict[str, Any] = {"detail": str(exc)}
        if isinstance(exc, ValidationError):
            body.update(field=exc.field, value=exc.value if _jsonable(exc.value) else repr(exc.value))
        headers = {"Retry-After": "1"} if exc.http_status == 503 else None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
        elif isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": "Bearer"}
        auth.audit_refusal(request, exc)  # every 401, 403 and 429 is audited, here
        return JSON(body, status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def request_error(request: Request, exc: RequestValidationError) -> JSON:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        value = first.get("input")
        return JSON({"detail": f"{where}: {first.get('msg', 'invalid')}; see /docs for the request "
                                         "shape", "field": where, "value": value if _jsonable(value) else repr(value),
                               "errors": [{"field": ".".join(map(str, e.get("loc", ()))), "message": e.get("msg")}
                                          for e in exc.errors()[:20]]}, status_code=422)

    for module in (auth, readings, incidents, dashboard, city, works, risk, forecasts, ws, status_page):
        app.include_router(module.router)
    bodyguard.install(app, engine.config.max_payload_bytes)
    dashboard.mount(app, engine.config.web_vendor_dir)
    return app


def _jsonable(v: object) -> bool:
    return v is None or isinstance(v, str | int | float | bool)
