"""A year of a water network's sensors with leaks, for training and scoring leak detectors.

Input: an EPANET .inp (L-Town, or any other network), a leak list in BattLeDIM's JSON format
(``period`` and ``leaks``: link, start, end, leak diameter in m, abrupt or incipient, peak) and
the sensor placement (``pressure_nodes``, ``flow_links``, ``level_tanks``, ``amr_demand_nodes``).
Output: every sensor's reading at each hydraulic step, and each leak's outflow (the truth).

How it is simulated, and why:

- **Pressure-driven leaks with EPANET, stepped.**  Each leaking pipe is split at its midpoint
  (``wntr.morph.split_pipe``) and the new node carries an *emitter*, EPANET's orifice
  ``q = C·√p``, with ``C = Cd·A·√(2g)`` (Cd 0.75, A the leak's area).  The run steps through
  EPANET's toolkit (``ENrunH``/``ENnextH``) and sets each leak's coefficient at every step, so
  incipient leaks grow and repaired ones stop (EPANET lets a stopped emitter's outflow die away
  over a few steps: 1 % of it remains after the first, nothing after an hour; the run starts an
  hour early for the same reason).  WNTR's own leak model needs its Python simulator, which is
  ~15× slower (../shared/LIBRARIES.md); stepping EPANET runs L-Town's week in ~0.4 s.
- **Incipient leaks** grow in diameter linearly from zero at the start to their full diameter at
  the peak; abrupt ones are full from the start.  Both stop at the end (the repair).
- **Demand over a year.**  The network's demand patterns (L-Town: one week at 5 minutes) are
  repeated over the period and multiplied by a seasonal cycle (summer peak, ``SEASONAL_AMPLITUDE``)
  and a day-to-day random factor (AR(1), ``DAILY_SD``), so no two weeks are the same.
- **Noise** is added afterwards (``add_noise``): the pressure and level transmitters' Gaussian
  noise and the flow meters' relative error, from one seeded generator.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from ..ingest.validate import BAD_TIME, parse_iso

CD = 0.75  # discharge coefficient of a leak orifice
G = 9.81
SEASONAL_AMPLITUDE = 0.12  # ±12 % over the year, highest in mid-July
DAILY_SD = 0.04  # day-to-day demand factor: 4 % standard deviation ...
DAILY_AR = 0.7  # ... correlated from one day to the next
EN_EMITTER, EN_DEMAND, EN_PRESSURE, EN_FLOW = 3, 9, 11, 8  # EPANET toolkit codes (a tank's pressure is its level)
PRESSURE_NOISE_M, LEVEL_NOISE_M, FLOW_NOISE_REL = 0.05, 0.01, 0.01
WARMUP_S = 3600
CLOSED_COEFF = 1e-6  # emitter coefficient of a leak that is not (yet, or no longer) leaking: ~1e-5 m³/h


@dataclass(frozen=True)
class Leak:
    """One leak of the list (times in ms since the epoch, UTC)."""

    link: str
    start_ms: int
    end_ms: int
    diameter_m: float
    abrupt: bool
    peak_ms: int

    def diameter_at(self, t_ms: int) -> float:
        """The leak's diameter (m) at ``t_ms``: 0 outside [start, end); growing to the peak if incipient."""
        if t_ms < self.start_ms or t_ms >= self.end_ms:
            return 0.0
        if self.abrupt or t_ms >= self.peak_ms or self.peak_ms <= self.start_ms:
            return self.diameter_m
        return self.diameter_m * (t_ms - self.start_ms) / (self.peak_ms - self.start_ms)


@dataclass(frozen=True)
class LeakYear:
    """A leak list and the period it covers."""

    start_ms: int
    end_ms: int
    step_s: int
    leaks: tuple[Leak, ...]


@dataclass(frozen=True)
class Sensors:
    """Where the sensors are: node and link names of the network."""

    pressure_nodes: tuple[str, ...]
    flow_links: tuple[str, ...]
    level_tanks: tuple[str, ...]
    amr_demand_nodes: tuple[str, ...]


@dataclass(frozen=True)
class YearRun:
    """Readings at each step (rows) per sensor (columns, in ``Sensors`` order), and the truth."""

    t_ms: npt.NDArray[np.int64]
    pressure_m: npt.NDArray[np.float64]
    flow_m3h: npt.NDArray[np.float64]
    level_m: npt.NDArray[np.float64]
    demand_m3h: npt.NDArray[np.float64]
    leak_m3h: npt.NDArray[np.float64]  # per leak, in the leak list's order


def _ms(text: str) -> int:
    """Epoch ms of a leak list's time (ISO 8601; BattLeDIM's carry no offset and are read as UTC)."""
    t = int(parse_iso([str(text)], "UTC")[0])
    if t == BAD_TIME:
        raise ValueError(f"time {text!r} is not 'YYYY-MM-DD HH:MM'")
    return t


def load_leaks(path: Path) -> LeakYear:
    """A BattLeDIM-format leak list; a clear error names the entry and field that is wrong."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    try:
        period = doc["period"]
        start, end, step = _ms(period["start"]), _ms(period["end"]), int(period["step_minutes"]) * 60
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: 'period' needs start and end ('YYYY-MM-DD HH:MM') and step_minutes: {exc}") from exc
    leaks = []
    for i, e in enumerate(doc.get("leaks", [])):
        try:
            if e["type"] not in ("abrupt", "incipient"):
                raise ValueError(f"type {e['type']!r} is neither 'abrupt' nor 'incipient'")
            leaks.append(Leak(str(e["link"]), _ms(e["start"]), _ms(e["end"]), float(e["diameter_m"]),
                              e["type"] == "abrupt", _ms(e.get("peak") or e["start"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: leak {i} ({e.get('link', '?')}): {exc}; each leak needs link, start, end, "
                              "diameter_m, type (abrupt|incipient) and, if incipient, peak") from exc
    return LeakYear(start, end, step, tuple(leaks))


def load_sensors(path: Path) -> Sensors:
    """BattLeDIM's sensor placement file."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    return Sensors(*(tuple(doc.get(k, ())) for k in ("pressure_nodes", "flow_links", "level_tanks",
                                                      "amr_demand_nodes")))


def demand_factor(t_ms: npt.NDArray[np.int64], seed: int) -> npt.NDArray[np.float64]:
    """The seasonal and day-to-day multiplier of every demand at each step."""
    day = (t_ms // 86_400_000).astype(np.int64)
    days = day - day[0]
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.0, DAILY_SD * math.sqrt(1 - DAILY_AR ** 2), int(days[-1]) + 1)
    daily = np.empty_like(shocks)
    level = 0.0
    for k, s in enumerate(shocks):
        level = DAILY_AR * level + s
        daily[k] = level
    day_of_year = (t_ms / 86_400_000.0) % 365.25
    seasonal = SEASONAL_AMPLITUDE * np.cos(2 * np.pi * (day_of_year - 196) / 365.25)  # mid-July peak
    return (1.0 + seasonal) * (1.0 + daily[days])


def simulate_year(inp: Path, year: LeakYear, sensors: Sensors, seed: int = 0,
                  until_ms: int | None = None) -> YearRun:
    """Run the network through ``year`` (or until ``until_ms``) with its leaks; readings without noise."""
    import wntr
    from wntr.epanet import toolkit

    wn = wntr.network.WaterNetworkModel(str(inp))
    if abs(wn.options.hydraulic.emitter_exponent - 0.5) > 1e-9:
        raise ConfigError(f"{inp}: emitter exponent {wn.options.hydraulic.emitter_exponent}; leaks need 0.5")
    end = min(year.end_ms, until_ms) if until_ms else year.end_ms
    # one warm-up hour before the period: EPANET starts every emitter at a unit outflow that dies away
    t_ms = np.arange(year.start_ms - WARMUP_S * 1000, end + 1, year.step_s * 1000, dtype=np.int64)
    leak_nodes = []
    for k, leak in enumerate(year.leaks):
        if leak.link not in wn.pipe_name_list:
            raise ConfigError(f"leak {k}: link {leak.link!r} is not a pipe of {inp}")
        node = f"leak{k}_{leak.link}"
        wn = wntr.morph.split_pipe(wn, leak.link, f"{leak.link}_leak{k}", node)
        leak_nodes.append(node)
    _stretch_patterns(wn, t_ms, year.start_ms, year.step_s, seed)
    wn.options.time.duration = int(t_ms[-1] - t_ms[0]) // 1000
    wn.options.time.hydraulic_timestep = year.step_s
    wn.options.time.report_timestep = year.step_s
    wn.options.time.start_clocktime = int((t_ms[0] // 1000) % 86_400)
    with tempfile.TemporaryDirectory(prefix="cl-leakyear-") as tmp:
        path = os.path.join(tmp, "net.inp")
        wntr.network.write_inpfile(wn, path, units=wn.options.hydraulic.inpfile_units)
        en = toolkit.ENepanet()
        en.ENopen(path, os.path.join(tmp, "net.rpt"), "")
        try:
            run = _step(en, year, sensors, leak_nodes, t_ms, wn.options.hydraulic.inpfile_units)
        finally:
            en.ENclose()
    keep = run.t_ms >= year.start_ms
    return YearRun(run.t_ms[keep], run.pressure_m[keep], run.flow_m3h[keep], run.level_m[keep],
                   run.demand_m3h[keep], run.leak_m3h[keep])


def _stretch_patterns(wn, t_ms: npt.NDArray[np.int64], origin_ms: int, step_s: int,  # type: ignore[no-untyped-def]
                      seed: int) -> None:
    """Every demand pattern repeated over the run at the hydraulic step, times ``demand_factor``;
    the patterns' first period is at ``origin_ms`` (the period's start, not the warm-up's)."""
    factor = demand_factor(t_ms, seed)
    pattern_step = wn.options.time.pattern_timestep
    for name in wn.pattern_name_list:
        pat = wn.get_pattern(name)
        base = np.asarray(pat.multipliers, dtype=np.float64)
        idx = ((t_ms - origin_ms) // 1000 // pattern_step).astype(np.int64) % len(base)
        pat.multipliers = (base[idx] * factor).tolist()
    wn.options.time.pattern_timestep = step_s


def _step(en, year: LeakYear, sensors: Sensors, leak_nodes: Sequence[str],  # type: ignore[no-untyped-def]
          t_ms: npt.NDArray[np.int64], units: str) -> YearRun:
    to_cmh = {"CMH": 1.0, "LPS": 3.6, "CMD": 1 / 24, "LPM": 0.06}.get(units)
    if to_cmh is None:
        raise ConfigError(f"flow units {units}: use an SI network (CMH, LPS, LPM or CMD)")
    p_idx = [en.ENgetnodeindex(n) for n in sensors.pressure_nodes]
    a_idx = [en.ENgetnodeindex(n) for n in sensors.amr_demand_nodes]
    l_idx = [en.ENgetnodeindex(n) for n in sensors.level_tanks]
    f_idx = [en.ENgetlinkindex(n) for n in sensors.flow_links]
    k_idx = [en.ENgetnodeindex(n) for n in leak_nodes]
    n = len(t_ms)
    out = {k: np.full((n, m), np.nan) for k, m in (("p", len(p_idx)), ("f", len(f_idx)), ("l", len(l_idx)),
                                                      ("a", len(a_idx)), ("k", len(k_idx)))}
    coeff = 3600.0 * CD * math.pi / 4 * math.sqrt(2 * G) / to_cmh  # × diameter² → emitter coefficient
    en.ENopenH()
    en.ENinitH(0)
    row = 0
    while row < n:
        t = int(t_ms[row])
        for j, leak in enumerate(year.leaks):  # the leak sizes for the step about to be solved
            # never 0: EPANET skips a node whose coefficient is 0 and keeps reporting its last outflow
            en.ENsetnodevalue(k_idx[j], EN_EMITTER, max(coeff * leak.diameter_at(t) ** 2, CLOSED_COEFF))
        elapsed = en.ENrunH()
        if elapsed == (t - int(t_ms[0])) // 1000:
            out["p"][row] = [en.ENgetnodevalue(i, EN_PRESSURE) for i in p_idx]
            out["a"][row] = [en.ENgetnodevalue(i, EN_DEMAND) * to_cmh for i in a_idx]
            out["l"][row] = [en.ENgetnodevalue(i, EN_PRESSURE) for i in l_idx]
            out["f"][row] = [abs(en.ENgetlinkvalue(i, EN_FLOW)) * to_cmh for i in f_idx]
            out["k"][row] = [en.ENgetnodevalue(i, EN_DEMAND) * to_cmh for i in k_idx]
            row += 1
        if en.ENnextH() <= 0:
            break
    en.ENcloseH()
    return YearRun(t_ms[:row], out["p"][:row], out["f"][:row], out["l"][:row], out["a"][:row], out["k"][:row])


def add_noise(run: YearRun, seed: int) -> YearRun:
    """The run as transmitters would report it: Gaussian noise on pressures (``PRESSURE_NOISE_M``)
    and levels, a relative error on flows and meter demands; the truth is unchanged."""
    rng = np.random.default_rng(seed)
    return YearRun(run.t_ms,
                   run.pressure_m + rng.normal(0, PRESSURE_NOISE_M, run.pressure_m.shape),
                   run.flow_m3h * (1 + rng.normal(0, FLOW_NOISE_REL, run.flow_m3h.shape)),
                   run.level_m + rng.normal(0, LEVEL_NOISE_M, run.level_m.shape),
                   run.demand_m3h * (1 + rng.normal(0, FLOW_NOISE_REL, run.demand_m3h.shape)),
                   run.leak_m3h)
