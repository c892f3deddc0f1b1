"""HPA arithmetic (AverageValue, Utilization) and `behavior` as kube-controller-manager does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scaler.sim.control import (
    DEFAULT_BEHAVIOR,
    PASSTHROUGH_BEHAVIOR,
    HpaState,
    external_average_value,
    hpa_step,
    resource_utilization,
)
from scaler.sim.observe import histogram_quantile


@pytest.mark.parametrize(("value", "target", "current", "expected"), [
    (8.0, 1.0, 4, 8), (17.0, 1.0, 16, 16), (18.0, 1.0, 16, 18), (4.0, 1.0, 16, 4),
    (2.5, 1.0, 2, 3), (0.0, 1.0, 3, 0), (30.0, 4.0, 7, 7), (30.0, 4.0, 5, 8)],
    ids=["double", "in-tolerance", "outside", "down", "ceil", "zero", "avg-in-tol", "avg-up"])
def test_external_average_value(value: float, target: float, current: int,
                                expected: int) -> None:
    assert external_average_value(value, target, current, 0.1) == expected


@pytest.mark.parametrize(("utils", "unready", "current", "expected"), [
    ([0.7, 0.7], 0, 2, 2),
    ([1.4, 1.4], 0, 2, 4),
    ([0.35, 0.35, 0.35, 0.35], 0, 4, 2),
    ([1.4, 1.4], 2, 4, 4),       # starting pods count as 0 %: ratio 1.0 → hold
    ([2.1, 2.1], 2, 4, 6),       # 4.2 / (4 × 0.7) = 1.5 → 6
    ([0.3], 3, 4, 1),            # scale-down ignores unready pods
    ([], 2, 2, 2)],
    ids=["at-target", "double", "half", "unready-hold", "unready-up", "down", "no-metrics"])
def test_resource_utilization(utils: list[float], unready: int, current: int,
                              expected: int) -> None:
    assert resource_utilization(utils, unready=unready, target=0.7, current=current,
                                tolerance=0.1) == expected


def test_default_behavior_limits_scale_up_to_double_or_four_pods_per_15s() -> None:
    state, n = HpaState(), 2
    seen = []
    for i in range(4):
        n, state = hpa_step(state, 15.0 * i, current=n, recommendation=50,
                            behavior=DEFAULT_BEHAVIOR, min_replicas=1, max_replicas=64)
        seen.append(n)
    assert seen == [6, 12, 24, 48]


def test_default_behavior_holds_scale_down_for_300s() -> None:
    state, n = HpaState(), 10
    for t in range(0, 301, 15):
        n, state = hpa_step(state, float(t), current=n, recommendation=10 if t == 0 else 3,
                            behavior=DEFAULT_BEHAVIOR, min_replicas=1, max_replicas=64)
        assert n == (10 if t < 300 else 3), t


def test_passthrough_behavior_applies_any_change_at_once() -> None:
    state = HpaState()
    n, state = hpa_step(state, 0.0, current=1, recommendation=64, behavior=PASSTHROUGH_BEHAVIOR,
                        min_replicas=1, max_replicas=100)
    assert n == 64
    n, state = hpa_step(state, 15.0, current=n, recommendation=2,
                        behavior=PASSTHROUGH_BEHAVIOR, min_replicas=1, max_replicas=100)
    assert n == 2
    n, _ = hpa_step(state, 30.0, current=n, recommendation=500,
                    behavior=PASSTHROUGH_BEHAVIOR, min_replicas=1, max_replicas=100)
    assert n == 66  # deploy example: +1000 % or +64 pods per 15 s


@given(recs=st.lists(st.integers(0, 200), min_size=1, max_size=40),
       start=st.integers(1, 100), lo=st.integers(1, 5), hi=st.integers(50, 150))
def test_hpa_step_stays_in_bounds_and_limits(recs: list[int], start: int, lo: int,
                                             hi: int) -> None:
    state, n = HpaState(), start
    for i, r in enumerate(recs):
        new, state = hpa_step(state, 15.0 * i, current=n, recommendation=r,
                              behavior=DEFAULT_BEHAVIOR, min_replicas=lo, max_replicas=hi)
        assert lo <= new <= hi or new == n
        assert new <= max(2 * n, n + 4, lo)
        n = new


@pytest.mark.parametrize(("counts", "expected"), [
    ([90, 10, 0], 2.35), ([0, 0, 0], float("nan")), ([0, 0, 5], 2.5), ([100, 0, 0], 0.99),
    ([50, 50, 0], 2.47)],
    ids=["worked-example", "empty", "inf-bucket", "first-bucket", "upper-bucket"])
def test_histogram_quantile_like_prometheus(counts: list[int], expected: float) -> None:
    got = histogram_quantile(0.99, (1.0, 2.5), counts)
    assert got == pytest.approx(expected, nan_ok=True)
