"""Emulation of the Kubernetes HPA (as driven by KEDA) on one target; pure, no clock.

Follows kube-controller-manager's `replica_calculator.go` and `horizontal.go`:
* external metric, AverageValue target (KEDA's default; our scaler serves desired replicas with
  target 1): ratio = value / (target × current); |ratio − 1| ≤ tolerance → current, else
  ceil(value / target). Example: current 16, value 17 → ratio 1.0625 → stays 16.
* resource metric, Utilization target (HPA on CPU): ratio over ready pods; while scaling up,
  starting (unready) pods count as 0 % and a flipped direction means no change.
* `behavior`: stabilisation (min of recommendations over the up window, max over the down
  window) then rate limits from the scaling policies (periodStartReplicas arithmetic).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ScalingPolicy:
    """One HPA scaling policy: `kind` Pods or Percent, `value` per `period_s`."""

    kind: str
    value: int
    period_s: float


@dataclass(frozen=True)
class ScalingRules:
    """One direction of HPA `behavior` (selectPolicy Max: the policy allowing most change)."""

    window_s: float
    policies: tuple[ScalingPolicy, ...]


@dataclass(frozen=True)
class Behavior:
    """HPA `behavior` (spec.behavior.scaleUp / scaleDown)."""

    up: ScalingRules
    down: ScalingRules


DEFAULT_BEHAVIOR = Behavior(
    up=ScalingRules(0.0, (ScalingPolicy("Percent", 100, 15.0), ScalingPolicy("Pods", 4, 15.0))),
    down=ScalingRules(300.0, (ScalingPolicy("Percent", 100, 15.0),)),
)
"""Kubernetes' default behavior (HPA without `behavior`; KEDA's built-in scalers)."""

PASSTHROUGH_BEHAVIOR = Behavior(
    up=ScalingRules(0.0, (ScalingPolicy("Percent", 1000, 15.0), ScalingPolicy("Pods", 64, 15.0))),
    down=ScalingRules(0.0, (ScalingPolicy("Percent", 100, 15.0),)),
)
"""deploy/examples/llama's behavior for isvc-scaler: no stabilisation, +1000 % or +64 pods and
−100 % per 15 s (any step the policy takes)."""


@dataclass(frozen=True)
class HpaState:
    """Recent recommendations (t, replicas) and scale events (t, change) of one HPA."""

    recommendations: tuple[tuple[float, int], ...] = ()
    events: tuple[tuple[float, int], ...] = ()


def external_average_value(value: float, target: float, current: int, tolerance: float) -> int:
    """Replicas for an external metric with an AverageValue target (see module doc)."""
    if current > 0 and abs(value / (target * current) - 1.0) <= tolerance:
        return current
    return math.ceil(value / target - 1e-12)


def _percent(total: float, pods: int) -> int:
    """Average utilisation as kube's integer percentage (floor of milli-value arithmetic)."""
    return math.floor(100.0 * total / pods + 1e-9)


def resource_utilization(utilizations: Sequence[float], *, unready: int, target: float,
                         current: int, tolerance: float) -> int:
    """Replicas for a Utilization target from ready pods' utilisations (requests equal).

    Utilisation is an integer percentage as in kube, e.g. pods at 2.1 and 2.1 with 2 starting
    pods: 420 / 4 = 105 % vs 70 % → ratio 1.5 → ceil(1.5 × 4) = 6.
    """
    if not utilizations:
        return current
    target_pct = round(target * 100)
    ratio = _percent(sum(utilizations), len(utilizations)) / target_pct
    if unready == 0 or ratio <= 1.0:
        if abs(ratio - 1.0) <= tolerance:
            return current
        return math.ceil(ratio * len(utilizations))
    pods = len(utilizations) + unready
    new_ratio = _percent(sum(utilizations), pods) / target_pct
    if abs(new_ratio - 1.0) <= tolerance or new_ratio < 1.0:
        return current
    proposed = math.ceil(new_ratio * pods)
    return current if proposed < current else proposed


def _limit(rules: ScalingRules, current: int, events: Sequence[tuple[float, int]], t: float,
           *, up: bool) -> int:
    limits = []
    for policy in rules.policies:
        changed = sum(d for te, d in events if te > t - policy.period_s and (d > 0) == up)
        start = current - changed
        if policy.kind == "Pods":
            limits.append(start + policy.value if up else start - policy.value)
        elif up:
            limits.append(math.ceil(start * (1 + policy.value / 100)))
        else:
            limits.append(math.floor(start * (1 - policy.value / 100)))
    if not limits:
        return current
    return max(max(limits), current) if up else min(min(limits), current)


def hpa_step(state: HpaState, t: float, *, current: int, recommendation: int,
             behavior: Behavior, min_replicas: int, max_replicas: int) -> tuple[int, HpaState]:
    """One HPA sync at t: (new replica count, new state) after stabilisation and limits."""
    keep_s = max(behavior.up.window_s, behavior.down.window_s)
    history = (*((tr, r) for tr, r in state.recommendations if tr > t - keep_s),
               (t, recommendation))
    up = min(r for tr, r in history if tr > t - behavior.up.window_s or tr == t)
    down = max(r for tr, r in history if tr > t - behavior.down.window_s or tr == t)
    stabilized = min(max(current, up), down)
    upper = min(max_replicas, _limit(behavior.up, current, state.events, t, up=True))
    lower = max(min_replicas, _limit(behavior.down, current, state.events, t, up=False))
    desired = max(min(stabilized, upper), lower)
    period = max((p.period_s for r in (behavior.up, behavior.down) for p in r.policies),
                 default=0.0)
    events = tuple(e for e in state.events if e[0] > t - period)
    if desired != current:
        events = (*events, (t, desired - current))
    return desired, HpaState(history, events)
