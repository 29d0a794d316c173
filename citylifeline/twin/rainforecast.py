"""The twin's meteorological service: the short-range rain forecasts it would push, with a forecast's errors.

A weather radar's nowcast (China's CINRAD network scans every six minutes; the provincial
observatories push extrapolation nowcasts, blended with a model beyond an hour, two to three hours
ahead) is issued every ``ISSUE_EVERY_S`` for the next ``HORIZON_S``, as an ensemble of
``MEMBERS``.  Its errors, drawn per issue and storm from the scenario's seed:

- **sight**: a storm is seen only once it exists and is in range.  Convective cells are born near
  the city as often as they come from afar, and extrapolation cannot forecast a birth, so a storm
  enters the forecasts ``SIGHT_S`` (30–90 minutes, uniform) before it reaches the city; before, the
  forecasts show no rain;
- **timing**: the storm's arrival is misplaced by a normal error whose deviation grows with how far
  ahead it is, ``TIMING_S_PER_H`` per hour (a cell's track extrapolated from its last scans), the
  members spread about it by ``MEMBER_TIMING_S``;
- **amplitude**: the storm's rain is scaled by a log-normal error: the radar's own estimate of rain,
  off by a factor that holds through the storm (``RADAR_BIAS``: the mean-field bias of radar
  rainfall, which gauges correct, Seo et al., J. Hydrol. 223:131, 1999), and per issue the cell's
  growth or decay that extrapolation keeps constant, ``AMPLITUDE`` plus ``AMPLITUDE_PER_H`` per hour
  ahead; the members spread by ``MEMBER_SPREAD``.

Anchors: radar extrapolation keeps hydraulic warnings ≥ 50 min ahead (Tang et al., J. HIT 51(2),
2019); its skill falls with lead time, a critical success index near 0.5 at one hour for 1 mm/h
(pysteps' STEPS verification, Pulkkinen et al., GMD 12:4185, 2019), which a timing error of some 10
minutes and an amplitude error of a factor 1.5 an hour ahead roughly give.  The documents are
what ``POST /api/v1/rain-forecasts`` takes, per the city's rain sensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .scenario import Scenario

ISSUE_EVERY_S = 360
HORIZON_S = 7200
STEP_S = 300
MEMBERS = 10
SIGHT_S = (1800.0, 5400.0)
TIMING_S_PER_H = 600.0
MEMBER_TIMING_S = 300.0
RADAR_BIAS = 0.25
AMPLITUDE = 0.1
AMPLITUDE_PER_H = 0.15
MEMBER_SPREAD = 0.3
SOURCE = "孪生雷达临近预报 twin radar nowcast"


def rain_forecasts(scenario: Scenario, gauges: list[str], seed: int | None = None) -> list[dict[str, Any]]:
    """The forecast documents of a scenario, issued through it (from an hour before it begins), for
    the rain sensors ``gauges`` (every gauge the same rain, as the twin's weather is the city's)."""
    rng = np.random.default_rng(scenario.seed * 7919 + 17 if seed is None else seed)
    events = scenario.weather.rain
    sight = rng.uniform(*SIGHT_S, size=len(events))
    radar_bias = rng.normal(0.0, RADAR_BIAS, size=len(events))  # each storm's, through all the issues
    lead = np.arange(HORIZON_S // STEP_S) * STEP_S + STEP_S / 2
    out = []
    for t in np.arange(-3600.0, scenario.duration_s, ISSUE_EVERY_S):
        rain = np.zeros((MEMBERS, len(lead)))
        for e, ev in enumerate(events):
            if t < ev.start_s - sight[e] or t > ev.start_s + ev.duration_s:
                continue  # not yet seen, or over
            away_h = max(ev.start_s - t, 0.0) / 3600  # how far off the storm still is
            shift = rng.normal(0.0, TIMING_S_PER_H * max(away_h, 0.25))
            sigma = AMPLITUDE + AMPLITUDE_PER_H * away_h
            bias = radar_bias[e] + rng.normal(0.0, sigma) - (sigma ** 2 + RADAR_BIAS ** 2) / 2  # a mean of one
            for m in range(MEMBERS):
                tm = t + lead - shift - rng.normal(0.0, MEMBER_TIMING_S)
                spread = MEMBER_SPREAD * np.sqrt(lead / 3600)
                z = rng.normal(0.0, 1.0)
                rain[m] += _storm(ev, tm) * np.exp(bias + z * spread - spread ** 2 / 2)
        if not rain.any():
            continue
        out.append({"issued": int(scenario.start_ms + t * 1000), "source": SOURCE, "step_s": STEP_S,
                    "series": [{"gauge": g, "members": np.round(rain, 2).tolist()} for g in gauges]})
    return out


def _storm(ev: Any, t_s: np.ndarray) -> np.ndarray:
    """One storm's intensity (mm/h) at scenario offsets: ``Weather.rain_mm_h``'s triangle."""
    u = (t_s - ev.start_s) / ev.duration_s
    rise, fall = np.clip(u * 3, 0, 1), np.clip((1 - u) * 1.5, 0, 1)
    return ev.peak_mm_h * np.where(u < 1 / 3, rise, fall) * ((u >= 0) & (u <= 1))
