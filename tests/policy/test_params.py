"""PolicyParams construction: broadcasting, derived window ticks, and validation messages."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scaler.policy import DEFAULTS, PolicyParams, window_ticks

NAN = float("nan")


def test_uniform_broadcasts_scalars_and_arrays():
    params = PolicyParams.uniform(
        3, targets={"latency_p99": 0.5, "kv_cache": np.array([0.8, NAN, 0.9])}, interval_s=15,
        max_replicas=np.array([4, 8, 16]), tolerance=0.2,
    )
    assert params.n == 3
    assert params.signals == params.signal == ("latency_p99", "kv_cache")
    assert params.targets.shape == (3, 2)
    assert np.isnan(params.targets[1, 1])
    assert params.max_replicas.tolist() == [4, 8, 16]
    assert params.max_replicas.dtype == np.int64
    assert params.tolerance.tolist() == [0.2] * 3
    assert params.min_replicas.tolist() == [DEFAULTS["min_replicas"]] * 3
    assert not params.tolerance.flags.writeable


@pytest.mark.parametrize(
    ("window_s", "interval_s", "ticks"),
    [
        pytest.param(0.0, 15.0, 1, id="zero-is-one-tick"),
        pytest.param(300.0, 15.0, 20, id="300s-at-15s"),
        pytest.param(20.0, 15.0, 2, id="rounds-up"),
        pytest.param(15.0, 15.0, 1, id="one-interval"),
        pytest.param(1.0, 15.0, 1, id="below-interval"),
        pytest.param(600.0, 7.5, 80, id="fractional-interval"),
    ],
)
def test_window_ticks(window_s: float, interval_s: float, ticks: int):
    assert window_ticks(np.array([window_s]), interval_s).tolist() == [ticks]


def test_ring_is_longest_window():
    params = PolicyParams.uniform(2, targets={"cpu": 1.0}, interval_s=15,
                                  scale_down_window_s=np.array([30.0, 60.0]),
                                  scale_up_window_s=np.array([90.0, 0.0]))
    assert params.ring_ticks == 6
    assert PolicyParams.uniform(0, targets={"cpu": 1.0}, interval_s=15).ring_ticks == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"targets": {"kv_cache": np.array([1, 1, 1, -1.0])}},
                     "targets.kv_cache[3] = -1.0, must be > 0 or NaN", id="negative-target"),
        pytest.param({"targets": {"cpu": 0.0}}, "targets.cpu[0] = 0.0, must be > 0 or NaN",
                     id="zero-target"),
        pytest.param({"targets": {"cpu": float("inf")}}, "targets.cpu[0] = inf, must be finite",
                     id="inf-target"),
        pytest.param({"min_replicas": np.array([1, 9, 1, 1]), "max_replicas": 8},
                     "min_replicas[1] = 9, must be ≤ max_replicas", id="min-above-max"),
        pytest.param({"min_replicas": -1}, "min_replicas[0] = -1, must be ≥ 0", id="negative-min"),
        pytest.param({"max_replicas": 70000}, "max_replicas[0] = 70000, must be ≤ 65534",
                     id="max-too-large"),
        pytest.param({"min_replicas": 1.5}, "min_replicas[0] = 1.5, must be a whole number",
                     id="fractional-min"),
        pytest.param({"scale_down_window_s": np.array([0, 0, -5.0, 0])},
                     "scale_down_window_s[2] = -5.0, must be ≥ 0", id="negative-window"),
        pytest.param({"scale_up_window_s": NAN}, "scale_up_window_s[0] = nan, must be ≥ 0",
                     id="nan-window"),
        pytest.param({"scale_down_utilization": 0.0},
                     "scale_down_utilization[0] = 0.0, must be in (0, 1]", id="sdu-zero"),
        pytest.param({"scale_down_utilization": 1.5},
                     "scale_down_utilization[0] = 1.5, must be in (0, 1]", id="sdu-above-one"),
        pytest.param({"tolerance": -0.1}, "tolerance[0] = -0.1, must be ≥ 0", id="tolerance"),
        pytest.param({"panic_threshold": 0.0}, "panic_threshold[0] = 0.0, must be > 0",
                     id="panic-zero"),
        pytest.param({"activation_threshold": NAN}, "activation_threshold[0] = nan, must be ≥ 0",
                     id="activation-nan"),
        pytest.param({"interval_s": 0.0}, "interval_s = 0.0, must be > 0", id="interval"),
        pytest.param({"max_replicas": np.array([1, 2])}, "max_replicas: shape (2,), expected (4,)",
                     id="shape"),
        pytest.param({"targets": {"requests": 1.0}}, "'requests' never enters the pressure",
                     id="requests-not-pressure"),
    ],
)
def test_invalid_values_name_parameter_and_index(overrides: dict[str, Any], message: str):
    kwargs: dict[str, Any] = {"targets": {"kv_cache": 0.8}, "interval_s": 15.0}
    kwargs.update(overrides)
    with pytest.raises(ValueError) as info:
        PolicyParams.uniform(4, **kwargs)
    assert message in str(info.value)


def test_unknown_override_is_rejected():
    with pytest.raises(TypeError, match="scale_down_window"):
        PolicyParams.uniform(1, targets={"cpu": 1.0}, interval_s=15, scale_down_window=300)


def test_direct_construction_validates_too():
    with pytest.raises(ValueError, match=r"targets: shape \(2, 1\), expected \(n, 2\)"):
        PolicyParams(
            signals=("cpu", "kv_cache"), targets=np.ones((2, 1)), interval_s=15.0,
            tolerance=np.zeros(2), scale_down_utilization=np.ones(2),
            panic_threshold=np.ones(2), activation_threshold=np.zeros(2),
            scale_up_window_s=np.zeros(2), scale_down_window_s=np.zeros(2),
            min_replicas=np.ones(2, dtype=np.int64), max_replicas=np.ones(2, dtype=np.int64),
        )
