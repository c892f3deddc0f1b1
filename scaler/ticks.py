"""The tick grid of DESIGN §1: ticks are multiples of `interval` since the Unix epoch; pure.

Live ticks (`align_tick`), their evaluation delay, and the range-query grids of warm start and
`scaler record` all come from here, so every replica and every replay sees the same ticks.
"""

from __future__ import annotations

import math

import numpy as np

from scaler.errors import ConfigError


def align_tick(t_s: float, interval_s: float) -> float:
    """The latest tick ≤ t_s (a multiple of interval_s, rounded to the ms)."""
    return round(math.floor(t_s / interval_s + 1e-9) * interval_s, 3)


def default_eval_delay_s(interval_s: float) -> float:
    """Seconds after a tick before it is evaluated: min(2 s, interval / 5)."""
    return min(2.0, interval_s / 5.0)


def tick_grid(*, start_s: float, end_s: float, step_s: float) -> np.ndarray:
    """The ticks start_s + k·step_s ≤ end_s (float64, exact for whole-ms inputs)."""
    n = math.floor((end_s - start_s) / step_s + 1e-9) + 1 if end_s >= start_s else 0
    return start_s + step_s * np.arange(max(n, 0), dtype=np.float64)


def grid_range_s(start_s: float, end_s: float, *, step_s: float) -> tuple[float, float]:
    """First and last tick k·step_s (k integer) within [start_s, end_s]; ConfigError if none.

    Example: start 100, end 200, step 15 → (105.0, 195.0).
    """
    first = math.ceil(start_s / step_s - 1e-9)
    last = math.floor(end_s / step_s + 1e-9)
    if last < first:
        raise ConfigError(
            f"no tick of the {step_s:g}s grid between start {start_s:g} and end {end_s:g}")
    return first * step_s, last * step_s
