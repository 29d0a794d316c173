"""EPANET stepped through its toolkit, with settings changed before each step's solve.

Both the leak-year simulator (the truth) and the leak detector's model (what the sensors should
read) run this way.  The network keeps its own demand patterns at their own step; their phase is
set (``EN_PATTERNSTART``) so that the patterns' first period falls at ``origin_ms``, and before
each hydraulic step a callback sets the global demand multiplier (``EN_DEMANDMULT``) and anything
else: a leak's emitter, a tank's measured level, a pump's measured status.  The network is
written in CMH, so every value read is in m or m³/h whatever the units of the .inp.
"""

from __future__ import annotations

import ctypes
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

# EPANET toolkit codes
EN_EMITTER, EN_TANKLEVEL, EN_DEMAND, EN_PRESSURE = 3, 8, 9, 11
EN_FLOW, EN_STATUS = 8, 11
EN_DURATION, EN_HYDSTEP, EN_PATTERNSTEP, EN_PATTERNSTART, EN_REPORTSTEP, EN_STARTTIME = 0, 1, 3, 4, 5, 10
EN_DEMANDMULT = 4
NODE_CODES = {"pressure": EN_PRESSURE, "demand": EN_DEMAND}  # a tank's pressure is its level
LINK_CODES = {"flow": EN_FLOW, "status": EN_STATUS}

Reads = Mapping[str, tuple[str, Sequence[str]]]
"""What to read at each step: output name → (quantity, element names), e.g. ``{"p": ("pressure", nodes)}``."""


class Steps:
    """An open EPANET project of ``wn``; ``run`` steps it over a time axis."""

    def __init__(self, en: Any, pattern_cycle_s: int) -> None:
        self.en = en
        self.pattern_cycle_s = pattern_cycle_s

    def node(self, name: str) -> int:
        return int(self.en.ENgetnodeindex(name))

    def link(self, name: str) -> int:
        return int(self.en.ENgetlinkindex(name))

    def set_demand_multiplier(self, value: float) -> None:
        self.en.errcode = self.en.ENlib.EN_setoption(self.en._project, ctypes.c_int(EN_DEMANDMULT),
                                                     ctypes.c_double(value))
        self.en._error()

    def run(self, t_ms: npt.NDArray[np.int64], origin_ms: int, reads: Reads,
            before: Callable[[int, int], None]) -> tuple[int, dict[str, npt.NDArray[np.float64]]]:
        """Readings at every ``t_ms`` (evenly spaced), ``before(row, t_ms)`` called ahead of each
        step's solve; returns the rows reached (fewer if EPANET stopped) and the readings."""
        en = self.en
        step_s = int(t_ms[1] - t_ms[0]) // 1000 if len(t_ms) > 1 else 300
        en.ENsettimeparam(EN_DURATION, int(t_ms[-1] - t_ms[0]) // 1000)
        for code in (EN_HYDSTEP, EN_REPORTSTEP):
            en.ENsettimeparam(code, step_s)
        en.ENsettimeparam(EN_PATTERNSTART, int((t_ms[0] - origin_ms) // 1000) % self.pattern_cycle_s)
        en.ENsettimeparam(EN_STARTTIME, int((t_ms[0] // 1000) % 86_400))
        plan = []
        for out, (what, names) in reads.items():
            if what in NODE_CODES:
                plan.append((out, en.ENgetnodevalue, NODE_CODES[what], [self.node(n) for n in names]))
            else:
                plan.append((out, en.ENgetlinkvalue, LINK_CODES[what], [self.link(n) for n in names]))
        n = len(t_ms)
        got = {out: np.full((n, len(idx)), np.nan) for out, _, _, idx in plan}
        en.ENopenH()
        en.ENinitH(10)  # flows re-initialised: a run does not depend on the project's previous one
        row = 0
        try:
            while row < n:
                t = int(t_ms[row])
                before(row, t)
                elapsed = en.ENrunH()
                if elapsed == (t - int(t_ms[0])) // 1000:
                    for out, get, code, idx in plan:
                        got[out][row] = [get(i, code) for i in idx]
                    row += 1
                if en.ENnextH() <= 0:
                    break
        finally:
            en.ENcloseH()
        return row, {out: v[:row] for out, v in got.items()}


@contextmanager
def open_steps(wn: Any) -> Iterator[Steps]:
    """``wn`` written in CMH and opened in EPANET's toolkit, closed afterwards."""
    import wntr
    from wntr.epanet import toolkit

    lengths = [len(wn.get_pattern(p).multipliers) for p in wn.pattern_name_list] or [1]
    cycle = wn.options.time.pattern_timestep * math.lcm(*lengths)
    with tempfile.TemporaryDirectory(prefix="cl-epanet-") as tmp:
        path = os.path.join(tmp, "net.inp")
        wntr.network.write_inpfile(wn, path, units="CMH")
        en = toolkit.ENepanet()
        en.ENopen(path, os.path.join(tmp, "net.rpt"), "")
        try:
            yield Steps(en, int(cycle))
        finally:
            en.ENclose()
