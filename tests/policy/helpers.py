"""Helpers shared by the policy tests: run one or more ISVCs through a sequence of ticks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

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


WINDOW_S = st.sampled_from([0.0, 1.0, 15.0, 16.0, 30.0, 45.0, 60.0, 300.0])
GUARD_WINDOW_S = st.sampled_from([0.0, 15.0, 30.0, 60.0])


def drawn_params(draw: st.DrawFn, vec: Callable[[Any], np.ndarray], n: int, *,
                 targets: dict[str, np.ndarray], kinds: dict[str, str],
                 max_offsets: Sequence[int], startup_timeouts: Sequence[float]) -> PolicyParams:
    """PolicyParams for n ISVCs with every other §3 key drawn per ISVC (`vec` draws (n,))."""
    mins = vec(st.integers(0, 6))
    return PolicyParams.uniform(
        n,
        targets=targets,
        kinds=kinds,
        startup_timeout_s=vec(st.sampled_from(list(startup_timeouts))),
        latency_sustain_window_s=vec(GUARD_WINDOW_S),
        latency_observe_window_s=vec(GUARD_WINDOW_S),
        latency_min_improvement=vec(st.sampled_from([0.0, 0.2, 0.5])),
        interval_s=draw(st.sampled_from([15.0, 10.0, 7.5])),
        tolerance=vec(st.sampled_from([0.0, 0.1, 0.25])),
        scale_down_utilization=vec(st.sampled_from([0.7, 1.0, 0.5, 0.01])),
        panic_threshold=vec(st.sampled_from([2.0, 1.0, 1.5, 0.5, INF])),
        activation_threshold=vec(st.sampled_from([0.0, 1.0])),
        scale_up_window_s=vec(WINDOW_S),
        scale_down_window_s=vec(WINDOW_S),
        min_replicas=mins,
        max_replicas=mins + vec(st.sampled_from(list(max_offsets))),
    )
