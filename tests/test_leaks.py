"""Model-based leak detection: the model follows the network, a burst on Net3 is found within two
readings and placed in its valve segment, and quiet days raise nothing."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import wntr

from citylifeline.analysis.isolation import isolation_plan, strategic_layer
from citylifeline.analysis.water.leaks import CHANGE_MARGIN, LeakDetector
from citylifeline.analysis.water.model import WaterModel
from citylifeline.analysis.water.watch import LeakWatch, reports
from citylifeline.twin.leakyear import Closure, Leak, LeakYear, Sensors, YearRun, add_noise, simulate_year

T0 = 1_514_764_800_000  # 2018-01-01 00:00 UTC, the patterns' origin
DAY = 86_400_000
HOUR = 3_600_000


def net3_sensors() -> Sensors:
    wn = wntr.network.WaterNetworkModel("Net3")
    junctions = wn.junction_name_list
    metered = [n for n in junctions if wn.get_node(n).demand_timeseries_list[0].base_value > 0]
    # every fourth junction's pressure; both pumps, the mains out of the tanks and the tank-controlled pipe 330
    return Sensors(tuple(junctions[::4]), ("10", "335", "20", "40", "50", "330"), ("1", "2", "3"), tuple(metered[::3]))


def days(start_d: float, n: float, *leaks: Leak) -> LeakYear:
    return LeakYear(int(T0 + start_d * DAY), int(T0 + (start_d + n) * DAY), 300, leaks)


@pytest.fixture(scope="module")
def net3() -> tuple[LeakDetector, Sensors]:
    sensors = net3_sensors()
    history = [add_noise(simulate_year("Net3", days(20 * k, 9), sensors, seed=10 + k, pattern_origin_ms=T0),
                         seed=20 + k) for k in range(2)]
    detector = LeakDetector(WaterModel("Net3", sensors, T0))
    detector.fit(history)
    return detector, sensors


def test_the_model_run_on_the_measured_operation_reproduces_the_network() -> None:
    sensors = net3_sensors()
    run = simulate_year("Net3", days(0, 3), sensors, seed=4, pattern_origin_ms=T0)
    expected = WaterModel("Net3", sensors, T0).expected(run)
    measured = np.hstack([run.pressure_m, run.flow_m3h])
    ok = np.isfinite(expected).all(axis=1)
    assert ok.mean() > 0.9  # only the readings around a tank filling up or emptying are left out
    assert np.abs(measured[ok] - expected[ok])[:, : len(sensors.pressure_nodes)].max() < 0.05  # m


def test_quiet_days_raise_no_leak(net3: tuple[LeakDetector, Sensors]) -> None:
    detector, sensors = net3
    run = add_noise(simulate_year("Net3", days(100, 2), sensors, seed=5, pattern_origin_ms=T0), seed=6)
    assert detector.detect(run) == []


def test_a_burst_on_net3_is_found_within_two_readings_and_placed_in_its_valve_segment(
        net3: tuple[LeakDetector, Sensors]) -> None:
    detector, sensors = net3
    start = T0 + 101 * DAY + 3 * HOUR
    burst = Leak("171", start, start + 2 * DAY, 0.05, True, start)  # ~40 L/s
    run = add_noise(simulate_year("Net3", days(100, 2, burst), sensors, seed=5, pattern_origin_ms=T0), seed=6)
    found = detector.detect(run)
    assert len(found) == 1
    f = found[0]
    assert 0 <= (f.alarm_ms - start) // 300_000 <= 1  # the alarm on the first or second reading of the burst
    assert f.t_ms - start <= 4 * HOUR  # placed and reported within hours
    wn = wntr.network.WaterNetworkModel("Net3")
    segment = isolation_plan(wn, strategic_layer(wn, seed=3), "171").segment_pipes
    assert f.where.pipe in segment
    lost = float(np.median(run.leak_m3h[run.t_ms >= start, 0]))
    assert 0.5 * lost < f.where.leak_m3h < 1.5 * lost
    assert 0 < f.where.confidence <= 1 and f.where.radius_m >= 0
    assert f.where.candidates[0][0] == f.where.pipe
    assert detector.excluded == set()  # the sensors that saw the burst are not taken for faulty


def test_a_drifting_transmitter_is_set_aside_as_faulty_and_a_burst_is_still_found(
        net3: tuple[LeakDetector, Sensors]) -> None:
    """A pressure transmitter drifting down 1 m a day, alone, while the metered areas draw no more
    water, is no leak: it is set aside (its channel left out from then on), and a burst the next
    day is found and placed as without it.  Where the water drawn cannot be told (no metered
    areas: the inflow is no balance), nothing is set aside."""
    from citylifeline.analysis.water.night import fed_areas

    detector, sensors = net3
    start = T0 + 103 * DAY + 3 * HOUR
    burst = Leak("171", start, start + DAY, 0.05, True, start)
    run = add_noise(simulate_year("Net3", days(100, 4, burst), sensors, seed=5, pattern_origin_ms=T0), seed=6)
    d = copy.deepcopy(detector)  # the module's detector is shared: setting a channel aside changes it
    d.model.areas = fed_areas(d.model)  # the water drawn told by the metered areas' inflow
    sound = [(f.kind, f.where.pipe) for f in copy.deepcopy(d).detect(run)]
    assert len(sound) == 1 and sound[0][0] == "burst"
    run.pressure_m[:, 3] -= np.clip((run.t_ms - (T0 + 102 * DAY)) / DAY, 0.0, None)
    watch = LeakWatch(d)
    found = watch.feed(run)
    assert d.excluded == {3} and [c for c, _, _ in watch.set_aside] == [3]
    aside_ms, change = watch.set_aside[0][1:]
    assert T0 + 102 * DAY < aside_ms < start and change < -5  # spreads, down
    assert [(f.kind, f.where.pipe) for f in found] == sound
    untold = copy.deepcopy(detector)
    untold.detect(run)
    assert untold.excluded == set()


def shut_197(sensors: Sensors) -> tuple[int, LeakYear, YearRun]:
    """Two days of Net3 with pipe 197 shut from noon of the first: (the moment, the days, the readings)."""
    start = T0 + 100 * DAY + 12 * HOUR
    year = days(100, 2)
    shut = LeakYear(year.start_ms, year.end_ms, 300, (), (Closure("197", start, year.end_ms),))
    return start, year, add_noise(simulate_year("Net3", shut, sensors, seed=5, pattern_origin_ms=T0), seed=6)


def test_a_pipe_shut_is_a_change_of_the_network_not_a_leak(net3: tuple[LeakDetector, Sensors]) -> None:
    """No water is lost when a valve is shut: the change is told apart from a leak (and not scored as one),
    and the leak of the same size there is still a leak."""
    detector, sensors = net3
    start, year, run = shut_197(sensors)
    found = detector.detect(run)
    assert [f.kind for f in found] == ["change"] and reports(found) == []
    wn = wntr.network.WaterNetworkModel("Net3")
    ends = {wn.get_link("197").start_node_name, wn.get_link("197").end_node_name}
    shut_by = wn.get_link(found[0].where.pipe)  # 197 or a pipe in series with it (shutting either does the same)
    assert ends & {shut_by.start_node_name, shut_by.end_node_name}
    leak = days(100, 2, Leak("197", start, year.end_ms, 0.03, True, start))
    run = add_noise(simulate_year("Net3", leak, sensors, seed=5, pattern_origin_ms=T0), seed=6)
    assert [f.kind for f in detector.detect(run)] == ["leak"]


def test_the_model_says_how_far_a_pipes_closure_moves_the_sensors(net3: tuple[LeakDetector, Sensors]) -> None:
    """A closure's signature is a direction; how far it moves the sensors is the flow the pipe
    carried, which the model knows at the moment.  The change a closure of 197 made is explained by
    the model's closure of 197; the same change twenty times as large is not (no closure of 197
    re-routes that much: a leak explains it better), and the closure of 199, which meets 197 and
    would move the sensors the other way, explains nothing."""
    detector, sensors = net3
    start, _, run = shut_197(sensors)
    z = detector.z(run)
    row = int(np.searchsorted(run.t_ms, start))
    u = z[row + 1: row + 13].mean(axis=0) - z[row - 12: row].mean(axis=0)  # the hour after, on the hour before
    change = detector.model.closure_change(run, row + 6, ["197", "199"])
    wn = wntr.network.WaterNetworkModel("Net3")
    assert {wn.get_link("199").start_node_name, wn.get_link("199").end_node_name} & {wn.get_link("197").end_node_name}
    fits = detector.shut_fits(u, change)
    assert fits[0] > detector.leak_fit(u) + CHANGE_MARGIN and fits[0] > 0.8, fits
    assert detector.shut_fits(20 * u, change)[0] < detector.leak_fit(20 * u)
    assert fits[1] <= 0.05, fits


def test_a_pipe_shut_by_a_works_order_is_expected_not_found(net3: tuple[LeakDetector, Sensors]) -> None:
    detector, sensors = net3
    start = T0 + 100 * DAY + 12 * HOUR
    year = days(100, 2)
    shut = LeakYear(year.start_ms, year.end_ms, 300, (), (Closure("197", start, start + DAY),))
    run = add_noise(simulate_year("Net3", shut, sensors, seed=5, pattern_origin_ms=T0), seed=6)
    detector.model.shut = (("197", start, start + DAY),)  # the order: shut for a day, then open again
    try:
        assert detector.detect(run) == []
        detector.model.shut = (("197", start, start + HOUR),)  # opened again later than the order said
        assert [f.kind for f in detector.detect(run)] == ["change"]
    finally:
        detector.model.shut = ()


def test_a_change_that_draws_more_water_through_the_meters_is_no_valve(net3: tuple[LeakDetector, Sensors]) -> None:
    """Where the demand comes from the metered areas' balance, the inflow is not a channel of the
    change: it is asked apart whether more water went in than the same hours a day before."""
    from citylifeline.analysis.water.night import fed_areas

    detector, sensors = net3
    start = T0 + 102 * DAY + 12 * HOUR
    year = days(100, 3)
    cases = {"leak": days(100, 3, Leak("197", start, year.end_ms, 0.05, True, start)),
             "shut": LeakYear(year.start_ms, year.end_ms, 300, (), (Closure("197", start, year.end_ms),)),
             "quiet": year}
    detector.model.areas = fed_areas(detector.model)  # as a city without household meters
    try:
        got = {}
        for name, y in cases.items():
            run = add_noise(simulate_year("Net3", y, sensors, seed=5, pattern_origin_ms=T0), seed=6)
            watch = LeakWatch(detector)
            watch.feed(run, np.zeros((len(run.t_ms), detector.model.channels)), detect=False)
            row = int(np.searchsorted(run.t_ms, start))
            got[name] = watch._no_more_water(row, row + 11)
    finally:
        detector.model.areas = ()
    assert got == {"leak": False, "shut": True, "quiet": True}


def test_a_watch_fed_in_pieces_reports_what_the_whole_run_does(net3: tuple[LeakDetector, Sensors]) -> None:
    """The live analyst feeds the detector what each batch completes: cut anywhere, and keeping only
    the readings its windows need, it reports the same leaks at the same moments."""
    import itertools


    detector, sensors = net3
    start = T0 + 101 * DAY + 3 * HOUR
    burst = Leak("171", start, start + 2 * DAY, 0.05, True, start)
    run = add_noise(simulate_year("Net3", days(100, 2, burst), sensors, seed=5, pattern_origin_ms=T0), seed=6)
    z = detector.z(run)
    whole = detector.detect(run, z)
    assert len(whole) == 1
    watch = LeakWatch(detector, keep=400)  # the hour window's 300 readings and a little more
    found = []
    for a, b in itertools.pairwise([0, 1, 13, 299, 300, 301, 333, len(z)]):
        piece = run.rows(a, b)
        found += watch.feed(piece, z[a:b])
    def key(f):  # type: ignore[no-untyped-def]  # the sums differ in their last bit, summed piece by piece
        return f.alarm_ms, f.t_ms, f.kind, f.where.pipe, [p for p, _ in f.where.candidates]

    assert [key(f) for f in found] == [key(f) for f in whole]
    for f, g in zip(found, whole, strict=True):
        assert f.evidence == pytest.approx(g.evidence) and f.where.leak_m3h == pytest.approx(g.where.leak_m3h)
        assert f.where.where_sigmas == pytest.approx(g.where.where_sigmas)
    assert watch.first == len(z) - 400 and len(watch.cum) == 401


def test_a_short_history_watches_for_bursts_first_and_slow_leaks_later() -> None:
    """A day and a half of history is enough to watch for bursts; the hour's and the day's windows
    stay off until more history gives their thresholds enough moments (the day's is an error when
    asked for in full)."""
    from citylifeline.errors import ConfigError

    sensors = net3_sensors()
    short = add_noise(simulate_year("Net3", days(30, 1.5), sensors, seed=12, pattern_origin_ms=T0), seed=13)
    detector = LeakDetector(WaterModel("Net3", sensors, T0))
    with pytest.raises(ConfigError, match="the day window needs at least 2304"):
        detector.fit([short])
    detector.fit([short], partial=True)
    assert detector.ready() == {"2 readings": True, "hour": False, "day": False}
    start = T0 + 101 * DAY + 3 * HOUR
    burst = Leak("171", start, start + 2 * DAY, 0.05, True, start)
    run = add_noise(simulate_year("Net3", days(100, 2, burst), sensors, seed=5, pattern_origin_ms=T0), seed=6)
    found = detector.detect(run)
    assert found and 0 <= (found[0].alarm_ms - start) // 300_000 <= 1


def test_bench_leaks_scores_a_generated_year_on_another_network(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from citylifeline.cli import main
    from citylifeline.twin.leakyear import load_leaks

    leaks = tmp_path / "net3_leaks.json"
    assert main(["bench", "leaks", "--inp", "Net3", "--generate", str(leaks), "--seed", "7",
                 "--period", "2019-03-01 00:00", "2019-03-21 00:00"]) == 0
    year = load_leaks(leaks)
    wn = wntr.network.WaterNetworkModel("Net3")
    assert len(year.leaks) == 14 and sum(lk.abrupt for lk in year.leaks) == 6
    assert all(lk.link in wn.pipe_name_list and year.start_ms <= lk.start_ms < lk.end_ms <= year.end_ms
               for lk in year.leaks)
    s = net3_sensors()
    sensors = tmp_path / "sensors.json"
    sensors.write_text(json.dumps({"pressure_nodes": s.pressure_nodes, "flow_links": s.flow_links,
                                   "level_tanks": s.level_tanks, "amr_demand_nodes": s.amr_demand_nodes}))
    capsys.readouterr()
    assert main(["bench", "leaks", "--inp", "Net3", "--sensors", str(sensors), "--leaks", str(leaks)]) == 0
    out = capsys.readouterr().out
    assert "euros (of the perfect score)" in out and "net3_leaks, leak by leak" in out
    assert out.count("| abrupt |") == 6 and out.count("| incipient |") == 8


def test_a_transmitter_dead_through_the_history_is_left_out_not_a_failed_calibration() -> None:
    """A pressure transmitter that sent nothing while the history was gathered must not stop a
    city's calibration: its channel is left out (its noise infinite, so it weighs nothing) and the
    burst is still found.  A history in which no step has the other channels is a clear error."""
    from citylifeline.errors import ConfigError

    sensors = net3_sensors()
    history = add_noise(simulate_year("Net3", days(0, 3), sensors, seed=7, pattern_origin_ms=T0), seed=8)
    history.pressure_m[:, 2] = np.nan
    detector = LeakDetector(WaterModel("Net3", sensors, T0))
    cal = detector.fit([history], partial=True)
    assert np.isinf(cal.sigma[2]) and np.isfinite(np.delete(cal.sigma, 2)).all()
    start = T0 + 101 * DAY + 3 * HOUR
    burst = Leak("171", start, start + 2 * DAY, 0.05, True, start)
    run = add_noise(simulate_year("Net3", days(100, 2, burst), sensors, seed=5, pattern_origin_ms=T0), seed=6)
    assert (detector.z(run)[:, 2] == 0).all()
    found = detector.detect(run)
    assert len(found) == 1 and 0 <= (found[0].alarm_ms - start) // 300_000 <= 1
    for k in range(3):  # a third of the steps each: kept, and every step now lacks one of them
        history.pressure_m[k::3, 5 + k] = np.nan
    with pytest.raises(ConfigError, match=r"only 0 of \d+ steps .*missing most: .*\(3\d%\)"):
        LeakDetector(WaterModel("Net3", sensors, T0)).fit([history], partial=True)
