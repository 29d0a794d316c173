"""The sensor registry: external ids ↔ dense indices, and every sensor's parameters as columns.

Readings carry a dense int32 sensor index; every per-sensor quantity (kind, position,
thresholds, sampling interval) is a NumPy column indexed by it, so detectors read their
parameters with one fancy-index per batch.  The index of a sensor never changes once the
store has seen it: ``reconcile`` orders a registry to match the indices already stored.

Thresholds are held in the canonical unit as two (n, 4) arrays, column ``j`` for severity
``j + 1`` (IV, III, II, I): ``high`` rises with severity, ``low`` falls; NaN means unused.
"""

from __future__ import annotations

import csv
import difflib
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..batch import F64, I32
from ..errors import ConfigError, UnknownSensor
from ..levels import ROMAN, SEVERITIES, from_roman
from ..units import KINDS, convert, get_kind
from .model import LIFELINES

KIND_NAMES = tuple(KINDS)
RECENT_LOOKUPS = 32  # arrays of ids whose lookup is remembered (one per gateway or bridge, say)
_LEVEL_COLS = [ROMAN[s] for s in SEVERITIES]  # IV, III, II, I
HIGH_COLUMNS = [f"high_{r}" for r in _LEVEL_COLS]
LOW_COLUMNS = [f"low_{r}" for r in _LEVEL_COLS]
COLUMNS = ["id", "kind", "asset", "lifeline", "district", "name", "x", "y", "interval_s", "unit", *HIGH_COLUMNS,
           *LOW_COLUMNS, "hysteresis", "min_duration_s", "rate_per_min", "rate_level", "physical_min", "physical_max"]
"""Columns of a sensors file; only id, kind and asset are required.  ``lifeline`` defaults to
the asset's layer; set it where a sensor watches one lifeline from another's asset (a methane
detector in a sewer manhole belongs to gas safety).  ``district`` defaults to the city's district
polygon the sensor stands in (``districts`` in city.yaml)."""


@dataclass(frozen=True)
class SensorSpec:
    """One sensor as defined in a sensors file, values already in the canonical unit."""

    id: str
    kind: str
    asset: str
    layer: str  # the lifeline the sensor serves (usually its asset's layer)
    name: str = ""
    x: float = math.nan
    y: float = math.nan
    interval_s: float = 60.0
    high: tuple[float, float, float, float] = (math.nan,) * 4
    low: tuple[float, float, float, float] = (math.nan,) * 4
    hysteresis: float = 0.0
    min_duration_s: float = 0.0
    rate_per_s: float = math.nan
    rate_level: int = 2
    physical_min: float = math.nan
    physical_max: float = math.nan
    district: str = ""  # the district it is in (a scope of people's access); '' where the city has none


class SensorRegistry:
    """All sensors of a city, by dense index.  Build with ``from_specs``; never mutate the
    columns of a registry in use: ``reconcile`` and ``extended`` return new registries."""

    def __init__(self, specs: list[SensorSpec], active: list[bool] | None = None) -> None:
        self.specs = specs
        self.ids: list[str] = [s.id for s in specs]
        self.index: dict[str, int] = {}
        for i, s in enumerate(specs):
            if s.id in self.index:
                raise ConfigError(f"sensor id {s.id!r} is defined twice")
            self.index[s.id] = i
        n = len(specs)
        self.active = np.asarray(active if active is not None else [True] * n, dtype=np.bool_)
        self.kind: list[str] = [s.kind for s in specs]
        self.kind_code = np.array([KIND_NAMES.index(k) if k in KINDS else -1 for k in self.kind],
                                  dtype=np.int8)
        self.layer: list[str] = [s.layer for s in specs]
        self.district: list[str] = [s.district for s in specs]
        self.asset: list[str] = [s.asset for s in specs]
        self.x: F64 = np.array([s.x for s in specs], dtype=np.float64)
        self.y: F64 = np.array([s.y for s in specs], dtype=np.float64)
        self.interval_s: F64 = np.array([s.interval_s for s in specs], dtype=np.float64)
        self.high: F64 = np.array([s.high for s in specs], dtype=np.float64).reshape(n, 4)
        self.low: F64 = np.array([s.low for s in specs], dtype=np.float64).reshape(n, 4)
        self.hysteresis: F64 = np.array([s.hysteresis for s in specs], dtype=np.float64)
        self.min_duration_ms = np.array([s.min_duration_s * 1000 for s in specs], dtype=np.int64)
        self.rate_per_s: F64 = np.array([s.rate_per_s for s in specs], dtype=np.float64)
        self.rate_level = np.array([s.rate_level for s in specs], dtype=np.int8)
        self.physical_min: F64 = np.array([s.physical_min for s in specs], dtype=np.float64)
        self.physical_max: F64 = np.array([s.physical_max for s in specs], dtype=np.float64)
        self._recent_lookups: list[tuple[Any, I32]] = []  # lookup_arrow's last answers, newest first

    def __len__(self) -> int:
        return len(self.ids)

    def idx(self, sensor_id: str) -> int:
        """Dense index of ``sensor_id``; UnknownSensor (with a suggestion) if absent."""
        i = self.index.get(sensor_id)
        if i is None or not self.active[i]:
            raise UnknownSensor(unknown_sensor_message(sensor_id, self.ids))
        return i

    def lookup(self, sensor_ids: Iterable[object]) -> I32:
        """Dense indices for many ids at once; -1 where an id is unknown or retired."""
        get = self.index.get
        out = np.fromiter((get(s, -1) if type(s) is str else -1 for s in sensor_ids), np.int32)
        known = out >= 0
        out[known & ~self.active[np.maximum(out, 0)]] = -1
        return out

    def lookup_arrow(self, sensor_ids: Any) -> I32:
        """``lookup`` for an Arrow string array (nulls are -1).  A gateway sends the same ids batch after
        batch, so the answers for the last few arrays are kept and an equal array is answered by one
        comparison in Arrow's C++ (a 100,000-sensor gateway in a millisecond, not fifty)."""
        import pyarrow as pa

        ids = sensor_ids.cast(pa.string())
        for i, (seen, idx) in enumerate(self._recent_lookups):
            if seen.equals(ids):
                self._recent_lookups.insert(0, self._recent_lookups.pop(i))
                return idx.copy()
        idx = self.lookup(ids.to_pylist())
        self._recent_lookups = [(ids, idx), *self._recent_lookups[:RECENT_LOOKUPS - 1]]
        return idx.copy()

    def reconcile(self, stored_ids: list[str]) -> SensorRegistry:
        """A registry whose first ``len(stored_ids)`` indices are those the store already uses.

        Sensors in the store but no longer defined stay as retired rows (inactive) so that the
        indices of stored readings keep their meaning; new sensors get the next indices."""
        if self.ids[: len(stored_ids)] == stored_ids and len(self.ids) >= len(stored_ids):
            return self
        defined = {s.id: s for s in self.specs}
        specs: list[SensorSpec] = []
        active: list[bool] = []
        for sid in stored_ids:
            spec = defined.pop(sid, None)
            specs.append(spec or SensorSpec(sid, "ratio", "", ""))
            active.append(spec is not None)
        for spec in self.specs:
            if spec.id in defined:
                specs.append(spec)
                active.append(True)
        return SensorRegistry(specs, active)

    def describe(self, i: int) -> dict[str, Any]:
        """One sensor as a JSON-ready dict (thresholds in the canonical unit)."""
        s = self.specs[i]
        k = get_kind(s.kind) if s.kind in KINDS else None

        def levels(arr: F64) -> dict[str, float]:
            return {ROMAN[j + 1]: float(arr[i, j]) for j in range(4) if not math.isnan(arr[i, j])}

        return {
            "id": s.id, "index": i, "name": s.name, "kind": s.kind, "layer": s.layer,
            "district": s.district, "asset": s.asset, "unit": k.canonical if k else "",
            "display_unit": k.display if k else "",
            "x": _finite_or_none(s.x), "y": _finite_or_none(s.y), "interval_s": s.interval_s,
            "high": levels(self.high), "low": levels(self.low), "active": bool(self.active[i]),
        }


def _finite_or_none(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


MAX_ID_CHARS = 100
"""Longer ids are shown cut and never fuzzy-searched: no real sensor id is that long, and a hostile one of
50 MB must not be copied into its message or searched against every id."""


def unknown_sensor_message(sensor_id: object, known: list[str]) -> str:
    """'… is not a registered sensor; did you mean …' with the fix."""
    hint = ""
    if isinstance(sensor_id, str) and known and len(known) <= 20000 and len(sensor_id) <= MAX_ID_CHARS:
        same_case = [k for k in known if k.lower() == sensor_id.lower()]  # no fuzzy search over nothing,
        close = same_case or difflib.get_close_matches(sensor_id, known, n=1, cutoff=0.75)  # nor of a megabyte
        if close:
            hint = f" (did you mean {close[0]!r}?)"
    shown = repr(sensor_id) if not isinstance(sensor_id, str) or len(sensor_id) <= MAX_ID_CHARS else \
        f"{sensor_id[:40]!r}… ({len(sensor_id):,} characters)"
    return (f"{shown} is not a registered sensor{hint}; register it in the city's "
            "sensors file or check the id's spelling")


def load_sensors_csv(path: Path, defaults: Mapping[str, Mapping[str, Any]],
                     asset_layer: Mapping[str, str],
                     asset_xy: Mapping[str, tuple[float, float]]) -> list[SensorSpec]:
    """Read a sensors CSV (columns ``COLUMNS``) into specs.

    ``defaults`` maps a kind to values for missing columns (thresholds in the row's ``unit``,
    by default the kind's display unit).  ``asset_layer`` and ``asset_xy`` come from the city
    model: every sensor must watch an asset that exists; its position defaults to the asset's."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"id", "kind", "asset"} - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{path}: missing column(s) {sorted(missing)}; "
                              f"a sensors file has columns {', '.join(COLUMNS)}")
        extra = set(reader.fieldnames or []) - set(COLUMNS)
        if extra:
            raise ConfigError(f"{path}: unknown column(s) {sorted(extra)}; use {', '.join(COLUMNS)}")
        return [spec_from_row(row, defaults, asset_layer, asset_xy, f"{path}:{line}")
                for line, row in enumerate(reader, start=2)]


def spec_from_row(row: Mapping[str, Any], defaults: Mapping[str, Mapping[str, Any]],
                  asset_layer: Mapping[str, str], asset_xy: Mapping[str, tuple[float, float]],
                  where: str) -> SensorSpec:
    """One ``SensorSpec`` from a row of text or numbers; ``where`` ('file:line') goes in errors."""
    sid = str(row.get("id") or "").strip()
    if not sid:
        raise ConfigError(f"{where}: the id is empty; every sensor needs a unique id such as 'P-0042'")
    kind = str(row.get("kind") or "").strip()
    if kind not in KINDS:
        raise ConfigError(f"{where}: sensor {sid}: kind {kind!r} is unknown; use one of {', '.join(KINDS)}")
    merged: dict[str, Any] = {k: v for k, v in dict(defaults.get(kind, {})).items()}
    merged.update({k: v for k, v in row.items() if v not in (None, "")})
    asset = str(merged.get("asset", "")).strip()
    if asset not in asset_layer:
        raise ConfigError(f"{where}: sensor {sid}: asset {asset!r} is not in the city model; "
                          "write it as layer/kind/name, e.g. water/junction/J-10")
    unit = str(merged.get("unit") or get_kind(kind).display)

    def number(col: str, default: float = math.nan) -> float:
        raw = merged.get(col)
        if raw is None or raw == "":
            return default
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: sensor {sid}: {col}={raw!r} is not a number") from None

    def measure(col: str) -> float:
        v = number(col)
        return v if math.isnan(v) else convert(v, kind, unit)

    def delta(col: str, default: float) -> float:  # a difference: scale only, no offset
        v = number(col, default)
        return v * get_kind(kind).factor(unit)[0] if v == v else v

    high = tuple(measure(c) for c in HIGH_COLUMNS)
    low = tuple(measure(c) for c in LOW_COLUMNS)
    _check_order(high, rising=True, where=f"{where}: sensor {sid}: high_IV..high_I")
    _check_order(low, rising=False, where=f"{where}: sensor {sid}: low_IV..low_I")
    ax, ay = asset_xy.get(asset, (math.nan, math.nan))
    x, y = number("x", ax), number("y", ay)
    rate_level_text = str(merged.get("rate_level") or "III")
    rate_per_min = delta("rate_per_min", math.nan)
    interval_s = number("interval_s", 60.0)
    if not interval_s > 0:
        raise ConfigError(f"{where}: sensor {sid}: interval_s must be > 0 seconds")
    lifeline = str(merged.get("lifeline") or asset_layer[asset])
    if lifeline not in LIFELINES:
        raise ConfigError(f"{where}: sensor {sid}: lifeline {lifeline!r} is not one of {', '.join(LIFELINES)}")
    return SensorSpec(
        id=sid, kind=kind, asset=asset, layer=lifeline, district=str(merged.get("district", "")).strip(),
        name=str(merged.get("name", "")),
        x=x, y=y, interval_s=interval_s, high=high, low=low,  # type: ignore[arg-type]
        hysteresis=delta("hysteresis", 0.0), min_duration_s=number("min_duration_s", 0.0),
        rate_per_s=rate_per_min / 60.0, rate_level=from_roman(rate_level_text),
        physical_min=_physical(measure("physical_min"), get_kind(kind).physical_min),
        physical_max=_physical(measure("physical_max"), get_kind(kind).physical_max),
    )


def _physical(value: float, kind_default: float) -> float:
    return kind_default if math.isnan(value) else value


def _check_order(values: tuple[float, ...], rising: bool, where: str) -> None:
    used = [v for v in values if not math.isnan(v)]
    ok = all((b > a) if rising else (b < a) for a, b in itertools.pairwise(used))
    if not ok:
        word = "rise" if rising else "fall"
        raise ConfigError(f"{where} = {used}: thresholds must {word} from level IV to level I")
