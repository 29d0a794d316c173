"""Units at the edge and the settings table."""

from __future__ import annotations

import pytest

from citylifeline import levels
from citylifeline.errors import ConfigError, ValidationError
from citylifeline.settings import SETTINGS, Config
from citylifeline.units import KINDS, convert, format_value, to_display


@pytest.mark.parametrize(("value", "kind", "unit", "canonical"), [
    (0.31, "pressure", "MPa", 310_000.0),
    (31.6, "pressure", "mH2O", 31.6 * 9806.65),
    (3.1, "pressure", "bar", 310_000.0),
    (360.0, "flow", "m3/h", 0.1),
    (25.0, "methane", "%LEL", 0.0125),
    (0.0, "temperature", "K", -273.15),
    (212.0, "temperature", "degF", 100.0),
    (150.0, "strain", "ue", 150e-6),
    (36.0, "rainfall", "mm/h", 1e-5),
])
def test_conversion_to_canonical_units(value: float, kind: str, unit: str, canonical: float) -> None:
    assert convert(value, kind, unit) == pytest.approx(canonical)


def test_every_kind_is_complete() -> None:
    for kind in KINDS.values():
        assert kind.units[kind.canonical] == (1.0, 0.0)
        assert kind.display in kind.units
        assert kind.physical_min < kind.physical_max
        assert to_display(convert(1.5, kind.name, kind.display), kind.name) == pytest.approx(1.5)


def test_wrong_unit_and_kind_are_refused_with_choices() -> None:
    with pytest.raises(ConfigError, match=r"not a pressure unit.*MPa"):
        convert(1.0, "pressure", "m3/h")
    with pytest.raises(ConfigError, match=r"unknown sensor kind.*pressure"):
        convert(1.0, "pressur", "Pa")
    assert format_value(310_000.0, "pressure") == "0.31 MPa"


def test_levels_by_numeral_and_colour() -> None:
    assert [levels.from_roman(x) for x in ("I", "II", "III", "IV", "red", "Blue")] == [4, 3, 2, 1, 4, 1]
    assert levels.label(3) == "level II (orange)"
    with pytest.raises(ValidationError, match="use I, II, III or IV"):
        levels.from_roman("V")


def test_settings_come_from_defaults_environment_then_flags() -> None:
    assert Config.load(environ={}).port == 8000
    assert Config.load(environ={"CITYLIFELINE_PORT": "9001"}).port == 9001
    assert Config.load(environ={"CITYLIFELINE_PORT": "9001"}, port=9002).port == 9002
    assert Config.load(environ={}, port=None).port == 8000  # an unset flag does not override
    with pytest.raises(ConfigError, match="port='x' is not a valid int"):
        Config.load(environ={"CITYLIFELINE_PORT": "x"})
    with pytest.raises(ConfigError, match="4 numbers"):
        Config.load(environ={}, escalate_after_s="300,600").escalate_after()
    assert Config.load(environ={}).escalate_after() == {4: 300.0, 3: 900.0, 2: 1800.0, 1: 3600.0}
    assert all(s.help.endswith(".") for s in SETTINGS)
