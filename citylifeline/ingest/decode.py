"""One bounded, safe decoding of every JSON body and MQTT message.

Whatever arrives — a gateway body 5,000 levels deep, a number of four hundred digits, a lone
surrogate escape (``"\\ud800"``), bytes that are not UTF-8 — decoding either returns a document
that every later step can handle, or raises ``ValidationError`` naming the field, the value and
the fix.  It never raises anything else (no ``RecursionError``, ``OverflowError`` or
``UnicodeEncodeError`` later on), so one place turns any bad input into a dead letter and a 4xx.

- **Depth.**  orjson refuses documents nested deeper than 1,024 levels; anything decoded here is
  at most ``MAX_DEPTH`` deep where it is walked (``check_document``), and values shown in messages
  are shown through ``reprlib`` (bounded depth and length), never by plain ``repr``.
- **Numbers.**  orjson reads integers up to 2⁶⁴ exactly and larger ones as floats; a number beyond
  a double (``1e400``, 400 digits) or ``NaN``/``Infinity`` fails orjson, and the standard library
  then reads it — integers of more than 18 digits as floats, so a huge one is ``inf``, which the
  validator refuses by field like any non-finite value.
- **Text.**  orjson refuses lone surrogates (they cannot be stored or encoded as UTF-8).  The
  standard library reads them, and each such string, key or value, becomes ``InvalidText``: a
  ``str`` holding the escaped form (``\\ud800``) that says what is wrong when shown, so the
  reading that carries it is refused on its own and the good ones beside it are stored.

Reading payloads (HTTP and MQTT) are decoded by ``decode_json`` and checked field by field in
``payload.validate_rows``; every other JSON body is checked whole by ``check_document`` (the API's
body guard), where any of these is a 400 naming the field.
"""

from __future__ import annotations

import json
import math
import reprlib
from typing import Any

import orjson

from ..errors import ValidationError
from ..store.base import unicode_safe

MAX_DEPTH = 32
"""The deepest document ``check_document`` accepts (a readings payload is 3 levels, an action 1)."""
_INT64 = 2**63
_shown = reprlib.Repr()
_shown.maxlevel, _shown.maxstring, _shown.maxother, _shown.maxlist, _shown.maxdict = 3, 80, 80, 6, 6


class InvalidText(str):
    """Text that was not valid Unicode (a lone surrogate), held as its escaped form ``\\ud800``."""

    def __repr__(self) -> str:
        return f"'{self}' (not valid Unicode: a lone surrogate; send UTF-8 text)"


def shown(value: object) -> str:
    """``value`` as it appears in an error message: a bounded repr, safe for any depth and size."""
    if value is None or type(value) in (float, bool, InvalidText) \
            or (type(value) is str and len(value) <= 80) or (type(value) is int and -10**18 < value < 10**18):
        return repr(value)  # the common cases, without reprlib's cost
    return _shown.repr(value)


def decode_json(body: bytes, example: str) -> Any:
    """The JSON document in ``body`` (see the module docstring); ``ValidationError`` showing
    ``example`` when it is not JSON or is nested too deep."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        fast_error = str(e)
    if fast_error.startswith("depth limit"):
        raise ValidationError(f"the body is nested deeper than 1024 levels; send {example}", field="body",
                              value=_head(body))
    try:
        doc = json.loads(body, parse_int=_int_or_float)
    except UnicodeDecodeError as e:
        raise ValidationError(f"the body is not UTF-8 ({e.reason} at byte {e.start}); send JSON in UTF-8: "
                              f"{example}", field="body", value=_head(body)) from None
    except (ValueError, RecursionError):
        raise ValidationError(f"the body is not valid JSON ({fast_error}); send {example}", field="body",
                              value=_head(body)) from None
    return _mark_invalid_text(doc)  # the standard library lets lone surrogates through, escaped or as bytes


def check_document(doc: Any, where: str = "body", max_depth: int = MAX_DEPTH) -> None:
    """Refuse (``ValidationError`` naming the field) a decoded body that is nested deeper than
    ``max_depth``, or holds invalid text, a non-finite number or an integer beyond 64 bits."""
    stack: list[tuple[str, Any, int]] = [(where, doc, 0)]
    while stack:
        path, v, depth = stack.pop()
        if depth > max_depth:
            raise ValidationError(f"{path}: nested deeper than {max_depth} levels; send the documented shape "
                                  "(see /docs)", field=path, value=None)
        if isinstance(v, dict):
            for k, item in v.items():
                if isinstance(k, InvalidText):
                    raise _invalid_text(f"{path}.{k}", k)
                stack.append((f"{path}.{k}", item, depth + 1))
        elif isinstance(v, list):
            stack.extend((f"{path}[{i}]", item, depth + 1) for i, item in enumerate(v))
        elif isinstance(v, InvalidText):
            raise _invalid_text(path, v)
        elif isinstance(v, float) and not math.isfinite(v):
            raise ValidationError(f"{path}: {v!r} is not a finite number; send a number", field=path, value=str(v))
        elif isinstance(v, int) and not isinstance(v, bool) and not -_INT64 <= v < _INT64:
            raise ValidationError(f"{path}: an integer of {len(str(abs(v)))} digits is beyond 64 bits; "
                                  "send a smaller number", field=path, value=None)


def _invalid_text(path: str, v: InvalidText) -> ValidationError:
    return ValidationError(f"{path}: {v!r}", field=path, value=str(v))


def _int_or_float(text: str) -> int | float:
    """Integers as ints while they fit 64 bits, else as floats (``inf`` past a double)."""
    return int(text) if len(text) <= 18 else float(text)


def _head(body: bytes) -> str:
    return unicode_safe(body[:80].decode("utf-8", "replace"))


def _mark_invalid_text(doc: Any) -> Any:
    """``doc`` with every string (key or value) that holds a lone surrogate made ``InvalidText``;
    iterative, so any depth that the standard library decoded is safe."""
    root: list[Any] = [doc]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        parent, key = stack.pop()
        v = parent[key]
        if isinstance(v, str):
            fixed = unicode_safe(v)
            if fixed is not v:
                parent[key] = InvalidText(fixed)
        elif isinstance(v, list):
            stack.extend((v, i) for i in range(len(v)))
        elif isinstance(v, dict):
            if any(isinstance(k, str) and unicode_safe(k) is not k for k in v):
                fixed_keys = {(InvalidText(unicode_safe(k)) if unicode_safe(k) is not k else k): item
                              for k, item in v.items()}
                v.clear()
                v.update(fixed_keys)
            stack.extend((v, k) for k in v)
    return root[0]
