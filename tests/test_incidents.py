"""Events → incidents: grading, grouping, anti-flood; the lifecycle and escalation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from citylifeline.batch import ReadingBatch
from citylifeline.city import CityBundle
from citylifeline.errors import IllegalTransition, ValidationError
from citylifeline.pipeline import Pipeline
from citylifeline.settings import Config
from citylifeline.store import IncidentFilter, open_store
from citylifeline.warn.lifecycle import ACTIONS, STATES, allowed_actions, apply_action, escalations_due
from citylifeline.warn.model import Event, Incident

T0 = 1_790_000_000_000
MIN = 60_000
NORMAL = 300e3  # Pa; the test city's pressure sensors have low levels at 250/200/150/100 kPa


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def pipe(bundle: CityBundle, config: Config) -> Iterator[Pipeline]:
    p = Pipeline(bundle, open_store(config.db), config, Clock())
    yield p
    p.store.close()


def feed(p: Pipeline, values: dict[str, np.ndarray], start_min: int = 0) -> None:
    """One reading per minute per named sensor, time-major, in one batch per minute."""
    n = len(next(iter(values.values())))
    for k in range(n):
        ids = list(values)
        b = ReadingBatch.of([p.registry.index[s] for s in ids], [T0 + (start_min + k) * MIN] * len(ids),
                            [values[s][k] + (k % 7) * 10.0 for s in ids])  # a little movement: not stuck
        p.ingest(b)


def active(p: Pipeline) -> list[Incident]:
    return p.store.active_incidents()


def test_a_breach_makes_one_incident_at_the_right_level(pipe: Pipeline) -> None:
    v = np.full(30, NORMAL)
    v[10:] = 140e3  # level II (below 150 kPa)
    feed(pipe, {"P-1": v})
    incs = active(pipe)
    assert len(incs) == 1
    assert incs[0].level == 3 and incs[0].state == "new" and incs[0].sensors == ["P-1"]
    assert "level II" in pipe.store.timeline(incs[0].id)[-1].detail
    assert pipe.store.tickets() == []


def test_a_chattering_sensor_makes_one_incident(pipe: Pipeline) -> None:
    v = np.tile(np.r_[np.full(5, NORMAL), np.full(5, 140e3)], 36)  # breaks and recovers 36 times in 6 h
    feed(pipe, {"P-1": v})
    events = pipe.store.events(limit=10_000)
    assert sum(e.kind == "threshold" and e.active for e in events) >= 30
    incs = pipe.store.incidents(IncidentFilter())
    assert len(incs) == 1
    assert incs[0].event_count == len([e for e in events if e.incident_id == incs[0].id])


def test_near_sensors_share_an_incident_far_ones_do_not(pipe: Pipeline) -> None:
    low = np.r_[np.full(5, NORMAL), np.full(20, 180e3)]  # level III
    lower = np.r_[np.full(8, NORMAL), np.full(17, 90e3)]  # level I, 457 m away along the pipes
    feed(pipe, {"P-1": low, "P-3": lower, "P-FAR": low})
    incs = sorted(active(pipe), key=lambda i: i.id)
    assert len(incs) == 2
    near = next(i for i in incs if "P-1" in i.sensors)
    assert sorted(near.sensors) == ["P-1", "P-3"] and near.level == 4  # the highest level of its events
    assert next(i for i in incs if i is not near).sensors == ["P-FAR"]


def test_after_resolution_a_new_breach_opens_a_new_incident(pipe: Pipeline) -> None:
    v = np.r_[np.full(5, NORMAL), np.full(10, 140e3), np.full(10, NORMAL)]
    feed(pipe, {"P-1": v})
    inc = active(pipe)[0]
    for action, kw in [("acknowledge", {}), ("dispatch", {"assignee": "crew 1"}), ("start", {}),
                       ("resolve", {"text": "valve replaced"})]:
        pipe.act(inc.id, action, "li", **kw)
    assert pipe.store.incident(inc.id).state == "resolved"  # type: ignore[union-attr]
    feed(pipe, {"P-1": v}, start_min=100)
    incs = active(pipe)
    assert len(incs) == 1 and incs[0].id != inc.id
    assert pipe.store.incident(inc.id).state == "resolved"  # type: ignore[union-attr]
    assert [t.action for t in pipe.store.timeline(inc.id)][-4:] == ["acknowledge", "dispatch", "start", "resolve"]


def test_sensor_faults_make_tickets_not_incidents(pipe: Pipeline) -> None:
    stuck = np.full(40, NORMAL)
    t = [T0 + k * MIN for k in range(40)]
    pipe.ingest(ReadingBatch.of([pipe.registry.index["P-2"]] * 40, t, stuck))
    assert active(pipe) == []
    tickets = pipe.store.tickets("open")
    assert [(t.sensor_id, t.fault) for t in tickets] == [("P-2", "stuck")]


def test_an_analysts_drift_on_a_sensor_with_an_open_ticket_counts_on_it_and_elsewhere_opens_one(
        pipe: Pipeline) -> None:
    """The water model's judgement that a transmitter strays (``drift``) is one more sign of a fault
    the crew already has to fix, when the sensor has an open ticket; else a ticket of its own."""
    stuck = np.full(40, NORMAL)
    pipe.ingest(ReadingBatch.of([pipe.registry.index["P-2"]] * 40, [T0 + k * MIN for k in range(40)], stuck))
    reg, at = pipe.registry, T0 + 41 * MIN

    def drift(sid: str) -> Event:
        return Event(sensor=reg.index[sid], sensor_id=sid, t_ms=at, kind="drift", level=1, active=True, value=5.0,
                     ref=0.0, message=f"{sid} strays from the model")

    changes = pipe.correlator.process([drift("P-2"), drift("P-1")], at, at)
    assert changes.incidents == {}
    assert sorted((t.sensor_id, t.fault, t.event_count) for t in changes.tickets.values()) == [
        ("P-1", "drift", 1), ("P-2", "stuck", 2)]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_the_lifecycle_allows_only_legal_transitions(state: str, action: str) -> None:
    inc = Incident(1, "water", 3, state, "t", 0, 0, 0, 0, 0.0, 0.0)
    kw = {"assignee": "crew 2", "text": "found and fixed"}
    if action in allowed_actions(state):
        entry = apply_action(inc, action, "wang", 10, **kw)
        assert entry.from_state == state and entry.to_state == inc.state and entry.actor == "wang"
        expected = ACTIONS[action].to_state or state
        assert inc.state == expected
    else:
        with pytest.raises(IllegalTransition, match="not allowed"):
            apply_action(inc, action, "wang", 10, **kw)
        assert inc.state == state


def test_actions_that_need_words_say_so() -> None:
    inc = Incident(1, "water", 3, "acknowledged", "t", 0, 0, 0, 0, 0.0, 0.0)
    with pytest.raises(ValidationError, match="assignee"):
        apply_action(inc, "dispatch", "wang", 1)
    with pytest.raises(ValidationError, match="reason"):
        apply_action(inc, "false_alarm", "wang", 1)
    with pytest.raises(ValidationError, match="actor"):
        apply_action(inc, "dispatch", " ", 1, assignee="x")


def test_unacknowledged_incidents_escalate_at_each_deadline() -> None:
    inc = Incident(1, "water", 4, "new", "t", 0, 0, created_at_ms=0, updated_at_ms=0, x=0.0, y=0.0)
    after = {4: 300.0, 3: 900.0, 2: 1800.0, 1: 3600.0}
    assert escalations_due([inc], 299_000, after) == []
    first = escalations_due([inc], 301_000, after)
    assert len(first) == 1 and inc.escalations == 1 and "not acknowledged" in first[0][1].detail
    assert escalations_due([inc], 400_000, after) == []
    assert len(escalations_due([inc], 601_000, after)) == 1 and inc.escalations == 2
    inc.state = "acknowledged"
    assert escalations_due([inc], 10_000_000, after) == []


def test_escalation_is_saved_on_the_timeline(pipe: Pipeline) -> None:
    v = np.full(30, NORMAL)
    v[10:] = 140e3  # level II: escalated after 900 s without acknowledgement
    feed(pipe, {"P-1": v})
    inc = active(pipe)[0]
    clock = pipe.clock
    assert isinstance(clock, Clock)
    clock.now += 899_000
    assert not pipe.escalate()
    clock.now += 2_000
    changes = pipe.escalate()
    assert list(changes.incidents) == [inc.id]
    saved = pipe.store.incident(inc.id)
    assert saved is not None and saved.escalations == 1 and saved.state == "new"
    assert pipe.store.timeline(inc.id)[-1].action == "escalate"
    pipe.act(inc.id, "acknowledge", "li")
    clock.now += 10 * 3600_000
    assert not pipe.escalate()  # acknowledged incidents do not escalate


def test_a_bridges_warnings_join_its_own_incidents_never_another_bridges(tmp_path: Path) -> None:
    """The 2nd St and Jinzhai Rd bridges are within the correlation radius of each other; a strain
    warning on one and a frequency warning on the other are two incidents (a bridge's strain says
    nothing of its neighbour's health), while a second warning on the first bridge joins its own."""
    from citylifeline.city import demo_city_path, load_city
    from citylifeline.warn.correlate import Correlator

    bundle = load_city(demo_city_path())
    reg = bundle.sensors
    config = Config.load(environ={}, db=str(tmp_path / "b.duckdb"))
    city = bundle.city
    b1, b2 = (city.asset(a) for a in ("bridge/bridge/B-1", "bridge/bridge/B-2"))
    assert city.distance_m(b1, b2, cutoff_m=config.correlate_radius_m) <= config.correlate_radius_m

    def warn(sensor_id: str, t_ms: int) -> Event:
        i = reg.idx(sensor_id)
        return Event(sensor=i, sensor_id=sensor_id, t_ms=t_ms, kind="threshold", level=2, active=True,
                     value=1.0, ref=0.0, message=f"{sensor_id} over its limit")

    store = open_store(config.db)
    try:
        t0 = 1_767_225_600_000
        ch = Correlator(city, reg, config, store).process(
            [warn("BS-11", t0), warn("BF-21", t0 + 60_000), warn("BF-11", t0 + 120_000)], t0 + 120_000, t0 + 120_000)
    finally:
        store.close()
    incs = sorted(ch.incidents.values(), key=lambda i: i.id)
    assert len(incs) == 2
    assert sorted(incs[0].sensors) == ["BF-11", "BS-11"] and incs[1].sensors == ["BF-21"]


def test_an_analysts_earlier_judgement_opens_the_incident_before_a_later_rule_warning_of_the_same_batch(
        pipe: Pipeline) -> None:
    """A file's or a replay's batch spans hours: the correlator takes its events in time order, the
    analysts' with the detectors'.  A burst the analyst placed at 30 min opens the incident; the
    pressure's rule warning at 2.5 h joins it (taken first, it had opened the incident two hours late)."""
    from citylifeline.analysis.base import Analyst

    class PlacedEarly(Analyst):
        name, lifeline, kinds = "placed-early", "water", ("water_burst",)

        def __init__(self, registry: Any) -> None:
            self.registry, self.done = registry, False

        def judged(self) -> np.ndarray:
            return np.zeros(len(self.registry), dtype=bool)

        def update(self, batch: ReadingBatch) -> list[Event]:
            if self.done:
                return []
            self.done = True
            s = self.registry.index["P-1"]
            return [Event(sensor=s, sensor_id="P-1", t_ms=T0 + 30 * MIN, kind="water_burst", level=3, active=True,
                          value=0.1, ref=0.0, message="suspected burst 疑似爆管", asset="water/junction/123")]

        def checkpoint(self) -> dict[str, np.ndarray]:
            return {}

        def restore(self, arrays: dict[str, np.ndarray]) -> None:
            pass

        def analyse(self, incident: Incident, store: Any) -> None:
            return None

        def status(self) -> dict[str, Any]:
            return {}

    pipe.analysts.append(PlacedEarly(pipe.registry))
    v = np.full(180, NORMAL)
    v[150:] = 140e3  # level II from 2.5 h
    s = pipe.registry.index["P-1"]
    pipe.ingest(ReadingBatch.of([s] * 180, [T0 + k * MIN for k in range(180)], v + (np.arange(180) % 7) * 10.0))
    incs = active(pipe)
    assert len(incs) == 1 and incs[0].t_first_ms == T0 + 30 * MIN and "burst" in incs[0].title
    assert incs[0].t_last_ms >= T0 + 150 * MIN  # the rule warning joined it
