"""Vectorised scaling policy (DESIGN §3): power-of-two replicas with hysteresis; pure, no I/O.

One `step` evaluates every ISVC at once over numpy arrays; `PolicyParams` holds per-ISVC
parameter arrays, `PolicyState` the recommendation history of the stabilisation windows.

    params = PolicyParams.uniform(n, targets={"kv_cache": 0.8}, interval_s=15)
    state = PolicyState.empty(params)
    decision, state = step(state, params, {"kv_cache": kv}, current)

Worked example (one ISVC, kv_cache target 0.8, defaults, 15 s ticks):
tick 1, c = 3, kv = 1.0 → P = 1.25 > 1 + 0.1 → ideal = 3.75, up = pow2ceil(3.75) = 4,
r = max(4, 3) = 4 → desired 4 (`scale-up`). Ticks 2…, c = 4, kv = 0.2 → P = 0.25,
ideal = 1.0, down = pow2ceil(1.0 / 0.7 = 1.43) = 2 < 4 → r = 2; but the down window of
max(1, ceil(300 / 15)) = 20 ticks still holds tick 1's r = 4, so desired = clip(4, 2, 4) = 4
(`stabilizing`) up to tick 20; at tick 21 the window holds only 2s → desired 2 (`scale-down`).

Choices where §3 leaves room: a finite `current` is rounded up to a whole count before step 0;
`pow2ceil` saturates at 2^62 (so does `Decision.recommendation`); the history stores
recommendations as uint16 saturating at 65535, exact because max_replicas ≤ 65534 (min/max
of a window commute with saturation, and the final clip to max_replicas hides it).

The oracle tests/reference_policy.py restates §3 in plain Python; benchmarks/policy_step.py
measures the step.
"""

from scaler.policy.decision import REASONS, Decision
from scaler.policy.params import (
    DEFAULTS,
    KINDS,
    MAX_REPLICAS_LIMIT,
    PolicyParams,
    default_kind,
    window_ticks,
)
from scaler.policy.state import PolicyState, step

__all__ = [
    "DEFAULTS",
    "KINDS",
    "MAX_REPLICAS_LIMIT",
    "REASONS",
    "Decision",
    "PolicyParams",
    "PolicyState",
    "default_kind",
    "step",
    "window_ticks",
]
