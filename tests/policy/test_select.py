"""PolicyState.select: ISVCs appearing, disappearing and config reloads (table tests)."""

from __future__ import annotations

import numpy as np
import pytest

from scaler.policy import REASONS, PolicyParams, PolicyState, step


def params_for(n: int, down_s: float) -> PolicyParams:
    return PolicyParams.uniform(n, targets={"cpu": 1.0}, interval_s=15, scale_down_window_s=down_s)


def run(state: PolicyState, params: PolicyParams, ticks: list[tuple[list[float], list[float]]]):
    out = []
    for cpu, current in ticks:
        decision, state = step(state, params, {"cpu": np.array(cpu)}, np.array(current))
        out.append([(int(d), REASONS[r]) for d, r in zip(decision.desired, decision.reason,
                                                         strict=True)])
    return out, state


def test_longer_window_after_reload_repeats_oldest_tick():
    short = params_for(1, 30.0)  # 2 ticks
    _, state = run(PolicyState.empty(short), short, [([1.5], [2.0])])  # r = 4 after c = 2
    longer = params_for(1, 60.0)  # 4 ticks: ages [4, 2] become [4, 2, 2, 2]
    state = state.select(np.array([0]), longer)
    out, _ = run(state, longer, [([0.1], [4.0])] * 4)
    assert out == [[(4, "stabilizing")]] * 3 + [[(1, "scale-down")]]


def test_shorter_window_after_reload_keeps_recent_ticks():
    long = params_for(1, 300.0)
    _, state = run(PolicyState.empty(long), long, [([1.5], [2.0])] + [([0.1], [4.0])] * 3)
    short = params_for(1, 30.0)
    out, _ = run(state.select(np.array([0]), short), short, [([0.1], [4.0])])
    assert out == [[(1, "scale-down")]]


def test_rows_follow_their_isvc_and_new_ones_start_fresh():
    params = params_for(2, 300.0)
    _, state = run(PolicyState.empty(params), params, [([1.5, 1.0], [2.0, 2.0])])
    reordered = params_for(3, 300.0)
    moved = state.select(np.array([1, -1, 0]), reordered)
    assert moved.last_desired.tolist() == [2, 65535, 4]
    out, _ = run(moved, reordered, [([0.1, 0.1, 0.1], [np.nan, np.nan, np.nan])])
    # unknown current: c = previous desired (2 and 4), fresh: max(min_replicas, 1) = 1
    assert out == [[(2, "stabilizing"), (1, "hold"), (4, "stabilizing")]]


@pytest.mark.parametrize(
    ("src", "message"),
    [
        pytest.param([0, 2], r"src_index\[1\] = 2, must be -1 or in \[0, 2\)", id="too-large"),
        pytest.param([-2, 0], r"src_index\[0\] = -2", id="below-minus-one"),
        pytest.param([0], r"expected \(2,\) integers", id="wrong-length"),
        pytest.param([0.0, 1.0], r"expected \(2,\) integers", id="floats"),
    ],
)
def test_invalid_src_index(src: list[float], message: str):
    params = params_for(2, 300.0)
    with pytest.raises(ValueError, match=message):
        PolicyState.empty(params).select(np.array(src), params)
