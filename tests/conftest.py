"""Shared fixtures: a small test city on the demo network, configs on temporary stores, clients."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from citylifeline.city import CityBundle, load_city
from citylifeline.city.bundle import packaged_network
from citylifeline.engine import Engine
from citylifeline.settings import Config

SENSORS_CSV = """id,kind,asset,district,name,interval_s,unit,low_IV,low_III,low_II,low_I,high_IV,high_III,high_II,high_I,hysteresis,min_duration_s,rate_per_min,rate_level
P-1,pressure,water/junction/123,east,Pressure 123,60,MPa,0.25,0.20,0.15,0.10,,,,,0.005,120,0.05,III
P-2,pressure,water/junction/125,east,Pressure 125,60,MPa,0.25,0.20,0.15,0.10,,,,,0.005,120,0.05,III
P-3,pressure,water/junction/121,west,Pressure 121,60,MPa,0.25,0.20,0.15,0.10,,,,,0.005,120,0.05,III
P-FAR,pressure,water/junction/10,west,Pressure far,60,MPa,0.25,0.20,0.15,0.10,,,,,0.005,120,,
F-1,flow,water/pipe/20,,Main flow,60,m3/h,,,,,500,600,700,800,10,120,,
L-1,level,water/tank/1,,Tank 1,60,m,1,0.8,0.6,0.4,,,,,0.05,300,,
"""

ADMIN_TOKEN = "test-admin-token-0123456789"
"""The admin credential of every test server (``serve`` refuses to start without one)."""
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
"""Headers that authenticate as that admin."""
os.environ["CITYLIFELINE_ADMIN_TOKEN"] = ADMIN_TOKEN  # servers started as subprocesses inherit it
os.environ["CITYLIFELINE_RATE_LIMIT_PER_S"] = "0"  # ... with no rate limit: the tests measure other things
HTTP = httpx.Client(headers=AUTH, timeout=30)
"""A client of the test servers, authenticated as the admin."""

CI = os.environ.get("CI") == "true"
"""Under CI nothing that needs a real service may be skipped."""


TEST_CITY = Path(__file__).parent / "data" / "net3_city"


SHARED_MISSING = ("needs the shared benchmark data (../shared/bench beside the checkout, or set "
                  "CITYLIFELINE_SHARED_BENCH): a fresh clone has none")


def shared_bench() -> Path:
    """The shared benchmark data (NAB, L-Town's sensors and leaks), read in place:
    ``CITYLIFELINE_SHARED_BENCH``, else ``../shared/bench`` beside the project, else the workplace's
    ``/work/shared/bench`` (a clone made in a temporary folder has no ``..``/shared).  Set
    ``CITYLIFELINE_SHARED_BENCH`` empty to have none, as a person's fresh clone has none.  Without it
    the calling test (or, at import, its whole module) is skipped with the reason; under CI that is an
    error: CI has the data and its tests must run."""
    given = os.environ.get("CITYLIFELINE_SHARED_BENCH")
    places = [given] if given is not None else [Path(__file__).resolve().parents[2] / "shared" / "bench",
                                                "/work/shared/bench"]
    for d in places:
        if d and Path(d).is_dir():
            return Path(d)
    if CI:
        raise FileNotFoundError(f"this test {SHARED_MISSING}; under CI=true it must be there")
    pytest.skip(SHARED_MISSING, allow_module_level=True)


def ltown_inp() -> Path:
    """L-Town's EPANET model as the ``epyt`` package ships it (found without importing epyt)."""
    return packaged_network("L-TOWN.inp")


@pytest.fixture(scope="session")
def city_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test city (Net3 in Hefei, with places) and the small sensor set above."""
    d = tmp_path_factory.mktemp("city")
    shutil.copytree(TEST_CITY, d, dirs_exist_ok=True)
    (d / "sensors.csv").write_text(SENSORS_CSV, encoding="utf-8")
    return d


@pytest.fixture(scope="session")
def bundle(city_dir: Path) -> CityBundle:
    """The test city, loaded once per session (read-only)."""
    return load_city(city_dir)


PG_URL = os.environ.get("CITYLIFELINE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
"""The PostgreSQL server the tests use; each test gets a schema of its own in it."""


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A store URL on a fresh schema of the test PostgreSQL database (dropped afterwards).  Skips
    when no server answers, except under CI."""
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        if CI:
            raise
        pytest.skip(f"no PostgreSQL at {PG_URL} ({e}); set CITYLIFELINE_TEST_POSTGRES")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin.execute(f"CREATE SCHEMA {schema}")  # type: ignore[arg-type]
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}&application_name={schema}"
    finally:  # connections a failed test left open go too
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                      (schema,))
        admin.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[arg-type]
        admin.close()


@pytest.fixture(params=["embedded", "postgres"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each kind: a DuckDB file, and a PostgreSQL schema (the same tests run on both)."""
    if request.param == "embedded":
        return str(tmp_path / "store.duckdb")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def config(store_location: str, city_dir: Path) -> Config:
    """Settings on a fresh store (of each kind)."""
    return Config.load(environ={}, db=store_location, city=str(city_dir), correlate_radius_m=1000.0,
                       memory_limit="512MB", admin_token=ADMIN_TOKEN, rate_limit_per_s=0.0)


@pytest.fixture
def engine(config: Config, bundle: CityBundle) -> Iterator[Engine]:
    """A started engine on a fresh store."""
    e = Engine(config, bundle)
    e.start()
    yield e
    e.stop()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(config: Config) -> Iterator[tuple[Engine, str]]:
    """A real server (uvicorn on a free port, in a thread) over ``config``: (its engine, its base URL)."""
    from citylifeline.server import make_server

    port = free_port()
    engine, server = make_server(config.with_(port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        yield engine, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def city_copy(tmp_path: Path) -> tuple[Path, str]:
    """A copy of the test city with one sensor, to add to its city.yaml: (its directory, the yaml's text)."""
    d = tmp_path / "city"
    shutil.copytree(TEST_CITY, d)
    (d / "sensors.csv").write_text("id,kind,asset\nP-1,pressure,water/junction/123\n", encoding="utf-8")
    return d, (d / "city.yaml").read_text(encoding="utf-8")


def refused(d: Path, yaml: str, extra: str, match: str) -> None:
    """The city of ``d`` with ``extra`` added to its city.yaml is refused with a message matching ``match``."""
    from citylifeline.errors import ConfigError

    (d / "city.yaml").write_text(yaml + extra, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_city(d)
