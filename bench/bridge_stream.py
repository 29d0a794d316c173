"""A bridge-heavy city and its streams, for ``bench/throughput.py``: many monitored bridges, their
20 Hz strain from the bridge twin, and 100 Hz accelerometers sending one-second sample blocks.

**The city** (``bridge_city``): ``n`` bridges on a 150 m grid, each a copy of one of the demo city's
three (2nd St, Jinzhai Rd, 6th St: span, section modulus, lanes as ``citygen.structures`` has them),
with the demo's bridge sensors and their limits: a midspan strain gauge (sent at the twin's 20 Hz,
``bridgeyear.STRAIN_HZ``, the rate a weigh-in-motion gateway sends), the first frequency every ten
minutes, the deck thermometer and the acceleration RMS every minute.  The first ``n_accels`` bridges
also carry a raw accelerometer at 100 Hz (``interval_s`` 0.01), which sends a block a second; every
bridge has its gateway's frequency, so the bridge analyst leaves the raw samples alone.

**The strain** is the twin's (``twin.bridgeyear``): one simulated day of each demo bridge (its
lawful and overloaded traffic, temperature and noise), and each bridge of the city reads a window of
its template's day from its own time of day, so the stream holds morning cars and night lorries
alike.  The frequency, deck temperature and RMS come from the same day.

**The accelerations** are the first mode at the template's frequency, its amplitude swelling with
traffic, plus 2 mm/s² of noise, rounded to 10 µm/s² as a 24-bit gateway sends them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

DEMO_SENSORS = Path(__file__).resolve().parents[1] / "citylifeline" / "data" / "demo_city" / "sensors_bridge.csv"
GRID_M = 150.0
ROLES = {"BS": "strain", "BF": "frequency", "BT": "temperature", "BA": "acceleration"}
"""The demo's sensors of a bridge by the prefix of their id, as each bridge here has them (the twin's
day has no deflection, so the deflection gauge is left out)."""
ACCEL_HZ = 100


def bridge_city(d: Path, n_bridges: int, n_accels: int) -> Path:
    """The city described in the module docstring, written to ``d``."""
    import shapely
    import yaml

    from citylifeline.twin.citygen import geography
    from citylifeline.twin.citygen.io import feature, write_geojson
    from citylifeline.twin.citygen.structures import bridge_properties

    d.mkdir(parents=True)
    templates = geography.BRIDGES
    feats = []
    for i in range(n_bridges):
        b = templates[i % len(templates)]
        x, y = GRID_M * (i % 40), GRID_M * (i // 40)
        feats.append(feature(shapely.LineString([(x, y), (x, y + b.span_m)]), id=f"B{i:04d}", kind="bridge",
                             name=f"{b.label} #{i}", **bridge_properties(b)))
    write_geojson(d / "bridges.geojson", feats)
    with DEMO_SENSORS.open(encoding="utf-8") as fh:
        demo = {row["id"]: row for row in csv.DictReader(fh)}
    cols = list(next(iter(demo.values())))
    rows = []
    for i in range(n_bridges):
        n = i % len(templates) + 1
        for prefix in ROLES:
            row = dict(demo[f"{prefix}-{n}1"], id=f"{prefix}{i:04d}", asset=f"bridge/bridge/B{i:04d}")
            if prefix == "BS":
                row["interval_s"] = str(1 / strain_hz())
            rows.append(row)
        if i < n_accels:
            rows.append({c: "" for c in cols} | {"id": f"BV{i:04d}", "kind": "acceleration",
                                                  "asset": f"bridge/bridge/B{i:04d}", "interval_s": str(1 / ACCEL_HZ),
                                                  "unit": "m/s2", "name": "raw vibration 100 Hz"})
    with (d / "sensors.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    cfg = {"name": "bench bridges", "crs": geography.CRS, "timezone": "Asia/Shanghai",
           "layers": {"bridge": {"geojson": "bridges.geojson"}}, "sensors": "sensors.csv"}
    (d / "city.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return d


def strain_hz() -> int:
    from citylifeline.twin.bridgeyear import STRAIN_HZ

    return int(STRAIN_HZ)


@dataclass(frozen=True)
class Template:
    """One simulated day of a demo bridge: what its sensors read, sampled at any second of the day."""

    strain: np.ndarray  # the midspan gauge (west web), canonical (strain, not µε), at ``strain_hz()``
    freq_t_s: np.ndarray  # seconds into the day of each identified frequency
    f1_hz: np.ndarray
    deck_c: np.ndarray
    rms_ms2: np.ndarray  # each minute's acceleration RMS


def templates(seed: int = 1) -> list[Template]:
    """A day (2026-05-10 in Hefei, a Sunday in spring) of each of the demo city's three bridges."""
    from citylifeline.twin.bridgeyear import Bridge, BridgeYear
    from citylifeline.twin.citygen import geography
    from citylifeline.twin.citygen.structures import bridge_properties

    start_ms = 1_778_342_400_000 - 8 * 3_600_000  # 2026-05-10 00:00 in Hefei
    out = []
    for b in geography.BRIDGES:
        bridge = Bridge.from_props(b.name, bridge_properties(b))
        day = BridgeYear(bridge, start_ms, 1, seed=seed).day(0)
        out.append(Template(day.strain_ue[0] * 1e-6, (day.freq_t_ms - day.t0_ms) / 1000, day.f1_hz, day.deck_c,
                            day.accel_rms_ms2))
    return out


def window_start_s(i: int, seconds: int) -> int:
    """The second of its template's day at which bridge ``i``'s window starts: spread over the day."""
    return (i * 7919) % (86_400 - seconds)


def bridge_stream(n_bridges: int, seconds: int, t0_s: int, days: list[Template]) -> list[Any]:
    """``seconds`` Arrow record batches, one a data-second from ``t0_s``: every bridge's strain at 20 Hz,
    and its frequency, deck temperature and RMS when due (each bridge on a second of its own)."""
    import pyarrow as pa

    hz = strain_hz()
    ids: list[str] = [f"{p}{i:04d}" for i in range(n_bridges) for p in ROLES]
    code = {s: k for k, s in enumerate(ids)}
    dictionary = pa.array(ids)
    starts = np.array([window_start_s(i, seconds) for i in range(n_bridges)])
    tmpl = [days[i % len(days)] for i in range(n_bridges)]
    gauges = np.array([code[f"BS{i:04d}"] for i in range(n_bridges)], np.int32)
    step_ms = np.arange(hz, dtype=np.int64) * 1000 // hz
    out = []
    for s in range(seconds):
        strain = np.stack([t.strain[(w + s) * hz:(w + s + 1) * hz] for t, w in zip(tmpl, starts, strict=True)])
        sensor = [np.repeat(gauges, hz)]
        t_ms = [np.tile((t0_s + s) * 1000 + step_ms, n_bridges)]
        value = [strain.ravel()]
        for prefix, every_s in (("BT", 60), ("BA", 60), ("BF", 600)):
            due = [i for i in range(n_bridges) if (s + i) % every_s == 0]
            if not due:
                continue
            sec = starts[due] + s
            vals = []
            for i, at in zip(due, sec.tolist(), strict=True):
                t = tmpl[i]
                if prefix == "BT":
                    vals.append(float(np.interp(at, t.freq_t_s, t.deck_c)))
                elif prefix == "BA":
                    vals.append(float(t.rms_ms2[min(at // 60, len(t.rms_ms2) - 1)]))
                else:
                    vals.append(float(t.f1_hz[min(int(at // 600), len(t.f1_hz) - 1)]))
            sensor.append(np.array([code[f"{prefix}{i:04d}"] for i in due], np.int32))
            t_ms.append(np.full(len(due), (t0_s + s) * 1000, np.int64))
            value.append(np.array(vals))
        out.append(pa.record_batch({"sensor": pa.DictionaryArray.from_arrays(pa.array(np.concatenate(sensor)),
                                                                             dictionary),
                                    "t": pa.array(np.concatenate(t_ms) / 1000),
                                    "value": np.concatenate(value)}))
    return out


def accel_samples(n_accels: int, seconds: int, seed: int = 2) -> np.ndarray:
    """Accelerometers × samples at 100 Hz, m/s² (see the module docstring)."""
    from citylifeline.twin.citygen import geography
    from citylifeline.twin.citygen.structures import bridge_properties

    f1_hz = [bridge_properties(b)["f1_hz"] for b in geography.BRIDGES]
    rng = np.random.default_rng(seed)
    t = np.arange(seconds * ACCEL_HZ) / ACCEL_HZ
    f1 = np.array([f1_hz[i % len(f1_hz)] for i in range(n_accels)])[:, None]
    swell = 1 + 0.8 * np.sin(2 * np.pi * t[None, :] / rng.uniform(5, 15, (n_accels, 1))) ** 2
    amp = rng.uniform(0.005, 0.03, (n_accels, 1))
    a = amp * swell * np.sin(2 * np.pi * f1 * t[None, :] + rng.uniform(0, 2 * np.pi, (n_accels, 1)))
    return np.round(a + rng.normal(0, 0.002, a.shape), 5)


def accel_bodies(samples: np.ndarray, t0_s: int) -> tuple[list[bytes], list[bytes]]:
    """The same samples as JSON bodies of ``POST /api/v1/readings``, one a data-second holding every
    accelerometer's second: as blocks, and as plain readings."""
    n, total = samples.shape
    ids = [f"BV{i:04d}" for i in range(n)]
    blocks, readings = [], []
    for s in range(total // ACCEL_HZ):
        part = samples[:, s * ACCEL_HZ:(s + 1) * ACCEL_HZ]
        blocks.append(orjson.dumps({"blocks": [{"sensor": ids[i], "t0": t0_s + s, "hz": ACCEL_HZ,
                                                "values": part[i].tolist()} for i in range(n)]}))
        times = np.round(t0_s + s + np.arange(ACCEL_HZ) / ACCEL_HZ, 2).tolist()
        readings.append(orjson.dumps({"readings": [{"sensor": ids[i], "t": tt, "value": v} for i in range(n)
                                                   for tt, v in zip(times, part[i].tolist(), strict=True)]}))
    return blocks, readings
