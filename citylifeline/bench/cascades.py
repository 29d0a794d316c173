"""Were the secondary effects foreseen?  The cascade part of the scenario scorer (issue 29).

The twin records each secondary effect with its parent (``twin.cascade``).  A secondary effect is
*foreseen* when the platform incident that found its root truth (``bench.scenarios.score_run``) had
opened before the effect began and lists it: the effect on its asset is a step of one of the
incident's chains (``cascade.chains``), or the incident already holds that asset.  The cascade is
that of the incident's final assets (the correlator's, as the incident grew, are not kept), so an
effect listed only because of an asset that joined after the effect began would count; the scorer
reports the effects the incident opened too late for as *late*.  A listed chain is judged on the
effects the twin makes happen (``MODELLED``): it is *spurious* when none of its steps of those kinds
happened (as a secondary effect of any truth, or on an asset of the incident); a chain of effects the
twin does not model (an explosion, people hurt, a road closed) is *not judged*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..cascade.chains import Cascader
from ..city.bundle import CityBundle
from ..twin.base import Truth
from ..warn.model import Incident

MODELLED = ("gas_in_space", "collapse", "gas_leak")
"""The effects ``twin.cascade`` makes happen (and records)."""


@dataclass
class CascadeScore:
    """Secondary effects foreseen, and the chains listed for the incidents that found a truth."""

    effects: int = 0
    foreseen: int = 0
    late: int = 0
    missed: list[str] = field(default_factory=list)
    incidents: int = 0
    chains: int = 0
    spurious: int = 0
    unjudged: int = 0

    def add(self, other: CascadeScore) -> None:
        for name in ("effects", "foreseen", "late", "incidents", "chains", "spurious", "unjudged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.missed += other.missed


def root(t: Truth, by_id: dict[str, Truth]) -> Truth:
    """The primary truth a secondary effect follows from."""
    while t.parent and t.parent in by_id:
        t = by_id[t.parent]
    return t


def score_cascades(truth: list[Truth], incidents: list[dict[str, Any]], matches: list[dict[str, Any]],
                   bundle: CityBundle) -> CascadeScore:
    """See the module docstring; ``matches`` are ``score_run``'s."""
    by_id = {t.id: t for t in truth}
    found = {m["truth"]: m["incident"] for m in matches if m.get("result") == "found"}
    rows = {i["id"]: i for i in incidents}
    cascader = Cascader(bundle.city, bundle.sensors)
    cascades = {}
    for iid in set(found.values()):
        i = rows[iid]
        inc = Incident(iid, i["lifeline"], 0, i.get("state", "new"), i.get("title", ""), i["t_first_ms"],
                       i.get("t_last_ms", i["t_first_ms"]), 0, 0, i.get("x", 0.0), i.get("y", 0.0),
                       sensors=list(i["sensors"]), assets=list(i.get("assets", [])))
        cascades[iid] = (i, cascader.analyse(inc))
    effects = {(_effect(t), t.place) for t in truth if t.parent}
    out = CascadeScore()
    for t in truth:
        if not t.parent:
            continue
        out.effects += 1
        iid = found.get(root(t, by_id).id)
        if iid is None:
            out.missed.append(t.id)
            continue
        i, cascade = cascades[iid]
        if (_effect(t), t.place) not in cascade.effects() and t.place not in i.get("assets", []):
            out.missed.append(t.id)
        elif i["t_first_ms"] > t.start_ms:
            out.late += 1
        else:
            out.foreseen += 1
    for i, cascade in cascades.values():
        out.incidents += 1
        out.chains += len(cascade.chains)
        for chain in cascade.chains:
            judged = [(s.effect, s.asset) for s in chain if s.effect in MODELLED]
            if not judged:
                out.unjudged += 1
            elif not any(e in effects or e[1] in i.get("assets", []) for e in judged):
                out.spurious += 1
    return out


def _effect(t: Truth) -> str:
    """The cascade effect a secondary truth is (the twin's type names match the templates')."""
    return t.type


def cascade_table(rows: list[tuple[str, CascadeScore]]) -> str:
    """The Markdown table of foreseen secondary effects and spurious chains, per scenario and overall."""
    lines = ["| scenario | secondary effects | foreseen | late | missed | incidents | chains listed | not judged | "
             "spurious chains per incident |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    every = CascadeScore()
    for name, c in rows:
        every.add(c)
        if c.effects or c.incidents:
            lines.append(_row(name, c))
    lines.append(_row("**all**", every))
    return "\n".join(lines) + "\n"


def _row(name: str, c: CascadeScore) -> str:
    per = f"{c.spurious / c.incidents:.1f}" if c.incidents else "–"
    return (f"| {name} | {c.effects} | {c.foreseen} | {c.late} | {len(c.missed)} | {c.incidents} | {c.chains} | "
            f"{c.unjudged} | {per} |")

