"""Rain forecasts pushed by a meteorological service, as the store keeps them.

A service's document (per rain gauge or gridded, one series or an ensemble; ``POST
/api/v1/rain-forecasts``) is checked and put on the drainage model's gauges and 5-minute steps
(``analysis.drainage.rain.parse_forecast``); what is kept is that normalised forecast, so a
replay gives the analysts exactly what the live run had: ``mm_h`` as JSON (members × gauges ×
steps, mm/h to 0.01).  Forecasts are given to the analysts like works orders (``Analyst.rain_forecasts``:
the newest ``KEPT`` of them, whenever one comes and before a restart's replay); each takes effect
at its issue time in the readings' time, not when it arrived.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

KEPT = 1000
"""The newest forecasts given to the analysts: four days of a radar nowcast every six minutes."""


@dataclass
class RainForecastRecord:
    """One forecast as stored: when it was issued (data time) and received (wall time), by whom."""

    id: int
    issued_ms: int
    source: str
    mm_h: str  # JSON: members × gauges × 5-minute steps
    received_at_ms: int
    received_by: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, without the values."""
        d = asdict(self)
        d.pop("mm_h")
        return d
