"""The coupling of the city's lifelines (issue 29): crossings, neighbours, tunnels, bridges, declared links."""

from __future__ import annotations

import pytest
from shapely.geometry import LineString, Point

from citylifeline.cascade.coupling import couple
from citylifeline.city.model import City, Layer
from citylifeline.errors import CityModelError


def _line(layer: Layer, kind: str, name: str, a: tuple[float, float], b: tuple[float, float]) -> None:
    layer.add_node("junction", f"{name}-a", Point(a))
    layer.add_node("junction", f"{name}-b", Point(b))
    layer.add_link(kind, name, f"{layer.name}/junction/{name}-a", f"{layer.name}/junction/{name}-b", LineString([a, b]))


def _city() -> City:
    city = City("t", "EPSG:32650")
    water, gas, heating, tunnel, bridge = (Layer(n) for n in ("water", "gas", "heating", "tunnel", "bridge"))
    _line(water, "pipe", "W1", (0, -100), (0, 100))  # north-south main
    _line(gas, "pipe", "G1", (-100, 0), (100, 0))  # east-west: crosses W1 at the origin
    _line(gas, "pipe", "G2", (300, -50), (300, 50))  # on the bridge
    _line(heating, "pipe", "H1", (-100, 60), (-40, 60))  # 40 m from W1, 60 m from G1: coupled to nothing
    tunnel.add_node("cable_well", "CW1", Point(50, 3))  # 3 m from G1
    bridge.add_feature("bridge", "B1", LineString([(300, -60), (300, 60)]))
    for layer in (water, gas, heating, tunnel, bridge):
        city.add_layer(layer)
    return city


def test_assets_of_different_lifelines_are_coupled_by_where_they_lie_and_by_declared_links() -> None:
    c = couple(_city(), links=[("heating/pipe/H1", "water/pipe/W1")])
    g1 = dict((k, kind) for k, kind, _ in c.of("gas/pipe/G1"))
    assert g1["water/pipe/W1"] == "crossing"
    assert g1["tunnel/cable_well/CW1"] == "adjacent"
    assert "gas/pipe/G2" not in g1 and "gas/junction/G1-a" not in g1  # its own lifeline is its network, not coupling
    assert "heating/pipe/H1" not in g1  # 60 m away
    assert dict((k, kind) for k, kind, _ in c.of("bridge/bridge/B1"))["gas/pipe/G2"] == "on_bridge"
    h1 = c.of("heating/pipe/H1")
    assert [(k, kind) for k, kind, _ in h1] == [("water/pipe/W1", "depends")]  # declared, 40 m apart
    assert h1[0][2] == 40.0


def test_a_declared_link_to_an_asset_the_city_lacks_is_refused_naming_it() -> None:
    with pytest.raises(CityModelError, match="water/pipe/NOPE"):
        couple(_city(), links=[("heating/pipe/H1", "water/pipe/NOPE")])
    assert couple(_city()).of("water/pipe/NOPE") == []
