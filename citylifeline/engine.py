"""The running platform: two writer threads that own the pipeline, and notifications out.

The store's two sides each have a thread and a bounded queue.  The **store thread** commits
readings batches (and runs retention); the future of a batch resolves as soon as it is
committed — that is when the HTTP or MQTT client is acknowledged — and its detection is then
queued for the **writer thread**, which owns everything else that writes: detection, the
correlator, incident actions, ticket closing, escalation, credentials and the audit log.  So one
batch is committed while the one before it is detected, and jobs on either side never
interleave.  Listeners (the WebSocket hub) are told of every incident and ticket that changed.
A full queue refuses new work (``Overloaded``) instead of buffering without bound; when
detection falls behind, the store thread waits for room, so its queue fills and refuses in turn.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any, TypeVar

from .analysis.drainage.rain import CityGauges
from .auth.access import Access
from .auth.model import (
    ADMIN_ID,
    MIN_ADMIN_TOKEN_CHARS,
    AuditEntry,
    Credential,
    check_credential,
    new_id,
    new_token,
    token_hash,
)
from .cascade.chains import Cascader
from .city.bundle import CityBundle, load_city
from .city.model import LIFELINES
from .errors import CityLifelineError, ConfigError, NotFound, ValidationError
from .forecasts import KEPT, RainForecastRecord
from .ingest import Parsed, Validator
from .pipeline import Lifelines, Pipeline, wall_ms
from .risk.live import RiskService
from .risk.riskmap import Site
from .risk.sites import ConstructionSite, check_site
from .settings import SETTINGS, Config
from .store import open_store
from .store.base import AppendResult, DeadLetters, Store, WarnChanges
from .supervise import Supervised
from .warn.lifecycle import allowed_actions
from .warn.model import Incident
from .works import WorksOrder, check_order

log = logging.getLogger("citylifeline.engine")
T = TypeVar("T")
Listener = Callable[[dict[str, Any]], None]
ESCALATION_CHECK_S = 5.0
RETENTION_CHECK_S = 3600.0


class Overloaded(CityLifelineError):
    """The writer's queue is full: the client should retry shortly."""

    http_status = 503


class Engine:
    """The pipeline behind a single writer thread, with escalation and change notifications."""

    check_every_s = ESCALATION_CHECK_S
    """How often the writer thread escalates (and, at a cluster's front, looks for changes)."""

    def __init__(self, config: Config, bundle: CityBundle | None = None, clock: Callable[[], int] = wall_ms,
                 store: Store | None = None, lifelines: Callable[[CityBundle, Store], Lifelines] | None = None
                 ) -> None:
        """The pipeline over the ``db`` setting's store; or, for the distributed mode's front, over
        ``store`` with what ``lifelines(bundle, store)`` makes in place of the pipeline."""
        if config.admin_token:
            check_admin_token(config.admin_token)
        self.config = config
        self.clock = clock
        self.bundle = bundle or load_city(config.city)
        self.store = store if store is not None else open_store(config.db, config.memory_limit)
        try:
            self.pipeline: Lifelines = (lifelines(self.bundle, self.store) if lifelines is not None
                                        else Pipeline(self.bundle, self.store, config, clock))
        except Exception:
            self.store.close()
            raise
        self.registry = self.pipeline.registry
        self.city = self.bundle.city
        self.validator = Validator(self.registry, config, clock)
        self.access = Access(self.store.credentials(), self.registry, config.rate_limit_per_s, config.session_hours)
        if config.admin_token:
            self._set_admin_token(config.admin_token)
        self._water: Any = None
        self._water_lock = threading.Lock()
        self._cascader: Cascader | None = None
        self._risk: RiskService | None = None
        self.rain_gauges = CityGauges.of(self.city, self.registry)  # what a rain forecast names (None: no model)
        self._jobs: queue.Queue[Any] = queue.Queue(maxsize=config.writer_queue_batches)  # the writer thread's
        self._appends: queue.Queue[Any] = queue.Queue(maxsize=config.writer_queue_batches)  # the store thread's
        self._listeners: list[Listener] = []
        self._thread = Supervised("citylifeline-writer", self._run)
        self._store_thread = Supervised("citylifeline-store", self._run_store)
        self._started = self._closed = False
        self.mqtt: Any = None  # MQTT ingestion, when mqtt_url is set (ingest.mqtt)

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the writer thread, and MQTT ingestion if ``mqtt_url`` is set."""
        if not self._started:
            self._started = True
            changed = {s.name: re.sub(r"://[^@/]*@", "://***@", str(getattr(self.config, s.name)))  # no passwords
                       for s in SETTINGS if getattr(self.config, s.name) != s.default and s.name != "admin_token"}
            self.store.save_warnings(WarnChanges(audit=[AuditEntry(
                0, self.clock(), "platform", "", "", "server.start", "", "",
                "settings other than the defaults: " + ", ".join(f"{k}={v}" for k, v in changed.items()))]))
            self._thread.start()
            self._store_thread.start()
            if self.config.mqtt_url:
                from .ingest.mqtt import MqttIngest

                self.mqtt = MqttIngest(self)
                self.mqtt.start()

    def stop(self) -> None:
        """Stop MQTT ingestion (committing what has arrived), finish queued jobs, checkpoint, and close
        the store; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        if self.mqtt is not None:
            self.mqtt.stop()
            self.mqtt = None
        if self._started:
            self._appends.put(None)
            self._store_thread.join()  # its last detections are queued for the writer before it ends
            self._jobs.put(None)
            self._thread.join()
            self._started = False
        self.pipeline.close()
        self.store.close()

    def threads(self) -> dict[str, dict[str, Any]]:
        """Each background thread's state: alive, restarts and the last error (for /api/v1/status)."""
        supervised = [self._thread, self._store_thread] + ([] if self.mqtt is None else self.mqtt.threads)
        return {t.name: t.status() for t in supervised}

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(message)`` (from the writer thread) for every changed incident or ticket."""
        self._listeners.append(fn)

    # ---- jobs --------------------------------------------------------------------------------------
    def run(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` on the writer thread; its result or exception arrives in the future."""
        return _queue(self._jobs, fn, "writer")

    def submit(self, parsed: Parsed, source: str = "http") -> Future[AppendResult]:
        """Store a validated batch; the future resolves once it is committed (detection follows).  Its dead
        letters are made columns here, on the caller's thread, so the store thread only inserts them."""
        letters = DeadLetters.of(parsed.dead_letters)

        def job() -> AppendResult:
            result = self.pipeline.append(parsed.batch, letters, source)
            self._jobs.put((lambda: self._publish(self.pipeline.detect(result)), Future()))  # waits for room
            return result
        return _queue(self._appends, job, "store")

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every batch submitted before now is committed and detected."""
        done: Future[None] = Future()
        self._appends.put((lambda: self._jobs.put((lambda: None, done)), Future()), timeout=timeout_s)  # waits for room
        done.result(timeout_s)

    def act(self, incident_id: int, action: str, actor: str, assignee: str = "", text: str = "",
            source: str = "", who: Credential | None = None) -> Future[Incident]:
        """Carry out a lifecycle action on an incident (on the writer thread); ``who`` is audited."""
        def job() -> Incident:
            inc, changes = self.pipeline.act(incident_id, action, actor, assignee, text, source, *_cred(who))
            self._publish(changes)
            return inc
        return self.run(job)

    def close_ticket(self, ticket_id: int, actor: str, note: str, source: str = "",
                     who: Credential | None = None) -> Future[WarnChanges]:
        """Close a maintenance ticket by hand (on the writer thread)."""
        def job() -> WarnChanges:
            changes = self.pipeline.close_ticket(ticket_id, actor, note, source, *_cred(who))
            self._publish(changes)
            return changes
        return self.run(job)

    # ---- credentials and the audit log ------------------------------------------------------------
    def create_credential(self, who: Credential, source: str, name: str, role: str, sensors: list[str],
                          lifelines: list[str], districts: list[str],
                          rate_per_s: float = 0.0) -> Future[tuple[Credential, str]]:
        """Make a credential (on the writer thread); the future holds it and its token, shown only now."""
        check_credential(name, role, sensors, lifelines, districts, rate_per_s, LIFELINES, self.districts())

        def job() -> tuple[Credential, str]:
            token = new_token()
            cred = Credential(new_id(), name, role, token_hash(token), sensors, lifelines, districts, rate_per_s,
                              self.clock(), who.name)
            scope = (f"sensors {', '.join(sensors)}" if sensors else
                     f"lifelines {', '.join(lifelines) or 'all'}; districts {', '.join(districts) or 'all'}")
            self._save_credential(cred, who, source, "credential.create", f"{name}, {role}; {scope}")
            return cred, token
        return self.run(job)

    # ---- works orders --------------------------------------------------------------------------------
    def create_works(self, who: Credential, source: str, lifeline: str, asset: str, action: str, start_ms: int,
                     end_ms: int | None, reason: str) -> Future[WorksOrder]:
        """Record a works order (on the writer thread, audited) and give every works order to the analysts."""
        check_order(self.city, lifeline, asset, action, start_ms, end_ms, reason)

        def job() -> WorksOrder:
            now = self.clock()
            order = WorksOrder(max((o.id for o in self.store.works_orders()), default=0) + 1, lifeline, asset, action,
                               start_ms, end_ms, reason, "open", now, who.name, now)
            self._save_works(order, who, source, "works.create",
                             f"{action} {asset} from {start_ms} to {end_ms or 'open end'} ms: {reason}")
            return order
        return self.run(job)

    def end_works(self, who: Credential, source: str, order_id: int, state: str,
                  end_ms: int | None = None) -> Future[WorksOrder]:
        """Finish a works order (the valve open again: at ``end_ms``, or now) or cancel it (it never happened)."""
        if state not in ("finished", "cancelled"):
            raise ValidationError(f"state {state!r}: a works order ends finished or cancelled", field="state",
                                  value=state)

        def job() -> WorksOrder:
            order = next((o for o in self.store.works_orders() if o.id == order_id), None)
            if order is None:
                raise NotFound(f"works order {order_id} does not exist; GET /api/v1/works lists them")
            if order.state != "open":
                raise ValidationError(f"works order {order_id} is already {order.state}", field="id", value=order_id)
            now = self.clock()
            end = (end_ms if end_ms is not None else now) if state == "finished" else order.end_ms
            if end is not None and end <= order.start_ms:
                raise ValidationError(f"end {end} ms is not after the works' start {order.start_ms} ms; give the time "
                                      "the valve was opened again", field="end", value=end)
            order = replace(order, state=state, end_ms=end, updated_at_ms=now)
            done = state == "finished"
            self._save_works(order, who, source, f"works.{'finish' if done else 'cancel'}",
                             f"{order.action} {order.asset}: {state}" + (f" at {end} ms" if done else ""))
            return order
        return self.run(job)

    # ---- construction sites --------------------------------------------------------------------------
    def create_site(self, who: Credential, source: str, name: str, kind: str, area: Any, contractor: str,
                    permit: str, start_ms: int, end_ms: int | None) -> Future[ConstructionSite]:
        """Register a construction site (on the writer thread, audited): the risk map and the correlator take it in."""
        check_site(name, kind, start_ms, end_ms)

        def job() -> ConstructionSite:
            now = self.clock()
            site = ConstructionSite(max((o.id for o in self.store.construction_sites()), default=0) + 1, name, kind,
                                    area.wkt, contractor, permit, start_ms, end_ms, "open", now, who.name, now)
            self._save_site(site, who, source, "site.create", f"{kind} {name!r} ({contractor}, permit {permit!r}) "
                                                                f"from {start_ms} to {end_ms or 'open end'} ms")
            return site
        return self.run(job)

    def end_site(self, who: Credential, source: str, site_id: int, state: str) -> Future[ConstructionSite]:
        """Finish a site's works (now) or cancel them (they never happened)."""
        if state not in ("finished", "cancelled"):
            raise ValidationError(f"state {state!r}: a site's works end finished or cancelled", field="state",
                                  value=state)

        def job() -> ConstructionSite:
            site = next((o for o in self.store.construction_sites() if o.id == site_id), None)
            if site is None:
                raise NotFound(f"construction site {site_id} does not exist; GET /api/v1/construction-sites lists them")
            if site.state != "open":
                raise ValidationError(f"construction site {site_id} is already {site.state}", field="id",
                                      value=site_id)
            now = self.clock()
            end = max(now, site.start_ms + 1) if state == "finished" else site.end_ms
            site = replace(site, state=state, end_ms=end, updated_at_ms=now)
            self._save_site(site, who, source, f"site.{'finish' if state == 'finished' else 'cancel'}",
                            f"{site.name}: {state}")
            return site
        return self.run(job)

    def _save_site(self, site: ConstructionSite, who: Credential, source: str, action: str, detail: str) -> None:
        entry = self._audit_entry(who, source, action, f"site/{site.id}", detail)
        self.store.save_warnings(WarnChanges(sites={site.id: site}, audit=[entry]))
        self.pipeline.construction_sites(self.store.construction_sites())
        if self._risk is not None:
            self._risk.invalidate()

    def risk(self) -> RiskService:
        """The live risk map (``risk.live``), built at the first question."""
        cascader = self.cascader()
        with self._water_lock:
            if self._risk is None:
                def sites() -> list[Site]:
                    now = self.clock()
                    return [Site(s.id, s.name, s.geometry) for s in self.store.construction_sites() if s.active(now)]
                self._risk = RiskService(cascader, self.store, self.clock, sites)
            return self._risk

    # ---- rain forecasts ------------------------------------------------------------------------------
    def add_rain_forecast(self, who: Credential, source: str, doc: Any) -> Future[RainForecastRecord]:
        """Keep a meteorological service's rain forecast (checked, on the model's gauges and steps) and
        give the newest to the analysts; it takes effect at its issue time in the readings' time."""
        if self.rain_gauges is None:
            raise ValidationError("this city has no SWMM drainage model: a rain forecast has nothing to drive",
                                  field="series", value=None)
        forecast = self.rain_gauges.parse(doc)

        def job() -> RainForecastRecord:
            now = self.clock()
            record = forecast.record(self.store.next_ids()["rain_forecasts"], now, who.name)
            self.store.save_warnings(WarnChanges(rain_forecasts=[record]))
            self.pipeline.rain_forecasts(self.store.rain_forecasts(KEPT))
            return record
        return self.run(job)

    def _save_works(self, order: WorksOrder, who: Credential, source: str, action: str, detail: str) -> None:
        entry = self._audit_entry(who, source, action, f"works/{order.id}", detail)
        self.store.save_warnings(WarnChanges(works={order.id: order}, audit=[entry]))
        self.pipeline.works(self.store.works_orders())

    def districts(self) -> list[str]:
        """The city's districts: its district areas and those its sensors name."""
        return sorted(set(self.city.districts) | set(self.registry.district) - {""})

    def revoke_credential(self, who: Credential, source: str, cred_id: str) -> Future[Credential]:
        """Revoke a credential (on the writer thread): its token and sessions stop working at once."""
        def job() -> Credential:
            cred = self.access.get(cred_id)
            if cred is None or not cred.active:
                raise NotFound(f"credential {cred_id!r} does not exist or is already revoked; "
                               "GET /api/v1/credentials lists them")
            if cred.id == ADMIN_ID:
                raise ValidationError("the built-in admin is not revoked: change the admin_token setting and "
                                      "restart instead", field="credential_id", value=cred_id)
            cred = replace(cred, revoked_at_ms=self.clock())
            self._save_credential(cred, who, source, "credential.revoke", cred.name)
            return cred
        return self.run(job)

    def audit(self, who: Credential, source: str, action: str, target: str, detail: str = "") -> Future[None]:
        """Record something a person did or was refused (on the writer thread)."""
        entry = self._audit_entry(who, source, action, target, detail)
        return self.run(lambda: self.store.save_warnings(WarnChanges(audit=[entry])))

    def _audit_entry(self, who: Credential, source: str, action: str, target: str, detail: str) -> AuditEntry:
        return AuditEntry(0, self.clock(), who.name, who.id, who.role, action, target, source, detail)

    def _save_credential(self, cred: Credential, who: Credential, source: str, action: str, detail: str) -> None:
        entry = self._audit_entry(who, source, action, f"credential/{cred.id}", detail)
        self.store.save_warnings(WarnChanges(credentials={cred.id: cred}, audit=[entry]))
        self.access.put(cred)

    def _set_admin_token(self, token: str) -> None:
        """Make (or re-key) the built-in admin credential from the admin_token setting."""
        old = self.access.get(ADMIN_ID)
        if old is not None and old.token_sha256 == token_hash(token):
            return
        cred = Credential(ADMIN_ID, "admin", "admin", token_hash(token), created_at_ms=self.clock(),
                          created_by="admin_token setting")
        platform = Credential("", "platform", "", "")
        self._save_credential(cred, platform, "", "credential.create" if old is None else "credential.rekey",
                              "the built-in admin, from the admin_token setting")

    def incident_json(self, inc: Incident) -> dict[str, Any]:
        """An incident as the API and the WebSocket send it: with WGS84 ``lon``/``lat`` for maps
        and the lifecycle actions its state allows."""
        lon, lat = self.city.to_wgs84(inc.x, inc.y)
        return inc.to_dict() | {"lon": float(lon), "lat": float(lat), "allowed_actions": allowed_actions(inc.state)}

    def water_analysis(self, inc: Incident) -> dict[str, Any] | None:
        """A water incident's leak localisation, isolation plan and impact (``analysis.water.incident``);
        None for other lifelines or a city without a water network model."""
        layer = self.city.layers.get("water")
        if inc.lifeline != "water" or layer is None or layer.model is None:
            return None
        with self._water_lock:
            if self._water is None:
                from .analysis.water.incident import WaterIncidentAnalyst

                self._water = WaterIncidentAnalyst(self.city, self.registry)
        try:
            return self._water.analyse(self.store, inc, self.clock())
        except Exception as exc:  # the incident is still shown; the reason is logged and sent
            log.exception("water analysis of incident %s failed", inc.id)
            return {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}

    def cascader(self) -> Cascader:
        """The cascade analysis of the city (``cascade.chains``), built at the first question."""
        with self._water_lock:
            if self._cascader is None:
                self._cascader = Cascader(self.city, self.registry)
            return self._cascader

    def cascade(self, inc: Incident) -> dict[str, Any]:
        """What ``inc`` threatens next (``Cascade.to_dict``), each step with its WGS84 ``lon``/``lat``, and
        ``showing``: the sensors of each step in an open incident now."""
        showing = {s for other in self.store.active_incidents() for s in other.sensors}
        out = self.cascader().analyse(inc, showing).to_dict()
        for step in [*out["origin"], *(s for c in out["chains"] for s in c), *out["to_people"]]:
            try:
                lon, lat = self.city.to_wgs84(*self.city.asset(step["asset"]).xy)
                step |= {"lon": float(lon), "lat": float(lat)}
            except NotFound:  # an asset the model lacks: no place on the map
                step |= {"lon": None, "lat": None}
        return out

    def analysts(self) -> list[Any]:
        """The lifeline analysts the pipeline runs (none in the distributed mode's front: its workers run them)."""
        return list(getattr(self.pipeline, "analysts", []))

    def analyst(self, name: str) -> Any:
        """The analyst called ``name``; NotFound naming those running."""
        analyst = next((a for a in self.analysts() if a.name == name), None)
        if analyst is None:
            raise NotFound(f"analyst {name!r} is not running; running: "
                           f"{', '.join(a.name for a in self.analysts()) or 'none'}")
        return analyst

    def recalibrate(self, who: Credential, source: str, name: str) -> Future[dict[str, Any]]:
        """Make an analyst learn again (on the writer thread, audited, with a checkpoint at once so that
        a restart does not bring back what it was told to forget); its status after."""
        analyst = self.analyst(name)

        def job() -> dict[str, Any]:
            analyst.recalibrate()
            entry = self._audit_entry(who, source, "analyst.recalibrate", f"analyst/{name}",
                                      "learn again from the next readings")
            assert isinstance(self.pipeline, Pipeline)  # analysts run in one process's pipeline
            self.pipeline.save(WarnChanges(audit=[entry]), force_checkpoint=True)
            return dict(analyst.status())
        return self.run(job)

    def lifeline_analyses(self, inc: Incident) -> dict[str, Any]:
        """Each analyst's analysis of an incident it judged ({'gas': …}), by analyst name."""
        out: dict[str, Any] = {}
        for a in self.analysts():
            try:
                found = a.analyse(inc, self.store)
            except Exception as exc:  # the incident is still shown; the reason is logged and sent
                log.exception("%s analysis of incident %s failed", a.name, inc.id)
                found = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
            if found is not None:
                out[a.name] = found
        return out

    def sensor_json(self, i: int) -> dict[str, Any]:
        """Sensor ``i`` as the API sends it: its parameters, with WGS84 ``lon``/``lat`` for maps."""
        d = self.registry.describe(i)
        if d.get("x") is not None and d.get("y") is not None:
            lon, lat = self.city.to_wgs84(d["x"], d["y"])
            d["lon"], d["lat"] = float(lon), float(lat)
        return d

    # ---- the two threads ---------------------------------------------------------------------------
    def _run(self) -> None:
        next_check = 0.0
        while True:
            try:
                item = self._jobs.get(timeout=self.check_every_s)
            except queue.Empty:
                item = ()
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + self.check_every_s
                self._guard(self._escalate)
            if item is None:
                return
            if item:
                _serve(*item)

    def _run_store(self) -> None:
        next_retain = 0.0
        while True:
            try:
                item = self._appends.get(timeout=ESCALATION_CHECK_S)
            except queue.Empty:
                item = ()
            if self.config.retention_days > 0 and time.monotonic() >= next_retain:
                next_retain = time.monotonic() + RETENTION_CHECK_S
                self._guard(self.retain)
            if item is None:
                return
            if item:
                _serve(*item)

    @staticmethod
    def _guard(fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception:  # a periodic job must not kill the writer; it is retried at the next check
            log.exception("%s failed", getattr(fn, "__name__", "a periodic job"))

    def retain(self) -> int:
        """Reduce readings older than ``retention_days`` before the newest one to hourly statistics (on
        the store thread, hourly); how many were reduced."""
        n = self.store.retain_days(self.config.retention_days)
        if n:
            log.info("reduced %d readings older than %s days to hourly statistics", n, self.config.retention_days)
        return n

    def _escalate(self) -> None:
        self._publish(self.pipeline.escalate())

    def _publish(self, changes: WarnChanges) -> None:
        if not self._listeners or not (changes.incidents or changes.tickets):
            return
        messages = [{"type": "incident", "incident": self.incident_json(inc)} for inc in changes.incidents.values()]
        messages += [{"type": "ticket", "ticket": t.to_dict()} for t in changes.tickets.values()]
        for fn in self._listeners:
            for m in messages:
                try:
                    fn(m)
                except Exception:  # a broken listener must not stop the writer
                    log.exception("listener failed")


def _queue(jobs: queue.Queue[Any], fn: Callable[[], T], thread: str) -> Future[T]:
    """Queue ``fn`` for a thread; ``Overloaded`` when its queue is full."""
    fut: Future[T] = Future()
    try:
        jobs.put_nowait((fn, fut))
    except queue.Full:
        raise Overloaded(f"the {thread} thread is busy ({jobs.maxsize} jobs queued); retry in a second") from None
    return fut


def _serve(fn: Callable[[], Any], fut: Future[Any]) -> None:
    """Run a job; its caller gets the result or the error, and the thread carries on."""
    try:
        result = fn()
    except Exception as e:
        if not fut.done():
            fut.set_exception(e)
        if not isinstance(e, CityLifelineError):
            log.exception("%s job failed", threading.current_thread().name)
        return
    except BaseException as e:  # the thread's supervisor restarts it; the caller is not left waiting
        if not fut.done():
            fut.set_exception(e)
        raise
    if not fut.done():
        fut.set_result(result)


def _cred(who: Credential | None) -> tuple[str, str]:
    """(credential id, role) for the audit log."""
    return (who.id, who.role) if who is not None else ("", "")


def check_admin_token(token: str) -> None:
    """Refuse an admin_token too short to be safe."""
    if len(token) < MIN_ADMIN_TOKEN_CHARS:
        raise ConfigError(f"admin_token has {len(token)} characters; use at least {MIN_ADMIN_TOKEN_CHARS} "
                          "(`citylifeline token` prints a good one)")
