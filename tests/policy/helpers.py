"""Helpers shared by the policy tests: run one or more ISVCs through a sequence of ticks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scaler.policy import REASONS, Decision, PolicyParams, PolicyState, step

NAN = float("nan")
INF = float("inf")


def run_ticks(
    params: PolicyParams,
    ticks: Sequence[tuple[dict[str, Sequence[float]], Sequence[float]]],
) -> list[Decision]:
    """Step `params` from an empty state through (signals, current) ticks; all decisions."""
    state = PolicyState.empty(params)
    decisions = []
    for signals, current in ticks:
        arrays = {k: np.asarray(v, dtype=np.float64) for k, v in signals.items()}
        decision, state = step(state, params, arrays, np.asarray(current, dtype=np.float64))
        decisions.append(decision)
    return decisions


def trace(decisions: Sequence[Decision], i: int = 0) -> list[tuple[int, str]]:
    """(desired, reason) of ISVC i at every tick."""
    return [(int(d.desired[i]), REASONS[int(d.reason[i])]) for d in decisions]
