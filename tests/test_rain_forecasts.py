"""Rain forecasts pushed over the API: checked, kept on both stores, given to the drainage analyst, and again
after a restart."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from citylifeline.api import create_app
from citylifeline.city import CityBundle, load_city
from citylifeline.engine import Engine
from citylifeline.settings import Config
from tests.conftest import AUTH


@pytest.fixture(scope="module")
def demo() -> CityBundle:
    return load_city("demo")


def drainage(engine: Engine) -> Any:
    return next(a for a in engine.analysts() if a.name == "drainage")


FORECAST = {"issued": "2026-07-14T14:06:00+08:00", "source": "合肥市气象台 radar nowcast", "step_s": 360,
            "series": [{"gauge": "DR-01", "members": [[5.0, 20, 40, 60, 40, 20, 10, 5, 0, 0],
                                                      [2.0, 10, 30, 45, 30, 10, 5, 0, 0, 0]]}]}


def test_a_forecast_is_kept_listed_and_given_to_the_drainage_analyst_before_a_restarts_replay(
        config: Config, demo: CityBundle) -> None:
    config = config.with_(city="demo", analysts="drainage")
    engine = Engine(config, demo)
    engine.start()
    try:
        with TestClient(create_app(engine, manage_engine=False), headers=AUTH) as c:
            r = c.post("/api/v1/rain-forecasts", json=FORECAST)
            assert r.status_code == 201, r.text
            first = r.json()
            # on 5-minute steps, 20–25 min is four minutes at 60 and one at 40
            assert first["members"] == 2 and first["horizon_min"] == 60 and first["max_mm_h"] == 56.0
            assert first["issued_ms"] == 1784009160000 and first["received_by"] == "admin"
            later = c.post("/api/v1/rain-forecasts", json=FORECAST | {"issued": 1784009520000}).json()
            assert [f["id"] for f in c.get("/api/v1/rain-forecasts").json()] == [later["id"], first["id"]]
            outlook = drainage(engine).outlook
            assert [f.issued_ms for f in outlook.forecasts] == [1784009160000, 1784009520000]
            assert outlook.forecasts[0].mm_h.shape == (2, 1, 12)  # 6-minute steps held on 5-minute ones
            r = c.post("/api/v1/rain-forecasts", json=FORECAST | {"step_s": 90})
            assert r.status_code == 400 and r.json()["field"] == "step_s" and "90" in r.json()["detail"]
            bad = {**FORECAST, "series": [{"gauge": "DR-01", "values": [5, "heavy"]}]}
            r = c.post("/api/v1/rain-forecasts", json=bad)
            assert r.status_code == 400 and r.json()["field"] == "series[0].members"
            assert len(c.get("/api/v1/rain-forecasts").json()) == 2  # nothing refused was taken ...
            letters = c.get("/api/v1/dead-letters").json()  # ... and each refused body is a dead letter
            assert [x["field"] for x in letters[:2]] == ["series[0].members", "step_s"]
            assert "rain forecast" in letters[0]["reason"] and "heavy" in letters[0]["payload"]
    finally:
        engine.stop()
    again = Engine(config, demo)
    try:
        assert [f.issued_ms for f in drainage(again).outlook.forecasts] == [1784009160000, 1784009520000]
    finally:
        again.stop()


def test_a_city_without_a_drainage_model_refuses_rain_forecasts_saying_why(engine: Engine) -> None:
    with TestClient(create_app(engine, manage_engine=False), headers=AUTH) as c:
        r = c.post("/api/v1/rain-forecasts", json=FORECAST)
        assert r.status_code == 400 and "no SWMM drainage model" in r.json()["detail"]
