"""build_params: per-ISVC PolicyParams rows from resolved policies; config ⊆ PolicyParams rules."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaler.config import UnknownPolicyError, build_params, parse_config, resolve_policy
from scaler.config.queries import PRESSURE_SIGNALS
from scaler.errors import ConfigError
from scaler.policy import PolicyState, step

TEXT = """
interval: 30s
policies:
  default: {targets: {latency_p99: 0.5, kv_cache: 0.8, cpu: 0.7}}
  batch: {targets: {kv_cache: 0.9}, scale_down_window: 10m, min_replicas: 0, max_replicas: 16}
isvcs:
  prod/pinned: {policy: batch, max_replicas: 4, tolerance: 0.3}
  prod/tuned: {targets: {latency_p99: 1.0}}
"""
KEYS = [("prod", "plain"), ("prod", "pinned"), ("prod", "tuned"), ("dev", "meta")]


def test_rows_follow_keys_and_resolution() -> None:
    config = parse_config(TEXT)
    params, specs = build_params(config, KEYS, metadata_policy={("dev", "meta"): "batch",
                                                               ("prod", "pinned"): "default"})
    assert [s.name for s in specs] == ["default", "batch", "default", "batch"]
    assert params.n == 4 and params.interval_s == 30.0
    assert params.signals == PRESSURE_SIGNALS
    col = {s: params.targets[:, k] for k, s in enumerate(params.signals)}
    np.testing.assert_array_equal(col["latency_p99"], [0.5, np.nan, 1.0, np.nan])
    np.testing.assert_array_equal(col["kv_cache"], [0.8, 0.9, 0.8, 0.9])
    np.testing.assert_array_equal(col["cpu"], [0.7, np.nan, 0.7, np.nan])
    np.testing.assert_array_equal(params.max_replicas, [64, 4, 64, 16])
    np.testing.assert_array_equal(params.min_replicas, [1, 0, 1, 0])
    np.testing.assert_array_equal(params.tolerance, [0.1, 0.3, 0.1, 0.1])
    np.testing.assert_array_equal(params.scale_down_window_s, [300.0, 600.0, 300.0, 600.0])
    assert params.max_replicas.dtype == np.int64 and params.tolerance.dtype == np.float64
    for i, key in enumerate(KEYS):
        meta = {("dev", "meta"): "batch"}.get(key)
        assert specs[i] == resolve_policy(config, key, meta)


def test_params_drive_a_policy_step() -> None:
    params, _ = build_params(parse_config(TEXT), KEYS)
    state = PolicyState.empty(params)
    signals = {"kv_cache": np.array([1.8, 1.8, 0.1, 0.1])}
    decision, _ = step(state, params, signals, np.array([2.0, 2.0, 2.0, 2.0]))
    # kv 1.8 / 0.8 = pressure 2.25 ≥ panic 2 → up to pow2ceil(4.5) = 8; pinned: max 4.
    assert decision.desired.tolist()[:2] == [8, 4]


def test_empty_key_list() -> None:
    params, specs = build_params(parse_config(TEXT), [])
    assert params.n == 0 and specs == ()


def test_unknown_metadata_policy() -> None:
    config = parse_config(TEXT)
    with pytest.raises(UnknownPolicyError) as info:
        resolve_policy(config, ("prod", "x"), "gold")
    assert isinstance(info.value, ConfigError)
    assert info.value.policy == "gold"
    assert str(info.value) == ('policy "gold" of prod/x is not defined in policies: '
                               "(defined: batch, default)")
    # build_params never fails on it (a reload may drop a policy): falls back to default.
    _, specs = build_params(config, [("prod", "x")], metadata_policy={("prod", "x"): "gold"})
    assert specs[0].name == "default"


def test_pinned_policy_wins_over_unknown_metadata() -> None:
    spec = resolve_policy(parse_config(TEXT), ("prod", "pinned"), "gold")
    assert (spec.name, spec.max_replicas) == ("batch", 4)


_POSITIVE = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False)
_POLICY = st.fixed_dictionaries({}, optional={
    "targets": st.dictionaries(st.sampled_from(PRESSURE_SIGNALS), _POSITIVE, min_size=1),
    "tolerance": st.floats(min_value=0, max_value=10),
    "scale_down_utilization": st.floats(min_value=1e-6, max_value=1),
    "panic_threshold": st.one_of(st.floats(min_value=1.0001, max_value=1e6), st.just(math.inf)),
    "scale_up_window": st.integers(min_value=0, max_value=10**6).map(lambda s: f"{s}s"),
    "scale_down_window": st.floats(min_value=0, max_value=1e6),
    "activation_threshold": st.floats(min_value=0, max_value=1e6),
    "min_replicas": st.integers(min_value=0, max_value=8),
    "max_replicas": st.integers(min_value=8, max_value=65534),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies=st.dictionaries(st.sampled_from(["default", "a", "b"]), _POLICY, max_size=3),
       override=_POLICY)
def test_every_valid_config_builds_valid_params(policies: dict[str, Any],
                                                override: dict[str, Any]) -> None:
    text = yaml.safe_dump({"policies": policies, "isvcs": {"ns/x": override}})
    try:
        config = parse_config(text)
    except ConfigError as e:  # only cross-key rules may reject these values
        assert all("min_replicas" in m or "max_replicas" in m or "leaves no target" in m
                   for m in e.errors), e.errors
        return
    keys = [("ns", "x"), ("ns", "y")]
    for metadata in [None, *policies]:
        meta = {k: metadata for k in keys} if metadata else None
        params, specs = build_params(config, keys, metadata_policy=meta)
        assert params.n == 2
        assert all(s.min_replicas <= s.max_replicas and s.targets for s in specs)
