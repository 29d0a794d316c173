"""The exceptions CityLifeline raises, drawn once here.

    CityLifelineError            base of everything below; ``str(e)`` is a one-line message with the fix
    ├── ConfigError              a setting, city bundle or sensor file is wrong (names the file, line, field)
    ├── CityModelError           a network or layer cannot be imported or a referenced asset is missing
    ├── ValidationError          a payload or file of readings was refused as a whole (HTTP 400)
    │   └── PayloadTooLarge      more bytes or readings than allowed (HTTP 413)
    ├── UnknownSensor            a sensor id that is not in the registry (HTTP 404 where it is a path)
    ├── StoreError               the store cannot be opened or written
    │   └── StoreBusy            another process holds the embedded store file
    ├── NotFound                 an incident, ticket or sensor that does not exist (HTTP 404)
    ├── IllegalTransition        a lifecycle action not allowed in the incident's state (HTTP 409)
    ├── Unauthorized             no credential, or an unknown or revoked one (HTTP 401)
    ├── Forbidden                the credential's role or scope does not allow it (HTTP 403)
    └── RateLimited              more requests than the credential's rate (HTTP 429, Retry-After)

The library raises these; the CLI prints ``str(e)`` without a traceback and the API maps each
to its HTTP status.  Readings rejected one by one inside an otherwise good batch are not
exceptions: they come back as ``Rejection`` rows (see ``citylifeline.ingest``).
"""

from __future__ import annotations


class CityLifelineError(Exception):
    """Base class; the message says what is wrong and how to fix it."""

    http_status = 500


class ConfigError(CityLifelineError):
    """A setting, city bundle or sensor definition is invalid."""

    http_status = 500


class CityModelError(CityLifelineError):
    """A network or layer cannot be imported, or an asset it refers to is missing."""

    http_status = 500


class ValidationError(CityLifelineError):
    """A whole payload or file was refused; ``field`` and ``value`` say where."""

    http_status = 400

    def __init__(self, message: str, field: str = "", value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class PayloadTooLarge(ValidationError):
    """The payload has more bytes or readings than the server accepts in one request."""

    http_status = 413


class UnknownSensor(CityLifelineError):
    """A sensor id that the registry does not know."""

    http_status = 404


class StoreError(CityLifelineError):
    """The store cannot be opened or written."""

    http_status = 503


class StoreBusy(StoreError):
    """Another process holds the embedded store file open for writing."""


class NotFound(CityLifelineError):
    """An incident, ticket, sensor or layer that does not exist."""

    http_status = 404


class IllegalTransition(CityLifelineError):
    """A lifecycle action that the incident's current state does not allow."""

    http_status = 409


class Unauthorized(CityLifelineError):
    """No credential, or one that is unknown or revoked (HTTP 401)."""

    http_status = 401


class Forbidden(CityLifelineError):
    """The credential's role or scope does not allow this (HTTP 403)."""

    http_status = 403


class RateLimited(CityLifelineError):
    """The credential has sent more requests than its rate allows (HTTP 429)."""

    http_status = 429

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
