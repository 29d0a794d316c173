"""Sensor kinds, their canonical SI units, and conversion of incoming units at the edge.

Inside CityLifeline every value is in its kind's canonical unit (Pa, m³/s, m, °C, volume
fraction, …).  A reading may arrive in any unit listed for its kind; ``to_canonical`` turns it
into the canonical unit with one multiply-add per batch.  ``display`` is the unit people read
on a screen (MPa for water pressure, %LEL for methane).

As in WNTR's own unit tables, the factors are written out here rather than pulled from a
units library: the list is short, it is the contract with device vendors, and a lookup is a
dictionary access.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ConfigError

G_MS2 = 9.80665
E_CONCRETE_C50_PA = 3.45e10  # elastic modulus of C50 concrete (GB 50010), the city's bridge girders'
WATER_HEAD_PA_PER_M = 9806.65  # 1 m of water column, at 4 °C and standard gravity
METHANE_LEL_FRACTION = 0.05  # lower explosive limit of methane: 5 % by volume


@dataclass(frozen=True)
class Kind:
    """A kind of measurement: its canonical unit, accepted units and physical range."""

    name: str
    canonical: str
    display: str
    # unit -> (factor, offset): canonical = value * factor + offset
    units: dict[str, tuple[float, float]] = field(default_factory=dict)
    physical_min: float = float("-inf")
    physical_max: float = float("inf")
    description: str = ""

    def factor(self, unit: str) -> tuple[float, float]:
        """(factor, offset) from ``unit`` to the canonical unit; KeyError if not accepted."""
        return self.units[unit]


def _kind(name: str, canonical: str, display: str, units: dict[str, tuple[float, float]],
          lo: float, hi: float, description: str) -> Kind:
    table = {canonical: (1.0, 0.0), **units}
    return Kind(name, canonical, display, table, lo, hi, description)


KINDS: dict[str, Kind] = {k.name: k for k in [
    _kind("pressure", "Pa", "MPa",
          {"kPa": (1e3, 0.0), "MPa": (1e6, 0.0), "bar": (1e5, 0.0), "mbar": (1e2, 0.0),
           "psi": (6894.757293168, 0.0), "mH2O": (WATER_HEAD_PA_PER_M, 0.0), "m": (WATER_HEAD_PA_PER_M, 0.0),
           "hPa": (1e2, 0.0)},
          -1.1e5, 1e8, "gauge pressure of water, gas or heating fluid"),
    _kind("flow", "m3/s", "m3/h",
          {"m3/h": (1 / 3600, 0.0), "L/s": (1e-3, 0.0), "L/min": (1e-3 / 60, 0.0), "L/h": (1e-3 / 3600, 0.0),
           "GPM": (6.30901964e-5, 0.0)},
          -1e3, 1e3, "volumetric flow in a pipe or channel (negative = reverse)"),
    _kind("level", "m", "m", {"cm": (1e-2, 0.0), "mm": (1e-3, 0.0)},
          -1e3, 1e4, "water level or depth: tank, manhole, river, underpass"),
    _kind("temperature", "degC", "degC", {"K": (1.0, -273.15), "degF": (5 / 9, -32 * 5 / 9)},
          -80.0, 400.0, "temperature of fluid, air, soil or structure"),
    _kind("methane", "1", "%LEL",
          {"%vol": (1e-2, 0.0), "ppm": (1e-6, 0.0), "%LEL": (METHANE_LEL_FRACTION / 100, 0.0)},
          0.0, 1.0, "methane volume fraction in an underground space"),
    _kind("ethane", "1", "ppm", {"ppm": (1e-6, 0.0), "ppb": (1e-9, 0.0), "%vol": (1e-2, 0.0)},
          0.0, 1.0, "ethane volume fraction in an underground space (laser detector): pipeline gas carries "
          "ethane, sewer biogas none"),
    _kind("gas_fraction", "1", "%vol", {"%vol": (1e-2, 0.0), "ppm": (1e-6, 0.0)},
          0.0, 1.0, "volume fraction of O2, CO or H2S in a tunnel or well"),
    _kind("humidity", "1", "%", {"%": (1e-2, 0.0)}, 0.0, 1.0, "relative humidity"),
    _kind("strain", "1", "ue", {"ue": (1e-6, 0.0)}, -0.05, 0.05, "structural strain"),
    _kind("displacement", "m", "mm", {"mm": (1e-3, 0.0), "cm": (1e-2, 0.0)},
          -10.0, 10.0, "deflection, settlement or crack width"),
    _kind("acceleration", "m/s2", "m/s2", {"g": (G_MS2, 0.0), "mg": (G_MS2 * 1e-3, 0.0),
                                           "gal": (1e-2, 0.0)},
          -200.0, 200.0, "structural vibration"),
    _kind("velocity", "m/s", "m/s", {"km/h": (1 / 3.6, 0.0)}, -100.0, 100.0, "flow or wind speed"),
    _kind("rainfall", "m/s", "mm/h", {"mm/h": (1e-3 / 3600, 0.0), "mm/min": (1e-3 / 60, 0.0)},
          0.0, 1e-3, "rainfall intensity"),
    _kind("ratio", "1", "%", {"%": (1e-2, 0.0)}, 0.0, 1.0,
          "a fraction such as valve opening or battery charge"),
    _kind("frequency", "Hz", "Hz", {"mHz": (1e-3, 0.0), "rpm": (1 / 60, 0.0)}, 0.0, 1e4,
          "a natural frequency identified from vibration, or a rotation rate"),
    _kind("signal", "dBm", "dBm", {}, -200.0, 50.0,
          "radio signal strength received by a device (RSRP for NB-IoT/LTE-M)"),
]}


def get_kind(name: str) -> Kind:
    """The ``Kind`` called ``name``; ConfigError listing the known kinds if there is none."""
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(
            f"unknown sensor kind {name!r}; use one of: {', '.join(sorted(KINDS))}"
        ) from None


def convert(value: float, kind: str, unit: str) -> float:
    """``value`` in ``unit`` converted to ``kind``'s canonical unit (for single config values)."""
    k = get_kind(kind)
    try:
        factor, offset = k.units[unit]
    except KeyError:
        raise ConfigError(
            f"unit {unit!r} is not a {kind} unit; use one of: {', '.join(k.units)}"
        ) from None
    return value * factor + offset


def to_display(value: float, kind: str) -> float:
    """A canonical value in the kind's display unit (for messages)."""
    k = get_kind(kind)
    factor, offset = k.units[k.display]
    return (value - offset) / factor


def format_value(value: float, kind: str) -> str:
    """'0.31 MPa'-style text of a canonical value in its display unit, 3 significant digits."""
    k = get_kind(kind)
    return f"{to_display(value, kind):.3g} {k.display}"
