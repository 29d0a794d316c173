"""Write the demo city's ``sensors.csv`` from a burst-free week of the Net3 twin.

    python -m citylifeline.twin.make_demo_sensors            # rewrite data/demo_city/sensors.csv
    python -m citylifeline.twin.make_demo_sensors --check    # and show what the demo burst does

Sixteen pressure sensors spread over Net3's districts (several next to the demo city's places),
four flow meters on mains and a level gauge in each tank.  Every threshold comes from the
sensor's own noisy readings over ``BASELINE_DAYS`` of normal operation, with margins wide enough
that a normal week raises no warning: low pressure levels are fractions of the week's minimum,
high levels multiples of its maximum; a rate limit sits 1.5× above the largest one-minute
change seen (pump switching included), and is left out where pump switching makes that limit
too coarse to mean anything.  The output is deterministic: same code, same file.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from ..batch import F64
from ..city.epanet import load_wntr_model
from ..city.sensors import COLUMNS
from ..units import get_kind
from . import water
from .water import WaterScenario, WaterSensor, simulate

OUT = Path(__file__).resolve().parents[1] / "data" / "demo_city" / "sensors.csv"
TZ = "Asia/Shanghai"
BASELINE_START = datetime(2024, 6, 3, tzinfo=ZoneInfo(TZ))
BASELINE_DAYS = 7
BASELINE_SEED = 7

PRESSURE_JUNCTIONS = ("101", "109", "117", "121", "131", "141", "151", "193", "163", "169", "183",
                      "275", "211", "215", "229", "255")
"""West (Lake pump side) to south-east (riverside): near Jinxiu Garden (109), Renmin Rd metro
(117), the primary school (121), Heping Li (141), the First People's Hospital (193), No. 8 Middle
School (163), Xincheng Homes (169), Mingzhu Court (183), Riverside Estate (275), Riverside metro
(211), Xingfu Li (215), the Riverside TCM Hospital (229) and Sunshine Kindergarten (255)."""
FLOW_PIPES = ("60", "101", "173", "243")
"""River intake main, Lake pump-station outlet, the trunk main south of junction 119, and the
main feeding the riverside (south-east) district."""
TANKS = ("1", "2", "3")
UNIT = {"pressure": "MPa", "flow": "m3/h", "level": "m"}

LOW_PRESSURE = (0.92, 0.85, 0.78, 0.68)  # × the week's minimum, levels IV … I
HIGH_PRESSURE = (1.08, 1.15, 1.25, 1.40)  # × the week's maximum
HIGH_FLOW = (1.15, 1.3, 1.5, 1.8)
LOW_FLOW = (0.8, 0.65, 0.5, 0.3)  # only for mains whose flow never falls below half its maximum
LEVEL_LOW_GAP = (0.5, 0.3, 0.15, 0.05)  # share of the gap from the tank's floor up to its normal minimum
LEVEL_HIGH_GAP = (0.25, 0.5, 0.75, 0.95)  # share of the gap from the normal maximum up to overflow
LEVELS = ("IV", "III", "II", "I")
RATE_MARGIN = 1.5
RATE_FLOOR = {"pressure": 0.02, "flow": 10.0, "level": 0.02}  # per minute, in UNIT: well above noise
RATE_USELESS = {"pressure": 0.2, "flow": 0.5, "level": 0.5}  # no rate limit if it would exceed this share of
# the normal maximum (for levels: of the normal daily range): such a limit would never catch anything
DECIMALS = {"pressure": 3, "flow": 0, "level": 2}
PHYSICAL = {"pressure": ("-0.1", "1.6"), "flow": ("", ""), "level": ("0", "")}  # transmitter ranges


def demo_sensor_list() -> list[tuple[WaterSensor, str]]:
    """(sensor, display name) of every demo sensor, in file order."""
    out = [(WaterSensor(f"P-{i:02d}", "pressure", j), f"{j}号节点压力 Pressure at junction {j}")
           for i, j in enumerate(PRESSURE_JUNCTIONS, 1)]
    out += [(WaterSensor(f"F-{i:02d}", "flow", p), f"{p}号管道流量 Flow in pipe {p}")
            for i, p in enumerate(FLOW_PIPES, 1)]
    out += [(WaterSensor(f"L-{i:02d}", "level", t), f"{t}号水箱液位 Level of tank {t}")
            for i, t in enumerate(TANKS, 1)]
    return out


def _in_unit(values: F64, kind: str) -> F64:
    factor, offset = get_kind(kind).factor(UNIT[kind])
    return (values - offset) / factor


def _round(value: float, kind: str, up: bool) -> float:
    scale = 10.0 ** DECIMALS[kind]
    scaled = round(value * scale, 6)  # so that 0.3 MPa stays 0.3 instead of ceiling to 0.301
    return (math.ceil(scaled) if up else math.floor(scaled)) / scale


def thresholds(sensor: WaterSensor, values: F64, tank: tuple[float, float] | None) -> dict[str, float]:
    """Threshold columns (in the sensor's ``UNIT``) from its baseline readings (canonical).

    ``tank`` is (minimum level, overflow level) for a level sensor."""
    kind = sensor.kind
    v = _in_unit(values, kind)
    lo, hi = float(v.min()), float(v.max())
    low: Sequence[float] = ()
    high: Sequence[float] = ()
    if kind == "pressure":
        low, high = [lo * f for f in LOW_PRESSURE], [hi * f for f in HIGH_PRESSURE]
    elif kind == "flow":
        high = [hi * f for f in HIGH_FLOW]
        low = [lo * f for f in LOW_FLOW] if lo >= 0.5 * hi else []
    elif tank is not None:
        floor, overflow = tank
        low = [floor + g * (lo - floor) for g in LEVEL_LOW_GAP]
        if overflow - hi > 0.3:  # a tank that fills to the brim has no room for high levels
            high = [hi + g * (overflow - hi) for g in LEVEL_HIGH_GAP]
    out = {f"low_{r}": _round(x, kind, up=False) for r, x in zip(LEVELS, low, strict=False)}
    out |= {f"high_{r}": _round(x, kind, up=True) for r, x in zip(LEVELS, high, strict=False)}
    step = float(np.abs(np.diff(v)).max())  # readings are one minute apart
    rate = max(RATE_MARGIN * step, RATE_FLOOR[kind])
    scale = max(abs(lo), abs(hi)) if kind == "pressure" else (hi - lo if kind == "level" else abs(hi))
    if rate <= RATE_USELESS[kind] * scale:
        out["rate_per_min"] = _round(rate, kind, up=True)
    return out


def baseline(sensors: Sequence[WaterSensor]) -> dict[str, F64]:
    """Each sensor's readings over the burst-free baseline week."""
    scn = WaterScenario(start_ms=int(BASELINE_START.timestamp() * 1000), duration_s=BASELINE_DAYS * 86400.0,
                        sensors=tuple(sensors), tz=TZ, seed=BASELINE_SEED)
    out = simulate(scn)
    return {s.id: out.series(s.id)[1] for s in sensors}


def rows() -> list[dict[str, str]]:
    """The rows of the sensors file, every cell as text."""
    listed = demo_sensor_list()
    readings = baseline([s for s, _ in listed])
    wn = load_wntr_model("Net3")
    out = []
    for sensor, name in listed:
        tank = None
        if sensor.kind == "level":
            node = wn.get_node(sensor.element)
            tank = (float(node.min_level), float(node.max_level))
        row = dict.fromkeys(COLUMNS, "")
        row |= {"id": sensor.id, "kind": sensor.kind, "asset": sensor.asset, "name": name,
                "unit": UNIT[sensor.kind], "rate_level": "III", "physical_min": PHYSICAL[sensor.kind][0],
                "physical_max": PHYSICAL[sensor.kind][1]}
        for col, x in thresholds(sensor, readings[sensor.id], tank).items():
            row[col] = f"{x:.{DECIMALS[sensor.kind]}f}"
        out.append(row)
    return out


def write(path: Path = OUT) -> None:
    """Write the sensors file (LF line ends, UTF-8, header first)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows())


def check_burst(path: Path = OUT, hours: Sequence[int] = range(0, 24, 3), held_s: float = 7200.0) -> None:
    """Print what the demo burst does, for bursts starting at several local hours: for each
    sensor it moves, the reading a minute before, two minutes after, and the most severe
    threshold that every reading from two minutes to ``held_s`` after the burst is beyond."""
    sensors = water.read_sensors_csv(path)
    with open(path, newline="", encoding="utf-8") as fh:
        table = {r["id"]: r for r in csv.DictReader(fh)}
    burst = water.Burst(water.DEMO_BURST_JUNCTION, 600.0, water.DEMO_BURST_ORIFICE_M)
    print(f"burst at junction {burst.junction}, {burst.orifice_diameter_m} m orifice; "
          f"stuck sensor {water.DEMO_STUCK_SENSOR}")
    for hour in hours:
        start = int(BASELINE_START.replace(hour=hour).timestamp() * 1000) - 600_000
        scn = WaterScenario(start_ms=start, duration_s=600.0 + held_s, sensors=sensors, tz=TZ, seed=1,
                            bursts=(burst,))
        out = simulate(scn)
        print(f"{hour:02d}:00")
        for sid in out.ground_truth[0]["expected_sensors"]:
            row, kind = table[sid], table[sid]["kind"]
            v = _in_unit(out.series(sid)[1], kind)
            held = v[12:]  # from two minutes after the burst on
            crossed = [f"{side}_{r}" for r in LEVELS[::-1] for side in ("low", "high") if row[f"{side}_{r}"]
                       and (held.max() < float(row[f"{side}_{r}"]) if side == "low"
                            else held.min() > float(row[f"{side}_{r}"]))]
            print(f"  {sid:5} {v[9]:9.3f} -> {v[12]:9.3f} {UNIT[kind]:5} held beyond: {crossed[:1] or '-'}")


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: write the file, then optionally check the demo burst against it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, default=OUT, help="where to write (default: the demo city)")
    ap.add_argument("--check", action="store_true", help="show what the demo burst does to the sensors")
    args = ap.parse_args(argv)
    write(args.out)
    print(f"wrote {args.out}")
    if args.check:
        check_burst(args.out)


if __name__ == "__main__":
    main()
