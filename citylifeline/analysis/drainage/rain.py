"""Rain ahead: the forecasts a meteorological service pushes, and the platform's own nowcast from
its rain gauges when none comes.

**A forecast** (``parse_forecast``) is what short-range services issue (radar extrapolation or a
blend with a numerical model, every 6–12 minutes, for the next 2–3 hours): the rain intensity
(mm/h) per time step, per rain gauge or on a grid, one series or an ensemble of members.  It is
checked like readings are (``ValidationError`` naming the field, the value and the fix) and put on
the model's 5-minute steps, each the mean of its minutes (a forecast step is whole minutes).  A grid is read at each
of the model's rain gauges (the cell holding it).  Gauges a forecast leaves out take its mean over
the gauges it gives.

**The nowcast** (``nowcast``) extrapolates the gauges: the mean of the last 15 minutes held
(persistence: how a storm grows cannot be told from a gauge ahead of it, Germann et al., *J. Atmos.
Sci.* 63:2092, 2006), lowered along the trend of the last half hour for ``TREND_S`` while it wanes,
then decaying with the lifetime of convective rain cells (``LIFETIME_S``, 40 minutes: the
decorrelation time of rain-rate persistence at the scale of a gauge, Germann & Zawadzki 2002, *Mon.
Wea. Rev.* 130:2859), its spread a log-normal factor whose standard deviation grows with the lead
time (``SPREAD``).  A rising trend was extrapolated too, up to half again the present rain
(``MAX_GROWTH`` 1.5), for lead time; on 20 development storms (seeds 13, 15, 16, 18, 954, 956, 957,
961–964, 966, 967 and the showers 943, 968–970, 972, 987, 999; none of the benchmark's) it warned
all 11 flooded points a median 20 minutes ahead, and opened 52 incidents in the 14 storms that flooded
nothing (storms of 28–42 mm/h near the network's capacity, each a rise read as more to come);
persistence (``MAX_GROWTH`` 1) warned 9 of the 11 before the water, a median 10 minutes ahead (the
underpass 2–3 minutes after it), and opened one.  It is the fallback, not a forecast: it cannot see
a storm coming that has not reached a gauge (a city with several gauges could follow the storm's
motion across them; the demo city has one).

**The scenarios** a forecast run takes (``RainOutlook.scenarios``): the latest forecast issued by
then, from its own step for the present on, while it still covers at least half the horizon,
scaled by its mean-field bias against the gauges over the last half hour (the forecasts' rain for
those steps against what the gauges measured: how radar rainfall is adjusted to gauges, Wilson &
Brandes, Bull. AMS 60:1048, 1979; Seo et al., J. Hydrol. 223:131, 1999); else the nowcast.  Where
a forecast ends before the horizon, the nowcast of its last step carries on.  Before the rain
reaches a gauge there is nothing to adjust a forecast by, and its bias is the radar's, unknown; in
a storm's first minutes the gauges' ratio is mostly the forecast's timing.  So the bias is updated
from its prior as the gauges measure rain (``RainOutlook.gauge_factor``), and the members are taken
at the ``UNVERIFIED_QUANTILE`` of what is still unknown: a shower the radar overestimates does not
warn every place near the network's capacity an hour ahead, while a storm that will flood still
passes their depths on the lower side of its rain.  Chosen on development storms (seeds 13, 15, 16,
954, 962, 964, 966 and the showers 943, 968–970, 972, 987, 999 of ``bench.drainage.storm``; none of
the benchmark's): the forecasts taken as given (scaled by the gauges' ratio alone) opened 40
incidents in the 10 that flood nothing; at the 0.2 quantile 9, at 0.1 one; the 11 flooded points
were all warned before the water, a median 116, 92 and 86 minutes ahead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from ...city.model import City
from ...city.sensors import SensorRegistry
from ...errors import ValidationError
from ...forecasts import RainForecastRecord
from .model import STEP_S, SwmmModel

F64 = npt.NDArray[np.float64]
STEP_MS = STEP_S * 1000
MAX_MM_H = 500.0  # beyond the world's 5-minute records: a unit error (mm per step, or per second)
MAX_HORIZON_S = 6 * 3600
MAX_MEMBERS = 100
LIFETIME_S = 2400.0
SPREAD = 0.8  # the log-normal spread of the nowcast at one lifetime of lead time
RECENT_STEPS = 3  # the nowcast persists the mean of the last 15 minutes
TREND_STEPS = 6  # ... moved by the trend of the last half hour
TREND_S = 1800.0  # ... for half an hour ahead, then decaying
MAX_GROWTH = 1.0  # ... never above the present rain (a rising storm is held: module docstring)
NOWCAST_QUANTILES = (0.1, 0.5, 0.9)
ADJUST_STEPS = 6  # a forecast's bias is judged on the gauges' last half hour
MAX_ADJUST = 3.0
EVIDENCE_MM_H = 60.0
"""The rain (mm/h summed over the 5-minute steps of the gauges and the forecast: 5 mm in all) at which the
gauges' bias weighs as much as the prior (``RainOutlook.gauge_factor``)."""
RADAR_BIAS_SIGMA = 0.3
"""The storm-to-storm spread (natural log) of a radar forecast's mean-field bias against the gauges: a
factor of about 1.35, the order radar-gauge comparisons find for single events (Smith et al., J. Appl.
Meteor. 35:1203, 1996; Seo et al. 1999).  An ensemble nowcast's members share it: their spread is the
extrapolation's, not the radar's estimate of the rain (Germann et al., QJRMS 135:445, 2009, add it as a
separate radar-error ensemble)."""
UNVERIFIED_QUANTILE = 0.1
"""A forecast's members are taken at this quantile of its bias, as far as the gauges have not measured
it (``RainOutlook.gauge_factor``): a warning before the storm reaches the gauges needs the forecast to
pass a place's depth with the rain a one-in-ten overestimate would leave (chosen on development storms:
module docstring)."""


@dataclass(frozen=True)
class RainForecast:
    """Rain ahead from ``issued_ms``: ``mm_h`` (members × gauges × 5-minute steps), the model's gauges in order."""

    issued_ms: int
    source: str
    mm_h: F64

    @property
    def horizon_ms(self) -> int:
        """How far ahead it reaches."""
        return int(self.mm_h.shape[2]) * STEP_MS

    @classmethod
    def of_record(cls, rec: RainForecastRecord) -> RainForecast:
        """A stored forecast."""
        return cls(rec.issued_ms, rec.source, np.asarray(orjson.loads(rec.mm_h), dtype=float))

    def record(self, id_: int, received_at_ms: int, received_by: str) -> RainForecastRecord:
        """As the store keeps it (mm/h to 0.01)."""
        values = orjson.dumps(np.round(self.mm_h, 2).tolist()).decode()
        return RainForecastRecord(id_, self.issued_ms, self.source, values, received_at_ms, received_by)

    def to_dict(self) -> dict[str, Any]:
        """A summary (the values are the forecast's own)."""
        return {"issued_ms": self.issued_ms, "source": self.source, "members": int(self.mm_h.shape[0]),
                "horizon_min": self.horizon_ms // 60_000,
                "max_mm_h": round(float(self.mm_h.max(initial=0.0)), 1),
                "total_mm": round(float(self.mm_h.mean(axis=0).sum(axis=1).max(initial=0.0) * STEP_S / 3600), 1)}


def parse_forecast(doc: dict[str, Any], gauges: list[str], gauge_ids: dict[str, str],
                   gauge_xy: dict[str, tuple[float, float]] | None = None,
                   to_wgs84: Any = None) -> RainForecast:
    """A forecast document checked and put on the model's gauges and 5-minute steps.

    ``{"issued": ISO time or epoch ms, "source": str, "step_s": 300,
       "series": [{"gauge": sensor id or model gauge, "values": [mm/h, …]} | {"gauge", "members": [[…], …]}]}``
    or, instead of ``series``, ``"grid": {"x0", "y0", "dx", "dy", "crs": "EPSG:4326" | "city", "members":
    [[[[mm/h per cell, row by row from y0] …rows] …steps] …members]}``.  ``gauge_ids``: a rain sensor's id
    → its model gauge; ``gauge_xy``: each model gauge's position (city CRS), for a grid; ``to_wgs84``: a
    function (x, y) → (lon, lat), for a grid in degrees."""
    if not isinstance(doc, dict):
        raise ValidationError("a rain forecast is a JSON object with 'issued', 'step_s' and 'series' or 'grid'",
                              field="", value=type(doc).__name__)
    issued = _time(doc.get("issued"))
    step = doc.get("step_s", STEP_S)
    if not isinstance(step, int) or isinstance(step, bool) or step < 60 or step > 3600 or step % 60:
        raise ValidationError(f"step_s {step!r}: give the forecast's time step in seconds, whole minutes from 60 "
                              "to 3600 (a radar's 360)", field="step_s", value=step)
    if "series" in doc:
        members, given = _series(doc["series"], gauges, gauge_ids)
    elif "grid" in doc:
        members, given = _grid(doc["grid"], gauges, gauge_xy or {}, to_wgs84)
    else:
        raise ValidationError("a rain forecast needs 'series' (per rain gauge) or 'grid' (a gridded nowcast)",
                              field="series", value=None)
    bad = ~np.isfinite(members) | (members < 0) | (members > MAX_MM_H)
    if bad.any():
        m, g, s = (int(v) for v in np.argwhere(bad)[0])
        where = f"grid.members[{m}][{s}]" if "grid" in doc else f"series[{g}].values[{s}]"
        raise ValidationError(f"{where} = {members[m, g, s]!r}: rain intensity must be in mm/h between 0 and "
                              f"{MAX_MM_H:g} (mm per step? divide by the step in hours)", field=where,
                              value=float(members[m, g, s]))
    if members.shape[2] * step > MAX_HORIZON_S or members.shape[2] * step < STEP_S:
        raise ValidationError(f"{members.shape[2]} steps of step_s {step} reach {members.shape[2] * step // 60} min "
                              f"ahead; a forecast reaches from {STEP_S // 60} min to {MAX_HORIZON_S // 3600} h: send "
                              "fewer or more steps", field="step_s", value=step)
    minutes = np.repeat(members, step // 60, axis=2)  # onto 5-minute steps: each step's minutes averaged
    n = minutes.shape[2] // (STEP_S // 60)
    members = minutes[:, :, : n * (STEP_S // 60)].reshape(*members.shape[:2], n, STEP_S // 60).mean(axis=3)
    out = np.empty((members.shape[0], len(gauges), members.shape[2]))
    mean = members.mean(axis=1)
    for j, name in enumerate(gauges):
        out[:, j] = members[:, given.index(name)] if name in given else mean
    source = str(doc.get("source") or "")[:200]
    return RainForecast(issued, source, out)


@dataclass(frozen=True)
class CityGauges:
    """A city's rain gauges as a forecast names them: the drainage model's gauges, the rain sensors on
    them (``drainage/raingauge/<gauge>``) and their positions."""

    names: list[str]
    ids: dict[str, str]
    xy: dict[str, tuple[float, float]]
    city: City

    @classmethod
    def of(cls, city: City, registry: SensorRegistry) -> CityGauges | None:
        """None for a city with no SWMM drainage model (it takes no rain forecasts)."""
        layer = city.layers.get("drainage")
        if layer is None or not layer.model:
            return None
        names = SwmmModel.of_file(layer.model, []).gauges
        ids = {registry.ids[i]: registry.asset[i].rsplit("/", 1)[-1] for i in range(len(registry))
               if registry.kind[i] == "rainfall" and registry.asset[i].rsplit("/", 1)[-1] in names}
        xy = {a.name: a.xy for a in layer.assets.values() if a.kind == "raingauge" and a.name in names}
        return cls(names, ids, xy, city)

    def parse(self, doc: Any) -> RainForecast:
        """``parse_forecast`` on this city's gauges."""
        return parse_forecast(doc, self.names, self.ids, self.xy, self.city.to_wgs84)


def _time(v: Any) -> int:
    if isinstance(v, bool) or v is None:
        raise ValidationError("issued: give the forecast's base time, ISO 8601 with its offset or epoch ms",
                              field="issued", value=v)
    if isinstance(v, int | float) and math.isfinite(v):
        return int(v)
    try:
        t = datetime.fromisoformat(str(v))
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        raise ValidationError(f"issued {v!r}: give ISO 8601 with its UTC offset (2026-07-14T14:06:00+08:00) "
                              "or epoch ms", field="issued", value=v)
    return int(t.timestamp() * 1000)


def _series(items: Any, gauges: list[str], gauge_ids: dict[str, str]) -> tuple[F64, list[str]]:
    if not isinstance(items, list) or not items:
        raise ValidationError("series: give a list of {gauge, values} or {gauge, members}", field="series",
                              value=items)
    rows, given = [], []
    for i, it in enumerate(items):
        name = str(it.get("gauge", "")) if isinstance(it, dict) else ""
        gauge = gauge_ids.get(name, name)
        if gauge not in gauges:
            raise ValidationError(f"series[{i}].gauge {name!r} is neither a rain sensor nor a rain gauge of the "
                                  f"drainage model; use one of {', '.join(sorted(gauge_ids) + gauges)}",
                                  field=f"series[{i}].gauge", value=name)
        if gauge in given:
            raise ValidationError(f"series[{i}].gauge {name!r} is given twice", field=f"series[{i}].gauge",
                                  value=name)
        m = it.get("members", [it.get("values")] if "values" in it else None)
        arr = _floats(m, f"series[{i}].members", ndim=2)
        rows.append(arr)
        given.append(gauge)
    shapes = {r.shape for r in rows}
    if len(shapes) > 1:
        raise ValidationError(f"series: every gauge needs the same members and steps; got {sorted(shapes)}",
                              field="series", value=sorted(shapes))
    return np.stack(rows, axis=1), given


def _grid(grid: Any, gauges: list[str], gauge_xy: dict[str, tuple[float, float]], to_wgs84: Any
          ) -> tuple[F64, list[str]]:
    if not isinstance(grid, dict):
        raise ValidationError("grid: give {x0, y0, dx, dy, crs, members}", field="grid", value=grid)
    cells = _floats(grid.get("members"), "grid.members", ndim=4)  # members × steps × rows × columns
    try:
        x0, y0, dx, dy = (float(grid[k]) for k in ("x0", "y0", "dx", "dy"))
    except (KeyError, TypeError, ValueError):
        raise ValidationError("grid: x0, y0 (the first cell's corner) and dx, dy (cell sizes) must be numbers",
                              field="grid.x0", value=grid.get("x0")) from None
    if dx <= 0 or dy <= 0:
        raise ValidationError(f"grid.dx, grid.dy = {dx}, {dy}: cell sizes must be positive", field="grid.dx", value=dx)
    wgs84 = str(grid.get("crs", "EPSG:4326")).upper() in ("EPSG:4326", "WGS84")
    cols, given = [], []
    for g in gauges:
        if g not in gauge_xy:
            continue
        x, y = gauge_xy[g]
        if wgs84 and to_wgs84 is not None:  # the gauge's lon/lat: the grid's
            x, y = to_wgs84(x, y)
        i, j = math.floor((y - y0) / dy), math.floor((x - x0) / dx)
        if 0 <= i < cells.shape[2] and 0 <= j < cells.shape[3]:
            cols.append(cells[:, :, i, j])
            given.append(g)
    if not given:
        raise ValidationError("grid: it covers none of the drainage model's rain gauges; check x0, y0, dx, dy and "
                              "crs (EPSG:4326 in degrees)", field="grid.x0", value=x0)
    return np.stack(cols, axis=1), given


def _floats(v: Any, where: str, ndim: int) -> F64:
    try:
        arr = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim != ndim or arr.size == 0 or arr.shape[0] > MAX_MEMBERS:
        raise ValidationError(f"{where}: give a {ndim}-deep list of numbers (mm/h) of at most {MAX_MEMBERS} members",
                              field=where, value=None if arr is None else list(arr.shape))
    return arr


def nowcast(recent_mm_h: F64, steps: int, quantiles: tuple[float, ...] = NOWCAST_QUANTILES) -> F64:
    """Members × gauges × ``steps`` from the last steps' rain per gauge (gauges × steps, mm/h, the
    newest last): persistence decaying over ``LIFETIME_S`` with a log-normal spread (module docstring),
    one member per quantile of the spread.  The water a network holds rises with the rain, so the
    members' water at each place is in their order: three members give its 10, 50 and 90 % and
    whether half the scenarios pass a depth (the median's)."""
    recent = recent_mm_h[:, -RECENT_STEPS:]
    seen = (~np.isnan(recent)).sum(axis=1)
    level = np.where(seen > 0, np.nansum(recent, axis=1) / np.maximum(seen, 1), 0.0)  # a silent gauge: none
    lead = (np.arange(steps) + 0.5) * STEP_S
    slope = _slope(recent_mm_h[:, -TREND_STEPS:])  # mm/h a second, over the last half hour
    ahead = np.minimum(lead, TREND_S)[None, :] + (RECENT_STEPS - 1) * STEP_S / 2  # from the recent mean's middle
    trend = np.clip(level[:, None] + slope[:, None] * ahead, 0.0, MAX_GROWTH * level[:, None])  # gauges × steps
    decay = np.exp(-np.maximum(lead - TREND_S, 0.0) / LIFETIME_S)
    z = _normal_quantiles(quantiles)
    sigma = SPREAD * np.sqrt(lead / LIFETIME_S)
    factor = np.exp(z[:, None] * sigma[None, :] - sigma[None, :] ** 2 / 2)  # members × steps, mean 1
    return trend[None, :, :] * decay[None, None, :] * factor[:, None, :]


def _slope(r: F64) -> F64:
    """Each row's least-squares slope per second (rain steps, NaN left out; 0 with fewer than three)."""
    out = np.zeros(len(r))
    t = np.arange(r.shape[1]) * STEP_S
    for g, row in enumerate(r):
        ok = ~np.isnan(row)
        if ok.sum() >= 3:
            out[g] = float(np.polyfit(t[ok], row[ok], 1)[0])
    return out


def _normal_quantiles(quantiles: tuple[float, ...]) -> F64:
    from scipy.stats import norm

    return np.asarray(norm.ppf(quantiles), dtype=float)


class RainOutlook:
    """The forecasts known, and what rain a forecast run from a given step should take."""

    def __init__(self) -> None:
        self.forecasts: list[RainForecast] = []

    def take(self, forecasts: list[RainForecast]) -> None:
        """Every forecast known (all of them, in any order)."""
        self.forecasts = sorted(forecasts, key=lambda f: f.issued_ms)

    def latest(self, at_ms: int, horizon_steps: int) -> RainForecast | None:
        """The newest forecast issued by ``at_ms`` that still covers half the horizon from it."""
        for f in reversed(self.forecasts):
            if f.issued_ms <= at_ms:
                return f if f.issued_ms + f.horizon_ms >= at_ms + horizon_steps * STEP_MS // 2 else None
        return None

    def gauge_factor(self, at_ms: int, recent_mm_h: F64) -> float:
        """The factor a pushed forecast's rain is taken at: its mean-field bias against the gauges over the
        last ``ADJUST_STEPS`` (the rain each step's latest forecast gave it, against what the gauges
        measured: observed over forecast, each plus one step of 1 mm/h, within [1/``MAX_ADJUST``,
        ``MAX_ADJUST``]), as a normal update of the log bias from its prior N(0, ``RADAR_BIAS_SIGMA``²): the
        gauges' ratio weighs ``w`` = rain / (rain + ``EVIDENCE_MM_H``) (a few minutes of a storm's onset
        say little: its timing is off), and the factor is the ``UNVERIFIED_QUANTILE`` of the result.  Before
        any rain it is that quantile of the prior (0.68); over half an hour of a storm of 20–60 mm/h, 16–10 % below
        the gauges' ratio."""
        observed = forecast = 0.0
        for j in range(1, ADJUST_STEPS + 1):
            start = at_ms - j * STEP_MS
            f = next((f for f in reversed(self.forecasts) if f.issued_ms <= start), None)
            obs = recent_mm_h[:, -j] if recent_mm_h.shape[1] >= j else np.full(len(recent_mm_h), np.nan)
            k = (start - f.issued_ms) // STEP_MS if f is not None else -1
            if f is None or k >= f.mm_h.shape[2] or np.isnan(obs).all():
                continue
            observed += float(np.nanmean(obs))
            forecast += float(f.mm_h[:, :, k].mean())
        w = (observed + forecast) / (observed + forecast + EVIDENCE_MM_H)
        ratio = float(np.clip((observed + 1.0) / (forecast + 1.0), 1 / MAX_ADJUST, MAX_ADJUST))
        z = _normal_quantiles((UNVERIFIED_QUANTILE,))[0]
        return float(np.exp(w * math.log(ratio) + z * RADAR_BIAS_SIGMA * math.sqrt(1.0 - w)))

    def scenarios(self, at_ms: int, recent_mm_h: F64, steps: int) -> tuple[F64, str]:
        """Members × gauges × ``steps`` of rain from ``at_ms`` (a step's start), and where it comes from:
        a pushed forecast is scaled by its bias against the gauges (``gauge_factor``)."""
        f = self.latest(at_ms, steps)
        if f is None:
            return nowcast(recent_mm_h, steps), "nowcast"
        skip = (at_ms - f.issued_ms) // STEP_MS
        own = f.mm_h[:, :, skip: skip + steps] * self.gauge_factor(at_ms, recent_mm_h)
        if own.shape[2] < steps:  # the forecast's last step carries on as a nowcast
            tail = nowcast(own[:, :, -1:].mean(axis=0), steps - own.shape[2], quantiles=(0.5,))[0]
            own = np.concatenate([own, np.broadcast_to(tail, (own.shape[0], *tail.shape))], axis=2)
        return own, f.source or "forecast"
