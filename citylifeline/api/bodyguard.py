"""The body guard: every JSON request body is decoded once, safely, before any route sees it.

FastAPI decodes a body with the standard library, which accepts lone surrogates (text that cannot
be stored or sent back), numbers of any size, and nesting until ``RecursionError``.  This ASGI
middleware reads each JSON body of a request (at most ``max_payload_bytes``: 413 past it), checks
it with ``ingest.decode`` — depth, text, numbers — and answers 400 naming the field, the value and
the fix; a body that passes reaches the route unchanged.  Readings (``POST /api/v1/readings``) are
not refused whole here: their route decodes them with the same function and refuses only the bad
readings, storing the good ones beside them.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import PayloadTooLarge, ValidationError
from ..ingest.decode import check_document, decode_json
from ..store.base import unicode_safe
from .jsonresponse import JSON

UNGUARDED = {("POST", "/api/v1/readings")}
"""Routes that decode their own bodies (with the same safe decoding)."""
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BodyGuard:
    """ASGI middleware: refuse (400/413) a JSON body that is not safe to decode (see the module docstring)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS \
                or (scope["method"], scope["path"]) in UNGUARDED or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read(receive, self.max_bytes)
            if body.strip():
                check_document(decode_json(body, "the documented shape (see /docs)"))
        except ValidationError as e:
            response = JSON({"detail": str(e), "field": e.field,
                             "value": e.value if e.value is None or isinstance(e.value, int | float) else
                             unicode_safe(str(e.value))[:200]}, status_code=e.http_status)
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would decode the body as JSON: a JSON content type, or none at all."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind = value.split(b";")[0].strip().lower()
            return kind.endswith(b"/json") or kind.endswith(b"+json")
    return True


async def _read(receive: Receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ValidationError("the client went away before sending the whole body", field="body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body exceeds {limit} bytes; send a smaller body", field="body", value=size)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, then: Receive) -> Receive:
    """``receive`` giving ``body`` first, then what the client sends next (its disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then()

    return receive


def install(app: Any, max_bytes: int) -> None:
    """Put the guard in front of ``app``."""
    app.add_middleware(BodyGuard, max_bytes=max_bytes)
