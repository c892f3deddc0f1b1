"""Time arguments of `scaler record` and the tick grid of DESIGN §1; pure, no clock.

Times are RFC 3339 (`2024-05-01T00:00:00Z`), Unix seconds (`1714521600`), `now`, or relative
to now (`-24h`, `-1h30m`). Ticks are multiples of the step since the Unix epoch, e.g. with
step 15 s the range [100, 200] holds the ticks 105, 120, …, 195.
"""

from __future__ import annotations

import re
from datetime import datetime

from scaler.durations import parse_duration
from scaler.errors import ConfigError

_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


def parse_duration_s(text: str, *, name: str) -> float:
    """`15s`, `1h30m`, `500ms` or a bare number of seconds → seconds (> 0); ConfigError if not."""
    try:
        seconds = parse_duration(text)
    except ValueError as e:
        raise ConfigError(f"{name} = {text!r}, {e}") from e
    if not seconds > 0:
        raise ConfigError(f"{name} = {text!r}, must be > 0")
    return seconds


def parse_time_s(text: str, *, now_s: float, name: str) -> float:
    """RFC 3339, Unix seconds, `now` or `-<duration>` (before `now_s`; `-90` = 90 s ago)."""
    value = text.strip()
    if value == "now":
        return now_s
    if value.startswith("-"):
        return now_s - parse_duration_s(value[1:], name=name)
    if _NUMBER.match(value):
        return float(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise ConfigError(
            f"{name} = {text!r}, must be RFC 3339 (2024-05-01T00:00:00Z), Unix seconds, "
            "'now' or relative such as -24h") from e
    if parsed.tzinfo is None:
        raise ConfigError(f"{name} = {text!r} has no UTC offset; add Z or +00:00")
    return parsed.timestamp()
