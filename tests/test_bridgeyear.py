"""The bridge's year (``twin.bridgeyear``): the physics a bridge analyst will be scored on."""

from __future__ import annotations

import numpy as np
import pytest

from citylifeline.analysis.bridge.modal import identify_f1
from citylifeline.twin.bridgeyear import (
    CLASSES,
    DAY_MS,
    E_PA,
    FREQ_ID_SIGMA,
    G_MS2,
    LIGHT,
    LORRIES,
    STRAIN_HZ,
    Bridge,
    BridgeYear,
    Damage,
    Vehicles,
    f1_factor,
)
from citylifeline.twin.citygen import geography
from citylifeline.twin.citygen.structures import bridge_properties

START = 1_767_225_600_000 - 8 * 3_600_000  # 2026-01-01 00:00 in Hefei
SIX_AXLE = CLASSES.index(LORRIES[-1])


def bridge(name: str = "B-1") -> Bridge:
    b = next(b for b in geography.BRIDGES if b.name == name)
    return Bridge.from_props(name, bridge_properties(b))


def lone_lorry(year: BridgeYear, lane: int, damages: tuple[Damage, ...] = ()) -> np.ndarray:
    """Midspan strain (µε, webs × samples) of one 49 t six-axle lorry at 36 km/h at 03:00, alone on the span,
    less the deck's thermal strain (measured with no lorry)."""
    y = BridgeYear(year.bridge, year.start_ms, 1, damages, seed=year.seed)
    veh = Vehicles(np.array([START + 3 * 3_600_000], np.int64), np.array([lane]), np.array([SIX_AXLE]),
                   np.array([49_000.0]), np.array([10.0]))
    none = Vehicles(*(np.zeros(0, a.dtype) for a in (veh.entry_ms, veh.lane, veh.cls, veh.gross_kg, veh.speed_ms)))
    rng = np.random.default_rng(0)
    loaded = y.strain(START, veh, rng)
    empty = y.strain(START, none, np.random.default_rng(0))
    k = int(3 * 3600 * STRAIN_HZ)
    return np.asarray((loaded - empty)[:, k - 20: k + 200])


def test_a_lone_lorrys_strain_is_its_weight_on_the_influence_line_and_its_webs_say_its_lane() -> None:
    """The area under a vehicle's strain at a gauge is its weight times the gauge's influence line's
    area (L²/8 at midspan, 3L²/32 at a quarter span) over its speed and E·W, whatever its axles
    (Moses' weigh-in-motion rests on this); the web on the lorry's side strains more than the other."""
    b = bridge()
    y = BridgeYear(b, START, 1, seed=3)
    s = lone_lorry(y, lane=0)
    area = s.sum(axis=1) / STRAIN_HZ  # µε·s
    per = 49_000 * G_MS2 / 10.0 / (E_PA * b.section_modulus_m3) * 1e6  # the weight over speed and E·W
    assert area[:2] == pytest.approx(per * b.span_m**2 / 8 * b.distribution()[:, 0], rel=0.03)  # midspan webs
    assert area[2] == pytest.approx(per * 3 * b.span_m**2 / 32, rel=0.03)  # the quarter span's influence line
    assert s[0].max() > 1.05 * s[1].max()  # lane 0 is on web 0's side (a stiff box shares it: 1.04 against 0.96)
    other = lone_lorry(y, lane=1)
    assert other[1].max() > 1.05 * other[0].max()


def test_a_stiffness_loss_at_the_gauge_raises_its_strain_and_one_elsewhere_does_not() -> None:
    """The span is statically determinate: the moment under a vehicle does not depend on the
    stiffness, so a loss changes the strain only where it is."""
    b = bridge()
    y = BridgeYear(b, START, 1, seed=3)
    healthy = lone_lorry(y, 0)[:2].sum()  # the midspan gauges
    at_gauge = lone_lorry(y, 0, (Damage(START, 0, 0.10, b.span_m / 2, 6.0),))[:2].sum()
    elsewhere = lone_lorry(y, 0, (Damage(START, 0, 0.10, b.span_m / 5, 6.0),))[:2].sum()
    assert at_gauge == pytest.approx(healthy / 0.9, rel=0.01)
    assert elsewhere == pytest.approx(healthy, rel=0.01)


def test_the_first_frequency_falls_with_a_stiffness_loss_as_the_mode_says_and_rises_in_the_cold() -> None:
    """A loss over the whole span lowers f1 by √(1 − loss); the same loss over a short length at
    midspan by the share of the mode's strain energy there (Rayleigh); a loss near a support
    hardly at all.  Warmth lowers f1 a little, frost raises it steeply (bilinear, as Z24's)."""
    b = bridge()
    t = np.array([START + DAY_MS], np.int64)
    whole = BridgeYear(b, START, 2, (Damage(START, 0, 0.03, b.span_m / 2, b.span_m),))
    assert float(np.sqrt(whole.ei_factor(t))[0]) == pytest.approx(np.sqrt(0.97), rel=1e-6)
    mid = BridgeYear(b, START, 2, (Damage(START, 0, 0.10, b.span_m / 2, 7.0),)).ei_factor(t)[0]
    end = BridgeYear(b, START, 2, (Damage(START, 0, 0.10, 3.5, 7.0),)).ei_factor(t)[0]
    assert 1 - mid == pytest.approx(0.10 * 0.2, rel=0.05)  # 7 m of 70 at midspan: a fifth of the mode's energy
    assert 1 - end < (1 - mid) / 20
    warm, cool, frost = f1_factor(np.array([25.0, 15.0, -5.0]))
    assert cool / warm == pytest.approx(1.015, abs=0.002)
    assert frost / f1_factor(np.array([0.0]))[0] > 1.05
    repaired = BridgeYear(b, START, 2, (Damage(START, 3_600_000, 0.1, 35.0, 70.0, repair_ms=START + DAY_MS),))
    assert repaired.ei_factor(np.array([START + DAY_MS // 2, START + DAY_MS], np.int64)).tolist() == [0.9, 1.0]


def test_lorries_keep_to_their_lawful_weights_but_a_few_and_mostly_by_night() -> None:
    """Lawful lorries are within GB 1589-2016's limits; a few percent are over them; most lorries
    cross between 21:00 and 07:00, when the city lets them in; light vehicles follow the day."""
    y = BridgeYear(bridge("B-2"), START, 3, seed=5)
    days = [y.vehicles(d, np.random.default_rng([5, 1, d])) for d in range(3)]
    cls = np.concatenate([v.cls for v in days])
    gross = np.concatenate([v.gross_kg for v in days])
    over = np.concatenate([v.overloaded() for v in days])
    hour = (np.concatenate([v.entry_ms for v in days]) + 8 * 3_600_000) // 3_600_000 % 24
    lorry = cls >= len(LIGHT)
    limit = np.array([c.limit_t for c in CLASSES])[cls] * 1000
    assert np.all(gross[lorry & ~over] <= limit[lorry & ~over])
    assert 0.015 < over.sum() / lorry.sum() < 0.06
    night = (hour >= 21) | (hour < 7)
    assert (lorry & night).sum() > 0.7 * lorry.sum()
    assert (~lorry & ~night).sum() > 0.8 * (~lorry).sum()
    six = cls == SIX_AXLE
    assert np.median(gross[six & (gross > 30_000)]) == pytest.approx(0.88 * 49_000, rel=0.05)  # loaded
    assert np.median(gross[six & (gross < 30_000)]) == pytest.approx(0.35 * 49_000, rel=0.08)  # empty


def test_a_day_is_the_same_whenever_it_is_asked_for_and_its_sensors_are_what_the_gateway_sends() -> None:
    y = BridgeYear(bridge(), START, 10, seed=2)
    a, b = y.day(7), y.day(7)
    assert np.array_equal(a.strain_ue, b.strain_ue) and np.array_equal(a.f1_hz, b.f1_hz)
    assert a.strain_ue.shape == (3, 86_400 * STRAIN_HZ) and len(a.f1_hz) == 144 and len(a.accel_rms_ms2) == 1440
    assert not np.array_equal(BridgeYear(bridge(), START, 10, seed=3).day(7).f1_hz, a.f1_hz)
    assert abs(np.median(a.f1_hz) / (y.bridge.f1_hz * np.median(f1_factor(a.deck_c))) - 1) < 0.01


def test_the_years_identified_frequency_spreads_as_the_gateways_own_identification_does() -> None:
    """The year draws each ten minutes' identified frequency around the true one with
    ``FREQ_ID_SIGMA``, instead of simulating 50 Hz of acceleration: the gateway's method (the FFT
    peak, ``modal.identify_f1``) on a day of the first mode driven by wind and that day's traffic
    spreads as much."""
    from citylifeline.twin import bridge as twin

    b = bridge()
    y = BridgeYear(b, START, 1, seed=1)
    v = y.vehicles(0, np.random.default_rng(1))
    traffic = twin.Traffic((v.entry_ms - START) / 1000.0, v.gross_kg, v.speed_ms)
    raw = twin.vibration(traffic, 86_400.0, np.full(144, b.f1_hz), b.mass_kg_m, np.random.default_rng(2))
    found = identify_f1(raw, twin.RAW_HZ, b.f1_hz) / b.f1_hz - 1
    assert np.std(found) == pytest.approx(FREQ_ID_SIGMA, rel=0.25)
