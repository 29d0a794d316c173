"""Were the secondary effects foreseen?  The cascade part of the scenario scorer (issue 29).

The twin records each secondary effect with its parent (``twin.cascade``).  A secondary effect is
*foreseen* when the platform incident that found its root truth (``bench.scenarios.score_run``) had
opened before the effect began and listed it then: the effect on its asset is a step of one of the
chains (``cascade.chains``) of the incident as it stood when the effect began, or that incident
already held the asset.  The incident as it stood is rebuilt from the replay's events: its sensors
and assets that had an event on it by then (without the events, its final assets stand for it, which
is lenient).  An effect the incident listed only later (it opened, or took in the asset that leads
to it, after the effect began) is *late*.  An effect not listed on its asset
while the same effect is listed on another is *misplaced*: the mechanism was foreseen, the place was
not (a burst the water analyst placed on the wrong main: its road collapse is listed over that main).
A listed chain is judged on the mechanisms the twin makes happen (``MODELLED``: an effect after a
cause the twin follows it from: gas from a leak or a space into a space, a collapse after the void, a
gas main broken by the collapse, water poured in from a flood): it is *spurious* when none of its
steps of those mechanisms happened (as a secondary effect of any truth, or on an asset of the
incident); a chain of mechanisms the twin does not model (an explosion, people hurt, a road closed,
a pipe on a damaged bridge breaking) is *not judged*, nor is what follows such a step in a chain.

The same is asked of each primary with secondary effects *from its true place*, as if the analysts
had placed it exactly: a burst's cascade started from the main its water escapes from (the twin's
widest main at its junction) rather than from the main the water analyst suspects; a gas leak's
from the spaces its incident holds, where the platform measured its gas, which count as foreseen (a
cascade from the whole leaking main would list the spaces at both its ends, 150 m apart: the point of
a leak along its main is not an asset).  That measures the mechanisms and their constants apart from how well the
detectors place an incident (``roots``, ``placed_*``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..cascade.chains import Cascader
from ..city.bundle import CityBundle
from ..twin.base import Truth
from ..warn.model import Incident

MODELLED = {"gas_in_space": {"gas_leak", "gas_in_space"}, "collapse": {"void"}, "gas_leak": {"collapse"},
            "ingress": {"flood"}}
"""The effects ``twin.cascade`` makes happen (and records), each with the causes it follows them from."""
UNRECORDED = {"void": {"water_leak"}}
"""Links the twin makes happen without recording them: a burst's water washes out a void, whose
collapse it records."""


@dataclass
class CascadeScore:
    """Secondary effects foreseen, and the chains listed for the incidents that found a truth."""

    effects: int = 0
    foreseen: int = 0
    late: int = 0
    misplaced: int = 0
    missed: list[str] = field(default_factory=list)
    incidents: int = 0
    chains: int = 0
    spurious: int = 0
    unjudged: int = 0
    roots: int = 0  # primaries with secondary effects, each cascaded from its true place:
    placed_foreseen: int = 0  # the effects that cascade lists
    placed_chains: int = 0
    placed_spurious: int = 0

    def add(self, other: CascadeScore) -> None:
        for name in ("effects", "foreseen", "late", "misplaced", "incidents", "chains", "spurious", "unjudged",
                     "roots", "placed_foreseen", "placed_chains", "placed_spurious"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.missed += other.missed


def root(t: Truth, by_id: dict[str, Truth]) -> Truth:
    """The primary truth a secondary effect follows from."""
    while t.parent and t.parent in by_id:
        t = by_id[t.parent]
    return t


def score_cascades(truth: list[Truth], incidents: list[dict[str, Any]], matches: list[dict[str, Any]],
                   bundle: CityBundle, cascader: Cascader | None = None,
                   events: list[dict[str, Any]] | None = None) -> CascadeScore:
    """See the module docstring; ``matches`` are ``score_run``'s; ``cascader``: one with other constants;
    ``events``: the replay's (``Event.to_dict()`` rows), to rebuild each incident as it stood."""
    by_id = {t.id: t for t in truth}
    found = {m["truth"]: m["incident"] for m in matches if m.get("result") == "found"}
    rows = {i["id"]: i for i in incidents}
    cascader = cascader or Cascader(bundle.city, bundle.sensors)
    cascades = {iid: (rows[iid], cascader.analyse(_incident(rows[iid]))) for iid in set(found.values())}
    joined = _joined(events, bundle, set(cascades)) if events is not None else None
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
        listed = cascade.effects()
        if (_effect(t), t.place) not in listed and t.place not in i.get("assets", []):
            if any(e == _effect(t) for e, _ in listed):
                out.misplaced += 1
            out.missed.append(t.id)
        elif i["t_first_ms"] > t.start_ms or (joined is not None and not _listed_by(
                t, _incident(i, joined[iid], t.start_ms), cascader)):
            out.late += 1
        else:
            out.foreseen += 1
    for i, cascade in cascades.values():
        out.incidents += 1
        out.chains += len(cascade.chains)
        origin = {s.effect for s in cascade.origin}
        judged = [_judged(chain, effects, set(i.get("assets", [])), origin) for chain in cascade.chains]
        out.unjudged += judged.count(None)
        out.spurious += judged.count(False)
    for r in sorted({root(t, by_id).id for t in truth if t.parent}):
        if by_id[r].lifeline == "water":
            cascade = cascader.analyse(_at(by_id[r], bundle))
        elif r in found:
            cascade = cascades[found[r]][1]
        else:
            continue
        listed = cascade.effects()
        spaces = {s.asset for s in cascade.origin if s.effect == "gas_in_space"}  # where its gas was measured
        out.roots += 1
        out.placed_foreseen += sum((_effect(t), t.place) in listed
                                   or (_effect(t) == "gas_in_space" and t.place in spaces)
                                   for t in truth if t.parent and root(t, by_id).id == r)
        out.placed_chains += len(cascade.chains)
        origin = {s.effect for s in cascade.origin}
        out.placed_spurious += sum(_judged(c, effects, set(), origin) is False for c in cascade.chains)
    return out


def _incident(i: dict[str, Any], joined: list[tuple[int, str, str]] | None = None, by_ms: int = 0) -> Incident:
    """An incident row as the cascade takes it: as it ended, or (``joined``: its (time, sensor, asset)
    events) as it stood at ``by_ms`` — its sensors and assets that had an event on it by then."""
    sensors, assets = list(i["sensors"]), list(i.get("assets", []))
    if joined is not None:
        seen = {x for t_ms, sensor, asset in joined if t_ms <= by_ms for x in (sensor, asset)}
        sensors, assets = [s for s in sensors if s in seen], [a for a in assets if a in seen]
    return Incident(i["id"], i["lifeline"], 0, i.get("state", "new"), i.get("title", ""), i["t_first_ms"],
                    i.get("t_last_ms", i["t_first_ms"]), 0, 0, i.get("x", 0.0), i.get("y", 0.0),
                    sensors=sensors, assets=assets)


def _joined(events: list[dict[str, Any]], bundle: CityBundle, ids: set[int]) -> dict[int, list[tuple[int, str, str]]]:
    """Per incident of ``ids``: (time, sensor, asset) of each event on it."""
    reg = bundle.sensors
    out: dict[int, list[tuple[int, str, str]]] = {i: [] for i in ids}
    for e in events:
        if e.get("incident_id") in out and e["sensor_id"] in reg.index:
            out[e["incident_id"]].append((int(e["t_ms"]), e["sensor_id"],
                                          e.get("asset") or reg.asset[reg.index[e["sensor_id"]]]))
    return out


def _listed_by(t: Truth, inc: Incident, cascader: Cascader) -> bool:
    """Whether ``inc`` (as it stood) listed ``t``'s effect on its asset, or held the asset."""
    return t.place in inc.assets or (_effect(t), t.place) in cascader.analyse(inc).effects()


def _judged(chain: list[Any], effects: set[tuple[str, str]], held: set[str], origin: set[str]) -> bool | None:
    """Whether a chain's modelled steps came true (one of them, or on an asset the incident holds); None
    when it has none the twin models.  ``origin``: the incident's own effects, the first step's causes.
    Judging stops at the first step the twin does not make happen (neither ``MODELLED`` nor
    ``UNRECORDED``): what follows it never had its cause in the twin's world (a bridge's deformation
    straining a pipe it carries, which then breaks, washes out a void and a collapse)."""
    steps, causes = [], origin
    for s in chain:
        if causes & MODELLED.get(s.effect, set()):
            steps.append((s.effect, s.asset))
        elif not causes & UNRECORDED.get(s.effect, set()):
            break
        causes = {s.effect}
    return any(e in effects or e[1] in held for e in steps) if steps else None


def _at(t: Truth, bundle: CityBundle) -> Incident:
    """A water primary as an incident at its true place: its asset and the main its water escapes from."""
    from ..twin.cascade import main_of

    assets = [t.place]
    main = main_of(bundle, t.place) if t.place.startswith("water/junction/") else None
    if main:
        assets.append(main)
    return Incident(0, t.lifeline, 0, "new", "", t.start_ms, t.start_ms, 0, 0, t.x, t.y, sensors=[], assets=assets)


def _effect(t: Truth) -> str:
    """The cascade effect a secondary truth is (the twin's type names match the templates')."""
    return t.type


def cascade_table(rows: list[tuple[str, CascadeScore]]) -> str:
    """The Markdown table of foreseen secondary effects and spurious chains, per scenario and overall."""
    lines = ["| scenario | secondary effects | foreseen | late | missed | of them misplaced | incidents | "
             "chains listed | not judged | spurious chains per incident | from the true place: foreseen | "
             "chains per primary | spurious per primary |", "|---|" + "---:|" * 12]
    every = CascadeScore()
    for name, c in rows:
        every.add(c)
        if c.effects or c.incidents:
            lines.append(_row(name, c))
    lines.append(_row("**all**", every))
    return "\n".join(lines) + "\n"


def _row(name: str, c: CascadeScore) -> str:
    def per(n: int, of: int) -> str:
        return f"{n / of:.1f}" if of else "–"

    return (f"| {name} | {c.effects} | {c.foreseen} | {c.late} | {len(c.missed)} | {c.misplaced} | {c.incidents} | "
            f"{c.chains} | {c.unjudged} | {per(c.spurious, c.incidents)} | {c.placed_foreseen} | "
            f"{per(c.placed_chains, c.roots)} | {per(c.placed_spurious, c.roots)} |")

