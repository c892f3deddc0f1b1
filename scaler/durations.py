"""Durations as written in policy.yaml (`15s`, `5m`, `1h30m`, `250ms`, plain seconds); pure.

Grammar: an optional `-`, then one or more `<number><unit>` parts with units in decreasing
order, each at most once (units: d, h, m, s, ms); or a plain number of seconds (YAML number
or numeric string). Examples: `1h30m` → 5400.0, `1.5m` → 90.0, `90` → 90.0, `-5s` → -5.0
(the sign is kept so validation can say "must be ≥ 0").
"""

from __future__ import annotations

import math
import re

UNIT_S: dict[str, float] = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
"""Seconds per unit, longest unit first (the order parts must appear in)."""

DURATION_HINT = "a duration (e.g. 15s, 5m, 1h30m, 250ms, or a number of seconds)"

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PART = re.compile(rf"({_NUMBER})(ms|d|h|m|s)")
_PLAIN = re.compile(rf"[+-]?{_NUMBER}(?:[eE][+-]?\d+)?")


def parse_duration(value: object) -> float:
    """Seconds in `value` (str or number); raises ValueError if it is not a duration.

    Booleans, NaN and ±Inf are rejected; negative values are returned as they are.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"must be {DURATION_HINT}")
    try:
        seconds = _parse_text(value.strip()) if isinstance(value, str) else float(value)
    except OverflowError as e:
        raise ValueError("must be a finite duration") from e
    if not math.isfinite(seconds):
        raise ValueError("must be a finite duration")
    return seconds


def _parse_text(text: str) -> float:
    if _PLAIN.fullmatch(text):
        return float(text)
    sign = -1.0 if text.startswith("-") else 1.0
    body = text[1:] if text[:1] in "+-" else text
    total, pos, last_rank = 0.0, 0, -1
    ranks = list(UNIT_S)
    while pos < len(body):
        match = _PART.match(body, pos)
        if match is None:
            raise ValueError(f"must be {DURATION_HINT}")
        rank = ranks.index(match.group(2))
        if rank <= last_rank:
            raise ValueError(f"must be {DURATION_HINT}; units must go from d to ms, each once")
        total += float(match.group(1)) * UNIT_S[match.group(2)]
        pos, last_rank = match.end(), rank
    if pos == 0:
        raise ValueError(f"must be {DURATION_HINT}")
    return sign * total


def format_duration(seconds: float) -> str:
    """Shortest exact spelling of `seconds` in this grammar: 5400 → `1h30m`, 0.25 → `250ms`.

    Values that are not whole milliseconds are written as plain seconds (`0.0004`).
    """
    if not math.isfinite(seconds):
        return str(seconds)
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    ms = abs(seconds) * 1000.0
    whole_ms = round(ms)
    if abs(ms - whole_ms) > 1e-9 * max(1.0, ms):
        return repr(float(seconds))
    parts = []
    for unit, unit_s in UNIT_S.items():
        unit_ms = round(unit_s * 1000)
        count, whole_ms = divmod(whole_ms, unit_ms)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)
