"""Precedence of DESIGN §8: policy.yaml `isvcs:` > annotations > ScaledObject metadata >
`default`, through resolve_policy(annotations=), build_params(annotations=) and
with_annotations (what the engine gets); without annotations nothing changes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scaler.config import build_params, parse_config, resolve_policy, with_annotations

CONFIG = parse_config("""\
policies:
  default: {targets: {kv_cache: 0.8}}
  batch: {targets: {kv_cache: 0.9, cpu: 0.7}, max_replicas: 8}
  interactive: {targets: {latency_p99: 0.5}, min_replicas: 2}
isvcs:
  prod/pinned: {policy: interactive, max_replicas: 16, targets: {cpu: null, kv_cache: 0.5}}
  prod/tuned: {max_replicas: 32}
""")
PIN, TUNED, FREE = ("prod", "pinned"), ("prod", "tuned"), ("prod", "free")

CASES = [
    pytest.param(FREE, None, None, "default", 64, {"kv_cache": 0.8}, id="default"),
    pytest.param(FREE, "batch", None, "batch", 8, {"kv_cache": 0.9, "cpu": 0.7},
                 id="metadata"),
    pytest.param(FREE, "batch", {"policy": "interactive"}, "interactive", 64,
                 {"latency_p99": 0.5}, id="annotation-policy-beats-metadata"),
    pytest.param(FREE, "batch", {"max_replicas": 4}, "batch", 4,
                 {"kv_cache": 0.9, "cpu": 0.7}, id="annotation-keys-on-metadata-policy"),
    pytest.param(PIN, "batch", {"policy": "batch", "max_replicas": 4,
                                "targets": {"cpu": 0.6, "latency_p99": 1.0}},
                 "interactive", 16, {"latency_p99": 1.0, "kv_cache": 0.5},
                 id="isvcs-beats-annotations"),
    pytest.param(TUNED, None, {"max_replicas": 4, "min_replicas": 3}, "default", 32,
                 {"kv_cache": 0.8}, id="isvcs-key-beats-annotation-key"),
    pytest.param(FREE, "batch", {"policy": "gone"}, "batch", 8, {"kv_cache": 0.9, "cpu": 0.7},
                 id="undefined-annotation-policy-falls-back"),
]


@pytest.mark.parametrize(("key", "metadata", "annotations", "policy", "max_replicas",
                          "targets"), CASES)
def test_precedence(key: tuple[str, str], metadata: str | None,
                    annotations: dict[str, Any] | None, policy: str, max_replicas: int,
                    targets: dict[str, float]) -> None:
    ann = {key: annotations} if annotations else {}
    _, (spec,) = build_params(CONFIG, [key], metadata_policy={key: metadata} if metadata
                              else None, annotations=ann)
    assert (spec.name, spec.max_replicas, dict(spec.targets)) == (policy, max_replicas, targets)
    # the engine's path: the same through a Config with the annotations folded in
    folded = with_annotations(CONFIG, ann)
    _, (same,) = build_params(folded, [key], metadata_policy={key: metadata} if metadata
                              else None)
    assert same == spec
    if annotations and annotations.get("policy") != "gone":
        assert resolve_policy(CONFIG, key, metadata, annotations=annotations) == spec


def test_without_annotations_nothing_changes() -> None:
    keys = [PIN, TUNED, FREE]
    assert with_annotations(CONFIG, {}) is CONFIG
    a, specs_a = build_params(CONFIG, keys)
    b, specs_b = build_params(CONFIG, keys, annotations={})
    assert specs_a == specs_b
    assert np.array_equal(a.max_replicas, b.max_replicas)
    for key in keys:
        assert resolve_policy(CONFIG, key) == resolve_policy(CONFIG, key, annotations=None)
