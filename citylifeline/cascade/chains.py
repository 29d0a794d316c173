"""What an incident threatens next: chains of secondary effects along the coupling of the lifelines.

The incident's own effect (``Cascader.origin``: gas in a space, a leaking main, standing water, a
damaged bridge …) spreads through the mechanisms of ``cascade.templates``, each with a likelihood, a time
scale and its reason in words (Rinaldi, Peerenboom & Kelly 2001: cascading failures over
geographic and physical interdependencies; ../shared/DOMAIN.md §4, "what an engine could compute").
A chain's likelihood is the product along it and its time the sum of its steps' time scales.  A
best-first search keeps each effect's likeliest path (effects below ``MIN_P`` are not followed, nor
chains beyond ``MAX_STEPS``) and lists every effect at ``LIST_P`` or more in its likeliest chain, cut
where the chain falls below it (``Cascade.unlisted`` counts the chains left out whole), those whose
next step is likeliest first.  Each step names
the sensors that would show it (those on its asset, and for gas the space detectors within
``WATCH_M``) and which of them already warn.

A chain that reaches people at ``PEOPLE_P`` or more through another lifeline than the incident's own
(``Cascade.to_people``) raises the incident one level (``warn.correlate``).  On the demo city an
incident's cascade takes a few milliseconds; ``citylifeline bench cascade`` measures a city of
100,000 assets.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from ..city.model import LIFELINES, City
from ..city.sensors import SensorRegistry
from ..warn.model import Incident
from .coupling import Coupling, couple
from .templates import MAINS, SPACES, TEMPLATES, WHEN, Reach, is_main, kind_of

MIN_P = 0.01  # effects less likely than this are not followed
MAX_STEPS = 5
PEOPLE_P = 0.05  # a chain reaching people this likely, through another lifeline, raises its incident a level
WATCH_M = 15.0  # the methane detectors of the spaces this close show a gas step
LIST_P = 0.05  # an effect this likely is listed; chains are cut where they fall below it

EFFECTS: dict[str, tuple[str, str]] = {
    "gas_leak": ("燃气泄漏", "gas leak"), "gas_in_space": ("燃气进入密闭空间", "gas in a confined space"),
    "explosion": ("燃爆", "explosion"), "water_leak": ("供水管爆管", "water main burst"),
    "hot_water": ("热力管泄漏", "heating leak"),
    "steam_in_space": ("热水蒸汽进入空间", "hot water and steam in a space"),
    "void": ("路基掏空", "void under the road"), "collapse": ("路面塌陷", "road collapse"),
    "flood": ("积水", "standing water"), "ingress": ("进水", "water ingress"),
    "outage": ("停运", "outage"), "bridge_damage": ("桥梁损伤", "bridge damage"),
    "pipe_strain": ("管线受拉", "pipe strained"), "traffic": ("交通中断", "road closed"),
    "people": ("危及人员", "people endangered"),
}
State = tuple[str, str, bool]  # effect, asset, through another lifeline
Found = tuple[float, tuple[float, float], tuple[str, str], State | None]  # likelihood, after_s, reason, parent


@dataclass(frozen=True)
class Step:
    """One effect of a chain: what happens where, how likely (along the chain) and how soon."""

    effect: str
    asset: str
    likelihood: float
    after_s: tuple[float, float]  # earliest and latest, from the incident's start
    reason_zh: str
    reason_en: str
    sensors: tuple[str, ...] = ()  # that would show it
    showing: tuple[str, ...] = ()  # of those, the ones already warning

    def to_dict(self) -> dict[str, Any]:
        zh, en = EFFECTS[self.effect]
        return {"effect": self.effect, "name_zh": zh, "name_en": en, "asset": self.asset,
                "likelihood": round(self.likelihood, 3), "after_s": [round(t) for t in self.after_s],
                "reason_zh": self.reason_zh, "reason_en": self.reason_en, "sensors": list(self.sensors),
                "showing": list(self.showing)}


@dataclass
class Cascade:
    """The chains an incident may set off, most likely first, and whether one reaches people."""

    origin: list[Step]
    chains: list[list[Step]] = field(default_factory=list)  # every effect at LIST_P or more, in its likeliest chain
    to_people: list[Step] = field(default_factory=list)
    """The likeliest chain reaching people at ``PEOPLE_P`` or more through another lifeline than the
    incident's own (whose analyst has graded the danger at its own place); empty if none."""
    unlisted: int = 0  # the final effects less likely than LIST_P (their chains listed only as far as it)

    @property
    def reaches_people(self) -> Step | None:
        """The step endangering people at the end of ``to_people``, if any."""
        return self.to_people[-1] if self.to_people else None

    def effects(self) -> dict[tuple[str, str], Step]:
        """Every (effect, asset) listed, with its step."""
        return {(s.effect, s.asset): s for c in self.chains for s in c}

    def to_dict(self) -> dict[str, Any]:
        people = self.reaches_people
        return {"origin": [s.to_dict() for s in self.origin],
                "chains": [[s.to_dict() for s in c] for c in self.chains],
                "to_people": [s.to_dict() for s in self.to_people], "unlisted": self.unlisted,
                "reaches_people": people.to_dict() if people else None}


class Cascader:
    """Cascade analysis over one city: built once (its coupling), asked per incident."""

    def __init__(self, city: City, registry: SensorRegistry, coupling: Coupling | None = None,
                 list_p: float = LIST_P) -> None:
        """``list_p``: another value than ``LIST_P``, for the benchmark that chooses it (``bench.cascade_cv``)."""
        self.city = city
        self.registry = registry
        self.coupling = coupling if coupling is not None else couple(city)
        self.reach = Reach(city, self.coupling)
        self.list_p = list_p
        self.sensors_of: dict[str, list[int]] = {}
        for i, asset in enumerate(registry.asset):
            if registry.active[i]:
                self.sensors_of.setdefault(asset, []).append(i)

    # ---- the incident's own effect ----------------------------------------------------------------
    def origin(self, inc: Incident) -> list[tuple[str, str]]:
        """The (effect, asset) pairs the incident already is.  A leak of a pressurised network (gas,
        water, heating) escapes at one place: where an analyst has placed it on a main (an asset of the
        incident that none of its sensors is on: a water leak's pipe), else where the incident was first
        seen (its first asset of that network); the other junctions whose pressure fell and the pipes
        whose meters moved are not where it escapes.  A gas incident's spaces, a storm's places and a
        structure's parts are each an origin."""
        kinds = {self.registry.kind[self.registry.index[s]] for s in inc.sensors if s in self.registry.index}
        out = []
        gas = bool(kinds & {"methane", "gas_fraction", "ethane"})
        watched = {self.registry.asset[self.registry.index[s]] for s in inc.sensors if s in self.registry.index}
        network = [k for k in inc.assets if inc.lifeline in MAINS and k.startswith(f"{inc.lifeline}/")]
        escapes = {k for k in network if is_main(k) and k not in watched} or set(network[:1])
        for key in inc.assets:
            if key in network and key not in escapes:
                continue
            kind = kind_of(key)
            if gas and (kind in SPACES or key.startswith(("tunnel/", "drainage/"))):
                effect = "gas_in_space"
            elif inc.lifeline == "drainage" or key.startswith("drainage/"):
                effect = "flood"
            elif key.startswith("tunnel/"):
                effect = "ingress" if "level" in kinds else "steam_in_space"
            elif inc.lifeline in MAINS and key.startswith(inc.lifeline + "/"):
                effect = MAINS[inc.lifeline]
            elif inc.lifeline == "bridge":
                effect = "bridge_damage"
            else:
                effect = ""
            if effect:
                out.append((effect, key))
        return out

    def analyse(self, inc: Incident, showing: set[str] | frozenset[str] = frozenset()) -> Cascade:
        """The chains ``inc`` may set off; ``showing``: the sensor ids already warning.

        A best-first search over (effect, asset, crossed): ``crossed`` says the path has passed through
        another lifeline than the incident's, so that a chain reaching people that way is not hidden
        behind a likelier one at the incident's own place (``Cascade.reaches_people``)."""
        start = self.origin(inc)
        own = {inc.lifeline} | {a.split("/")[0] for _, a in start}
        best: dict[State, Found] = {}
        heap: list[tuple[float, State, int]] = []
        for effect, asset in start:
            best[(effect, asset, False)] = (1.0, (0.0, 0.0), ("事件本身", "the incident itself"), None)
            heapq.heappush(heap, (-1.0, (effect, asset, False), 0))
        while heap:
            neg_p, state, depth = heapq.heappop(heap)
            p, (t_lo, t_hi) = -neg_p, best[state][1]
            if p < best[state][0] or depth >= MAX_STEPS or state[0] not in TEMPLATES:
                continue
            for nxt, target, q, when, zh, en in TEMPLATES[state[0]](self.reach, state[1]):
                layer = target.split("/")[0]
                key = (nxt, target, state[2] or (layer in LIFELINES and layer not in own))
                pq = p * q
                if pq < MIN_P or pq <= best.get(key, (0.0,))[0]:
                    continue
                lo, hi = WHEN[when]
                best[key] = (pq, (t_lo + lo, t_hi + hi), (zh, en), state)
                heapq.heappush(heap, (-pq, key, depth + 1))
        parents = {v[3] for v in best.values() if v[3] is not None}
        leaves = sorted((k for k in best if k not in parents and best[k][3] is not None),
                        key=lambda k: (-best[k][0], k))
        listed: dict[tuple[str, str], State] = {}
        for k in leaves:  # one chain per final effect: the likeliest
            listed.setdefault(k[:2], k)
        crossed = [k for k in best if k[0] == "people" and k[2] and best[k][0] >= PEOPLE_P]
        people = max(crossed, key=lambda k: (best[k][0], k), default=None)
        chains = self._listed([self._path(k, best, showing) for k in listed.values()])
        return Cascade([self._step(k, best, showing) for k in best if best[k][3] is None], chains,
                       self._path(people, best, showing) if people else [],
                       sum(best[k][0] < self.list_p for k in listed.values()))

    def _listed(self, paths: list[list[Step]]) -> list[list[Step]]:
        """Each path up to its last effect at ``LIST_P`` or more, those that are not the start of another,
        the likeliest next step first: every effect at ``LIST_P`` or more is listed, in its likeliest chain."""
        cut = {tuple(s for s in p if s.likelihood >= self.list_p) for p in paths}
        cut.discard(())
        keys = {tuple((s.effect, s.asset) for s in c) for c in cut}
        out = [list(c) for c in cut if not any(len(k) > len(c) and k[:len(c)] == tuple((s.effect, s.asset) for s in c)
                                               for k in keys)]
        out.sort(key=lambda c: (-c[0].likelihood, -c[-1].likelihood, c[-1].asset))
        return out

    def _path(self, key: State, best: dict[State, Found], showing: set[str] | frozenset[str]) -> list[Step]:
        path = []
        k: State | None = key
        while k is not None and best[k][3] is not None:
            path.append(self._step(k, best, showing))
            k = best[k][3]
        return path[::-1]

    def _step(self, key: State, best: dict[State, Found], showing: set[str] | frozenset[str]) -> Step:
        p, after, (zh, en), _ = best[key]
        sensors = self._watchers(key[0], key[1])
        return Step(key[0], key[1], p, after, zh, en, sensors, tuple(s for s in sensors if s in showing))

    def _watchers(self, effect: str, asset: str) -> tuple[str, ...]:
        if effect in ("people", "traffic"):
            return ()
        idx = list(self.sensors_of.get(asset, []))
        if effect in ("gas_leak", "gas_in_space", "explosion"):
            idx += [i for a, _ in self.reach.around(asset, WATCH_M, SPACES)
                    for i in self.sensors_of.get(a.key, []) if self.registry.kind[i] in ("methane", "gas_fraction")]
        return tuple(dict.fromkeys(self.registry.ids[i] for i in idx))
