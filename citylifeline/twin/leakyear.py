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
- **Demand over a year.**  The network's own demand patterns (L-Town: one week at 5 minutes)
  repeat over the period, their first period at its start, and every step's demand is multiplied
  (EPANET's demand multiplier, set before each step: ``epanet_steps``) by a seasonal cycle
  (summer peak, ``SEASONAL_AMPLITUDE``) and a day-to-day random factor (AR(1), ``DAILY_SD``), so
  no two weeks are the same.
- **The real network is not its records** (``perturb``, with ``mismatch_seed``): the simulated
  network's base demands and roughness differ from the .inp's by about 10 % per junction and 5 %
  per pipe (``DEMAND_MISMATCH_SD``, ``ROUGHNESS_MISMATCH_SD``), so a detector that compares the
  sensors with the .inp's model meets the model error a utility meets.
- **Any units.**  The network is written in CMH for EPANET, so US-unit networks (Net3) work too.
- **Noise** is added afterwards (``add_noise``): the pressure and level transmitters' Gaussian
  noise and the flow meters' relative error, from one seeded generator.
"""

from __future__ import annotations

import json
import math
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
DEMAND_MISMATCH_SD, ROUGHNESS_MISMATCH_SD = 0.10, 0.05  # how far the real network is from its records
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
class Closure:
    """A pipe shut (its valve closed, for works or by mistake) from ``start_ms`` to ``end_ms``."""

    link: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class LeakYear:
    """A leak list and the period it covers (and the pipes shut in it: no leaks, network changes)."""

    start_ms: int
    end_ms: int
    step_s: int
    leaks: tuple[Leak, ...]
    closures: tuple[Closure, ...] = ()


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

    def rows(self, lo: int | None, hi: int | None = None) -> YearRun:
        """The steps ``lo:hi`` (as a slice: ``rows(-12)`` is the last twelve)."""
        return YearRun(*(getattr(self, f)[lo:hi] for f in YearRun.__dataclass_fields__))

    def joined(self, after: YearRun) -> YearRun:
        """This run and then ``after``."""
        return YearRun(*(np.concatenate([getattr(self, f), getattr(after, f)]) for f in YearRun.__dataclass_fields__))


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


def daily_deviation(shocks: npt.NDArray[np.float64], level: float) -> npt.NDArray[np.float64]:
    """Each day's demand deviation, an AR(1) (``DAILY_AR``) driven by ``shocks`` from ``level``."""
    out = np.empty_like(shocks)
    for k, shock in enumerate(shocks):
        level = DAILY_AR * level + shock
        out[k] = level
    return out


def demand_factor(t_ms: npt.NDArray[np.int64], seed: int) -> npt.NDArray[np.float64]:
    """The seasonal and day-to-day multiplier of every demand at each step."""
    day = (t_ms // 86_400_000).astype(np.int64)
    days = day - day[0]
    rng = np.random.default_rng(seed)
    daily = daily_deviation(rng.normal(0.0, DAILY_SD * math.sqrt(1 - DAILY_AR ** 2), int(days[-1]) + 1), 0.0)
    day_of_year = (t_ms / 86_400_000.0) % 365.25
    seasonal = SEASONAL_AMPLITUDE * np.cos(2 * np.pi * (day_of_year - 196) / 365.25)  # mid-July peak
    return (1.0 + seasonal) * (1.0 + daily[days])


def perturb(wn, seed: int, demand_sd: float = DEMAND_MISMATCH_SD,  # type: ignore[no-untyped-def]
            roughness_sd: float = ROUGHNESS_MISMATCH_SD) -> None:
    """Make ``wn`` the real network its records only approximate: every junction's base demands
    and every pipe's roughness multiplied by a lognormal factor (sd ``demand_sd``, ``roughness_sd``)."""
    rng = np.random.default_rng(seed)
    for name in wn.junction_name_list:
        k = float(rng.lognormal(0.0, demand_sd))
        for d in wn.get_node(name).demand_timeseries_list:
            d.base_value *= k
    for name in wn.pipe_name_list:
        wn.get_link(name).roughness *= float(rng.lognormal(0.0, roughness_sd))


def simulate_year(inp: Path, year: LeakYear, sensors: Sensors, seed: int = 0,
                  until_ms: int | None = None, mismatch_seed: int | None = None,
                  pattern_origin_ms: int | None = None) -> YearRun:
    """Run the network through ``year`` (or until ``until_ms``) with its leaks and closures; readings without
    noise.  With ``mismatch_seed`` the network simulated is ``perturb``-ed from the .inp's.  The
    demand patterns' first period falls at ``pattern_origin_ms`` (default: the period's start)."""
    import wntr

    from .epanet_steps import EN_EMITTER, EN_STATUS, open_steps

    wn = wntr.network.WaterNetworkModel(str(inp))
    if abs(wn.options.hydraulic.emitter_exponent - 0.5) > 1e-9:
        raise ConfigError(f"{inp}: emitter exponent {wn.options.hydraulic.emitter_exponent}; leaks need 0.5")
    if mismatch_seed is not None:
        perturb(wn, mismatch_seed)
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
    for c in year.closures:
        if c.link not in wn.pipe_name_list or c.link in {leak.link for leak in year.leaks}:
            raise ConfigError(f"closure of {c.link!r}: not a pipe of {inp} without a leak")
    factor = demand_factor(t_ms, seed)
    coeff = 3600.0 * CD * math.pi / 4 * math.sqrt(2 * G)  # × diameter² → emitter coefficient, m³/h per √m
    reads = {"p": ("pressure", sensors.pressure_nodes), "f": ("flow", sensors.flow_links),
             "l": ("pressure", sensors.level_tanks), "a": ("demand", sensors.amr_demand_nodes),
             "k": ("demand", leak_nodes)}
    with open_steps(wn) as steps:
        k_idx = [steps.node(n) for n in leak_nodes]
        c_idx = [steps.link(c.link) for c in year.closures]

        def before(row: int, t: int) -> None:  # the demand and the leak sizes for the step about to be solved
            steps.set_demand_multiplier(float(factor[row]))
            for j, leak in enumerate(year.leaks):
                # never 0: EPANET skips a node whose coefficient is 0 and keeps reporting its last outflow
                steps.en.ENsetnodevalue(k_idx[j], EN_EMITTER, max(coeff * leak.diameter_at(t) ** 2, CLOSED_COEFF))
            for j, c in enumerate(year.closures):
                steps.en.ENsetlinkvalue(c_idx[j], EN_STATUS, float(not c.start_ms <= t < c.end_ms))

        rows, got = steps.run(t_ms, year.start_ms if pattern_origin_ms is None else pattern_origin_ms, reads, before)
    keep = t_ms[:rows] >= year.start_ms
    return YearRun(t_ms[:rows][keep], got["p"][keep], got["f"][keep], got["l"][keep], got["a"][keep],
                   got["k"][keep])  # flows as a meter reads them: signed, as the link runs start to end


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
