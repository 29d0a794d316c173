"""Who may do what: credentials with a role and a scope, their tokens, and the audit log's entries.

A **credential** is a person's account or a device's key.  Its role decides what it may do:

    device     write readings, only for its own sensors (ids or patterns such as ``GW17-*``)
    viewer     read everything in its scope: the map, incidents, readings, tickets
    operator   a viewer who also acts on incidents and closes maintenance tickets in its scope
    admin      everything, everywhere: credentials, the audit log, readings for any sensor

A person's **scope** is a set of lifelines and of districts (empty: all of them).  A sensor is in
scope when its lifeline and its district are; an incident when its lifeline is and one of its
sensors' districts is.  A **token** is shown once, when the credential is made, and only its
SHA-256 is kept: a stolen database gives no one a way in.  Tokens are 240-bit random, so a plain
hash is enough (a slow password hash is for guessable secrets).

An **audit entry** records who (credential and role), when, what, on what, from where and the
detail; each carries the SHA-256 of the one before it, so an entry changed or removed afterwards
breaks the chain (``verify_chain``) even in a store that cannot refuse the change itself.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import secrets
from dataclasses import asdict, astuple, dataclass, field
from typing import Any

import orjson

from ..errors import ValidationError

ROLES = ("device", "viewer", "operator", "admin")
RANK = {"device": 0, "viewer": 1, "operator": 2, "admin": 3}
"""People's roles in increasing power; a device ranks below a viewer and reads nothing."""
TOKEN_PREFIX = "cl_"
MIN_ADMIN_TOKEN_CHARS = 20
ADMIN_ID = "admin"
NAME = re.compile(r"^[\w.@-]{1,64}$")


@dataclass
class Credential:
    """A person's account or a device's key (the token itself is never stored)."""

    id: str
    name: str
    role: str
    token_sha256: str
    sensors: list[str] = field(default_factory=list)  # device: ids or fnmatch patterns it may write
    lifelines: list[str] = field(default_factory=list)  # scope; empty: every lifeline
    districts: list[str] = field(default_factory=list)  # scope; empty: every district
    rate_per_s: float = 0.0  # requests per second allowed; 0: the platform's rate_limit_per_s
    created_at_ms: int = 0
    created_by: str = ""
    revoked_at_ms: int = -1

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at_ms < 0

    def public(self) -> dict[str, Any]:
        """JSON-ready, without the token's hash."""
        d = asdict(self)
        del d["token_sha256"]
        d["active"] = self.active
        return d

    def may(self, role: str) -> bool:
        """Whether this credential has at least ``role`` (a device only 'device')."""
        if self.role == "device" or role == "device":
            return self.role == role or (role == "device" and self.role == "admin")
        return RANK[self.role] >= RANK[role]

    def writes(self, sensor_id: str) -> bool:
        """Whether readings for ``sensor_id`` may come from this credential."""
        if self.role == "admin":
            return True
        return self.role == "device" and any(fnmatch.fnmatchcase(sensor_id, p) for p in self.sensors)

    def sees(self, lifeline: str, districts: set[str] | list[str]) -> bool:
        """Whether something on ``lifeline`` in (any of) ``districts`` is in this credential's scope."""
        return ((not self.lifelines or lifeline in self.lifelines)
                and (not self.districts or any(d in self.districts for d in districts)))


@dataclass
class AuditEntry:
    """One line of the append-only audit log."""

    seq: int
    at_ms: int
    actor: str  # the credential's name; 'platform' for the platform itself
    credential: str  # the credential's id
    role: str
    action: str  # incident.acknowledge, ticket.close, credential.create, access.denied, server.start …
    target: str  # incident/12, ticket/3, credential/c_x1y2 …
    source: str  # the client's address
    detail: str = ""
    prev_sha256: str = ""
    sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def digest(self) -> str:
        """SHA-256 of every field but ``sha256`` itself (so including the previous entry's hash)."""
        return hashlib.sha256(orjson.dumps(astuple(self)[:-1])).hexdigest()


def link(entries: list[AuditEntry], seq: int, prev_sha256: str) -> tuple[int, str]:
    """Number and chain ``entries`` after (``seq``, ``prev_sha256``), the newest entry stored; returns
    the new newest (seq, hash)."""
    for e in entries:
        seq += 1
        e.seq, e.prev_sha256 = seq, prev_sha256
        e.detail = e.detail.replace("\x00", "\\x00")  # as every store can keep it (PostgreSQL's text has no NUL)
        e.sha256 = prev_sha256 = e.digest()
    return seq, prev_sha256


def verify_chain(entries: list[AuditEntry], seq: int = 0, prev: str = "") -> str:
    """'' if ``entries`` (oldest first) continue the chain after entry ``seq`` whose hash is ``prev``
    (0 and '': from the first entry ever) unbroken, else what is wrong."""
    for e in entries:
        if e.seq != seq + 1:
            return f"entry {seq + 1} is missing (next is {e.seq})"
        if e.prev_sha256 != prev or e.digest() != e.sha256:
            return f"entry {e.seq} was changed after it was written"
        prev, seq = e.sha256, e.seq
    return ""


def new_token() -> str:
    """A fresh token: ``cl_`` and 40 URL-safe characters (240 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(30)


def token_hash(token: str) -> str:
    """What is stored of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_id() -> str:
    """A fresh credential id."""
    return "c_" + secrets.token_hex(6)


def check_credential(name: str, role: str, sensors: list[str], lifelines: list[str], districts: list[str],
                     rate_per_s: float, known_lifelines: tuple[str, ...], known_districts: list[str]) -> None:
    """Refuse a credential that names an unknown role, lifeline or district, or a device without sensors."""
    if not NAME.match(name):
        raise ValidationError(f"name {name!r} must be 1-64 letters, digits or . _ @ -", field="name", value=name)
    if role not in ROLES:
        raise ValidationError(f"role {role!r} does not exist; use one of {', '.join(ROLES)}", field="role",
                              value=role)
    if role == "device" and not sensors:
        raise ValidationError("a device credential needs the sensors it may write: ids or patterns such as "
                              "'GW17-*'", field="sensors", value=sensors)
    if role != "device" and sensors:
        raise ValidationError("only a device credential has sensors; people get a scope of lifelines and "
                              "districts", field="sensors", value=sensors)
    for lifeline in lifelines:
        if lifeline not in known_lifelines:
            raise ValidationError(f"lifeline {lifeline!r} does not exist; use {', '.join(known_lifelines)}",
                                  field="lifelines", value=lifeline)
    for d in districts:
        if d not in known_districts:
            raise ValidationError(f"district {d!r} is not in the city; it has "
                                  f"{', '.join(known_districts) or 'no districts'}", field="districts", value=d)
    if role == "admin" and (lifelines or districts):
        raise ValidationError("an admin's scope is the whole city; give a narrower role a scope",
                              field="role", value=role)
    if not rate_per_s >= 0:
        raise ValidationError(f"rate_per_s={rate_per_s!r} must be >= 0 (0: the platform's default)",
                              field="rate_per_s", value=rate_per_s)
