"""The city model: EPANET and GeoJSON import, spatial index, network distance, the sensors file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import shapely

from citylifeline.city import City, CityBundle, Georef, layer_to_geojson, load_city, read_epanet, read_geojson
from citylifeline.city.sensors import load_sensors_csv
from citylifeline.errors import CityModelError, ConfigError
from tests.conftest import ltown_inp


def test_net3_imports_with_every_element_and_real_lengths() -> None:
    layer = read_epanet("Net3", georef=Georef(225.0, 520000.0, 3520000.0))
    kinds = {k: sum(a.kind == k for a in layer.assets.values()) for k in ("junction", "tank", "reservoir", "pipe",
                                                                          "pump")}
    assert kinds == {"junction": 92, "tank": 3, "reservoir": 2, "pipe": 117, "pump": 2}
    pipe = layer.assets["water/pipe/20"]
    assert pipe.props["length_m"] == pytest.approx(layer.model.get_link("20").length)
    assert layer.graph.number_of_nodes() == 97
    j = layer.assets["water/junction/123"]
    assert j.xy == (520000.0 + 225.0 * layer.model.get_node("123").coordinates[0],
                    3520000.0 + 225.0 * layer.model.get_node("123").coordinates[1])
    assert j.props["elevation_m"] == pytest.approx(layer.model.get_node("123").elevation)


def test_l_town_imports_in_metres() -> None:
    layer = read_epanet(ltown_inp())  # as the epyt package ships it
    assert sum(a.kind == "junction" for a in layer.assets.values()) == 782
    assert sum(a.kind == "pipe" for a in layer.assets.values()) == 905
    xmin, ymin, xmax, ymax = layer.bounds()
    assert 2000 < xmax - xmin < 3000 and 1000 < ymax - ymin < 2000  # a town of about 2.7 × 1.5 km


def test_bad_network_sources_are_named() -> None:
    with pytest.raises(CityModelError, match=r"not found.*Net3"):
        read_epanet("Net33")


def test_spatial_index_and_network_distance(bundle: CityBundle) -> None:
    city = bundle.city
    j123 = city.asset("water/junction/123")
    near = city.nearby(*j123.xy, 400.0, layers=["water"])
    assert near[0][0].key == "water/junction/123" and near[0][1] == 0.0
    assert all(d <= 400.0 for _, d in near) and len({a.key for a, _ in near}) == len(near)
    j121 = city.asset("water/junction/121")
    along = city.distance_m(j123, j121, cutoff_m=10_000)
    straight = j123.geometry.distance(j121.geometry)
    assert along >= straight - 1e-6 and along == pytest.approx(457.2, abs=0.5)
    assert city.distance_m(j123, city.asset("water/junction/10"), cutoff_m=1000) == math.inf  # beyond the cutoff
    hospital = city.asset("places/hospital/H-1")
    assert city.distance_m(j123, hospital, cutoff_m=10) == pytest.approx(j123.geometry.distance(hospital.geometry))


def test_geojson_round_trip_in_wgs84(bundle: CityBundle, tmp_path: Path) -> None:
    places = bundle.city.layers["places"]
    doc = layer_to_geojson(places, bundle.city)
    residential = [f for f in doc["features"] if f["properties"]["kind"] == "residential"]
    assert len(residential) == 8 and all(f["properties"]["population"] > 0 for f in residential)
    lon, lat = doc["features"][0]["geometry"]["coordinates"]
    assert 117.0 < lon < 117.5 and 31.5 < lat < 32.0
    (tmp_path / "p.geojson").write_text(json.dumps(doc), encoding="utf-8")
    again = read_geojson(tmp_path / "p.geojson", "places", bundle.city)
    for key, a in places.assets.items():
        b = again.assets[key]
        assert b.kind == a.kind and b.props == a.props
        assert shapely.hausdorff_distance(a.geometry, b.geometry) < 0.05  # metres, after WGS84 and back


def test_geojson_links_connect_named_nodes(tmp_path: Path) -> None:
    city = City("t", "EPSG:4548")
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [117.2, 31.8]},
         "properties": {"id": "MH-1", "kind": "manhole"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [117.201, 31.8]},
         "properties": {"id": "MH-2", "kind": "manhole"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[117.2, 31.8], [117.201, 31.8]]},
         "properties": {"id": "C-1", "kind": "conduit", "from": "MH-1", "to": "MH-2"}}]}
    (tmp_path / "d.geojson").write_text(json.dumps(doc), encoding="utf-8")
    layer = read_geojson(tmp_path / "d.geojson", "drainage", city)
    assert layer.graph.has_edge("drainage/manhole/MH-1", "drainage/manhole/MH-2")
    assert layer.assets["drainage/conduit/C-1"].props["length_m"] == pytest.approx(94.7, abs=1.0)
    doc["features"][2]["properties"]["to"] = "MH-9"
    (tmp_path / "e.geojson").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(CityModelError, match="MH-9"):
        read_geojson(tmp_path / "e.geojson", "drainage", city)


@pytest.mark.parametrize(("row", "words"), [
    ("P-9,pressure,water/junction/123,MPa,0.2,0.25", "must fall from level IV to level I"),
    ("P-9,pressur,water/junction/123,MPa,,", "kind 'pressur' is unknown"),
    ("P-9,pressure,water/junction/999,MPa,,", "asset 'water/junction/999' is not in the city model"),
    ("P-9,pressure,water/junction/123,furlong,0.2,", "not a pressure unit"),
    (",pressure,water/junction/123,MPa,,", "the id is empty"),
])
def test_sensor_file_errors_name_file_line_and_fix(bundle: CityBundle, tmp_path: Path, row: str, words: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text("id,kind,asset,unit,low_IV,low_III\n" + row + "\n", encoding="utf-8")
    assets = {a.key: a.layer for a in bundle.city.assets()}
    with pytest.raises(ConfigError, match=words) as err:
        load_sensors_csv(path, {}, assets, {})
    assert f"{path}:2" in str(err.value) or "unit" in words


def test_thresholds_are_converted_to_the_canonical_unit(bundle: CityBundle) -> None:
    reg = bundle.sensors
    i = reg.index["P-1"]
    assert reg.low[i].tolist() == [250e3, 200e3, 150e3, 100e3]  # written in MPa, held in Pa
    assert reg.hysteresis[i] == pytest.approx(5e3)
    assert reg.rate_per_s[i] == pytest.approx(0.05e6 / 60)
    f = reg.index["F-1"]
    assert reg.high[f, 3] == pytest.approx(800 / 3600)  # m3/h → m3/s
    assert reg.x[i] == bundle.city.asset("water/junction/123").xy[0]  # position defaults to the asset's


def test_the_demo_city_loads_whole() -> None:
    from collections import Counter

    demo = load_city("demo")
    layers = demo.city.layers
    assert set(layers) == {"water", "drainage", "gas", "heating", "bridge", "tunnel", "places", "base"}
    assert Counter(s.layer for s in demo.sensors.specs) == {"water": 25, "drainage": 19, "gas": 23, "heating": 12,
                                                           "bridge": 15, "tunnel": 36}
    kinds = {a.kind for a in layers["places"].assets.values()}
    assert kinds == {"hospital", "school", "metro_station", "residential", "other"}
    points = [a for a in layers["drainage"].assets.values() if a.kind == "waterlogging_point"]
    assert len(points) == 7 and all(a.xy == demo.city.asset(f"drainage/{a.props['node_kind']}/{a.props['node']}").xy
                                    and a.key not in layers["drainage"].graph for a in points)  # above its node
    # the lifelines lie under the same streets: a gas junction 2.8 m from its sewer manhole and cable well
    gas = demo.city.asset("gas/junction/G-N1209")
    for key in ("drainage/junction/S-N1209", "tunnel/cable_well/C-N1209"):
        assert demo.city.distance_m(gas, demo.city.asset(key), cutoff_m=100.0) == pytest.approx(2.83, abs=0.05)
    assert demo.sensors.layer[demo.sensors.index["GM-01"]] == "gas"  # a methane detector in a sewer manhole


def test_arrow_id_lookup_matches_the_dictionary_and_its_remembered_answers_cannot_be_spoiled(
        bundle: CityBundle) -> None:
    import pyarrow as pa

    reg = bundle.sensors
    ids = pa.array(["P-2", None, "NOPE", "P-1", "P-2"])
    first = reg.lookup_arrow(ids)
    assert first.tolist() == [reg.index["P-2"], -1, -1, reg.index["P-1"], reg.index["P-2"]]
    first[:] = 99  # the caller's copy, not the remembered answer
    again = reg.lookup_arrow(pa.array(["P-2", None, "NOPE", "P-1", "P-2"]))  # equal, not the same object
    assert again.tolist() == [reg.index["P-2"], -1, -1, reg.index["P-1"], reg.index["P-2"]]
    assert reg.lookup_arrow(pa.array(["P-1"])).tolist() == [reg.index["P-1"]]


def test_l_town_ships_as_a_city_with_the_competitions_sensors(tmp_path: Path) -> None:
    b = load_city("ltown")
    water = b.city.layers["water"]
    assert sum(a.kind == "junction" for a in water.assets.values()) == 782
    kinds = [s.kind for s in b.sensors.specs]
    assert (kinds.count("pressure"), kinds.count("flow"), kinds.count("level")) == (33, 3 + 82, 1)
    assert all(b.city.asset(s.asset) is not None for s in b.sensors.specs)
    (tmp_path / "city.yaml").write_text("name: x\ncrs: EPSG:32636\nlayers:\n  water: {epanet: 'epyt:NOPE.inp'}\n",
                                        encoding="utf-8")
    with pytest.raises(ConfigError, match=r"epyt ships no network 'NOPE\.inp'"):
        load_city(tmp_path)
