"""Leak signatures from the network's linearised hydraulics: one sparse factorisation, not one
EPANET solve per junction.

At a solved operating point (EPANET's flows and link states), a small extra demand Δq moves the
heads of the junctions by Δh = −M⁻¹ Δq, M = A C Aᵀ the matrix of Todini & Pilati's gradient
method (Todini & Pilati, "A gradient algorithm for the analysis of pipe networks", 1988; Rossman,
EPANET 2.2 manual, §12: the matrix EPANET itself factorises every iteration).  A is the
junction–link incidence, C = diag(1/g_k) and g_k = dh_k/dQ_k the derivative of link k's head
loss at its flow:

- a pipe: Hazen–Williams, 1.852·K·|Q|^0.852 (K = 10.67·L/(C^1.852·d^4.871), SI) plus 2·m·|Q| for
  its minor loss m = 8·K_m/(g·π²·d⁴); every network here is Hazen–Williams (Darcy–Weisbach and
  Chezy–Manning are refused);
- a pump: the slope of its curve h = ω²A − B·ω^(2−C)·Q^C, i.e. B·C·ω^(2−C)·|Q|^(C−1);
- a valve: an open one is its minor loss; an active PRV holds its outlet's head (a fixed head whose
  water comes through the valve from its inlet); an active PSV holds its inlet's (its water leaves
  to the outlet); an active FCV fixes its flow (no conductance);
- reservoirs and tanks hold their heads within a step; a closed link carries nothing.

Flows move by ΔQ_k = (Δh_start − Δh_end)/g_k.  M is factorised once (SuperLU); the sensors' rows of
M⁻¹ come from one solve each with Mᵀ (the adjoint), so every junction's signature costs nothing
more.  Tiny flows are floored at ``MIN_FLOW_M3S`` (EPANET does the same, with a laminar floor).
A junction whose component holds no fixed head cannot take a leak: its signature is zero.

``WaterModel.signatures`` uses this for networks above ``LINEAR_ABOVE_JUNCTIONS`` junctions, where
a solve per junction (12,523 for BWSN Network 2, four times of day) would take most of an hour;
below that the exact snapshot (a leak's emitter solved by EPANET) is affordable and kept.  The
two agree on the demo city and L-Town (``tests/test_water_sensitivity.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ...errors import ConfigError

G = 9.81
MIN_FLOW_M3S = 1e-5  # 0.036 m³/h: below it a link's head loss is taken as laminar-small, not zero
ACTIVE_VALVE_M = 0.05  # a PRV (PSV) whose outlet (inlet) pressure is this close to its setting is active
ACTIVE_FCV_REL = 0.01  # an FCV carrying its setting within 1 % is active
LINEAR_ABOVE_JUNCTIONS = 2000


@dataclass(frozen=True)
class State:
    """A solved operating point: every link's flow (m³/h, signed as the link runs), whether it is
    open, and every node's pressure (m), in the network's own order of names."""

    flow_m3h: dict[str, float]
    open: dict[str, bool]
    pressure_m: dict[str, float]


def link_gradients(wn: Any, state: State) -> tuple[dict[str, float], set[str]]:
    """Each open link's dh/dQ (m per m³/s), and the nodes an active valve holds at a fixed head
    (with the valves whose water they pass on: PRV and PSV names)."""
    if wn.options.hydraulic.headloss != "H-W":
        raise ConfigError(f"linearised signatures need Hazen-Williams head losses, the network uses "
                          f"{wn.options.hydraulic.headloss}")
    grad: dict[str, float] = {}
    holding: set[str] = set()
    for name, link in wn.links():
        if not state.open.get(name, True):
            continue
        q = max(abs(state.flow_m3h[name]) / 3600.0, MIN_FLOW_M3S)
        kind = link.link_type
        if kind == "Pipe":
            d = link.diameter
            k = 10.667 * link.length / (link.roughness ** 1.852 * d ** 4.871)
            grad[name] = 1.852 * k * q ** 0.852 + 2 * _minor(link.minor_loss, d) * q
        elif kind == "Pump":
            if type(link).__name__ != "HeadPump":
                grad[name] = 1e-3  # a power pump: its head falls as 1/Q; a small slope
                continue
            _, b, c = link.get_head_curve_coefficients()  # h = ω²A − B·ω^(2−C)·Q^C
            w = float(link.speed_timeseries.base_value)
            grad[name] = max(b * c * w ** (2 - c) * q ** (c - 1), 1e-6)
        else:  # a valve
            setting = float(link.initial_setting or 0.0)
            vt = link.valve_type
            if vt == "PRV" and abs(state.pressure_m[link.end_node_name] - setting) < ACTIVE_VALVE_M:
                holding.add(name)
                continue
            if vt == "PSV" and abs(state.pressure_m[link.start_node_name] - setting) < ACTIVE_VALVE_M:
                holding.add(name)
                continue
            if vt == "FCV" and abs(abs(state.flow_m3h[name]) / 3600 - setting) < ACTIVE_FCV_REL * max(setting,
                                                                                                     1e-9):
                continue  # its flow is fixed: no conductance
            minor = float(setting) if vt == "TCV" else float(link.minor_loss or 0.0)
            grad[name] = max(2 * _minor(minor, link.diameter) * q, 1e-6)
    return grad, holding


def _minor(k: float, d: float) -> float:
    """A minor loss coefficient as h = m·Q² (SI)."""
    return 8.0 * k / (G * math.pi ** 2 * d ** 4)


class Linearised:
    """The network's response to a small extra demand at any junction, at one operating point."""

    def __init__(self, wn: Any, state: State) -> None:
        grad, holding = link_gradients(wn, state)
        fixed = set(wn.reservoir_name_list) | set(wn.tank_name_list)
        through: list[tuple[str, str]] = []  # (fixed node, node whose demand takes its water)
        for name in holding:
            v = wn.get_link(name)
            if v.valve_type == "PRV":  # holds its outlet; the water comes from its inlet
                fixed.add(v.end_node_name)
                through.append((v.end_node_name, v.start_node_name))
            else:  # PSV: holds its inlet; the water goes on to its outlet
                fixed.add(v.start_node_name)
                through.append((v.start_node_name, v.end_node_name))
        self.nodes = [n for n in wn.node_name_list if n not in fixed]
        index = {n: i for i, n in enumerate(self.nodes)}
        self.index = index
        n = len(self.nodes)
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        self.links: dict[str, tuple[int, int, float]] = {}  # link → (start row or -1, end row or -1, conductance)
        fixed_nb: dict[str, list[tuple[int, float]]] = {f: [] for f, _ in through}
        for name, g in grad.items():
            link = wn.get_link(name)
            a, b = index.get(link.start_node_name, -1), index.get(link.end_node_name, -1)
            c = 1.0 / g
            self.links[name] = (a, b, c)
            for i, j in ((a, b), (b, a)):
                if i >= 0:
                    rows.append(i)
                    cols.append(i)
                    vals.append(c)
                    if j >= 0:
                        rows.append(i)
                        cols.append(j)
                        vals.append(-c)
            for end, other in ((link.start_node_name, b), (link.end_node_name, a)):
                if end in fixed_nb and other >= 0:
                    fixed_nb[end].append((other, c))
        # a held node's water comes through its valve: its neighbours' change is drawn at the valve's far node
        for f, src in through:
            s = index.get(src, -1)
            if s < 0:
                continue
            for other, c in fixed_nb[f]:
                rows.append(s)
                cols.append(other)
                vals.append(-c)
        m = sp.csc_matrix((vals, (rows, cols)), shape=(n, n))
        diag = m.diagonal()
        m = m + sp.diags(np.where(diag > 0, diag, 1.0) * 1e-10 + (diag <= 0) * 1.0)
        self._lu = spla.splu(m.T.tocsc())  # Mᵀ: the adjoint solves give the rows of M⁻¹
        self._moved = {f: index.get(src, -1) for f, src in through}  # demand at a held node goes to its source

    def head_rows(self, nodes: list[str]) -> npt.NDArray[np.float64]:
        """dh_node/dq_j for each of ``nodes`` (rows) and every node of the network in ``self.nodes``
        order (columns), m per m³/s; zero for a node held at a fixed head."""
        out = np.zeros((len(nodes), len(self.nodes)))
        live = [(r, self.index[n]) for r, n in enumerate(nodes) if n in self.index]
        if live:
            e = np.zeros((len(self.nodes), len(live)))
            for k, (_, i) in enumerate(live):
                e[i, k] = 1.0
            x = self._lu.solve(e)  # column k: row i of M⁻¹
            for k, (r, _) in enumerate(live):
                out[r] = -x[:, k]
        return out

    def signatures(self, wn: Any, state: State, junctions: list[str], pressure_nodes: tuple[str, ...],
                   flow_links: tuple[str, ...], demand_m3h: npt.NDArray[np.float64] | None = None,
                   signed: npt.NDArray[np.bool_] | None = None
                   ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Every junction's signature (junction × channel: the pressures then the flows' magnitudes,
        or the flows themselves where ``signed``, per m³/h of extra demand), and, given the
        junctions' demand at the moment, the signature of extra demand spread over them in
        proportion (what a water balance does with a leak)."""
        ends = [(wn.get_link(k).start_node_name, wn.get_link(k).end_node_name) for k in flow_links]
        rows = self.head_rows([*pressure_nodes, *(a for a, _ in ends), *(b for _, b in ends)])
        n_p, n_f = len(pressure_nodes), len(flow_links)
        channels = np.zeros((n_p + n_f, len(self.nodes)))
        channels[:n_p] = rows[:n_p]
        for k, name in enumerate(flow_links):
            conductance = self.links.get(name, (-1, -1, 0.0))[2]
            sign = 1.0 if state.flow_m3h[name] >= 0 or (signed is not None and signed[k]) else -1.0
            channels[n_p + k] = sign * conductance * (rows[n_p + k] - rows[n_p + n_f + k])
        channels[:n_p] /= 3600.0  # m per m³/h; flows are m³/s per m³/s, i.e. m³/h per m³/h
        cols = np.array([self.demand_column(j) for j in junctions])
        sig = np.where(cols[:, None] >= 0, channels[:, np.maximum(cols, 0)].T, 0.0)
        spread = np.zeros(n_p + n_f)
        if demand_m3h is not None and demand_m3h.sum() > 0:
            spread = (demand_m3h / demand_m3h.sum()) @ sig
        return sig, spread

    def demand_column(self, junction: str) -> int:
        """The column of ``junction``'s demand in ``head_rows`` (a held node's goes to its valve's source), or -1."""
        if junction in self.index:
            return self.index[junction]
        return self._moved.get(junction, -1)
