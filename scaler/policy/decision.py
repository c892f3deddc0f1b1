"""The result of one policy step (DESIGN §3) and its reason codes."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

REASONS: tuple[str, ...] = (
    "clamped-max",
    "clamped-min",
    "panic",
    "scale-up",
    "scale-down",
    "no-data",
    "stabilizing",
    "hold",
    "starting",
    "latency-floor",
)
"""Reason strings; a Decision's `reason` code indexes this tuple. v1's eight come first in §3's
first-match order; v2 adds `starting` (desired held at the pods in flight; checked after
`panic`) and `latency-floor` (latency above target, more replicas did not lower it; checked
after `scale-down`)."""

(CLAMPED_MAX, CLAMPED_MIN, PANIC, SCALE_UP, SCALE_DOWN, NO_DATA, STABILIZING, HOLD, STARTING,
 LATENCY_FLOOR) = range(len(REASONS))


@dataclass(frozen=True, eq=False)
class Decision:
    """One step's result for n ISVCs (arrays of shape (n,)).

    desired: int64 replicas; pressure: float64 utilization pressure P_u (NaN = none);
    latency_pressure: float64 P_l (NaN = none); reason: int8 code into REASONS; active: bool;
    recommendation: int64 `r` before stabilisation; current: float64 `c` used (after step 0).
    """

    desired: np.ndarray
    pressure: np.ndarray
    latency_pressure: np.ndarray
    reason: np.ndarray
    active: np.ndarray
    recommendation: np.ndarray
    current: np.ndarray

    @classmethod
    def empty(cls, n: int) -> Decision:
        """Uninitialised arrays for n ISVCs."""
        return cls(
            desired=np.empty(n, np.int64),
            pressure=np.empty(n, np.float64),
            latency_pressure=np.empty(n, np.float64),
            reason=np.empty(n, np.int8),
            active=np.empty(n, np.bool_),
            recommendation=np.empty(n, np.int64),
            current=np.empty(n, np.float64),
        )

    def put(self, index: np.ndarray, part: Decision) -> None:
        """Write `part`'s values at `index` (while this decision is being built)."""
        for f in fields(self):
            getattr(self, f.name)[index] = getattr(part, f.name)

    def reason_names(self) -> list[str]:
        """Reason codes as REASONS strings."""
        return [REASONS[int(code)] for code in self.reason]
