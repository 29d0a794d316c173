"""The gas analyst: for every methane episode in every watched space, pipeline leak, sewer biogas or
sensor fault, with a probability, the reasons in words, the suspected source and the danger.

Live, it runs ``stream.feed`` over the committed readings and turns what it finds into events:

- ``gas_leak`` (lifeline gas) when an episode is judged a leak, at a level that follows the
  danger (``stream._leak_level``), early, before any fixed limit is crossed;
- ``sewer_gas`` (lifeline drainage, for the sewer's owner) when biogas is itself dangerous:
  20 %LEL and more in a confined space (GB 50838 alarm level);
- nothing for ordinary biogas, however high a fixed limit it crosses: the methane detectors'
  own rule warnings are kept as evidence (``judged``), because this judgement replaces them.

For a crew, ``analyse`` adds the suspects (``locate``), the danger in each affected or threatened
space and the actions (``danger``).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from ...batch import ReadingBatch
from ...city.model import City
from ...city.sensors import SensorRegistry
from ...settings import Config
from ...units import METHANE_LEL_FRACTION
from ...warn.model import Event, Incident
from ..base import Analyst, per_reading
from . import judge, stream
from .danger import Danger, cordon_m
from .locate import SEARCH_M, MainsGrid, Sighting, Suspects
from .spaces import NAMES, PEOPLE_M, Spaces, find_spaces

LEL = METHANE_LEL_FRACTION / 100  # 1 %LEL as a volume fraction
PRESSURE_MPA = 0.3  # medium-pressure A mains; the cordon formula's pressure
KIND_NAMES = {stream.LEAK: "gas_leak", stream.SEWER: "sewer_gas"}


class GasAnalyst(Analyst):
    """Leak or biogas, source and danger, for every space with a methane detector beside the gas mains."""

    name = "gas"
    lifeline = "gas"
    kinds = ("gas_leak", "sewer_gas")

    def __init__(self, city: City, registry: SensorRegistry, config: Config) -> None:
        super().__init__(city, registry, config)
        self.spaces: Spaces = find_spaces(city, registry)
        self.space_of, self.ethane_of = self.spaces.of_registry(len(registry))
        n = len(self.spaces)
        self.state: dict[str, np.ndarray] = {}
        for key, (dtype, fill, width) in stream.STATE.items():
            self.state[key] = np.full((n,) if width == 1 else (n, width), fill, dtype=dtype)
        self.minute = np.array([stream.GLOBAL["minute"]], np.int64)
        self.city_factor = np.array([stream.GLOBAL["city"]], np.float64)
        self._lock = threading.Lock()
        self._grid: MainsGrid | None = None
        self._danger: Danger | None = None
        self._cache: dict[str, Any] = {}

    # ---- the live path --------------------------------------------------------------------------
    def judged(self) -> npt.NDArray[np.bool_]:
        """The spaces' methane and ethane detectors."""
        return (self.space_of >= 0) | (self.ethane_of >= 0)

    def update(self, batch: ReadingBatch) -> list[Event]:
        """Feed the spaces' readings; the events of the minutes they complete."""
        if not len(self.spaces) or not len(batch):
            return []
        sensor = batch.sensor
        methane = per_reading(self.space_of, sensor) >= 0
        ethane = per_reading(self.ethane_of, sensor) >= 0
        rows = np.flatnonzero(methane | ethane)
        if not len(rows):
            return []
        rows = rows[np.argsort(batch.t_ms[rows], kind="stable")]
        is_eth = ethane[rows]
        sp = np.where(is_eth, self.ethane_of[sensor[rows]], self.space_of[sensor[rows]]).astype(np.int32)
        value = np.where(is_eth, batch.value[rows] * 1e6, batch.value[rows] / LEL)
        t = batch.t_ms[rows]
        room = 4 * len(self.spaces) + 64  # the kernel stops and is called again before these overflow
        out = tuple(np.empty(room, dtype) for dtype in (np.int32, np.int64, np.int8, np.int8, np.bool_, np.float64,
                                                        np.float64))
        events: list[Event] = []
        s = self.state
        done = 0
        with self._lock:
            while done < len(t):
                k, used = stream.feed(sp[done:], is_eth[done:], t[done:], value[done:], self.minute, self.city_factor,
                                      self.tz_ms, self.spaces.biogas, self.spaces.sensitive, self.spaces.neighbours,
                                      judge.COEF, judge.P_LEAK, s["pend"], s["pend_eth"], s["ring"], s["ring_eth"],
                                      s["base"], s["dev"], s["rough"], s["cusum"], s["ep_start"], s["quiet"],
                                      s["feat"], s["p_leak"], s["level_lel"], s["expected_lel"], s["peak_lel"],
                                      s["leak_lv"], s["sewer_lv"], s["verdict"], *out)
                events.extend(self._event(out, j) for j in range(k))
                done += used
        return events

    def _event(self, out: tuple[np.ndarray, ...], j: int) -> Event:
        sp, t, kind, lv, active, lel, p = (a[j] for a in out)
        s = int(sp)
        i = int(self.spaces.methane[s])
        e = Event(sensor=i, sensor_id=self.registry.ids[i], t_ms=int(t), kind=KIND_NAMES[int(kind)], level=int(lv),
                  active=bool(active), value=float(lel) * LEL, ref=float(self.state["expected_lel"][s]) * LEL,
                  message="", detail=None if np.isnan(p) else float(p))
        e.message = self.message(s, e)
        return e

    def message(self, s: int, e: Event) -> str:
        """The event's reason in words, 中文 / English."""
        where_zh, where_en = NAMES.get(self.spaces.kind[s], NAMES["space"])
        name = self.spaces.keys[s].rsplit("/", 1)[-1]
        lel = e.value / LEL
        if not e.active:
            if e.kind == "gas_leak":
                return (f"{where_zh} {name} 甲烷回落至 {lel:.1f} %LEL，本次气体异常结束 / methane in {where_en} {name} "
                        f"back to {lel:.1f} %LEL: the episode is over")
            return (f"{where_zh} {name} 沼气回落至 {lel:.1f} %LEL，低于禁入值 10 %LEL / biogas in {where_en} {name} "
                    f"back to {lel:.1f} %LEL, below the 10 %LEL no-entry level")
        zh, en = judge.reasons(self.state["feat"][s], lel, float(self.state["expected_lel"][s]), self.partners(s),
                               bool(self.spaces.ethane[s] >= 0))
        p = e.detail or 0.0
        if e.kind == "gas_leak":
            head_zh, head_en = f"判断为管道燃气泄漏（概率 {p:.0%}）", f"judged a pipeline gas leak (p = {p:.2f})"
        else:
            head_zh = f"判断为污水沼气（泄漏概率 {p:.0%}），浓度已达危险水平，请排水单位通风处置"
            head_en = (f"judged sewer biogas (p leak = {p:.2f}), itself dangerous: the drainage owner should "
                       "ventilate")
        return f"{where_zh} {name}：{head_zh}：{'；'.join(zh)} / {where_en} {name}: {head_en}: {'; '.join(en)}"

    def partners(self, s: int) -> list[str]:
        """Neighbouring spaces in an episode that began with this one's."""
        st = self.state["ep_start"]
        out = []
        for o in self.spaces.neighbours[s]:
            if o >= 0 and st[o] >= 0 and st[s] >= 0 and abs(int(st[o]) - int(st[s])) <= stream.SPREAD_MINUTES:
                out.append(self.spaces.keys[o].rsplit("/", 1)[-1])
        return out

    def episodes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(space, features, P(leak)) of the spaces in an episode now (benchmarks record them to fit ``judge``)."""
        s = self.state
        on = np.flatnonzero((s["ep_start"] >= 0) & np.isfinite(s["p_leak"]))
        return on, s["feat"][on].copy(), s["p_leak"][on].copy()

    def locate(self, anchor: int | None = None) -> Suspects | None:
        """The suspected source of the leak seen at space ``anchor`` (default: the space most likely leaking)."""
        st = self.state
        in_ep = st["ep_start"] >= 0
        if anchor is None:
            p = np.where(in_ep & np.isfinite(st["p_leak"]), st["p_leak"], -1.0)
            if not len(p) or p.max() < 0:
                return None
            anchor = int(np.argmax(p))
        sp = self.spaces
        d = np.hypot(sp.x - sp.x[anchor], sp.y - sp.y[anchor])
        seen, quiet = [], []
        for k in np.flatnonzero(d <= 2 * SEARCH_M):
            if in_ep[k] and (st["verdict"][k] == 1 or k == anchor or st["p_leak"][k] >= 0.5):
                seen.append(Sighting(sp.keys[k], sp.kind[k], sp.x[k], sp.y[k],
                                     float(st["level_lel"][k] - st["expected_lel"][k]), float(st["ep_start"][k])))
            elif not in_ep[k] and d[k] <= SEARCH_M:
                quiet.append(Sighting(sp.keys[k], sp.kind[k], sp.x[k], sp.y[k], 0.0, math.nan))
        if self._grid is None:
            self._grid = MainsGrid(self.city)
        return self._grid.locate(seen, quiet)

    # ---- checkpoint ---------------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, np.ndarray]:
        """The per-space arrays, the minute reached and the city's biogas factor."""
        with self._lock:
            arrays = {f"{self.name}.{k}": v.copy() for k, v in self.state.items()}
            arrays[f"{self.name}.minute"] = self.minute.copy()
            arrays[f"{self.name}.city"] = self.city_factor.copy()
            arrays[f"{self.name}.spaces"] = np.array(self.spaces.keys, dtype=np.str_)
        return arrays

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Load a checkpoint; spaces are matched by key, so a city that gained spaces keeps the others' state."""
        keys = arrays.get(f"{self.name}.spaces")
        if keys is None:
            return
        where = {k: i for i, k in enumerate(self.spaces.keys)}
        pairs = [(i, where[str(k)]) for i, k in enumerate(keys) if str(k) in where]
        old, new = np.array([a for a, _ in pairs], np.int64), np.array([b for _, b in pairs], np.int64)
        with self._lock:
            for key in self.state:
                saved = arrays.get(f"{self.name}.{key}")
                if saved is not None and len(pairs):
                    self.state[key][new] = saved[old]
            self.minute[:] = arrays[f"{self.name}.minute"]
            self.city_factor[:] = arrays[f"{self.name}.city"]

    def resize(self, registry: SensorRegistry) -> None:
        """Adopt a registry that gained sensors; spaces keep their state."""
        saved = self.checkpoint()
        self.__init__(self.city, registry, self.config)  # type: ignore[misc]
        self.restore(saved)

    # ---- for people -------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Each space: its verdict, probability, level and expected biogas."""
        with self._lock:
            s = self.state
            rows = []
            for k, key in enumerate(self.spaces.keys):
                verdict = stream.VERDICTS[int(s["verdict"][k])]
                rows.append({"space": key, "kind": self.spaces.kind[k], "verdict": verdict,
                             "words": judge.VERDICT_WORDS[verdict],
                             "p_leak": None if np.isnan(s["p_leak"][k]) else round(float(s["p_leak"][k]), 3),
                             "methane_lel": None if np.isnan(s["level_lel"][k]) else round(float(s["level_lel"][k]), 2),
                             "usual_biogas_lel": None if np.isnan(s["expected_lel"][k])
                             else round(float(s["expected_lel"][k]), 2)})
            return {"spaces": rows, "city_biogas_factor": round(float(np.exp(self.city_factor[0])), 3),
                    "state_bytes_per_space": self.state_bytes_per_space()}

    def state_bytes_per_space(self) -> float:
        """Bytes of state per watched space."""
        return sum(v.nbytes for v in self.state.values()) / max(len(self.spaces), 1)

    def analyse(self, incident: Incident, store: Any) -> dict[str, Any] | None:
        """The judgement, suspects, danger per space, people and actions of a gas or sewer-gas incident
        (None for others); cached per incident and minute of its last event."""
        where = {k: i for i, k in enumerate(self.spaces.keys)}
        mine = [where[a] for a in incident.assets if a in where]
        if incident.lifeline not in ("gas", "drainage") or not mine:
            return None
        key = (incident.id, incident.t_last_ms // 60_000, int(self.minute[0]))
        with self._lock:
            if self._cache.get("key") != key:
                self._cache = {"key": key, "value": self._analyse(incident, mine)}
            return self._cache["value"]

    def _analyse(self, incident: Incident, mine: list[int]) -> dict[str, Any]:
        st, sp = self.state, self.spaces
        p = np.nan_to_num(st["p_leak"][mine], nan=-1.0)
        anchor = mine[int(np.argmax(p))]
        leak = incident.lifeline == "gas"
        judged = []
        for k in mine:
            verdict = stream.VERDICTS[int(st["verdict"][k])]
            zh, en = judge.reasons(st["feat"][k], float(st["level_lel"][k]), float(st["expected_lel"][k]),
                                   self.partners(k), bool(sp.ethane[k] >= 0))
            judged.append({"space": sp.keys[k], "kind": sp.kind[k], "verdict": verdict,
                           "words": judge.VERDICT_WORDS[verdict], "in_episode": bool(st["ep_start"][k] >= 0),
                           "p_leak": None if np.isnan(st["p_leak"][k]) else round(float(st["p_leak"][k]), 3),
                           "lel": round(float(st["level_lel"][k]), 1), "reasons": {"zh": zh, "en": en}})
        if self._danger is None:
            self._danger = Danger(self.city)
        close = np.hypot(sp.x - sp.x[anchor], sp.y - sp.y[anchor]) <= 2 * SEARCH_M
        measured = {sp.keys[k]: float(st["level_lel"][k]) for k in np.flatnonzero(close & (st["ep_start"] >= 0))}
        peak = max(measured.values(), default=float(st["level_lel"][anchor]))
        x, y = float(sp.x[anchor]), float(sp.y[anchor])
        suspects = self.locate(anchor) if leak else None
        out: dict[str, Any] = {"status": "judged", "cause": "leak" if leak else "biogas", "judgement": judged}
        isolation = None
        diameter = 0.2
        if suspects is not None:
            x, y = suspects.x, suspects.y
            out["suspects"] = self._suspects_json(suspects)
            top = self.city.asset(suspects.candidates[0][0])
            diameter = float(top.props.get("diameter_m", diameter))
            isolation = self._danger.isolation(top.key)
        cordon = cordon_m(diameter, PRESSURE_MPA, peak)
        spaces = self._danger.spaces(x, y, measured, suspects.leak_lel if suspects else 0.0,
                                     [c[0] for c in suspects.candidates[:3]] if suspects else [])
        out["spaces"] = [s.to_dict() for s in spaces[:20]]
        out["cordon_m"] = round(cordon)
        out["people"] = self._danger.people(x, y, max(cordon, PEOPLE_M))
        out["isolation"] = isolation
        out["actions"] = self._danger.actions(peak, cordon, isolation, leak)
        lon, lat = self.city.to_wgs84(x, y)
        out["centre"] = {"x": x, "y": y, "lon": float(lon), "lat": float(lat)}
        return out

    def _suspects_json(self, s: Suspects) -> dict[str, Any]:
        lon, lat = self.city.to_wgs84(s.x, s.y)
        cands = []
        for key, chance in s.candidates:
            a = self.city.asset(key)
            coords = [self.city.to_wgs84(px, py) for px, py in a.geometry.coords]
            cands.append({"pipe": key, "name": a.name, "chance": round(chance, 3),
                          "material": a.props.get("material"), "diameter_m": a.props.get("diameter_m"),
                          "line": [[float(lo), float(la)] for lo, la in coords]})
        return {"x": s.x, "y": s.y, "lon": float(lon), "lat": float(lat), "radius_m": round(s.radius_m, 1),
                "confidence": round(s.confidence, 3), "candidates": cands}
