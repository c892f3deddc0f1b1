"""Stabilisation windows in ticks and the grouping of ISVCs by window length; pure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scaler.policy.arrays import frozen


def window_ticks(window_s: np.ndarray, interval_s: float) -> np.ndarray:
    """Window length in ticks, `max(1, ceil(window_s / interval_s))`, as int64 (n,)."""
    ticks = np.ceil(np.asarray(window_s, dtype=np.float64) / float(interval_s))
    return np.maximum(ticks, 1.0).astype(np.int64)


@dataclass(frozen=True, eq=False)
class WindowGroups:
    """ISVCs grouped by window length: group j spans `ticks[j]` ticks; `masks[j]` (uint16,
    None when all ISVCs share one length; of the history's dtype) turns a value into the
    reduction's neutral element outside the group: `value & mask` for a max (mask all ones in
    the group, 0 outside), `value | mask` for a min (0 in the group, all ones outside)."""

    ticks: tuple[int, ...]
    masks: tuple[np.ndarray | None, ...]

    @classmethod
    def of(cls, ticks: np.ndarray, *, for_max: bool,
           dtype: np.dtype | type = np.uint16) -> WindowGroups:
        """Group the (n,) tick counts of a max (down) or min (up) window."""
        distinct = tuple(int(t) for t in np.unique(ticks))
        if len(distinct) <= 1:
            return cls(distinct or (1,), (None,))
        ones = int(np.iinfo(dtype).max)
        inside, outside = (ones, 0) if for_max else (0, ones)
        masks = tuple(
            frozen(np.where(ticks == t, inside, outside).astype(dtype)) for t in distinct
        )
        return cls(distinct, masks)
