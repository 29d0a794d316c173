"""A plain status page at ``/plain``: open incidents by level colour and open maintenance tickets.

Server-rendered HTML that refreshes itself every few seconds — no scripts at all.  It is the
fallback for a screen that cannot run the map dashboard at ``/``.  Like every other view it shows
only what is in the credential's scope: its incidents, its sensors' tickets and their counts.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from .. import levels, overview
from ..auth.model import Credential
from ..store.base import IncidentFilter
from ..warn.describe import local_time
from ..warn.lifecycle import ACTIVE_STATES
from .auth import VIEWER
from .readings import engine_of

router = APIRouter()
REFRESH_S = 5
SHOWN = 200
"""Incidents and tickets listed at most (the highest level and newest first)."""


@router.get("/plain", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request, who: Credential = VIEWER) -> HTMLResponse:
    """Open incidents and tickets in the credential's scope, refreshed every few seconds."""
    engine = engine_of(request)
    store, tz = engine.store, engine.pipeline.tz
    mask = engine.access.sensor_mask(who)
    active = [i for i in store.incidents(IncidentFilter(states=ACTIVE_STATES, limit=1_000_000))
              if engine.access.sees_incident(who, i.lifeline, i.sensors)][:SHOWN]
    tickets = [t for t in store.open_tickets() if mask[t.sensor]][:SHOWN]
    rows = "".join(
        f"<tr><td><span class='lv' style='background:{levels.COLOUR[i.level]}'>{levels.roman(i.level)}</span></td>"
        f"<td><a href='/api/v1/incidents/{i.id}'>#{i.id}</a></td><td>{escape(i.title)}</td><td>{i.state}</td>"
        f"<td>{local_time(i.t_first_ms, tz)}</td><td>{', '.join(map(escape, i.sensors))}</td></tr>"
        for i in active) or "<tr><td colspan=6>No open incidents 无未处理事件</td></tr>"
    trows = "".join(
        f"<tr><td>{escape(t.sensor_id)}</td><td>{t.fault}</td><td>{local_time(t.t_opened_ms, tz)}</td>"
        f"<td>{escape(t.message)}</td></tr>" for t in tickets) or "<tr><td colspan=4>No open tickets</td></tr>"
    reporting = overview.reporting(engine, mask)
    html = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_S}"><title>CityLifeline — {escape(engine.city.name)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5em;background:#0f172a;color:#e2e8f0}}
table{{border-collapse:collapse;width:100%;margin-bottom:1.5em}}
td,th{{padding:.35em .6em;border-bottom:1px solid #334155;text-align:left}}a{{color:#7dd3fc}}
.lv{{display:inline-block;min-width:2.2em;text-align:center;border-radius:4px;color:#000;font-weight:bold}}</style></head><body>
<h1>CityLifeline 城市生命线 — {escape(engine.city.name)}</h1>
<p>{reporting} of {int((engine.registry.active & mask).sum())} sensors reporting ·
{len(active)} open incidents · {len(tickets)} open maintenance tickets ·
<a href="/">map dashboard</a> · <a href="/docs">API</a> · <a href="/api/v1/status">status JSON</a></p>
<h2>Open incidents 事件</h2><table><tr><th>Level 级别</th><th>#</th><th>What</th><th>State</th><th>Since</th>
<th>Sensors</th></tr>{rows}</table>
<h2>Maintenance tickets 运维工单</h2><table><tr><th>Sensor</th><th>Fault</th><th>Since</th><th>Why</th></tr>{trows}
</table></body></html>"""
    return HTMLResponse(html)
