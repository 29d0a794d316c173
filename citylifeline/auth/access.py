"""The running platform's view of its credentials: token lookup, browser sessions, rate limits, scopes.

``Access`` holds every active credential by the hash of its token, so checking a request costs
one SHA-256 and a dictionary lookup.  A browser logs in once with its token and gets a session
(a second random secret, also kept only as a hash, in memory: a restart logs everyone out).
Each credential has a token bucket of ``rate_per_s`` requests a second (bursts of twice that);
wrong tokens are limited per client address (both limits are off when the platform's rate is 0).
Every refusal (401, 403, 429) is audited, at most ``REFUSALS_AUDITED_PER_MIN`` a minute one by one
per client address (so a flood of refused requests cannot fill the writer's queue); past that
they are counted, and the count goes into the address's next entry.
Changes to credentials are saved by the engine's writer and then ``put`` here.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

import numpy as np

from ..city.sensors import SensorRegistry
from ..errors import RateLimited, Unauthorized
from .model import ADMIN_ID, Credential, token_hash

SESSION_PREFIX = "cls_"
FAILED_LOGINS_PER_MIN = 20
"""Attempts with a wrong token allowed per client address a minute before it gets 429."""
REFUSALS_AUDITED_PER_MIN = 60
"""Refusals written to the audit log one by one per client address a minute (bursts of as many);
more are counted into the address's next entry."""


@dataclass
class _Bucket:
    tokens: float
    at: float


class Access:
    """Credentials by token hash, sessions, rate buckets and per-credential scope masks."""

    def __init__(self, credentials: list[Credential], registry: SensorRegistry, default_rate_per_s: float,
                 session_hours: float) -> None:
        self.registry = registry
        self.default_rate_per_s = default_rate_per_s
        self.failed_per_min = FAILED_LOGINS_PER_MIN if default_rate_per_s > 0 else 0.0
        self.refusals_audited_per_min = REFUSALS_AUDITED_PER_MIN if default_rate_per_s > 0 else 0.0
        self.session_s = session_hours * 3600
        self._lock = threading.Lock()
        self._by_id: dict[str, Credential] = {}
        self._by_hash: dict[str, Credential] = {}
        self._sessions: dict[str, tuple[str, float]] = {}  # hash of the session secret → (credential id, expiry)
        self._buckets: dict[str, _Bucket] = {}
        self._failures: dict[str, _Bucket] = {}
        self._refusals: dict[str, _Bucket] = {}
        self._unlogged: dict[str, int] = {}  # client address → refusals counted but not yet in the audit log
        self._masks: dict[str, np.ndarray] = {}
        for c in credentials:
            self.put(c)

    # ---- credentials ---------------------------------------------------------------------------
    def put(self, cred: Credential) -> None:
        """Add or replace a credential (after it was saved); a revoked one loses its sessions."""
        with self._lock:
            old = self._by_id.pop(cred.id, None)
            if old is not None:
                self._by_hash.pop(old.token_sha256, None)
            self._masks.pop(cred.id, None)
            self._by_id[cred.id] = cred
            if cred.active:
                self._by_hash[cred.token_sha256] = cred
            else:
                self._sessions = {h: s for h, s in self._sessions.items() if s[0] != cred.id}

    def get(self, cred_id: str) -> Credential | None:
        """A credential by id (revoked ones too)."""
        return self._by_id.get(cred_id)

    def all(self) -> list[Credential]:
        """Every credential, the admin first, then by name."""
        return sorted(self._by_id.values(), key=lambda c: (c.id != ADMIN_ID, c.name, c.id))

    # ---- who is asking -------------------------------------------------------------------------
    def authenticate(self, token: str, client: str) -> Credential:
        """The active credential of a token or session; ``Unauthorized`` otherwise (after too many
        wrong ones from ``client``, ``RateLimited``)."""
        h = token_hash(token)
        cred = self._by_hash.get(h)
        if cred is None and token.startswith(SESSION_PREFIX):
            session = self._sessions.get(h)
            if session is not None and session[1] > time.monotonic():
                cred = self._by_hash_id(session[0])
        if cred is None:
            self._failed(client)
            raise Unauthorized("the token is unknown, revoked or its session has expired; log in again or ask "
                               "an admin for a credential")
        return cred

    def _by_hash_id(self, cred_id: str) -> Credential | None:
        cred = self._by_id.get(cred_id)
        return cred if cred is not None and cred.active else None

    def _failed(self, client: str) -> None:
        per_min = self.failed_per_min
        if per_min > 0 and not self._take(self._failures, client, per_min / 60.0, per_min):
            raise RateLimited(f"too many wrong tokens from {client}; wait a minute", 60.0)

    def refusal_to_audit(self, client: str) -> int | None:
        """Whether a refusal of a request from ``client`` is written to the audit log now: ``None`` when
        the address is past ``refusals_audited_per_min`` (the refusal is counted instead), else how many
        of its refusals were counted since its last entry (to be named in this one)."""
        per_min = self.refusals_audited_per_min
        if per_min > 0 and not self._take(self._refusals, client, per_min / 60.0, per_min):
            with self._lock:
                self._unlogged[client] = self._unlogged.get(client, 0) + 1
            return None
        with self._lock:
            return self._unlogged.pop(client, 0)

    def login(self, cred: Credential) -> str:
        """A new browser session for ``cred``: its secret (set as a cookie, never stored)."""
        secret = SESSION_PREFIX + secrets.token_urlsafe(30)
        now = time.monotonic()
        with self._lock:
            self._sessions = {h: s for h, s in self._sessions.items() if s[1] > now}
            self._sessions[token_hash(secret)] = (cred.id, now + self.session_s)
        return secret

    def logout(self, secret: str) -> None:
        """End the session ``secret`` (a no-op for tokens and unknown sessions)."""
        with self._lock:
            self._sessions.pop(token_hash(secret), None)

    def throttle(self, cred: Credential) -> None:
        """Take one request from the credential's bucket; ``RateLimited`` when it is empty."""
        rate = cred.rate_per_s or self.default_rate_per_s
        if rate > 0 and not self._take(self._buckets, cred.id, rate, 2 * rate):
            raise RateLimited(f"{cred.name} may send {rate:g} requests a second (bursts of {2 * rate:g}); "
                              "slow down or batch readings into fewer requests", 1.0 / rate)

    def _take(self, buckets: dict[str, _Bucket], key: str, rate: float, burst: float) -> bool:
        now = time.monotonic()
        with self._lock:
            b = buckets.get(key)
            if b is None:
                b = buckets[key] = _Bucket(burst, now)
            b.tokens = min(burst, b.tokens + (now - b.at) * rate)
            b.at = now
            if b.tokens < 1:
                return False
            b.tokens -= 1
            return True

    # ---- scope -------------------------------------------------------------------------------
    def sensor_mask(self, cred: Credential) -> np.ndarray:
        """Per sensor index, whether ``cred`` may see it (people) or write it (devices)."""
        mask = self._masks.get(cred.id)
        if mask is None:
            reg = self.registry
            if cred.role == "device":
                mask = np.fromiter((cred.writes(s) for s in reg.ids), np.bool_, len(reg))
            else:
                mask = np.fromiter((cred.sees(reg.layer[i], [reg.district[i]]) for i in range(len(reg))),
                                   np.bool_, len(reg))
            self._masks[cred.id] = mask
        return mask

    def sees_incident(self, cred: Credential, lifeline: str, sensor_ids: list[str]) -> bool:
        """Whether an incident on ``lifeline`` with those sensors is in ``cred``'s scope."""
        if not cred.lifelines and not cred.districts:
            return True
        reg = self.registry
        districts = {reg.district[reg.index[s]] for s in sensor_ids if s in reg.index}
        return cred.sees(lifeline, districts)
