"""Valve isolation: which valves to close for a leaking pipe, and who is left without water.

A water utility's isolation valves sit on pipes next to junctions; between them the network
falls into *segments* that close as one (``wntr.metrics.valve_segments``).  To repair a pipe
the crew closes every valve on the boundary of its segment: a valve (node N, pipe L) is on the
boundary when exactly one of N and L is in the segment.  With those valves closed, the segment
and every junction that no longer connects to a source (reservoir or tank) are without water.

Valve layers come from the utility's records (a table of ``node``, ``link``); for networks that
have none, ``strategic_layer`` places WNTR's strategic N-1 layout (on every junction, all but one
of its pipes get a valve), seeded so it is the same every time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
import pandas as pd

from ..errors import NotFound


@dataclass(frozen=True)
class IsolationPlan:
    """What closing a pipe's segment means."""

    pipe: str
    valves: tuple[tuple[str, str], ...]  # (node, pipe) of every valve to close, sorted
    segment_pipes: tuple[str, ...]
    without_water: tuple[str, ...]  # junctions: the segment's and those cut off from every source
    demand_lost_m3h: float  # their average demand


def strategic_layer(wn, seed: int = 0) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """WNTR's strategic N-1 valve layout (columns ``node``, ``link``)."""
    import wntr

    return wntr.network.layer.generate_valve_layer(wn, placement_type="strategic", n=1, seed=seed)


def isolation_plan(wn, valves: pd.DataFrame, pipe: str,  # type: ignore[no-untyped-def]
                   mean_demand_m3h: Mapping[str, float] | None = None) -> IsolationPlan:
    """The valves to close to isolate ``pipe`` and the junctions left without water.

    ``mean_demand_m3h`` is each junction's average demand; by default WNTR's average expected
    demand (base demands times their patterns and the demand multiplier)."""
    import wntr

    if pipe not in wn.link_name_list:
        raise NotFound(f"pipe {pipe!r} is not in the network")
    graph = wn.to_graph().to_undirected()
    node_seg, link_seg, _ = wntr.metrics.valve_segments(graph, valves)
    seg = link_seg[pipe]
    seg_nodes = set(node_seg.index[node_seg == seg])
    seg_links = set(link_seg.index[link_seg == seg])
    boundary = sorted((str(n), str(lk)) for n, lk in zip(valves["node"], valves["link"], strict=True)
                      if (n in seg_nodes) != (lk in seg_links))
    closed = graph.copy()
    closed.remove_nodes_from(seg_nodes)
    closed.remove_edges_from([(u, v, k) for u, v, k in closed.edges(keys=True) if k in seg_links])
    for node, link in boundary:  # a closed valve cuts its pipe
        closed.remove_edges_from([(u, v, k) for u, v, k in closed.edges(node, keys=True) if k == link])
    sources = set(wn.reservoir_name_list) | set(wn.tank_name_list)
    supplied: set[str] = set()
    for component in nx.connected_components(closed):
        if component & sources:
            supplied |= component
    dry = sorted(n for n in wn.junction_name_list if n not in supplied)
    demand = mean_demand_m3h if mean_demand_m3h is not None else \
        (wntr.metrics.average_expected_demand(wn) * 3600.0).to_dict()  # m³/s → m³/h
    return IsolationPlan(pipe, tuple(boundary), tuple(sorted(seg_links)), tuple(dry),
                         float(sum(demand.get(n, 0.0) for n in dry)))

