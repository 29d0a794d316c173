"""Each lifeline's twin moves its sensors the way the physics says (the water twin's own tests
are in test_twin_water.py): the demo city, short scenarios, one lifeline at a time."""

from __future__ import annotations

import numpy as np
import pytest

from citylifeline.city import CityBundle, load_city
from citylifeline.twin.runner import TwinRun, simulate
from citylifeline.twin.scenario import scenario_from_dict

MIN_MS = 60_000


@pytest.fixture(scope="module")
def demo() -> CityBundle:
    return load_city("demo")


def run(bundle: CityBundle, lifeline: str, **doc: object) -> TwinRun:
    scenario = scenario_from_dict({"duration": "12h", "start": "2026-07-14T00:00:00+08:00", "seed": 4, **doc})
    return simulate(scenario, bundle, (lifeline,))


def series(r: TwinRun, sensor: str) -> tuple[np.ndarray, np.ndarray]:
    """(minutes since the scenario start, values) of one sensor, in time order."""
    m = r.readings.sensor_id == sensor
    t, v = r.readings.t_ms[m], r.readings.value[m]
    o = np.argsort(t, kind="stable")
    return (t[o] - r.scenario.start_ms) / MIN_MS, v[o]


def first_rise_min(r: TwinRun, sensor: str, by: float) -> float:
    """Minutes until ``sensor`` first reads ``by`` above its dry-weather median (inf: never)."""
    t, v = series(r, sensor)
    above = v > np.median(v[t < 200]) + by
    return float(t[np.argmax(above)]) if above.any() else float("inf")


# --- drainage (SWMM) -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def storm(demo: CityBundle) -> TwinRun:
    return run(demo, "drainage", weather={"rain": [{"start": "4h", "duration": "3h", "peak_mm_h": 95}]})


def test_rain_raises_sewer_levels_downstream_first(demo: CityBundle, storm: TwinRun) -> None:
    dry = run(demo, "drainage")
    assert dry.truth == [] and np.isfinite(storm.readings.value).all()
    # the north-bank catchment of 1st St: its outfall manhole, and the head of the tree at Beihuan Rd
    outfall, head = first_rise_min(storm, "DL-05", 0.10), first_rise_min(storm, "DL-12", 0.10)
    assert 240 < outfall < head < 420  # after the rain began at 240 min, the outfall before the head
    for sensor in ("DL-05", "DL-12", "DL-13", "DF-01"):
        assert series(storm, sensor)[1].max() > series(dry, sensor)[1].max() + 0.2
    _, gauge = series(storm, "DR-01")
    assert gauge.max() * 1000 * 3600 == pytest.approx(95, rel=0.03)  # the gauge reads the rain, in m/s


def test_a_cloudburst_floods_the_underpass_but_a_shower_does_not(demo: CityBundle, storm: TwinRun) -> None:
    shower = run(demo, "drainage", weather={"rain": [{"start": "4h", "duration": "3h", "peak_mm_h": 25}]})
    assert shower.truth == [] and series(shower, "DL-UP1")[1].max() < 0.15  # a puddle, not waterlogging
    t, sag = series(storm, "DL-UP1")
    assert sag.max() > 0.5  # half a metre of water on the road under the railway
    underpass = next(x for x in storm.truth if x.place == "drainage/storage/S-UP1")
    assert underpass.type == "waterlogging" and set(underpass.expected_sensors) == {"DL-UP1", "DL-10"}
    start_min = (underpass.start_ms - storm.scenario.start_ms) / MIN_MS
    assert sag[t < start_min].max() < 0.15 + 0.01 <= sag[(t >= start_min) & (t < start_min + 10)].max()
    catchments = [x for x in storm.truth if x.place.startswith("drainage/junction/")]
    assert 4 <= len(catchments) <= 8  # one record per flooding catchment, not one per manhole
    points = {x.place for x in storm.truth if "waterlogging_point" in x.place}  # the city's declared points
    assert points and points <= {f"drainage/waterlogging_point/{p}" for p in ("M1", "M3", "H1", "H2", "S8", "R1")}
    well = next(x for x in storm.truth if x.place == "tunnel/cable_well/C-N1502")  # 16 m from the sag
    assert well.type == "ingress" and well.parent == underpass.id and well.start_ms <= underpass.start_ms  # at 5 cm


# --- gas (pandapipes + soil migration) -----------------------------------------------------

def test_a_gas_leak_raises_methane_near_it_more_than_far_and_draws_on_the_gate(demo: CityBundle) -> None:
    leak = {"type": "gas_leak", "place": "gas/junction/G-N1209", "start": "2h", "magnitude": 6.0, "growth": "1h"}
    normal = run(demo, "gas", duration="10h")
    r = run(demo, "gas", duration="10h", incidents=[leak])
    lel = 0.0005  # 1 %LEL as a volume fraction
    rise = {s: series(r, s)[1][-60:].mean() - series(normal, s)[1][-60:].mean()
            for s in ("GM-01", "GM-02", "GM-03", "GM-07", "GM-13")}
    assert rise["GM-02"] > 20 * lel and rise["GM-01"] > 10 * lel  # cable well and manhole at the leak
    assert rise["GM-03"] < rise["GM-01"] / 3  # 150 m along the street: far less
    assert abs(rise["GM-07"]) < 1 * lel and abs(rise["GM-13"]) < 1 * lel  # across town: nothing
    t, gm2 = series(r, "GM-02")
    assert gm2[t < 120].max() < 2 * lel  # nothing before the leak
    gate = series(r, "GF-01")[1][-60:].mean() - series(normal, "GF-01")[1][-60:].mean()
    assert gate * 3600 == pytest.approx(6.0, rel=0.25)  # the city gate supplies the lost gas
    assert set(r.truth[0].expected_sensors) >= {"GM-01", "GM-02"}
    assert "GM-07" not in r.truth[0].expected_sensors


def test_sewer_biogas_is_low_steady_and_rises_with_warmth(demo: CityBundle) -> None:
    warm = run(demo, "gas", duration="6h", weather={"temperature_c": {"mean": 30, "swing": 4}})
    cold = run(demo, "gas", duration="6h", weather={"temperature_c": {"mean": 5, "swing": 4}})
    lel = 0.0005
    manhole_warm, manhole_cold = series(warm, "GM-07")[1], series(cold, "GM-07")[1]
    assert manhole_cold.mean() < 0.5 * manhole_warm.mean()  # methanogens slow down in the cold
    assert 0.5 * lel < manhole_warm.mean() < 8 * lel  # a few %LEL: far below a leak's tens
    hourly = manhole_warm.reshape(6, 60).mean(axis=1)
    assert hourly.max() < 2 * hourly.min()  # steady through the day: no leak's climb
    assert series(warm, "GM-08")[1].mean() < 0.5 * lel  # a cable well holds no biogas


# --- heating --------------------------------------------------------------------------------

def test_a_heating_leak_raises_make_up_flow_and_drops_pressure_beyond_it(demo: CityBundle) -> None:
    winter = {"duration": "8h", "start": "2026-01-12T00:00:00+08:00", "weather": {"temperature_c": {"mean": 2}}}
    normal = run(demo, "heating", **winter)
    leak = run(demo, "heating", **winter,
               incidents=[{"type": "heat_leak", "place": "heating/pipe/HL-12", "start": "3h", "magnitude": 6.0}])
    after = slice(-120, None)

    def change(sensor: str) -> float:
        return float(series(leak, sensor)[1][after].mean() - series(normal, sensor)[1][after].mean())

    assert change("HM-01") * 975 == pytest.approx(6.0, rel=0.1)  # make-up water replaces the lost 6 kg/s
    drops = {s: -change(s) for s in ("HPS-02", "HPS-03", "HPS-04")}
    assert drops["HPS-03"] > 5000 and drops["HPS-03"] > drops["HPS-02"]  # nearest the hole sags most
    assert {"HM-01", "HPS-03"} <= set(leak.truth[0].expected_sensors)
    summer = run(demo, "heating", duration="8h")
    assert series(normal, "HTS-01")[1].mean() > series(summer, "HTS-01")[1].mean() + 10  # outdoor reset


# --- bridges --------------------------------------------------------------------------------

def test_a_stiffness_loss_lowers_the_first_natural_frequency(demo: CityBundle) -> None:
    sound = run(demo, "bridge", duration="8h")
    damaged = run(demo, "bridge", duration="8h", incidents=[
        {"type": "bridge_damage", "place": "bridge/bridge/B-3", "start": "3h", "magnitude": 0.18, "growth": "10min"}])
    t, f = series(damaged, "BF-31")
    before, after = f[t < 170].mean(), f[t > 200].mean()
    assert after / before == pytest.approx(np.sqrt(1 - 0.18), rel=0.02)  # f1 ∝ √EI
    assert series(sound, "BF-31")[1][t > 200].mean() == pytest.approx(before, rel=0.01)
    assert series(damaged, "BF-11")[1].mean() == pytest.approx(series(sound, "BF-11")[1].mean(), rel=0.005)
    ts, strain = series(damaged, "BS-31")
    strain_ratio = np.percentile(strain[ts > 200], 99.9) / np.percentile(series(sound, "BS-31")[1][ts > 200], 99.9)
    assert strain_ratio > 1.1  # the same traffic bends a softer deck more
    assert "BF-31" in damaged.truth[0].expected_sensors


def test_an_overweight_lorry_makes_the_peak_strain_and_deflection(demo: CityBundle) -> None:
    r = run(demo, "bridge", duration="6h", incidents=[
        {"type": "bridge_overload", "place": "bridge/bridge/B-1", "start": "3h", "magnitude": 72}])
    t, strain = series(r, "BS-11")
    _, deflection = series(r, "BD-11")
    crossing = (t >= 180) & (t < 181)
    assert strain[crossing].max() == strain.max() and deflection[crossing].max() == deflection.max()
    assert strain[crossing].max() > 1.5 * np.percentile(strain[~crossing], 99.99)
    assert {"BS-11", "BD-11"} <= set(r.truth[0].expected_sensors)


# --- utility tunnel -------------------------------------------------------------------------

def test_tunnel_gas_leak_and_flooding_stay_in_their_compartment(demo: CityBundle) -> None:
    r = run(demo, "tunnel", duration="8h", incidents=[
        {"type": "tunnel_gas_leak", "place": "tunnel/compartment/TC-3", "start": "2h", "magnitude": 20.0},
        {"type": "tunnel_flooding", "place": "tunnel/compartment/TC-6", "start": "4h", "magnitude": 40.0}])
    t, gas3 = series(r, "TG-3")
    lel = 0.0005
    assert gas3[t < 110].max() < 3 * lel  # noise only before the leak
    assert gas3[-30:].mean() > 10 * lel  # 20 m³/h in 3,000 m³ aired once an hour: ~13 %LEL
    assert series(r, "TO-3")[1][-30:].mean() < series(r, "TO-1")[1][-30:].mean()  # methane displaces O2
    assert series(r, "TG-2")[1].max() < 3 * lel  # noise only: the next compartment is sealed off by its fire wall
    t, sump6 = series(r, "TW-6")
    assert sump6[t > 300].max() > 1.0 > sump6[t < 230].max()  # the pump cannot keep up: the pit fills
    assert series(r, "TW-4")[1].max() < 0.9
    truth = {x.type: set(x.expected_sensors) for x in r.truth}
    assert "TG-3" in truth["tunnel_gas_leak"] and "TW-6" in truth["tunnel_flooding"]


def test_a_model_stepped_for_all_sensors_refuses_intervals_it_cannot_sample(demo: CityBundle) -> None:
    from dataclasses import replace

    from citylifeline.errors import ConfigError
    from citylifeline.twin.base import TwinContext
    from citylifeline.twin.scenario import scenario_from_dict

    levels = [s for s in demo.sensors.specs if s.layer == "drainage" and s.kind == "level"][:3]
    scenario = scenario_from_dict({"duration": "1h"})
    ctx = TwinContext(demo, scenario, levels, [], np.random.default_rng(0))
    assert ctx.model_step_s() == 60
    odd = TwinContext(demo, scenario, [*levels[:2], replace(levels[2], interval_s=90.0)], [], np.random.default_rng(0))
    with pytest.raises(ConfigError, match=rf"{levels[2].id}: .*whole multiples of the shortest one \(60 s\)"):
        odd.model_step_s()
