"""Time arguments of `scaler record` and the tick grid of DESIGN §1; pure, no clock.

Times are RFC 3339 (`2024-05-01T00:00:00Z`), Unix seconds (`1714521600`), `now`, or relative
to now (`-24h`, `-1h30m`). Ticks are multiples of the step since the Unix epoch, e.g. with
step 15 s the range [100, 200] holds the ticks 105, 120, …, 195.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

import numpy as np

from scaler.errors import ConfigError

_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


def parse_duration_s(text: str, *, name: str) -> float:
    """`15s`, `1h30m`, `500ms` or a bare number of seconds → seconds; ConfigError if invalid."""
    value = text.strip()
    if _NUMBER.match(value):
        return float(value)
    if not _DURATION.match(value):
        raise ConfigError(f"{name} = {text!r}, must be a duration such as 15s, 5m, 1h30m")
    return sum(float(n) * _UNIT_S[unit] for n, unit in _PART.findall(value))


def parse_time_s(text: str, *, now_s: float, name: str) -> float:
    """RFC 3339, Unix seconds, `now` or `-<duration>` (before `now_s`) → Unix seconds."""
    value = text.strip()
    if value == "now":
        return now_s
    if value.startswith("-") and not _NUMBER.match(value):
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


def grid_ticks_s(start_s: float, end_s: float, *, step_s: float) -> np.ndarray:
    """The ticks k·step_s (k integer) with start_s ≤ tick ≤ end_s, as float64 seconds."""
    if not step_s > 0:
        raise ConfigError(f"step = {step_s}s, must be > 0")
    first = math.ceil(start_s / step_s - 1e-9)
    last = math.floor(end_s / step_s + 1e-9)
    if last < first:
        raise ConfigError(
            f"no tick of the {step_s:g}s grid between start {start_s:g} and end {end_s:g}")
    return np.arange(first, last + 1, dtype=np.float64) * step_s


def chunk_bounds(n_ticks: int, *, max_points: int = 11_000) -> list[tuple[int, int]]:
    """Split tick indices [0, n_ticks) into [lo, hi) chunks of ≤ max_points ticks each.

    Prometheus rejects a range query returning more than 11,000 points per series, e.g.
    n_ticks=25_000 → [(0, 11000), (11000, 22000), (22000, 25000)].
    """
    return [(lo, min(lo + max_points, n_ticks)) for lo in range(0, n_ticks, max_points)]
