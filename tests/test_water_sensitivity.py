"""Leak signatures from the linearised network agree with EPANET solved once per junction (the
small-leak limit of the same hydraulics), on the demo city's network with its pump and tank, and on
L-Town with its three pressure-reducing valves (whose zones a wrong valve model would get wrong)."""

from __future__ import annotations

import numpy as np
import pytest

from citylifeline.analysis.water.model import WaterModel
from citylifeline.city.bundle import packaged_network
from citylifeline.twin.citygen.io import DATA
from citylifeline.twin.leakyear import Sensors

T0 = 1_780_000_000_000 // 86_400_000 * 86_400_000 - 8 * 3_600_000
DEMO = Sensors(("W-N0000", "W-N0400", "W-N0804", "W-N1600", "W-N0606", "W-N1011", "W-N1209", "W-N0814"),
               ("WP-TRUNK", "WP-TANK", "WP-N0806E", "WP-N0808N"), ("W-T1",), ())


def both(model: WaterModel) -> tuple[np.ndarray, np.ndarray]:
    model.linear = False
    snapshot = model.signatures().junction
    model.linear = True
    return snapshot, model.signatures().junction


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


@pytest.mark.parametrize("balance", [False, True])
def test_on_the_demo_city_the_two_agree_junction_by_junction(balance: bool) -> None:
    snapshot, linear = both(WaterModel(DATA / "water.inp", DEMO, T0, balance=balance))
    size = np.linalg.norm(snapshot, axis=1)
    assert (size > 0).mean() > 0.95
    # how far apart, against a typical signature's size: the balance's spread is itself taken by a
    # 5 % rise of every demand in the snapshot (not quite small), so it agrees a little less
    apart = np.linalg.norm(linear - snapshot, axis=1) / np.median(size)
    assert np.percentile(apart, 90) < (0.05 if not balance else 0.25) and apart.max() < (0.1 if not balance else 0.5)
    big = size > np.median(size)  # where a signature is large its direction is the same
    assert np.percentile(cosine(snapshot[big], linear[big]), 10) > 0.98


def test_on_l_town_with_its_pressure_reducing_valves_the_two_agree() -> None:
    import wntr

    wn = wntr.network.WaterNetworkModel(str(packaged_network("L-TOWN.inp")))
    junctions = wn.junction_name_list
    sensors = Sensors(tuple(junctions[::40]), ("PUMP_1", "p227", "p235"), ("T1",), ())
    snapshot, linear = both(WaterModel(packaged_network("L-TOWN.inp"), sensors, T0, balance=False))
    moved = np.linalg.norm(snapshot, axis=1) > 1e-9
    c = cosine(snapshot[moved], linear[moved])
    assert np.percentile(c, 10) > 0.97 and np.median(c) > 0.99
