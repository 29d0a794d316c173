"""The pipeline: readings → durable store → detectors → events → incidents and tickets.

One direction, whole batches.  ``append`` makes readings durable (the caller may acknowledge
after it returns); ``detect`` runs every detector over the readings that were new and hands
their events to the correlator; the results, and from time to time a checkpoint of the
detector state, are saved in one transaction.  The same class serves the live server, file
ingest and ``replay``, so they give the same answers.

After a crash, ``recover`` restores the last checkpoint and re-runs the detectors over the
readings committed since; events already stored are recognised by their (sensor, time, kind)
key and not applied twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import numba
import numpy as np

from .analysis import default_analysts, judged_window
from .analysis.base import UNTRUSTED_FAULTS
from .auth.model import AuditEntry
from .batch import NO_TIME, EventBatch, ReadingBatch
from .city.bundle import CityBundle
from .city.sensors import SensorRegistry
from .detect import AnomalyDetector, default_detectors, impossible_mask
from .detect.anomaly import review
from .errors import NotFound
from .forecasts import KEPT, RainForecastRecord
from .risk.sites import ConstructionSite
from .settings import Config
from .store.base import AppendResult, Checkpoint, DeadLetter, Store, WarnChanges
from .warn.correlate import Correlator
from .warn.describe import describe
from .warn.lifecycle import apply_action, escalations_due
from .warn.model import Event, Incident
from .works import WorksOrder

NONE = NO_TIME


@numba.njit(cache=True, nogil=True)
def _newer(sensor, t_ms, last_t):  # type: ignore[no-untyped-def]
    keep = np.zeros(len(sensor), dtype=np.bool_)
    for i in range(len(sensor)):
        s = sensor[i]
        if t_ms[i] > last_t[s]:
            keep[i] = True
            last_t[s] = t_ms[i]
    return keep


def wall_ms() -> int:
    """Milliseconds since the epoch, now."""
    return int(time.time() * 1000)


class Lifelines(Protocol):
    """What the engine runs: this module's ``Pipeline`` in one process, or the front of the
    distributed mode (``cluster.front.ClusterPipeline``) whose partitions run the pipelines."""

    registry: SensorRegistry
    tz: ZoneInfo
    watermark_ms: int

    def append(self, batch: ReadingBatch, dead_letters: Sequence[DeadLetter] = (),
               source: str = "") -> AppendResult: ...

    def detect(self, result: AppendResult, watermark_ms: int = NONE) -> WarnChanges: ...

    def act(self, incident_id: int, action: str, actor: str, assignee: str = "", text: str = "",
            source: str = "", credential: str = "", role: str = "") -> tuple[Incident, WarnChanges]: ...

    def close_ticket(self, ticket_id: int, actor: str, note: str, source: str = "", credential: str = "",
                     role: str = "") -> WarnChanges: ...

    def escalate(self) -> WarnChanges: ...

    def threshold_levels(self) -> np.ndarray: ...

    def works(self, orders: list[WorksOrder]) -> None: ...

    def construction_sites(self, sites: list[ConstructionSite]) -> None: ...

    def rain_forecasts(self, forecasts: list[RainForecastRecord]) -> None: ...

    def close(self) -> None: ...


class Pipeline:
    """Readings in, warning records out, over one store and one city."""

    def __init__(self, bundle: CityBundle, store: Store, config: Config,
                 clock: Callable[[], int] = wall_ms, partition: tuple[int, int] = (0, 1)) -> None:
        """``partition`` (k, n): this pipeline is district partition k of n (``cluster``); its incidents,
        events and tickets are numbered so that the n partitions' ids never meet."""
        self.city = bundle.city
        self.store = store
        self.config = config
        self.clock = clock
        self.tz = ZoneInfo(bundle.city.timezone)
        self.registry = store.register_sensors(bundle.sensors)
        self.detectors = default_detectors(self.registry, config)
        self.analysts = default_analysts(self.city, self.registry, config)
        self.correlator = Correlator(self.city, self.registry, config, store, partition,
                                     judged_from=judged_window(self.analysts, len(self.registry))[0])
        self.detected_t = np.full(len(self.registry), NONE, dtype=np.int64)  # newest time given to detectors
        self.watermark_ms = NONE
        self.seq = 0
        self._last_checkpoint_ms = clock()
        self.works(store.works_orders())  # before the replay: it must judge as the live run did
        self.construction_sites(store.construction_sites())
        self.rain_forecasts(store.rain_forecasts(KEPT))
        self.recovered_readings = self.recover()

    # ---- the two steps -------------------------------------------------------------------------
    def append(self, batch: ReadingBatch, dead_letters: Sequence[DeadLetter] = (),
               source: str = "") -> AppendResult:
        """Store readings and dead letters durably; returns once committed."""
        return self.store.append(batch, dead_letters, source)

    def detect(self, result: AppendResult, watermark_ms: int = NONE) -> WarnChanges:
        """Run the detectors over the new readings of an append and save what they found;
        ``watermark_ms``: the newest reading time of the whole city, when it is more than the
        readings show (a partition's readings are only part of the city's: ``cluster``)."""
        changes = self._detect(result.new, watermark_ms)
        if result.seq:
            self.seq = result.seq
        self.save(changes)
        return changes

    def ingest(self, batch: ReadingBatch, dead_letters: Sequence[DeadLetter] = (),
               source: str = "") -> tuple[AppendResult, WarnChanges]:
        """``append`` then ``detect``: what file import and replay do."""
        result = self.append(batch, dead_letters, source)
        return result, self.detect(result)

    def save(self, changes: WarnChanges, force_checkpoint: bool = False) -> None:
        """Save warning changes, with a checkpoint when one is due (or forced)."""
        now = self.clock()
        checkpoint = None
        if force_checkpoint or now - self._last_checkpoint_ms >= self.config.checkpoint_interval_s * 1000:
            checkpoint = self.checkpoint()
            self._last_checkpoint_ms = now
        self.store.save_warnings(changes, checkpoint)
        self.correlator.forget_closed()

    # ---- people ----------------------------------------------------------------------------------
    def act(self, incident_id: int, action: str, actor: str, assignee: str = "", text: str = "",
            source: str = "", credential: str = "", role: str = "") -> tuple[Incident, WarnChanges]:
        """Carry out a lifecycle action and save it with its audit entry; the correlator's live copy is
        the one changed."""
        inc = self.correlator.active.get(incident_id) or self.store.incident(incident_id)
        if inc is None:
            raise NotFound(f"incident {incident_id} does not exist")
        entry = apply_action(inc, action, actor, self.clock(), assignee=assignee, text=text, source=source)
        audit = AuditEntry(0, entry.at_ms, entry.actor, credential, role, f"incident.{action}", f"incident/{inc.id}",
                           source, f"{entry.from_state} → {entry.to_state}" + (f": {entry.detail}" if entry.detail
                                                                               else ""))
        changes = WarnChanges(incidents={inc.id: inc}, timeline=[entry], audit=[audit])
        learned = self._learn_false_alarm(inc) if action == "false_alarm" else 0
        self.save(changes, force_checkpoint=learned > 0)  # what was learned survives a restart
        return inc, changes

    def _learn_false_alarm(self, inc: Incident) -> int:
        """Teach the anomaly detector the patterns of an incident called a false alarm; returns how many."""
        anomaly = next((d for d in self.detectors if isinstance(d, AnomalyDetector)), None)
        if anomaly is None:
            return 0
        events = [e for e in self.store.events(incident_id=inc.id, limit=10_000) if e.kind == "anomaly"]
        for e in events:
            anomaly.learn_false_alarm(e.sensor, e.detail)
        return len(events)

    def close_ticket(self, ticket_id: int, actor: str, note: str, source: str = "", credential: str = "",
                     role: str = "") -> WarnChanges:
        """Close an open maintenance ticket by hand, and save it with its audit entry."""
        now = self.clock()
        changes = self.correlator.close_ticket(ticket_id, actor, note, now)
        changes.audit.append(AuditEntry(0, now, actor, credential, role, "ticket.close", f"ticket/{ticket_id}",
                                        source, note))
        self.save(changes)
        return changes

    def escalate(self) -> WarnChanges:
        """Escalate incidents left unacknowledged past their level's deadline, and save."""
        due = escalations_due(list(self.correlator.active.values()), self.clock(), self.config.escalate_after())
        changes = WarnChanges(incidents={inc.id: inc for inc, _ in due}, timeline=[e for _, e in due])
        if changes:
            self.save(changes)
        return changes

    def works(self, orders: list[WorksOrder]) -> None:
        """Every works order known (all of them, each time one is made or changed): to the analysts."""
        for a in self.analysts:
            a.works(orders)

    def construction_sites(self, sites: list[ConstructionSite]) -> None:
        """Every construction site registered (each time one is made or changed, and at the start): to the
        correlator, which watches the sensors beside them more closely."""
        self.correlator.sites(sites)

    def rain_forecasts(self, forecasts: list[RainForecastRecord]) -> None:
        """The newest rain forecasts (each time one comes, and at the start): to the analysts."""
        for a in self.analysts:
            a.rain_forecasts(forecasts)

    def threshold_levels(self) -> np.ndarray:
        """Each sensor's threshold level in force (a severity, 0 for none), by registry index."""
        threshold = next((d for d in self.detectors if d.name == "threshold"), None)
        levels = np.zeros(len(self.registry), dtype=np.int8)
        if threshold is not None:
            lv = threshold.state["level"][: len(levels)]
            levels[: len(lv)] = lv
        return levels

    # ---- detection -----------------------------------------------------------------------------
    def _detect(self, new: ReadingBatch, watermark_ms: int = NONE) -> WarnChanges:
        if not len(new):
            return WarnChanges()
        _newer(new.sensor, new.t_ms, self.detected_t)
        self.watermark_ms = max(self.watermark_ms, int(new.t_ms.max()), watermark_ms)
        return self.correlator.process(self.warnings(new), self.clock(), self.watermark_ms)

    def warnings(self, new: ReadingBatch) -> list[Event]:
        """The detectors' events in words and the analysts' judgements for readings ``new``, in time
        order (the detectors' first at one time).  In time order, not detectors then analysts: a batch
        of a file or a replay spans hours, and a water analyst's burst placed 37 minutes after it
        began was taken in after the tank's low level three hours later had opened the incident,
        which then looked opened three hours late."""
        records = describe(self.run_detectors(new), self.registry, self.tz)
        faults = [e for e in records if e.kind in UNTRUSTED_FAULTS and e.active]
        for a in self.analysts:
            if faults:
                a.sensor_faults(faults)
            records.extend(a.update(new))
        if self.analysts:  # an analyst that has learnt a sensor's normal judges it from then on
            self.correlator.judged_from, self.correlator.judged_until = judged_window(self.analysts,
                                                                                      len(self.registry))
        records.sort(key=lambda e: e.t_ms)  # stable
        return records

    def run_detectors(self, new: ReadingBatch) -> EventBatch:
        """Every detector's events for ``new``; impossible values are kept from the warning ones."""
        bad = impossible_mask(new, self.registry)
        sane = new.take(~bad) if bad.any() else new
        events = EventBatch.concat([d.update(sane if d.sane_values_only else new, self.watermark_ms)
                                    for d in self.detectors])
        ai = next((d for d in self.detectors if isinstance(d, AnomalyDetector)), None)
        if ai is not None and ai.usual_z is not None:  # the AI's view of each rule warning's reading
            events = review(events, sane if ai.sane_values_only else new, ai.usual_z)
        return events

    # ---- checkpoint and recovery -------------------------------------------------------------
    def checkpoint(self) -> Checkpoint:
        """The detector state as of the last detected commit."""
        arrays: dict[str, np.ndarray] = {"pipeline.detected_t": self.detected_t.copy(),
                                         "pipeline.watermark_ms": np.array([self.watermark_ms], np.int64)}
        parts: list[Any] = [*self.detectors, *self.analysts]
        for d in parts:
            arrays.update(d.checkpoint())
        return Checkpoint(self.seq, arrays)

    def recover(self) -> int:
        """Restore the last checkpoint and re-detect readings committed after it; returns how many
        readings were re-run.  Events already stored are not applied twice."""
        cp = self.store.load_checkpoint()
        after = 0
        if cp is not None:
            parts: list[Any] = [*self.detectors, *self.analysts]
            for d in parts:
                d.restore(cp.arrays)
            saved = cp.arrays["pipeline.detected_t"]
            self.detected_t[: len(saved)] = saved[: len(self.detected_t)]
            self.watermark_ms = int(cp.arrays["pipeline.watermark_ms"][0])
            after = self.seq = cp.seq
        rerun = 0
        for seq, batch in self.store.replay_batches(after_seq=after):
            new = batch.take(_newer(batch.sensor, batch.t_ms, self.detected_t))
            if len(new):
                self.watermark_ms = max(self.watermark_ms, int(new.t_ms.max()))
                records = self.warnings(new)
                known = self.store.known_events(records)
                fresh = [r for r, k in zip(records, known, strict=True) if not k]
                self.save(self.correlator.process(fresh, self.clock(), self.watermark_ms))
            self.seq = seq
            rerun += len(batch)
        if rerun:
            self.save(WarnChanges(), force_checkpoint=True)
        return rerun

    def close(self) -> None:
        """Checkpoint the detector state (so a restart re-runs nothing)."""
        self.save(WarnChanges(), force_checkpoint=True)
