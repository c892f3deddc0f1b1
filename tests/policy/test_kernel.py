"""The kernel's building blocks: the bit-trick pow2ceil and the persistent history ring."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaler.policy import PolicyParams, PolicyState, step
from scaler.policy.pow2 import POW2_CAP, pow2ceil
from scaler.policy.ring import Ring
from tests.reference_policy import pow2ceil as reference_pow2ceil

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        pytest.param(3.75, 4.0, id="between"),
        pytest.param(4.0, 4.0, id="exact-power"),
        pytest.param(4.000000000000001, 8.0, id="just-above-power"),
        pytest.param(1.0, 1.0, id="one"),
        pytest.param(0.3, 1.0, id="below-one"),
        pytest.param(0.0, 1.0, id="zero"),
        pytest.param(-0.0, 1.0, id="negative-zero"),
        pytest.param(5e-324, 1.0, id="subnormal"),
        pytest.param(2.0**62, POW2_CAP, id="cap"),
        pytest.param(2.0**62 + 2.0**10, POW2_CAP, id="above-cap"),
        pytest.param(1.7e308, POW2_CAP, id="largest-finite"),
        pytest.param(INF, POW2_CAP, id="inf"),
    ],
)
def test_pow2ceil_table(x: float, expected: float):
    assert pow2ceil(np.array([x]), np.empty(1))[0] == expected


@pytest.mark.parametrize("keep_nan", [True, False], ids=["keep-nan", "nan-to-one"])
def test_pow2ceil_nan(keep_nan: bool):
    out = pow2ceil(np.array([NAN]), np.empty(1), keep_nan=keep_nan)[0]
    assert np.isnan(out) if keep_nan else out == 1.0


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0.0, allow_nan=False))
def test_pow2ceil_equals_reference(x: float):
    assert pow2ceil(np.array([x]), np.empty(1))[0] == reference_pow2ceil(x)


def test_ring_versions_stay_readable():
    first = Ring(np.zeros((3, 2), dtype=np.uint16))
    second = first.update(1, lambda buf: buf.__setitem__(1, 7), whole=False)
    third = second.update(2, lambda buf: buf.__setitem__(2, 9), whole=False)
    branch = first.update(0, lambda buf: buf.__setitem__(0, 5), whole=False)
    assert first.array().tolist() == [[0, 0], [0, 0], [0, 0]]
    assert third.array().tolist() == [[0, 0], [7, 7], [9, 9]]
    assert branch.array().tolist() == [[5, 5], [0, 0], [0, 0]]
    assert second.array().tolist() == [[0, 0], [7, 7], [0, 0]]
    assert third.rows(np.array([2, 1]), np.array([1])).tolist() == [[9], [7]]


def test_concurrent_steps_from_one_state_agree():
    params = PolicyParams.uniform(64, targets={"cpu": 1.0}, interval_s=15)
    rng = np.random.default_rng(3)
    state = PolicyState.empty(params)
    for _ in range(5):
        _, state = step(state, params, {"cpu": rng.uniform(0, 3, 64)}, rng.integers(1, 9, 64))
    cpu, current = rng.uniform(0, 3, 64), np.full(64, 4.0)
    expected, _ = step(state, params, {"cpu": cpu}, current)
    results: list[np.ndarray] = []

    def worker() -> None:
        local = state
        for _ in range(20):
            decision, _ = step(local, params, {"cpu": cpu}, current)
            results.append(decision.desired)
            _, local = step(local, params, {"cpu": cpu}, current)
            local = state

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 80
    assert all((r == expected.desired).all() for r in results)


def test_a_subset_keeps_the_history_dtype_of_its_fleet():
    """params.take(…, same_history=True): the subset's windows and saturation use the fleet's
    uint16 history even when its own max_replicas would allow uint8."""
    params = PolicyParams.uniform(3, targets={"cpu": 0.5}, interval_s=15,
                                  scale_down_window_s=np.array([15.0, 60.0, 60.0]),
                                  max_replicas=np.array([8, 300, 8]))
    part = params.take(np.array([0, 2]), same_history=True)
    assert params.ring_dtype == part.ring_dtype == np.uint16
    assert params.take(np.array([0, 2])).ring_dtype == np.uint8
    assert all(m is None or m.dtype == np.uint16 for m in part.down_groups.masks)


def test_a_state_of_another_history_dtype_is_refused():
    small = PolicyParams.uniform(2, targets={"cpu": 0.5}, interval_s=15, max_replicas=8)
    wide = PolicyParams.uniform(2, targets={"cpu": 0.5}, interval_s=15, max_replicas=300)
    with pytest.raises(ValueError, match="uint8 history, params need uint16"):
        step(PolicyState.empty(small), wide, {"cpu": np.ones(2)}, np.ones(2))
