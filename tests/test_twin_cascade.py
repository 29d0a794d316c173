"""The twin's secondary effects (issue 29): a burst undermines the road, a gas leak fills the spaces
beside it, each with its parent in the truth; and the scorer's count of those foreseen."""

from __future__ import annotations

import numpy as np
import pytest

from citylifeline.bench.cascades import score_cascades
from citylifeline.city import CityBundle, load_city
from citylifeline.twin import cascade as tc
from citylifeline.twin.base import Truth
from citylifeline.twin.runner import simulate
from citylifeline.twin.scenario import Scenario, scenario_from_dict


@pytest.fixture(scope="module")
def demo() -> CityBundle:
    return load_city("demo")


def _scenario(incidents: list[dict[str, object]], hours: int = 8) -> Scenario:
    return scenario_from_dict({"duration": f"{hours}h", "start": "2026-06-10T00:00:00+08:00", "seed": 3,
                               "weather": {"temperature_c": {"mean": 25, "swing": 7}}, "incidents": incidents})


def test_a_burst_washes_out_the_road_until_it_collapses_and_a_small_leak_does_not_in_a_day(demo: CityBundle) -> None:
    burst = {"id": "b", "type": "burst", "place": "water/junction/W-N1011", "start": "1h", "magnitude": 0.08}
    run = simulate(_scenario([burst]), demo, ("water",))
    children = [t for t in run.truth if t.parent == "b"]
    collapse = next(t for t in children if t.type == "collapse")
    assert collapse.place == "water/junction/W-N1011"
    q = tc.outflow_m3s(_scenario([burst]).incidents[0], np.array([4000.0]))[0]
    cover = float(demo.city.asset(tc._main_of(demo, "water/junction/W-N1011")).props["depth_m"])
    minutes = tc.VOID_M3 * (cover / tc.COVER_M) ** 3 / (tc.EROSION_M3_PER_M3 * q) / 60
    assert collapse.start_ms - run.scenario.start_ms == pytest.approx(3600_000 + minutes * 60_000, abs=120_000)
    assert all(t.type == "gas_leak" and t.parent == collapse.id for t in run.truth if t.parent == collapse.id)
    leak = {"id": "l", "type": "leak", "place": "water/junction/W-N1011", "start": "1h", "magnitude": 0.5}
    assert not [t for t in simulate(_scenario([leak]), demo, ("water",)).truth if t.parent]  # 0.5 L/s: days


def test_a_gas_leak_fills_the_spaces_beside_it_with_the_leak_as_their_parent(demo: CityBundle) -> None:
    leak = {"id": "g", "type": "gas_leak", "place": "gas/junction/G-N1209", "start": "1h", "magnitude": 3.0,
            "growth": "10min"}
    run = simulate(_scenario([leak], hours=6), demo, ("gas",))
    spaces = {t.place: t for t in run.truth if t.parent == "g"}
    assert {"drainage/junction/S-N1209", "tunnel/cable_well/C-N1209"} <= set(spaces)
    assert all(t.type == "gas_in_space" and t.start_ms > run.scenario.start_ms + 3600_000 and t.magnitude >= 20
               for t in spaces.values())
    assert not any(k.endswith("N1211") or k.endswith("N1207") for k in spaces)  # 300 m away: nothing


def test_the_scorer_counts_effects_foreseen_late_and_missed_and_judges_only_modelled_chains(demo: CityBundle) -> None:
    t0 = 1_781_000_000_000
    primary = Truth("b", "burst", "water", "water/junction/W-N1011", 0, 0, t0, None, ["WP-15"])
    collapse = Truth("b>c", "collapse", "water", "water/junction/W-N1011", 0, 0, t0 + 3_600_000, None, [], parent="b")
    other = Truth("x", "burst", "water", "water/junction/W-N0000", 0, 0, t0, None, ["WP-01"])
    orphan = Truth("x>c", "collapse", "water", "water/junction/W-N0000", 0, 0, t0 + 60_000, None, [], parent="x")
    incident = {"id": 7, "lifeline": "water", "state": "new", "title": "", "t_first_ms": t0 + 60_000,
                "t_last_ms": t0 + 600_000, "x": 0.0, "y": 0.0, "sensors": ["WP-15"],
                "assets": ["water/junction/W-N1011"]}
    matches = [{"truth": "b", "result": "found", "incident": 7}, {"truth": "x", "result": "missed"}]
    score = score_cascades([primary, collapse, other, orphan], [incident], matches, demo)
    assert (score.effects, score.foreseen, score.late, score.missed) == (2, 1, 0, ["x>c"])
    assert score.incidents == 1 and score.chains >= 2 and score.spurious + score.unjudged <= score.chains
    late = score_cascades([primary, collapse], [incident | {"t_first_ms": t0 + 7_200_000}],
                          matches[:1], demo)
    assert (late.foreseen, late.late) == (0, 1)
