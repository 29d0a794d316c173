"""Sensors of the demo city's bridges, utility tunnel and heating loop, with their thresholds.

Bridges (one of each per bridge, at midspan): strain every second, deflection every second,
acceleration RMS every minute, first frequency every ten minutes, the deck's temperature every
minute (no limits: the bridge analyst compensates the frequency with it).  Strain and deflection warn
at 1.1 / 1.25 / 1.5 / 2 × the highest of a normal summer week (no minimum duration: an
overweight truck crosses in seconds); acceleration at 1.3 / 1.6 / 2 / 3 ×; the first frequency
*below* 98 / 96 / 93 / 88 % of its normal mean (stiffness loss), held 20 minutes.

Tunnel (each compartment): temperature over 35 / 40 / 45 / 50 °C (a cable fire), humidity over
92 / 95 / 97 / 99 %, oxygen under 20 / 19.5 / 19 / 18 %vol (19.5 % is the confined-space
limit), methane in the gas cabin over 10 / 20 / 25 / 50 %LEL, and in every other compartment the
sump over 0.95 / 1.05 / 1.15 / 1.25 m (the pit is 1.2 m deep; its pump runs from 0.8 m).

Heating: supply and return temperature and pressure at the plant and supply temperature and
pressure at three points round the loop, circulation and make-up flow; limits from a winter and
a summer week (pressures at 0.97–0.85 × their lowest, temperatures 3–15 K beyond their range),
and make-up flow over 1.1 / 2.9 / 7.4 / 18.5 m³/h (0.3 to 5 kg/s of lost water).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...city.bundle import CityBundle
from ...city.geojson import read_geojson
from ...city.model import City
from ...city.sensors import SensorRegistry, SensorSpec
from ..scenario import scenario_from_dict
from . import baseline as bl
from . import geography as g
from .io import DATA, write_sensors

LOOP_POINTS_M = (1050.0, 2100.0, 3150.0)


def bridge_rows() -> list[dict[str, Any]]:
    """Bridge sensors without thresholds."""
    out = []
    for n, b in enumerate(g.BRIDGES, 1):
        key, label = f"bridge/bridge/{b.name}", b.label
        out += [
            {"id": f"BS-{n}1", "kind": "strain", "asset": key, "unit": "ue", "interval_s": 1, "min_duration_s": 0,
             "name": f"{label} 跨中应变 midspan strain", "physical_min": -1000, "physical_max": 1000},
            {"id": f"BD-{n}1", "kind": "displacement", "asset": key, "unit": "mm", "interval_s": 1, "min_duration_s": 0,
             "name": f"{label} 跨中挠度 midspan deflection", "physical_min": -200, "physical_max": 200},
            {"id": f"BA-{n}1", "kind": "acceleration", "asset": key, "unit": "m/s2", "interval_s": 60,
             "min_duration_s": 60, "name": f"{label} 振动加速度(分钟均方根) vibration RMS per minute",
             "physical_min": 0, "physical_max": 50},
            {"id": f"BF-{n}1", "kind": "frequency", "asset": key, "unit": "Hz", "interval_s": 600,
             "min_duration_s": 1200,
             "name": f"{label} 一阶自振频率 first natural frequency", "physical_min": 0.1, "physical_max": 20},
            {"id": f"BT-{n}1", "kind": "temperature", "asset": key, "unit": "degC", "interval_s": 60,
             "min_duration_s": 0, "name": f"{label} 桥面温度 deck temperature", "physical_min": -40,
             "physical_max": 80}]
    return out


def tunnel_rows() -> list[dict[str, Any]]:
    """Tunnel sensors with their (fixed) thresholds."""
    out = []
    for c in range(1, 9):
        key, where = f"tunnel/compartment/TC-{c}", f"管廊{c}号舱 tunnel compartment {c}"
        out += [
            {"id": f"TT-{c}", "kind": "temperature", "asset": key, "unit": "degC", "name": f"{where} 温度 temperature",
             **bl.levels("high", (35, 40, 45, 50), 1, up=True), "physical_min": -20, "physical_max": 120},
            {"id": f"TH-{c}", "kind": "humidity", "asset": key, "unit": "%", "name": f"{where} 湿度 humidity",
             **bl.levels("high", (92, 95, 97, 99), 1, up=True), "physical_min": 0, "physical_max": 100},
            {"id": f"TO-{c}", "kind": "gas_fraction", "asset": key, "unit": "%vol", "name": f"{where} 氧气 oxygen",
             **bl.levels("low", (20.0, 19.5, 19.0, 18.0), 1, up=False), "physical_min": 0, "physical_max": 30},
            {"id": f"TG-{c}", "kind": "methane", "asset": key, "unit": "%LEL",
             "name": f"{where} 燃气舱甲烷 gas cabin methane",
             **bl.levels("high", (10, 20, 25, 50), 0, up=True), "physical_min": 0, "physical_max": 100}]
        if c % 2 == 0:
            out.append({"id": f"TW-{c}", "kind": "level", "asset": key, "unit": "m",
                        "name": f"{where} 集水坑水位 sump level",
                        **bl.levels("high", (0.95, 1.05, 1.15, 1.25), 2, up=True), "physical_min": -0.05,
                        "physical_max": 3})
    for r in out:
        r |= {"interval_s": 60, "min_duration_s": 120}
    return out


def heating_rows() -> list[dict[str, Any]]:
    """Heating sensors without thresholds (the id's prefix says what each measures)."""
    from .structures import loop_points

    pts = loop_points()
    out: list[dict[str, Any]] = [
        {"id": "HTS-01", "kind": "temperature", "asset": "heating/plant/HP-1", "unit": "degC",
         "name": "热电厂供水温度 plant supply temperature"},
        {"id": "HTR-01", "kind": "temperature", "asset": "heating/plant/HP-1", "unit": "degC",
         "name": "热电厂回水温度 plant return temperature"},
        {"id": "HPS-01", "kind": "pressure", "asset": "heating/plant/HP-1", "unit": "MPa",
         "name": "热电厂供水压力 plant supply pressure"},
        {"id": "HPR-01", "kind": "pressure", "asset": "heating/plant/HP-1", "unit": "MPa",
         "name": "热电厂回水压力 plant return pressure"},
        {"id": "HF-01", "kind": "flow", "asset": "heating/plant/HP-1", "unit": "m3/h",
         "name": "循环流量 circulation flow"},
        {"id": "HM-01", "kind": "flow", "asset": "heating/plant/HP-1", "unit": "m3/h",
         "name": "补水流量 make-up water flow",
         **bl.levels("high", (1.1, 2.9, 7.4, 18.5), 1, up=True)}]
    for i, target in enumerate(LOOP_POINTS_M, 2):
        x, y, _ = min(pts, key=lambda p: abs(p[2] - target))
        key = f"heating/junction/H-{g.node_name(x, y)}"
        out += [{"id": f"HPS-{i:02d}", "kind": "pressure", "asset": key, "unit": "MPa",
                 "name": f"环网{int(target)}米处供水压力 supply pressure {int(target)} m round the loop"},
                {"id": f"HTS-{i:02d}", "kind": "temperature", "asset": key, "unit": "degC",
                 "name": f"环网{int(target)}米处供水温度 supply temperature {int(target)} m round the loop"}]
    for r in out:
        r |= {"interval_s": 60, "min_duration_s": 180}
    return out


def _bundle(rows: list[dict[str, Any]], layer_files: dict[str, str]) -> CityBundle:
    city = City("demo", g.CRS, "Asia/Shanghai")
    for layer, f in layer_files.items():
        city.add_layer(read_geojson(DATA / f, layer, city))
    specs = [SensorSpec(r["id"], r["kind"], r["asset"], r["asset"].split("/")[0], interval_s=float(r["interval_s"]))
             for r in rows]
    return CityBundle(city, SensorRegistry(specs), DATA / "city.yaml", {})


def _week(start: str, mean_c: float, seed: int, rain: bool = False) -> Any:
    doc: dict[str, Any] = {"duration": "7d", "start": start, "seed": seed,
                           "weather": {"temperature_c": {"mean": mean_c, "swing": 8}}}
    if rain:
        doc["weather"]["rain"] = [{"start": "3d", "duration": "4h", "peak_mm_h": 25}]
    return scenario_from_dict(doc)


def _values(run: Any, row: dict[str, Any]) -> Any:
    return bl.in_unit(run.readings.value[run.readings.sensor_id == row["id"]], row["kind"], row["unit"])


def write_sensor_files() -> list[Path]:
    """Simulate normal weeks, derive or check thresholds, write the three sensor files."""
    from ..runner import simulate

    bridges = bridge_rows()
    run = simulate(_week("2026-06-03T00:00:00+08:00", 26, 15), _bundle(bridges, {"bridge": "bridges.geojson"}),
                   lifelines=("bridge",))
    for r in bridges:
        v = _values(run, r)
        if r["kind"] == "frequency":
            r |= bl.levels("low", [float(np.mean(v)) * f for f in (0.98, 0.96, 0.93, 0.88)], 3, up=False)
        else:
            mult = (1.3, 1.6, 2.0, 3.0) if r["kind"] == "acceleration" else (1.1, 1.25, 1.5, 2.0)
            d = {"strain": 1, "displacement": 2, "acceleration": 4}[r["kind"]]
            r |= bl.levels("high", [float(np.max(v)) * f for f in mult], d, up=True)
    tunnel = tunnel_rows()
    heating = heating_rows()
    bundle = _bundle(tunnel + heating, {"tunnel": "tunnel.geojson", "heating": "heating.geojson"})
    runs = [simulate(_week(s, m, seed, rain=True), bundle, lifelines=("tunnel", "heating"))
            for s, m, seed in (("2026-01-12T00:00:00+08:00", 3, 16), ("2026-07-20T00:00:00+08:00", 30, 17))]
    for r in heating:
        if r["id"].startswith("HM"):
            continue
        v = np.concatenate([_values(run, r) for run in runs])
        lo, hi = float(v.min()), float(v.max())
        if r["kind"] == "temperature":
            r |= bl.levels("low", [lo - k for k in (3, 6, 10, 15)], 1, up=False)
            r |= bl.levels("high", [hi + k for k in (3, 5, 8, 12)], 1, up=True)
        elif r["kind"] == "pressure":
            r |= bl.levels("low", [lo * f for f in (0.97, 0.94, 0.9, 0.85)], 3, up=False)
            r |= bl.levels("high", [hi * f for f in (1.03, 1.06, 1.1, 1.15)], 3, up=True)
        else:
            r |= bl.levels("high", [hi * f for f in (1.15, 1.3, 1.5, 2.0)], 1, up=True)
    for r in tunnel + heating:
        v = np.concatenate([_values(run, r) for run in runs])
        if (r.get("high_IV") and v.max() >= float(r["high_IV"])) or (r.get("low_IV") and v.min() <= float(r["low_IV"])):
            raise RuntimeError(f"{r['id']}: a normal week reaches level IV ({v.min():.3f}–{v.max():.3f} {r['unit']})")
    return [write_sensors(DATA / "sensors_bridge.csv", bridges), write_sensors(DATA / "sensors_tunnel.csv", tunnel),
            write_sensors(DATA / "sensors_heating.csv", heating)]
