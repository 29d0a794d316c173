"""Valve isolation on a network small enough to check by hand, and on Net3."""

from __future__ import annotations

import pandas as pd
import pytest
import wntr

from citylifeline.analysis.isolation import isolation_plan, strategic_layer
from citylifeline.errors import NotFound


def little_town() -> wntr.network.WaterNetworkModel:
    """R1 —p1— J1 —p2— J2 —p3— J3, J2 —p4— J4 —p5— J1 (a loop), and J3 —p6— J5."""
    wn = wntr.network.WaterNetworkModel()
    wn.add_reservoir("R1", base_head=50)
    for j in ("J1", "J2", "J3", "J4", "J5"):
        wn.add_junction(j, base_demand=0.001, elevation=0)  # 3.6 m³/h each
    for name, a, b in (("p1", "R1", "J1"), ("p2", "J1", "J2"), ("p3", "J2", "J3"), ("p4", "J2", "J4"),
                       ("p5", "J4", "J1"), ("p6", "J3", "J5")):
        wn.add_pipe(name, a, b, length=100, diameter=0.2, roughness=100)
    return wn


VALVES = pd.DataFrame({"node": ["J1", "J2", "J2", "J4"], "link": ["p2", "p3", "p4", "p5"]})


def test_a_pipe_in_the_middle_needs_its_segments_boundary_valves_closed() -> None:
    plan = isolation_plan(little_town(), VALVES, "p2")
    # p2's segment is p2 and J2 (J1's end of p2, and J2's ends of p3 and p4 have valves)
    assert plan.segment_pipes == ("p2",)
    assert plan.valves == (("J1", "p2"), ("J2", "p3"), ("J2", "p4"))
    # J2 is in the segment; J3 and J5 hang off it behind the closed valve on p3; J4 still has J1 via p5
    assert plan.without_water == ("J2", "J3", "J5")
    assert plan.demand_lost_m3h == pytest.approx(3 * 3.6)


def test_a_pipe_with_no_valve_between_it_and_the_source_cuts_off_what_lies_beyond() -> None:
    plan = isolation_plan(little_town(), VALVES, "p1")
    # p1, J1 and p5 (whose valve is at its J4 end) form a segment bounded by the valves at J1 on p2
    # and at J4 on p5
    assert plan.segment_pipes == ("p1", "p5")
    assert plan.valves == (("J1", "p2"), ("J4", "p5"))
    assert plan.without_water == ("J1", "J2", "J3", "J4", "J5")  # the town's only feed


def test_net3_with_a_strategic_layer_isolates_a_small_segment() -> None:
    wn = wntr.network.WaterNetworkModel("Net3")
    valves = strategic_layer(wn, seed=3)
    plan = isolation_plan(wn, valves, "171")
    assert plan.pipe == "171" and "171" in plan.segment_pipes
    assert 1 <= len(plan.valves) <= 8 and len(plan.segment_pipes) <= 5
    every_valve = set(zip(valves["node"], valves["link"], strict=True))
    assert set(plan.valves) <= every_valve
    with pytest.raises(NotFound, match="'nope'"):
        isolation_plan(wn, valves, "nope")
