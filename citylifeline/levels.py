"""The four Chinese early-warning levels and how they are coded inside CityLifeline.

Level I (red, 特别严重) is the most severe, level IV (blue, 一般) the least.  Inside the
platform a level is a small integer *severity* so that "the highest level" is a ``max``:
0 = no warning, 1 = IV blue, 2 = III yellow, 3 = II orange, 4 = I red.  At the edges (API,
files, messages) levels are written as Roman numerals.
"""

from __future__ import annotations

from .errors import ValidationError

NONE = 0
SEVERITIES = (1, 2, 3, 4)
ROMAN = {0: "", 1: "IV", 2: "III", 3: "II", 4: "I"}
COLOUR = {0: "green", 1: "blue", 2: "yellow", 3: "orange", 4: "red"}
CHINESE = {0: "正常", 1: "IV级 一般 (蓝色)", 2: "III级 较重 (黄色)", 3: "II级 严重 (橙色)",
           4: "I级 特别严重 (红色)"}
_FROM_ROMAN = {v: k for k, v in ROMAN.items() if v}


def roman(severity: int) -> str:
    """'I'..'IV' for severities 4..1, '' for 0."""
    return ROMAN[int(severity)]


def from_roman(text: str) -> int:
    """Severity of 'I'..'IV' (also accepts 'red', 'orange', 'yellow', 'blue')."""
    key = text.strip()
    if key in _FROM_ROMAN:
        return _FROM_ROMAN[key]
    by_colour = {v: k for k, v in COLOUR.items() if k}
    if key.lower() in by_colour:
        return by_colour[key.lower()]
    raise ValidationError(
        f"level {text!r} is not a warning level; use I, II, III or IV (or red, orange, yellow, blue)",
        field="level", value=text)


def label(severity: int) -> str:
    """'level II (orange)' style text for messages."""
    if not severity:
        return "normal"
    return f"level {ROMAN[severity]} ({COLOUR[severity]})"
