"""Durations as users write them: ``30s``, ``5m``, ``1h30m``, ``250ms``, ``2d``, ISO ``PT5M``."""

from __future__ import annotations

import math
import re
from datetime import timedelta

#: The longest duration Temporal can hold (a protobuf Duration: 10,000 years), in seconds.
MAX_SECONDS = 315_576_000_000.0
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIMPLE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_ISO = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: object) -> float:
    """Parse a duration into seconds.

    Raises:
        ValueError: with a message that shows the accepted forms.
    """
    seconds = _parse(text)
    if not math.isfinite(seconds) or seconds > MAX_SECONDS:
        raise ValueError(f"duration '{text}' is out of range")
    return seconds


def _parse(text: object) -> float:
    if isinstance(text, bool):
        raise ValueError(f"'{text}' is not a duration")
    if isinstance(text, (int, float)):
        if text < 0:
            raise ValueError(f"duration {text} is negative")
        if text > MAX_SECONDS:  # before float(): a huge int would overflow it
            raise ValueError(f"duration {text} is out of range")
        return float(text)
    if not isinstance(text, str):
        raise ValueError(f"'{text}' is not a duration")
    raw = text.strip()
    iso = _ISO.match(raw)
    if iso and raw != "P" and raw != "PT":
        parts = {k: float(v) for k, v in iso.groupdict().items() if v}
        if parts:
            return (
                parts.get("d", 0) * 86400
                + parts.get("h", 0) * 3600
                + parts.get("m", 0) * 60
                + parts.get("s", 0)
            )
    pos = 0
    total = 0.0
    for match in _SIMPLE.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos == len(raw) and pos > 0:
        return total
    raise ValueError(
        f"'{text}' is not a duration; write e.g. '30s', '5m', '1h30m', '250ms', '2d' or 'PT5M'"
    )


def to_timedelta(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)
