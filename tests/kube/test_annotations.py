"""InferenceService annotations → validated overrides, with policy.yaml's own checks (pure)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from scaler.config import parse_config
from scaler.kube import parse_annotations

from .conftest import CONFIG

KEY = ("team-a", "llama")
P = "isvc-scaler.io/"


def parse(annotations: dict[str, str]) -> Any:
    return parse_annotations(KEY, annotations, policies=parse_config(CONFIG).policies)


@pytest.mark.parametrize(("annotations", "fields"), [
    pytest.param({P + "policy": "batch"}, {"policy": "batch"}, id="policy"),
    pytest.param({P + "max-replicas": "16"}, {"max_replicas": 16}, id="max-replicas"),
    pytest.param({P + "min-replicas": "0"}, {"min_replicas": 0}, id="min-replicas-zero"),
    pytest.param({P + "scale-down-window": "10m"}, {"scale_down_window_s": 600.0},
                 id="duration"),
    pytest.param({P + "scale-up-window": "30"}, {"scale_up_window_s": 30.0},
                 id="duration-plain-seconds"),
    pytest.param({P + "target-kv-cache": "0.85"}, {"targets": {"kv_cache": 0.85}},
                 id="target"),
    pytest.param({P + "target-latency-p99": "2", P + "target-cpu": "0.5"},
                 {"targets": {"latency_p99": 2.0, "cpu": 0.5}}, id="two-targets"),
    pytest.param({P + "panic-threshold": "inf"}, {"panic_threshold": math.inf}, id="inf"),
    pytest.param({P + "tolerance": "0.2", P + "activation-threshold": "1.5",
                  P + "scale-down-utilization": "0.5"},
                 {"tolerance": 0.2, "activation_threshold": 1.5, "scale_down_utilization": 0.5},
                 id="numbers"),
    pytest.param({"other.io/x": "y", "serving.kserve.io/autoscalerClass": "external"}, {},
                 id="foreign-annotations-ignored"),
])
def test_valid(annotations: dict[str, str], fields: dict[str, Any]) -> None:
    result = parse(annotations)
    assert result.errors == ()
    assert dict(result.fields) == fields


@pytest.mark.parametrize(("annotations", "fields", "message"), [
    pytest.param({P + "max-replicas": "abc", P + "min-replicas": "2"}, {"min_replicas": 2},
                 'isvc-scaler.io/max-replicas = "abc" on team-a/llama: must be an integer',
                 id="not-an-integer-keeps-the-rest"),
    pytest.param({P + "max-replicas": "0"}, {},
                 'isvc-scaler.io/max-replicas = "0" on team-a/llama: must be in [1, 65534]',
                 id="max-replicas-bound"),
    pytest.param({P + "scale-down-window": "soon", P + "tolerance": "0.3"}, {"tolerance": 0.3},
                 'isvc-scaler.io/scale-down-window = "soon" on team-a/llama: must be a '
                 "duration (e.g. 15s, 5m, 1h30m, 250ms, or a number of seconds)",
                 id="bad-duration"),
    pytest.param({P + "target-kv-cache": "-1"}, {},
                 'isvc-scaler.io/target-kv-cache = "-1" on team-a/llama: must be > 0',
                 id="target-bound"),
    pytest.param({P + "target-kv-cash": "0.8"}, {},
                 'isvc-scaler.io/target-kv-cash = "0.8" on team-a/llama: unknown signal, '
                 'did you mean "kv_cache"?', id="unknown-signal"),
    pytest.param({P + "target-replicas": "2"}, {},
                 'isvc-scaler.io/target-replicas = "2" on team-a/llama: not a pressure '
                 "signal, takes no target (targets: latency_p99, kv_cache, cpu, inflight, "
                 "prompt_throughput)",
                 id="not-a-pressure-signal"),
    pytest.param({P + "policy": "nope", P + "max-replicas": "4"}, {"max_replicas": 4},
                 'isvc-scaler.io/policy = "nope" on team-a/llama: must be a policy defined '
                 "under policies: (batch, default)", id="undefined-policy"),
    pytest.param({P + "max-replica": "4"}, {},
                 'isvc-scaler.io/max-replica = "4" on team-a/llama: unknown annotation, '
                 'did you mean "isvc-scaler.io/max-replicas"?', id="misspelt"),
    pytest.param({P + "max_replicas": "4"}, {},
                 'isvc-scaler.io/max_replicas = "4" on team-a/llama: unknown annotation, '
                 'did you mean "isvc-scaler.io/max-replicas"?', id="underscore"),
    pytest.param({P + "scaledobject": "yes"}, {},
                 'isvc-scaler.io/scaledobject = "yes" on team-a/llama: must be "true" or '
                 '"false"', id="scaledobject-not-a-boolean"),
    pytest.param({P + "min-replicas": "4", P + "max-replicas": "2", P + "tolerance": "0"},
                 {"tolerance": 0.0},
                 'isvc-scaler.io/min-replicas = "4" on team-a/llama: must be ≤ max_replicas (2)',
                 id="min-above-max-drops-both"),
    pytest.param({P + "policy": "batch", P + "min-replicas": "9"}, {"policy": "batch"},
                 'isvc-scaler.io/min-replicas = "9" on team-a/llama: must be ≤ max_replicas '
                 '(8, from policy "batch")', id="checked-against-the-annotated-policy"),
    pytest.param({P + "panic-threshold": "nan"}, {},
                 'isvc-scaler.io/panic-threshold = "nan" on team-a/llama: must be a finite '
                 "number", id="nan"),
    pytest.param({P + "tolerance": "true"}, {},
                 'isvc-scaler.io/tolerance = "true" on team-a/llama: must be a number',
                 id="text-for-a-number"),
])
def test_invalid_keeps_the_other_settings(annotations: dict[str, str], fields: dict[str, Any],
                                          message: str) -> None:
    result = parse(annotations)
    assert [e.message for e in result.errors] == [message]
    assert result.errors[0].key == KEY
    assert message.startswith(result.errors[0].annotation + " ")
    assert dict(result.fields) == fields


@pytest.mark.parametrize(("value", "opted_in"), [("true", True), ("false", False)])
def test_scaledobject_opt_in(value: str, opted_in: bool) -> None:
    result = parse({P + "scaledobject": value, P + "max-replicas": "8"})
    assert (result.scaledobject, result.errors, dict(result.fields)) == (
        opted_in, (), {"max_replicas": 8})


def test_checked_under_the_isvcs_override_that_wins() -> None:
    config = parse_config(CONFIG + "isvcs:\n  team-a/llama: {max_replicas: 3}\n")
    result = parse_annotations(KEY, {P + "min-replicas": "5", P + "tolerance": "0.3"},
                               policies=config.policies, pinned=config.isvcs["team-a/llama"])
    assert [e.message for e in result.errors] == [
        'isvc-scaler.io/min-replicas = "5" on team-a/llama: must be ≤ max_replicas '
        "(3, from policy.yaml isvcs:)"]
    assert dict(result.fields) == {"tolerance": 0.3}
