"""Table tests, one per §3 rule: a single ISVC (target cpu = 1.0, so pressure = cpu) stepped
through a few ticks; each row gives (cpu, current) per tick and the expected (desired, reason)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scaler.policy import REASONS, PolicyParams, PolicyState, step
from tests import reference_policy
from tests.policy.helpers import INF, NAN, run_ticks, trace

Tick = tuple[float, float]  # (cpu, current)


def single(ticks: list[Tick], **overrides: Any) -> list[tuple[int, str]]:
    """(desired, reason) per tick for one ISVC with target cpu = 1.0."""
    params = PolicyParams.uniform(1, targets={"cpu": 1.0}, interval_s=15, **overrides)
    return trace(run_ticks(params, [({"cpu": [cpu]}, [cur]) for cpu, cur in ticks]))


STAB = "stabilizing"

CASES: list[tuple[str, list[Tick], dict[str, Any], list[tuple[int, str]]]] = [
    # scale-up doubling: P 1.25, c 2 → ideal 2.5 → 4; then c 4 → ideal 5 → 8
    ("up-doubling", [(1.25, 2), (1.25, 4)], {}, [(4, "scale-up"), (8, "scale-up")]),
    # multi-step jump: c 3, P 1.9 → ideal 5.7 → 8 (no panic below 2)
    ("up-jump-3-to-8", [(1.9, 3)], {}, [(8, "scale-up")]),
    ("up-jump-2-to-16", [(5.0, 2)], {"panic_threshold": INF}, [(16, "scale-up")]),
    ("up-exact-power", [(2.0, 2)], {"panic_threshold": INF}, [(4, "scale-up")]),
    # tolerance band: P = 1 + tolerance holds, just above scales up
    ("tolerance-edge-holds", [(1.1, 4)], {}, [(4, "hold")]),
    ("tolerance-above", [(1.11, 4)], {}, [(8, "scale-up")]),
    ("tolerance-zero", [(1.01, 4)], {"tolerance": 0.0}, [(8, "scale-up")]),
    ("tolerance-wide", [(1.4, 4)], {"tolerance": 0.5}, [(4, "hold")]),
    # hysteresis band bottom: sdu/2 = 0.35; 0.36 → down 4 = c holds, 0.34 → down 2
    ("band-bottom-holds", [(0.36, 4)], {}, [(4, "hold")]),
    ("band-below", [(0.34, 4)], {"scale_down_window_s": 0}, [(2, "scale-down")]),
    # scale-down only after the 20-tick window (first tick's c fills the history)
    ("down-after-window", [(0.2, 4)] * 20, {}, [(4, STAB)] * 19 + [(2, "scale-down")]),
    ("down-window-30s", [(0.2, 4)] * 3, {"scale_down_window_s": 30},
     [(4, STAB), (2, "scale-down"), (2, "scale-down")]),
    ("down-window-20s-is-2-ticks", [(0.2, 4)] * 2, {"scale_down_window_s": 20},
     [(4, STAB), (2, "scale-down")]),
    ("down-window-zero", [(0.2, 4)], {"scale_down_window_s": 0}, [(2, "scale-down")]),
    ("down-to-one", [(0.0, 8)], {"scale_down_window_s": 0}, [(1, "scale-down")]),
    ("down-held-by-recent-up", [(1.5, 2), (0.1, 4), (0.1, 4)], {"scale_down_window_s": 30},
     [(4, "scale-up"), (4, STAB), (1, "scale-down")]),
    # up window delays scale-up; panic bypasses it
    ("up-window-holds", [(1.5, 2)] * 4, {"scale_up_window_s": 60},
     [(2, STAB)] * 3 + [(4, "scale-up")]),
    ("panic-bypass", [(2.5, 2)], {"scale_up_window_s": 60}, [(8, "panic")]),
    ("panic-at-threshold", [(2.0, 2)], {"scale_up_window_s": 60}, [(4, "panic")]),
    ("panic-no-raise-is-scale-up", [(2.5, 2)], {}, [(8, "scale-up")]),
    ("panic-disabled", [(2.5, 2)], {"scale_up_window_s": 60, "panic_threshold": INF},
     [(2, STAB)]),
    # clamping to min/max (need not be powers of two)
    ("clamp-max", [(1.5, 2)], {"max_replicas": 3}, [(3, "clamped-max")]),
    ("clamp-max-current-above", [(1.0, 10)], {"max_replicas": 8}, [(8, "clamped-max")]),
    ("clamp-max-panic", [(9.0, 2)], {"max_replicas": 6}, [(6, "clamped-max")]),
    ("clamp-min", [(1.0, 2)], {"min_replicas": 5}, [(5, "clamped-min")]),
    ("clamp-min-no-data", [(NAN, 2)], {"min_replicas": 3}, [(3, "clamped-min")]),
    ("min-equals-max", [(0.0, 8)], {"min_replicas": 3, "max_replicas": 3},
     [(3, "clamped-max")]),
    ("max-zero", [(1.0, 1)], {"min_replicas": 0, "max_replicas": 0}, [(0, "clamped-max")]),
    # no data: NaN, ±inf and negative signals do not count; replicas hold
    ("no-data-nan", [(NAN, 4)], {}, [(4, "no-data")]),
    ("no-data-inf", [(INF, 4)], {}, [(4, "no-data")]),
    ("no-data-negative", [(-0.5, 4)], {}, [(4, "no-data")]),
    ("no-data-after-up", [(1.5, 2), (NAN, 4)], {}, [(4, "scale-up"), (4, "no-data")]),
    ("zero-pressure-is-data", [(0.0, 1)], {}, [(1, "hold")]),
    # non-power-of-two current: held, doubled to the next power, or moved down to one
    ("npot-hold", [(1.0, 3)], {}, [(3, "hold")]),
    ("npot-up", [(1.2, 5)], {}, [(8, "scale-up")]),
    ("npot-down-held", [(0.3, 6)], {}, [(6, STAB)]),
    ("npot-down", [(0.3, 6)], {"scale_down_window_s": 0}, [(4, "scale-down")]),
    ("fractional-current-rounds-up", [(1.0, 2.5)], {}, [(3, "hold")]),
    # unknown current: first tick max(min_replicas, 1), later the previous desired
    ("nan-current-first", [(1.0, NAN)], {"min_replicas": 3}, [(3, "hold")]),
    ("nan-current-min-zero", [(1.0, NAN)], {"min_replicas": 0}, [(1, "hold")]),
    ("nan-current-follows", [(1.5, NAN), (1.5, NAN), (1.0, INF)], {},
     [(2, "scale-up"), (4, "scale-up"), (4, "hold")]),
    ("nan-current-hold", [(1.0, 3), (NAN, NAN)], {}, [(3, "hold"), (3, "no-data")]),
    # zero/negative current count as 1
    ("zero-current", [(3.0, 0)], {}, [(4, "scale-up")]),
    ("negative-current", [(1.0, -3)], {}, [(1, "hold")]),
    # first tick: a new ISVC holds one down window before scaling down
    ("first-tick-low-holds", [(0.0, 8)], {}, [(8, STAB)]),
    ("first-tick-high-scales", [(1.5, 8)], {}, [(16, "scale-up")]),
]


@pytest.mark.parametrize(
    ("ticks", "overrides", "expected"),
    [pytest.param(t, o, e, id=name) for name, t, o, e in CASES],
)
def test_rule(ticks: list[Tick], overrides: dict[str, Any], expected: list[tuple[int, str]]):
    assert single(ticks, **overrides) == expected


def test_missing_signal_key_is_no_data():
    params = PolicyParams.uniform(2, targets={"cpu": 1.0, "kv_cache": 0.8}, interval_s=15)
    decision, _ = step(PolicyState.empty(params), params, {"kv_cache": np.array([0.8, NAN])},
                       np.array([2.0, 2.0]))
    assert decision.pressure[0] == 1.0
    assert [REASONS[c] for c in decision.reason] == ["hold", "no-data"]
    assert decision.active.tolist() == [True, False]


@pytest.mark.parametrize(
    ("cpu", "kv", "expected"),
    [
        pytest.param(0.5, 0.4, 0.5, id="max-of-two"),
        pytest.param(0.5, 1.6, 2.0, id="kv-dominates"),
        pytest.param(NAN, 0.4, 0.5, id="nan-ignored"),
        pytest.param(-1.0, 0.4, 0.5, id="negative-ignored"),
        pytest.param(INF, 0.4, 0.5, id="inf-ignored"),
        pytest.param(1e300, 0.4, 1e300, id="huge-present"),
        pytest.param(NAN, -0.0, 0.0, id="negative-zero-present"),
    ],
)
def test_pressure_is_max_over_present_signals(cpu: float, kv: float, expected: float):
    params = PolicyParams.uniform(1, targets={"cpu": 1.0, "kv_cache": 0.8}, interval_s=15)
    decision, _ = step(PolicyState.empty(params), params,
                       {"cpu": np.array([cpu]), "kv_cache": np.array([kv])}, np.array([1.0]))
    assert decision.pressure[0] == expected


def test_nan_target_means_no_target_for_that_isvc():
    params = PolicyParams.uniform(
        2, targets={"cpu": np.array([1.0, NAN]), "kv_cache": 0.5}, interval_s=15
    )
    decision, _ = step(PolicyState.empty(params), params,
                       np.array([[3.0, 0.5], [3.0, 0.5]]), np.array([1.0, 1.0]))
    assert decision.pressure.tolist() == [3.0, 1.0]


def test_per_isvc_windows_in_one_step():
    params = PolicyParams.uniform(
        3, targets={"cpu": 1.0}, interval_s=15,
        scale_down_window_s=np.array([30.0, 300.0, 0.0]),
        scale_up_window_s=np.array([0.0, 45.0, 15.0]),
    )
    ticks = [({"cpu": [0.2, 0.2, 0.2]}, [4.0, 4.0, 4.0])] * 20
    decisions = run_ticks(params, ticks)
    assert trace(decisions, 0) == [(4, STAB)] + [(2, "scale-down")] * 19
    assert trace(decisions, 1) == [(4, STAB)] * 19 + [(2, "scale-down")]
    assert trace(decisions, 2) == [(2, "scale-down")] * 20
    up = run_ticks(params, [({"cpu": [1.5] * 3}, [2.0] * 3)] * 3)
    assert [d.desired.tolist() for d in up] == [[4, 2, 4], [4, 2, 4], [4, 4, 4]]


@pytest.mark.parametrize(
    ("requests", "cpu", "threshold", "active"),
    [
        pytest.param(5.0, NAN, 0.0, True, id="traffic-without-pressure"),
        pytest.param(0.0, 1.0, 0.0, False, id="zero-traffic-inactive"),
        pytest.param(0.5, 1.0, 1.0, False, id="below-threshold"),
        pytest.param(1.5, 1.0, 1.0, True, id="above-threshold"),
        pytest.param(NAN, 1.0, 0.0, True, id="no-requests-pressure"),
        pytest.param(NAN, NAN, 0.0, False, id="no-requests-no-pressure"),
        pytest.param(-1.0, 1.0, 0.0, True, id="negative-requests-ignored"),
        pytest.param(INF, NAN, 0.0, False, id="inf-requests-ignored"),
    ],
)
def test_activity(requests: float, cpu: float, threshold: float, active: bool):
    params = PolicyParams.uniform(1, targets={"cpu": 1.0}, interval_s=15,
                                  activation_threshold=threshold)
    signals = {"cpu": np.array([cpu]), "requests": np.array([requests])}
    by_key, _ = step(PolicyState.empty(params), params, signals, np.array([1.0]))
    by_kw, _ = step(PolicyState.empty(params), params, {"cpu": np.array([cpu])},
                    np.array([1.0]), requests=np.array([requests]))
    assert by_key.active[0] == by_kw.active[0] == active


def test_step_leaves_state_unchanged():
    params = PolicyParams.uniform(2, targets={"cpu": 1.0}, interval_s=15)
    state = PolicyState.empty(params)
    first, after = step(state, params, {"cpu": np.array([3.0, 0.1])}, np.array([2.0, 8.0]))
    again, _ = step(state, params, {"cpu": np.array([3.0, 0.1])}, np.array([2.0, 8.0]))
    assert after is not state
    assert first.desired.tolist() == again.desired.tolist() == [8, 8]
    assert (state.last_desired == 65535).all()


def test_decision_dtypes():
    params = PolicyParams.uniform(3, targets={"cpu": 1.0}, interval_s=15)
    decision, state = step(PolicyState.empty(params), params, {"cpu": np.ones(3)}, np.ones(3))
    assert decision.desired.dtype == np.int64
    assert decision.pressure.dtype == np.float64
    assert decision.reason.dtype == np.int8
    assert decision.active.dtype == np.bool_
    assert decision.recommendation.dtype == np.int64
    assert decision.current.dtype == np.float64
    assert state.history.dtype == np.uint8  # max_replicas 64 ≤ 254
    assert state.nbytes == 3 * (20 + 2 + 19)
    wide = PolicyParams.uniform(3, targets={"cpu": 1.0}, interval_s=15, max_replicas=255)
    assert PolicyState.empty(wide).history.dtype == np.uint16
    assert PolicyState.empty(wide).nbytes == 3 * (2 * 20 + 2 + 19)


def test_no_isvcs():
    params = PolicyParams.uniform(0, targets={"cpu": 1.0}, interval_s=15)
    decision, state = step(PolicyState.empty(params), params, {"cpu": np.empty(0)}, np.empty(0))
    assert decision.desired.shape == (0,)
    assert state.select(np.empty(0, dtype=np.int64), params).n == 0


def test_state_for_other_params_is_rejected():
    small = PolicyParams.uniform(2, targets={"cpu": 1.0}, interval_s=15)
    longer = PolicyParams.uniform(2, targets={"cpu": 1.0}, interval_s=15, scale_down_window_s=600)
    with pytest.raises(ValueError, match=r"use state\.select"):
        step(PolicyState.empty(small), longer, {"cpu": np.ones(2)}, np.ones(2))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param("current", np.ones(3), r"current: shape \(3,\), expected \(2,\)",
                     id="current"),
        pytest.param("signals", np.ones((2, 2)), r"signals: shape \(2, 2\), expected \(2, 1\)",
                     id="matrix"),
    ],
)
def test_input_shapes_are_checked(field: str, value: np.ndarray, message: str):
    params = PolicyParams.uniform(2, targets={"cpu": 1.0}, interval_s=15)
    args = {"signals": {"cpu": np.ones(2)}, "current": np.ones(2)}
    args[field] = value
    with pytest.raises(ValueError, match=message):
        step(PolicyState.empty(params), params, args["signals"], args["current"])


def test_reasons_contract():
    assert REASONS == reference_policy.REASONS == (
        "clamped-max", "clamped-min", "panic", "scale-up", "scale-down", "no-data",
        "stabilizing", "hold", "starting", "latency-floor",
    )
