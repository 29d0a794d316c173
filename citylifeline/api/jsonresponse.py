"""A JSON response rendered by orjson: fast for long reading columns, and NaN becomes null."""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi.responses import Response


class JSON(Response):
    """``application/json`` rendered with orjson (NumPy arrays allowed; NaN and inf become null)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Serialize ``content``."""
        try:
            return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError:  # text that is not valid Unicode (a lone surrogate): sent escaped
            return json.dumps(content, default=_plain).encode()


def _plain(v: Any) -> Any:
    """NumPy values for ``json.dumps`` (the slow path of ``JSON.render``)."""
    return v.tolist() if hasattr(v, "tolist") else str(v)
