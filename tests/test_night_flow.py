"""Minimum night flow per metered area: the areas the meters cut a network into, and the night
excess that shows a leak already running when the history begins."""

from __future__ import annotations

import numpy as np
import pytest

from citylifeline.analysis.water.model import WaterModel
from citylifeline.analysis.water.night import metered_areas, night_flow
from citylifeline.twin.leakyear import Leak, add_noise, simulate_year
from tests.test_leaks import DAY, T0, days, net3_sensors


def test_net3_is_one_balanced_area_fed_by_its_pumps_with_its_tanks_inside() -> None:
    areas = metered_areas(WaterModel("Net3", net3_sensors(), T0))
    assert len(areas) == 1  # junction 60, fed by the River through an unmetered pipe, has no balance
    area = areas[0]
    flows = net3_sensors().flow_links
    assert {(flows[c], sign) for c, sign in area.meters} == {("10", 1), ("335", 1), ("330", 1)}
    assert len(area.tanks) == 3 and all(section > 0 for _, section in area.tanks)  # their mains do not cut
    assert len(area.amr) == len(net3_sensors().amr_demand_nodes) and len(area.pressure) > 10


def test_a_leak_running_before_the_history_shows_as_night_excess() -> None:
    sensors = net3_sensors()
    model = WaterModel("Net3", sensors, T0)
    leak = Leak("171", T0 - DAY, T0 + 10 * DAY, 0.02, True, T0 - DAY)  # it began the day before
    quiet = add_noise(simulate_year("Net3", days(0, 3), sensors, seed=5, pattern_origin_ms=T0), seed=6)
    leaky = add_noise(simulate_year("Net3", days(0, 3, leak), sensors, seed=5, pattern_origin_ms=T0), seed=6)
    a, b = night_flow(model, quiet), night_flow(model, leaky)
    assert len(a.night_ms) == 3 and a.night_ms[0] == T0
    lost = float(np.median(leaky.leak_m3h[:, 0]))
    assert abs(float(np.median(a.excess_m3h[:, 0]))) < 0.02 * float(np.median(a.inflow_m3h[:, 0]))
    assert float(np.median(b.excess_m3h[:, 0] - a.excess_m3h[:, 0])) == pytest.approx(lost, rel=0.25)
    ref = np.median(b.pressure_m, axis=0)  # the excess at the median night pressure, leakage ∝ pressure (N1 = 1)
    assert np.all(b.pressure_m > 0) and np.allclose(b.corrected(), b.excess_m3h * ref / b.pressure_m)


def test_battledims_2018_night_excess_follows_its_leaks_in_every_area() -> None:
    """On the competition's 2018 SCADA year: each area's night excess against the outflow of the
    leaks in it (the year's truth), night by night."""
    import glob

    import pyarrow as pa
    import pyarrow.csv as pacsv

    from citylifeline.city.bundle import packaged_network
    from citylifeline.twin.leakyear import YearRun, load_sensors
    from tests.conftest import shared_bench

    d = shared_bench() / "battledim" / "2018"
    sensors = load_sensors(shared_bench() / "ltown" / "sensors.json")

    def read(name: str, cols: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        t = pacsv.read_csv(d / f"{name}.csv.gz")
        return (t["Timestamp"].cast(pa.timestamp("ms")).cast(pa.int64()).to_numpy(),
                np.column_stack([t[c].to_numpy() for c in cols]))

    t_ms, pressure = read("Pressures_m", sensors.pressure_nodes)
    flow, level = read("Flows_m3_h", sensors.flow_links)[1], read("Levels_m", sensors.level_tanks)[1]
    demand = read("Demands_L_h", sensors.amr_demand_nodes)[1] / 1000
    run = YearRun(t_ms, pressure, flow, level, demand, np.zeros((len(t_ms), 0)))
    model = WaterModel(packaged_network("L-TOWN.inp"), sensors, int(t_ms[0]))
    nf = night_flow(model, run)
    assert len(nf.areas) == 2 and len(nf.night_ms) == 365
    truth = np.zeros((len(t_ms), len(nf.areas)))
    for f in glob.glob(str(d / "Leakages" / "Leak_*.csv.gz")):
        if f.endswith("_info.csv.gz"):
            continue
        link = model.wn.get_link(f.rsplit("Leak_", 1)[1].removesuffix(".csv.gz"))
        k = next(i for i, a in enumerate(nf.areas) if link.start_node_name in a.junctions)
        truth[:, k] += pacsv.read_csv(f).column(1).to_numpy()[: len(t_ms)]
    hour = (t_ms % DAY) / 3_600_000
    night = (hour >= 2) & (hour < 4)
    per_night = np.array([truth[night & (t_ms // DAY == n // DAY)].mean(axis=0) for n in nf.night_ms])
    error = nf.excess_m3h - per_night
    assert np.all(np.median(np.abs(error), axis=0) < 1.0)  # m³/h, against leaks of up to tens
    assert all(np.corrcoef(nf.excess_m3h[:, k], per_night[:, k])[0, 1] > 0.98 for k in range(2))


def test_only_meters_inside_loops_say_where_water_is_drawn() -> None:
    """A meter on an inlet main, a pump or a tank's main reads one side's whole draw (a bridge of
    the network); one on a pipe inside a loop reads how the water splits, which depends on where.
    Net3's pump 335 has a bypass (pipe 330) that its controls open now and then: both say how much."""
    from citylifeline.analysis.water.model import city_model
    from citylifeline.city import load_city
    from citylifeline.twin.leakyear import Sensors

    demo = load_city("demo")
    model = city_model(demo.city, Sensors(("W-N0606",), ("WP-TRUNK", "WP-TANK", "WP-N0806E", "WP-N0808N"),
                                          ("W-T1",), ()))
    assert model.says_where.tolist() == [True, False, False, True, True]
    net3 = WaterModel("Net3", net3_sensors(), T0)
    assert model.says_where[:1].all() and not net3.says_where[len(net3.sensors.pressure_nodes):].any()
