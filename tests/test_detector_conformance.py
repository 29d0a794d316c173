"""One conformance suite over every detector in ``DETECTORS``.

Each promise of the Detector contract is checked for all of them: cutting the stream into
batches does not change the events; state survives a checkpoint; growing the registry keeps
state; clean data raises nothing; gaps and irregular sampling do not break them; and each one
finds the pattern it exists for, at the right time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from citylifeline.batch import EventBatch, EventKind, ReadingBatch
from citylifeline.city.sensors import SensorRegistry, SensorSpec
from citylifeline.detect import DETECTORS, Detector, impossible_mask
from citylifeline.settings import Config

T0 = 1_790_000_000_000
STEP = 60_000
BASE_PA = 300_000.0
NOISE_PA = 300.0


def spec(i: int, **kw: object) -> SensorSpec:
    """A pressure sensor with four low levels (IV..I: 0.25, 0.20, 0.15, 0.10 MPa) and a rate rule."""
    base = dict(id=f"S{i}", kind="pressure", asset=f"water/junction/{i}", layer="water", x=float(i), y=0.0,
                interval_s=60.0, low=(250e3, 200e3, 150e3, 100e3), hysteresis=5e3, min_duration_s=120.0,
                rate_per_s=50e3 / 60, rate_level=2, physical_min=-1e5, physical_max=2e6)
    base.update(kw)
    return SensorSpec(**base)  # type: ignore[arg-type]


def registry(n: int) -> SensorRegistry:
    return SensorRegistry([spec(i) for i in range(n)])


CONFIG = Config.load(environ={})


LEAD = 1500  # 25 h of normal data first: the anomaly detector learns a day before it warns


def stream(n_sensors: int = 12, n_steps: int = 600, seed: int = 1) -> ReadingBatch:
    """Time-major readings with every pattern: breaches, bursts, spikes, stuck runs, gaps, impossible values,
    after a quiet lead-in of ``LEAD`` steps."""
    rng = np.random.default_rng(seed)
    steps = LEAD + n_steps
    t = T0 + np.arange(steps, dtype=np.int64) * STEP
    rows_s, rows_t, rows_v = [], [], []
    for s in range(n_sensors):
        v = BASE_PA + 20e3 * np.sin(np.arange(steps) / 90) + rng.normal(0, NOISE_PA, steps)
        keep = np.ones(steps, dtype=bool)
        kind = s % 6
        at = LEAD
        if kind == 1:  # a burst: sudden drop to level II, later repaired
            v[at + 200:at + 400] -= 170e3
        elif kind == 2:  # isolated spikes
            v[[at + 150, at + 310, at + 450]] += 90e3
        elif kind == 3:  # stuck transmitter
            v[at + 250:at + 320] = v[at + 249]
        elif kind == 4:  # gaps and irregular sampling
            keep[at + 100:at + 140] = False
            keep[rng.random(steps) < 0.1] = False
        elif kind == 5:  # a slow sag through the levels, and impossible values
            v[at + 300:at + 500] -= np.linspace(0, 240e3, 200)
            v[[at + 120, at + 121]] = 9e9
        rows_s.append(np.full(keep.sum(), s))
        rows_t.append(t[keep])
        rows_v.append(v[keep])
    s_all, t_all, v_all = np.concatenate(rows_s), np.concatenate(rows_t), np.concatenate(rows_v)
    order = np.argsort(t_all, kind="stable")
    return ReadingBatch.of(s_all[order], t_all[order], v_all[order])


LABELLED = {1: [(200, 400)], 2: [(150, 150), (310, 310), (450, 450)], 3: [(250, 320)], 4: [(100, 140)],
            5: [(120, 121), (300, 500)]}
"""Where each sensor kind (sensor % 6) has its patterns, in steps after LEAD."""


def run(det: Detector, batches: list[ReadingBatch]) -> EventBatch:
    """Feed batches the way the pipeline does (watermark, sane values only where asked)."""
    out, watermark = [], -(2**62)
    for b in batches:
        if not len(b):
            continue
        watermark = max(watermark, int(b.t_ms.max()))
        if det.sane_values_only:
            b = b.take(~impossible_mask(b, det.registry))
        out.append(det.update(b, watermark))
    return EventBatch.concat(out)


def as_rows(e: EventBatch) -> list[tuple[object, ...]]:
    """Events as sortable tuples (NaN as None, so equal rows compare equal)."""
    def num(x: float) -> float | None:
        return None if math.isnan(x) else round(x, 6)

    rows = zip(e.sensor.tolist(), e.t_ms.tolist(), e.kind.tolist(), e.level.tolist(), e.active.tolist(),
               map(num, e.value.tolist()), map(num, e.ref.tolist()), strict=True)
    return sorted(rows, key=lambda r: tuple(-1e300 if x is None else x for x in r))


def split(b: ReadingBatch, sizes: list[int]) -> list[ReadingBatch]:
    out, start = [], 0
    for n in sizes:
        out.append(b.slice(start, start + n))
        start += n
    out.append(b.slice(start, len(b)))
    return out


@pytest.fixture(scope="module")
def data() -> ReadingBatch:
    return stream()


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.name)
def test_batch_size_does_not_change_events(cls: type[Detector], data: ReadingBatch) -> None:
    whole = as_rows(run(cls(registry(12), CONFIG), [data]))
    rng = np.random.default_rng(7)
    sizes = list(rng.integers(1, 1200, 200))
    chunked = as_rows(run(cls(registry(12), CONFIG), split(data, sizes)))
    per_step = as_rows(run(cls(registry(12), CONFIG), split(data, [12] * (len(data) // 12))))
    assert whole, f"{cls.name} found nothing in a stream full of its pattern"
    assert chunked == whole
    assert per_step == whole


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.name)
def test_state_round_trips_through_a_checkpoint(cls: type[Detector], data: ReadingBatch) -> None:
    continuous = as_rows(run(cls(registry(12), CONFIG), [data]))
    half = len(data) // 2
    first = cls(registry(12), CONFIG)
    a = run(first, [data.slice(0, half)])
    saved = {k: v.copy() for k, v in first.checkpoint().items()}
    second = cls(registry(12), CONFIG)
    second.restore(saved)
    b = run(second, [data.slice(half, len(data))])
    assert as_rows(EventBatch.concat([a, b])) == continuous


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.name)
def test_growing_the_registry_keeps_state(cls: type[Detector], data: ReadingBatch) -> None:
    continuous = as_rows(run(cls(registry(12), CONFIG), [data]))
    det = cls(registry(12), CONFIG)
    half = len(data) // 2
    a = run(det, [data.slice(0, half)])
    det.resize(registry(20))
    assert all(len(v) == 20 for v in det.state.values())
    b = run(det, [data.slice(half, len(data))])
    assert as_rows(EventBatch.concat([a, b])) == continuous
    extra = ReadingBatch.of([19, 19], [T0 + 10**9, T0 + 10**9 + STEP], [BASE_PA, BASE_PA])
    run(det, [extra])  # a new sensor's readings are accepted


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.name)
def test_clean_data_raises_nothing(cls: type[Detector]) -> None:
    rng = np.random.default_rng(3)
    n, steps = 8, 2 * 1440  # two days: past every warm-up
    t = np.repeat(T0 + np.arange(steps, dtype=np.int64) * STEP, n)
    s = np.tile(np.arange(n), steps)
    v = BASE_PA + 20e3 * np.sin(t / STEP / 90) + rng.normal(0, NOISE_PA, n * steps)
    events = run(cls(registry(n), CONFIG), [ReadingBatch.of(s, t, v)])
    assert len(events) == 0, as_rows(events)[:5]


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.name)
def test_events_are_well_formed(cls: type[Detector], data: ReadingBatch) -> None:
    e = run(cls(registry(12), CONFIG), [data])
    assert set(e.kind.tolist()) <= {k.value for k in cls.kinds}
    assert ((e.sensor >= 0) & (e.sensor < 12)).all()
    assert (e.t_ms >= T0).all() and (e.t_ms <= data.t_ms.max()).all()
    assert ((e.level >= 0) & (e.level <= 4)).all()


def events_of(kind: EventKind, batch: ReadingBatch, n: int = 1) -> EventBatch:
    cls = next(c for c in DETECTORS if kind in c.kinds)
    return run(cls(registry(n), CONFIG), [batch])


def series(values: np.ndarray, sensor: int = 0) -> ReadingBatch:
    t = T0 + np.arange(len(values), dtype=np.int64) * STEP
    return ReadingBatch.of(np.full(len(values), sensor), t, values)


def test_each_detector_finds_its_pattern_at_the_right_time() -> None:
    rng = np.random.default_rng(5)
    clean = BASE_PA + rng.normal(0, NOISE_PA, 300)
    burst = clean.copy()
    burst[100:] -= 170e3  # to 0.13 MPa: level II
    e = events_of(EventKind.THRESHOLD, series(burst))
    assert e.t_ms[0] == T0 + 102 * STEP and e.level[0] == 3  # held for min_duration 120 s
    e = events_of(EventKind.RATE, series(burst))
    assert e.t_ms.tolist() == [T0 + 100 * STEP] and e.level[0] == 2  # confirmed by the next reading
    spiky = clean.copy()
    spiky[150] += 80e3
    assert events_of(EventKind.SPIKE, series(spiky)).t_ms.tolist() == [T0 + 150 * STEP]
    assert len(events_of(EventKind.RATE, series(spiky))) == 0  # a spike is not a step
    assert len(events_of(EventKind.THRESHOLD, series(spiky))) == 0
    stuck = clean.copy()
    stuck[100:200] = stuck[99]
    e = events_of(EventKind.STUCK, series(stuck))
    assert e.t_ms.tolist() == [T0 + (99 + CONFIG.stuck_readings - 1) * STEP, T0 + 200 * STEP]
    assert e.active.tolist() == [True, False]
    t = T0 + np.r_[np.arange(100), np.arange(120, 200)] * STEP
    gap = ReadingBatch.of(np.zeros(len(t)), t, np.full(len(t), BASE_PA))
    e = events_of(EventKind.NO_DATA, gap)
    assert e.t_ms.tolist() == [T0 + 99 * STEP + 5 * STEP, T0 + 120 * STEP]
    bad = clean.copy()
    bad[40] = -5e5
    e = events_of(EventKind.IMPOSSIBLE, series(bad))
    assert e.t_ms[0] == T0 + 40 * STEP and e.ref[0] == -1e5


def test_no_data_is_judged_against_the_watermark_not_the_clock() -> None:
    t = T0 + np.arange(50, dtype=np.int64) * STEP
    quiet = ReadingBatch.of(np.zeros(10), t[:10], np.full(10, BASE_PA))
    chatty = ReadingBatch.of(np.ones(50), t, np.full(50, BASE_PA))
    cls = next(c for c in DETECTORS if EventKind.NO_DATA in c.kinds)
    e = run(cls(registry(2), CONFIG), [quiet, chatty])
    assert e.sensor.tolist() == [0] and e.t_ms.tolist() == [T0 + 9 * STEP + 5 * STEP]


def test_a_methane_detector_in_clean_air_blips_without_spiking() -> None:
    from citylifeline.detect.health import SpikeDetector

    reg = SensorRegistry([spec(0, kind="methane", asset="drainage/junction/0", layer="gas", low=(math.nan,) * 4,
                               high=(0.005, 0.01, 0.0125, 0.025), hysteresis=0.0, rate_per_s=math.nan,
                               physical_min=0.0, physical_max=0.05)])
    rng = np.random.default_rng(9)
    air = np.maximum(rng.normal(0, 2.5e-4, 2000), 0.0).round(4)  # noise clipped at zero, 0.01 %vol steps
    air[:50] = 0.0  # a long flat zero: the typical step shrinks to nothing
    blips = air.copy()
    blips[60] = 5e-4  # 1 %LEL of noise after the flat run
    assert len(run(SpikeDetector(reg, CONFIG), [series(blips)])) == 0
    spiked = air.copy()
    spiked[1000] += 0.015  # 30 %LEL for one reading: a faulty detector
    assert run(SpikeDetector(reg, CONFIG), [series(spiked)]).t_ms.tolist() == [T0 + 1000 * STEP]


def in_labelled_window(sensor: np.ndarray, t_ms: np.ndarray, slack_steps: int = 5) -> np.ndarray:
    step = (t_ms - T0) // STEP - LEAD
    hit = np.zeros(len(sensor), dtype=bool)
    for i, (s, k) in enumerate(zip(sensor.tolist(), step.tolist(), strict=True)):
        hit[i] = any(lo - slack_steps <= k <= hi + slack_steps for lo, hi in LABELLED.get(s % 6, []))
    return hit


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.name)
def test_on_labelled_data_it_beats_a_random_detector(cls: type[Detector], data: ReadingBatch) -> None:
    e = run(cls(registry(12), CONFIG), [data])
    e = e.take(e.active)  # what it raised (clears follow the data back to normal)
    mine = in_labelled_window(e.sensor, e.t_ms).mean()
    rng = np.random.default_rng(11)  # a random detector: as many events, at random readings
    pick = rng.integers(0, len(data), size=(200, max(len(e), 1)))
    chance = np.mean([in_labelled_window(data.sensor[p], data.t_ms[p]).mean() for p in pick])
    assert mine > max(2 * chance, 0.5), f"{cls.name}: {mine:.2f} of its events in labelled windows, random {chance:.2f}"


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.name)
def test_nan_values_do_not_break_it(cls: type[Detector], data: ReadingBatch) -> None:
    v = data.value.copy()
    v[::23] = np.nan  # a reading whose value was lost on the way
    holed = ReadingBatch(data.sensor, data.t_ms, v)
    e = run(cls(registry(12), CONFIG), split(holed, [500] * (len(holed) // 500)))
    assert set(e.kind.tolist()) <= {k.value for k in cls.kinds}
    assert ((e.sensor >= 0) & (e.sensor < 12)).all() and (e.t_ms >= T0).all()
    assert not np.isnan(e.value[e.active]).any() or cls.name == "no_data"
