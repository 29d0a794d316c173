"""The drainage forecaster: the SWMM now-run and forecasts, the rain ahead, the waterlogging points."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import norm

from citylifeline.analysis.drainage import rain as rain_ahead
from citylifeline.analysis.drainage.analyst import DrainageAnalyst, grade
from citylifeline.analysis.drainage.model import SwmmModel
from citylifeline.analysis.drainage.rain import LIFETIME_S, SPREAD, RainForecast, RainOutlook, nowcast, parse_forecast
from citylifeline.batch import NEVER_MS, ReadingBatch
from citylifeline.city import CityBundle, load_city
from citylifeline.errors import ConfigError, ValidationError
from citylifeline.settings import Config
from citylifeline.twin.runner import simulate
from citylifeline.twin.scenario import scenario_from_dict

DAY = datetime(2026, 7, 14)
STORM_AT = 15 * 12  # 15:00, in 5-minute steps


def storm(peak: float = 95.0) -> np.ndarray:
    """A day's rain (1 gauge × 288 steps, mm/h): a 3 h storm from 15:00, peaking 45 min in (as ``Weather``)."""
    rain = np.zeros((1, 288))
    for i in range(36):
        rain[0, STORM_AT + i] = peak * max(0.0, 1 - abs(i * 5 + 2.5 - 60) / 120) if i * 5 >= 60 else \
            peak * (i * 5 + 2.5) / 60
    return rain


@pytest.fixture(scope="module")
def demo() -> CityBundle:
    return load_city("demo")


@pytest.fixture(scope="module")
def model(demo: CityBundle) -> SwmmModel:
    return SwmmModel.of_file(demo.city.layers["drainage"].model, ["S-UP1", "S-N1209"])


def test_five_minute_runs_from_hotstarts_follow_one_continuous_run(model: SwmmModel) -> None:
    hot = model.warm(DAY)
    rain = storm()[:, : 20 * 12]
    _, whole = model.run(hot, DAY, rain, save=False)
    parts = []
    for k in range(rain.shape[1]):
        hot, run = model.step(hot, DAY + timedelta(minutes=5 * k), rain[:, k])
        parts.append(run.depth_m)
    chained = np.concatenate(parts)
    assert not np.isnan(chained).any() and chained.shape == whole.depth_m.shape
    assert whole.depth_m[:, 0].max() > 1.0  # the underpass floods
    err = np.abs(chained - whole.depth_m)
    assert err[:, 0].max() < 0.03  # the underpass within 3 cm throughout the storm
    assert np.percentile(err[:, 1], 99) < 0.05


def test_a_forecast_from_the_now_run_with_the_true_rain_floods_the_underpass_when_the_storm_does(
        model: SwmmModel) -> None:
    rain = storm()
    hot = model.warm(DAY)
    _, truth = model.run(hot, DAY, rain, save=False)
    for k in range(STORM_AT - 10):  # the now-run to 14:10
        hot, _ = model.step(hot, DAY + timedelta(minutes=5 * k), rain[:, k])
    ahead = model.forecast(hot, DAY + timedelta(minutes=5 * (STORM_AT - 10)), rain[:, STORM_AT - 10: STORM_AT + 14])
    first = int(np.argmax(ahead.depth_m[:, 0] >= 0.15))
    true_first = int(np.argmax(truth.depth_m[:, 0] >= 0.15)) - (STORM_AT - 10) * 5
    assert first > 50 and abs(first - true_first) <= 2  # minutes after 14:10
    assert ahead.flood_m3s.shape == (24, len(model.nodes)) and ahead.flood_m3s.max() > 0.02
    none = model.forecast(hot, DAY + timedelta(minutes=5 * (STORM_AT - 10)), np.zeros((1, 24)))
    assert none.depth_m[:, 0].max() < 0.01 and none.flood_m3s.max() < 1e-6


GAUGES = ["RG1", "RG2"]
IDS = {"DR-01": "RG1", "DR-02": "RG2"}


def test_a_forecast_per_gauge_is_put_on_five_minute_steps_and_members() -> None:
    doc = {"issued": "2026-07-14T14:06:00+08:00", "source": "省气象台 radar", "step_s": 60,
           "series": [{"gauge": "DR-01", "members": [[10.0] * 60 + [20.0] * 60, [0.0] * 120]}]}
    f = parse_forecast(doc, GAUGES, IDS)
    assert f.issued_ms == int(datetime.fromisoformat("2026-07-14T14:06:00+08:00").timestamp() * 1000)
    assert f.mm_h.shape == (2, 2, 24) and f.horizon_ms == 2 * 3600 * 1000
    assert np.allclose(f.mm_h[0, 0, :12], 10) and np.allclose(f.mm_h[0, 0, 12:], 20)
    assert np.array_equal(f.mm_h[:, 1], f.mm_h[:, 0])  # a gauge left out takes the others' mean
    hourly = parse_forecast({"issued": 0, "step_s": 3600, "series": [{"gauge": "RG2", "values": [5, 8]}]},
                            GAUGES, IDS)
    assert hourly.mm_h.shape == (1, 2, 24) and hourly.mm_h[0, 1, 11] == 5 and hourly.mm_h[0, 1, 12] == 8
    radar = parse_forecast({"issued": 0, "step_s": 360, "series": [{"gauge": "RG1", "values": [6, 12, 0, 0, 0]}]},
                           GAUGES, IDS)  # 6-minute steps: the second 5-minute step is a minute of 6, four of 12
    assert radar.mm_h.shape == (1, 2, 6) and radar.mm_h[0, 0, :3].tolist() == pytest.approx([6, 10.8, 4.8])


def test_a_gridded_nowcast_is_read_at_each_gauge() -> None:
    cells = np.zeros((1, 6, 2, 3))  # members × 30-minute steps × rows × columns
    cells[0, :, 1, 2] = 40.0
    doc = {"issued": 0, "step_s": 1800, "grid": {"x0": 0, "y0": 0, "dx": 100, "dy": 100, "crs": "city",
                                                 "members": cells.tolist()}}
    f = parse_forecast(doc, GAUGES, IDS, gauge_xy={"RG1": (250.0, 150.0), "RG2": (50.0, 50.0)})
    assert f.mm_h.shape == (1, 2, 36) and np.allclose(f.mm_h[0, 0], 40) and np.allclose(f.mm_h[0, 1], 0)


@pytest.mark.parametrize(("doc", "field"), [
    ({"issued": 0, "series": [{"gauge": "DR-01", "values": [5, -1]}]}, "series[0].values[1]"),
    ({"issued": 0, "series": [{"gauge": "DR-01", "values": [5, 900]}]}, "series[0].values[1]"),
    ({"issued": 0, "series": [{"gauge": "DR-09", "values": [5]}]}, "series[0].gauge"),
    ({"issued": 0, "step_s": 90, "series": [{"gauge": "DR-01", "values": [5] * 10}]}, "step_s"),
    ({"issued": "14:06", "series": [{"gauge": "DR-01", "values": [5]}]}, "issued"),
    ({"issued": 0}, "series"),
    ({"issued": 0, "series": [{"gauge": "DR-01", "values": [5] * 100}]}, "step_s"),  # 8 h 20 min ahead
])
def test_a_bad_forecast_is_refused_naming_the_field_and_value(doc: dict, field: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse_forecast(doc, GAUGES, IDS)
    assert e.value.field == field and field.split("[")[0] in str(e.value)


def test_the_nowcast_holds_the_last_quarter_hour_or_its_waning_trend_then_decays_with_its_spread_in_order() -> None:
    steady = nowcast(np.full((1, 6), 30.0), 24)
    assert steady.shape == (3, 1, 24)
    assert np.all(np.diff(steady[:, 0], axis=0) > 0)  # 10, 50, 90 %
    lead = (np.arange(24) + 0.5) * 300
    median = np.exp(-(SPREAD * np.sqrt(lead / LIFETIME_S)) ** 2 / 2)  # the spread's median, of a mean of one
    assert steady[1, 0, :6] == pytest.approx(30.0 * median[:6], rel=1e-6)  # no trend: persistence for half an hour
    assert steady[1, 0, -1] < 30.0 / 5  # two hours on: rain cells live 40 minutes
    rising = nowcast(np.array([[5, 10, 15, 20, 25, 30.0]]), 24)[1, 0]  # 5 mm/h more every 5 minutes
    assert rising[:6] == pytest.approx(25 * median[:6], rel=0.01)  # held: the last quarter hour's mean
    waning = nowcast(np.array([[30, 25, 20, 15, 10, 5.0]]), 24)[1, 0]
    assert waning[0] < 15 and waning[4] == 0.0  # it stops, as the trend says
    assert np.all(nowcast(np.zeros((1, 6)), 24) == 0)


def test_the_outlook_takes_the_latest_forecast_that_covers_the_horizon_scaled_to_the_gauges() -> None:
    early = RainForecast(0, "a", np.full((1, 1, 24), 5.0))
    late = RainForecast(600_000, "b", np.full((1, 1, 36), 9.0))
    o = RainOutlook()
    o.take([late, early])
    gauges = np.array([[0, 0, 0, 5, 5, 9.0]])  # the last three steps (newest last) as a, a and b forecast them
    z = norm.ppf(rain_ahead.UNVERIFIED_QUANTILE)

    def factor(observed: float, forecast: float) -> float:  # the log bias's update, at the quantile
        w = (observed + forecast) / (observed + forecast + rain_ahead.EVIDENCE_MM_H)
        shift = w * np.log((observed + 1) / (forecast + 1))
        return float(np.exp(shift + z * rain_ahead.RADAR_BIAS_SIGMA * np.sqrt(1 - w)))

    rain, source = o.scenarios(900_000, gauges, 24)
    assert source == "b" and rain.shape == (1, 1, 24)
    assert np.allclose(rain, 9.0 * factor(19, 19)) and factor(19, 19) < 1  # agreed: only what is still unknown
    rain, _ = o.scenarios(900_000, gauges / 2, 24)  # the forecasts gave twice the gauges' rain: scaled towards them
    assert np.allclose(rain, 9.0 * factor(9.5, 19)) and factor(9.5, 19) < factor(19, 19)
    unverified = o.gauge_factor(900_000, np.full((1, 6), np.nan))  # no gauge: nothing to adjust by ...
    assert unverified == pytest.approx(np.exp(z * rain_ahead.RADAR_BIAS_SIGMA)) and unverified < factor(19, 19)
    dry = RainOutlook()  # ... nor before the storm reaches the gauges: taken at the lower side of the radar's bias
    dry.take([RainForecast(0, "c", np.concatenate([np.zeros((1, 1, 6)), np.full((1, 1, 30), 40.0)], axis=2))])
    assert np.allclose(dry.scenarios(1_800_000, np.zeros((1, 6)), 24)[0], 40.0 * unverified)
    steady = RainOutlook()  # a long storm the forecast gets right: near its own rain
    steady.take([RainForecast(0, "d", np.full((1, 1, 36), 60.0))])
    assert 0.85 < steady.gauge_factor(1_800_000, np.full((1, 6), 60.0)) < 1.0
    assert o.scenarios(300_000, np.zeros((1, 6)), 24)[1] == "a"
    rain, source = o.scenarios(600_000 + 36 * 300_000 - 600_000, np.array([[2.0] * 6]), 24)
    assert source == "nowcast"  # b's last 10 minutes are not half the horizon


def test_places_are_graded_by_depth_over_their_warning_depth_times_importance() -> None:
    assert grade(1, 0.15, 0.15) == 1  # a road at its depth: IV
    assert grade(4, 0.15, 0.15) == 2  # an underpass at its depth: III
    assert grade(4, 0.30, 0.15) == 3 and grade(4, 0.45, 0.15) == 4
    assert grade(5, 0.15, 0.15) == 2 and grade(5, 0.40, 0.15) == 4


def _storm_day(demo: CityBundle, peak: float, hours: int = 5) -> tuple[ReadingBatch, list]:
    doc = {"duration": f"{hours}h", "start": "2026-07-14T12:00:00+08:00", "seed": 5,
           "weather": {"temperature_c": {"mean": 29, "swing": 7},
                       "rain": [{"start": "1h", "duration": "3h", "peak_mm_h": peak}]}}
    run = simulate(scenario_from_dict(doc), demo)
    r = run.readings
    idx = np.array([demo.sensors.index[s] for s in r.sensor_id], dtype=np.int32)
    o = np.lexsort((idx, r.t_ms))
    return ReadingBatch.of(idx[o], r.t_ms[o], r.value[o]), run.truth


def test_with_a_true_rain_forecast_the_underpass_is_warned_an_hour_ahead_with_gauges_alone_as_it_floods(
        demo: CityBundle) -> None:
    batch, truth = _storm_day(demo, 80.0)
    floods = next(t.start_ms for t in truth if t.place == "drainage/storage/S-UP1")
    start = int(batch.t_ms.min())
    up = demo.sensors.index["DL-UP1"]

    def first_warning(a: DrainageAnalyst) -> int:
        events = [e for e in a.update(batch) if e.sensor == up and e.active and "Nanyi Rd" in e.message]
        return min(e.t_ms for e in events)

    alone = first_warning(DrainageAnalyst(demo.city, demo.sensors, CONFIG))
    forecaster = DrainageAnalyst(demo.city, demo.sensors, CONFIG)
    rain = scenario_from_dict({"duration": "5h", "start": "2026-07-14T12:00:00+08:00", "weather": {
        "rain": [{"start": "1h", "duration": "3h", "peak_mm_h": 80.0}]}}).weather.rain_mm_h
    # a service's forecast every half hour, each for the next three hours, exact: the model's own lead time
    issued = [start + k * 1_800_000 for k in range(10)]
    forecaster.rain_forecasts([RainForecast(t, "exact", rain((t - start) / 1000 + np.arange(36) * 300 + 150)
                                            [None, None, :]).record(k, t, "test") for k, t in enumerate(issued)])
    told = first_warning(forecaster)
    assert floods - told >= 60 * 60_000  # an hour ahead (the goal's median)
    assert told < alone <= floods + 10 * 60_000  # the gauges alone: as it floods, not an hour after


CONFIG = Config.load(environ={})


def test_drainage_limits_are_evidence_while_it_rains_and_for_three_hours_after_only(demo: CityBundle) -> None:
    batch, _ = _storm_day(demo, 30.0, hours=12)
    a = DrainageAnalyst(demo.city, demo.sensors, CONFIG)
    rain_gauge, level = demo.sensors.index["DR-01"], demo.sensors.index["DL-01"]
    first_rain = int(batch.t_ms[(batch.sensor == rain_gauge) & (batch.value * 3.6e6 >= 0.5)].min())
    cut = int(np.searchsorted(batch.t_ms, first_rain + 3_600_000))
    assert a.judged_from_ms()[level] == NEVER_MS  # dry weather: the limits open incidents
    assert a.update(batch.slice(0, cut)) == []  # a 30 mm/h storm floods nothing
    assert a.judged_from_ms()[level] == first_rain and a.judged_from_ms()[rain_gauge] == first_rain
    assert a.judged_until_ms()[level] > int(batch.t_ms[cut])
    a.update(batch.slice(cut, len(batch)))  # the rain ends at 16:00; the sewers drain by 19:00; the day ends at 24:00
    last_rain = int(batch.t_ms[(batch.sensor == rain_gauge) & (batch.value * 3.6e6 >= 0.5)].max())
    assert a.judged_from_ms()[level] == first_rain and a.judged_until_ms()[level] == last_rain + 3 * 3_600_000
    status = a.status()
    assert {p["key"] for p in status["places"]} >= {"drainage/waterlogging_point/UP1", "drainage/outfall/O-N0206"}


def test_a_waterlogging_point_on_a_node_the_model_lacks_is_refused(tmp_path: Path) -> None:
    src = Path(load_city("demo").path).parent
    for f in src.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    doc = yaml.safe_load((src / "city.yaml").read_text(encoding="utf-8"))
    doc["waterlogging"] = [{"id": "X", "node": "S-NOPE", "kind": "underpass", "name": "x"}]
    (tmp_path / "city.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="S-NOPE"):
        load_city(tmp_path)
    doc["waterlogging"] = [{"id": "X", "node": "S-UP1", "kind": "tunnel", "name": "x"}]
    (tmp_path / "city.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="kind 'tunnel' unknown"):
        load_city(tmp_path)



def test_a_city_size_network_forecasts_its_members_in_worker_processes_as_one_process_would(
        model: SwmmModel) -> None:
    from citylifeline.analysis.drainage.model import PARALLEL_NODES
    from citylifeline.bench.drainage import tiled_city

    city = SwmmModel(tiled_city(model.text, 3), ["S-UP1_00", "S-UP1_22"])  # nine districts
    assert len(city.nodes) == 9 * len(model.nodes) > PARALLEL_NODES
    hot = city.warm(DAY + timedelta(hours=14))
    start = DAY + timedelta(hours=14)
    members = [storm(peak)[:, STORM_AT - 12: STORM_AT + 12] for peak in (60.0, 95.0)]
    apart = city.forecasts(hot, start, members)
    alone = [city.forecast(hot, start, m) for m in members]
    for a, b in zip(apart, alone, strict=True):
        assert np.array_equal(a.depth_m, b.depth_m) and np.array_equal(a.flood_m3s, b.flood_m3s)
    assert apart[1].depth_m[:, 0].max() > apart[0].depth_m[:, 0].max() > 0.15  # more rain, more water


def test_a_level_gauge_above_the_model_raises_its_places_water_now_and_ahead_until_it_is_found_frozen(
        demo: CityBundle) -> None:
    from citylifeline.warn.model import Event

    batch, _ = _storm_day(demo, 45.0)
    up = demo.sensors.index["DL-UP1"]
    wetter = ReadingBatch.of(batch.sensor, batch.t_ms, np.where(batch.sensor == up, batch.value + 0.3, batch.value))
    plain, biased = (DrainageAnalyst(demo.city, demo.sensors, CONFIG) for _ in range(2))
    cut = int(np.searchsorted(batch.t_ms, int(batch.t_ms.min()) + 2 * 3_600_000))  # 14:00, the storm's rise
    plain.update(batch.slice(0, cut))
    biased.update(wetter.slice(0, cut))
    gauge = next(g for g in biased.status()["gauges"] if g["sensor"] == "DL-UP1")
    assert gauge["error_m"] == pytest.approx(0.3, abs=0.05)  # the gauge reads 0.3 m over the model
    k = next(k for k, w in enumerate(biased.places) if w.key == "drainage/waterlogging_point/UP1")
    assert biased.now_m[k] == pytest.approx(plain.now_m[k] + 0.3, abs=0.05)
    assert biased.warned[k] and biased.status()["places"][k]["now"] >= 0.15  # the water there, as the gauge says
    biased.sensor_faults([Event(up, "DL-UP1", int(batch.t_ms[cut]), "stuck", 0, True, 0.3, 0.0, "frozen")])
    biased.update(wetter.slice(cut, len(wetter)))
    assert next(g for g in biased.status()["gauges"] if g["sensor"] == "DL-UP1")["error_m"] == 0.0


def test_a_rain_gauge_found_frozen_is_no_longer_taken_as_the_rain(demo: CityBundle) -> None:
    from citylifeline.warn.model import Event

    batch, _ = _storm_day(demo, 45.0)
    rg = demo.sensors.index["DR-01"]
    stuck = ReadingBatch.of(batch.sensor, batch.t_ms, np.where(batch.sensor == rg, 60 / 3_600_000, batch.value))
    trusted, set_aside = (DrainageAnalyst(demo.city, demo.sensors, CONFIG) for _ in range(2))
    set_aside.sensor_faults([Event(rg, "DR-01", int(batch.t_ms.min()), "stuck", 0, True, 60.0, 0.0, "frozen")])
    trusted.update(stuck)
    set_aside.update(stuck)
    assert np.nanmax(trusted.rain) == pytest.approx(60.0)  # the frozen 60 mm/h taken as rain ...
    assert trusted.warned.any()  # ... floods the city in the model
    assert np.isnan(set_aside.rain).all() and not set_aside.warned.any()  # set aside: no rain from it
    assert set_aside.judged_from_ms()[rg] == NEVER_MS  # and no wet spell that would mute the fixed limits
