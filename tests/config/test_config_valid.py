"""Valid policy.yaml files → expected Config values and resolved per-ISVC policies."""

from __future__ import annotations

import math
import pickle
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest

from scaler.config import (
    DEFAULT_TARGETS,
    POLICY_DEFAULTS,
    Config,
    PolicySpec,
    build_params,
    load_config,
    parse_config,
    resolve_policy,
)
from scaler.config.queries import DEFAULT_TEMPLATES, SIGNAL_NAMES, render_query
from scaler.errors import ConfigError

DESIGN_EXAMPLE = """
prometheus:
  url: http://prometheus-operated.monitoring:9090
  timeout: 5s
  headers: {X-Scope-OrgID: team-a}      # optional; also bearer_token_file, tls options
interval: 15s
labels: {namespace: namespace, isvc: isvc}
signals:                                 # optional; overrides the defaults of section 2
  kv_cache: {query: 'avg by (namespace, isvc) (vllm:kv_cache_usage_perc)'}
policies:
  default:
    targets: {latency_p99: 0.5, kv_cache: 0.8, cpu: 0.7}
    min_replicas: 1
    max_replicas: 64
  batch:
    targets: {kv_cache: 0.9}
    scale_down_window: 600s
isvcs:                                   # optional per-ISVC overrides
  prod/llama-3-70b: {policy: default, max_replicas: 16}
"""

DESIGN_TARGETS = {"latency_p99": 0.5, "kv_cache": 0.8, "cpu": 0.7}
KEY = ("prod", "llama")

# (id, yaml, isvc key, metadata policy, expected PolicySpec fields that differ from defaults)
RESOLVED: list[tuple[str, str, tuple[str, str], str | None, dict[str, Any]]] = [
    ("empty-file", "", KEY, None, {"name": "default"}),
    ("empty-policies", "policies: {}", KEY, None, {"name": "default"}),
    ("design-default", DESIGN_EXAMPLE, KEY, None, {"name": "default", "targets": DESIGN_TARGETS}),
    ("design-metadata-batch", DESIGN_EXAMPLE, KEY, "batch",
     {"name": "batch", "targets": {"kv_cache": 0.9}, "scale_down_window_s": 600.0}),
    ("design-override-pins-policy", DESIGN_EXAMPLE, ("prod", "llama-3-70b"), "batch",
     {"name": "default", "max_replicas": 16, "targets": DESIGN_TARGETS}),
    ("metadata-default-explicit", DESIGN_EXAMPLE, KEY, "default",
     {"name": "default", "targets": DESIGN_TARGETS}),
    ("all-keys",
     "policies:\n  default:\n    targets: {latency_p99: 2, cpu: 0.5}\n    tolerance: 0.2\n"
     "    scale_down_utilization: 0.5\n    panic_threshold: 3\n    scale_up_window: 1m\n"
     "    scale_down_window: 1h30m\n    min_replicas: 0\n    max_replicas: 4\n"
     "    activation_threshold: 0.5\n", KEY, None,
     {"name": "default", "targets": {"latency_p99": 2.0, "cpu": 0.5}, "tolerance": 0.2,
      "scale_down_utilization": 0.5, "panic_threshold": 3.0, "scale_up_window_s": 60.0,
      "scale_down_window_s": 5400.0, "min_replicas": 0, "max_replicas": 4,
      "activation_threshold": 0.5}),
    ("plain-seconds-and-integral-float", "policies: {default: {scale_down_window: 90, "
     "max_replicas: 8.0, scale_up_window: '30'}}", KEY, None,
     {"name": "default", "scale_down_window_s": 90.0, "max_replicas": 8,
      "scale_up_window_s": 30.0}),
    ("panic-disabled", "policies: {default: {panic_threshold: .inf}}", KEY, None,
     {"name": "default", "panic_threshold": math.inf}),
    ("null-target-dropped", "policies: {default: {targets: {kv_cache: 0.8, cpu: null}}}", KEY,
     None, {"name": "default", "targets": {"kv_cache": 0.8}}),
    ("override-merges-targets",
     "isvcs: {prod/llama: {targets: {latency_p99: 2.0}}}", KEY, None,
     {"name": "default", "targets": {**DEFAULT_TARGETS, "latency_p99": 2.0}}),
    ("override-null-removes-target",
     "isvcs: {prod/llama: {targets: {prompt_throughput: null}}}", KEY, None,
     {"name": "default", "targets": {"latency_p99": 0.5, "kv_cache": 0.8}}),
    ("override-on-metadata-policy",
     "policies: {batch: {targets: {kv_cache: 0.9}, max_replicas: 16}}\n"
     "isvcs: {prod/llama: {min_replicas: 2, scale_down_window: 20m}}", KEY, "batch",
     {"name": "batch", "targets": {"kv_cache": 0.9}, "max_replicas": 16, "min_replicas": 2,
      "scale_down_window_s": 1200.0}),
    ("override-other-isvc-ignored",
     "isvcs: {prod/other: {max_replicas: 2}}", KEY, None, {"name": "default"}),
    ("override-same-name-other-namespace",
     "isvcs: {dev/llama: {max_replicas: 2}}", KEY, None, {"name": "default"}),
    ("override-policy-only",
     "policies: {batch: {targets: {kv_cache: 0.9}}}\nisvcs: {prod/llama: {policy: batch}}",
     KEY, None, {"name": "batch", "targets": {"kv_cache": 0.9}}),
    ("override-min-zero-scale-to-zero",
     "isvcs: {prod/llama: {min_replicas: 0, activation_threshold: 0.1}}", KEY, None,
     {"name": "default", "min_replicas": 0, "activation_threshold": 0.1}),
]


@pytest.mark.parametrize(("text", "key", "metadata", "expected"),
                         [c[1:] for c in RESOLVED], ids=[c[0] for c in RESOLVED])
def test_resolved_policy(text: str, key: tuple[str, str], metadata: str | None,
                         expected: dict[str, Any]) -> None:
    spec = resolve_policy(parse_config(text), key, metadata)
    want = {**POLICY_DEFAULTS, **expected}
    got = {f: getattr(spec, f) for f in want}
    got["targets"] = dict(spec.targets)
    want["targets"] = dict(want["targets"])
    assert got == want


def test_design_example_top_level_values() -> None:
    config = parse_config(DESIGN_EXAMPLE, source="policy.yaml")
    assert config.prometheus.url == "http://prometheus-operated.monitoring:9090"
    assert config.prometheus.timeout_s == 5.0
    assert dict(config.prometheus.headers) == {"X-Scope-OrgID": "team-a"}
    assert (config.interval_s, config.stale_after_s) == (15.0, 45.0)
    assert (config.namespace_label, config.isvc_label) == ("namespace", "isvc")
    assert config.queries["kv_cache"] == "avg by (namespace, isvc) (vllm:kv_cache_usage_perc)"
    assert set(config.policies) == {"default", "batch"}
    assert dict(config.isvcs["prod/llama-3-70b"]) == {"policy": "default", "max_replicas": 16}
    assert config.source == "policy.yaml"
    assert len(config.digest) == 64


@pytest.mark.parametrize(("text", "interval_s", "stale_after_s"), [
    ("", 15.0, 45.0),
    ("interval: 1m", 60.0, 180.0),
    ("interval: 10s\nstale_after: 10s", 10.0, 10.0),
    ("interval: 500ms\nstale_after: 1h30m", 0.5, 5400.0),
], ids=["defaults", "stale-3x-interval", "stale-equal-interval", "units"])
def test_interval_and_stale_after(text: str, interval_s: float, stale_after_s: float) -> None:
    config = parse_config(text)
    assert (config.interval_s, config.stale_after_s) == (interval_s, stale_after_s)


def test_default_queries_are_rendered_for_custom_labels() -> None:
    config = parse_config("labels: {namespace: kube_namespace, isvc: model}\n"
                          "signals: {requests: {query: ''}}")
    assert set(config.queries) == set(SIGNAL_NAMES)
    assert config.queries["requests"] == ""
    assert config.queries["kv_cache"] == render_query(
        DEFAULT_TEMPLATES["kv_cache"], namespace_label="kube_namespace", isvc_label="model")
    assert "by (kube_namespace, model)" in config.queries["kv_cache"]
    assert "$" not in config.queries["latency_p99"]


def test_custom_query_template_uses_label_placeholders() -> None:
    config = parse_config("labels: {namespace: ns, isvc: model}\n"
                          "signals: {cpu: {query: 'max by ($ns, $isvc) (x)'}}")
    assert config.queries["cpu"] == "max by (ns, model) (x)"


def test_prometheus_section_full() -> None:
    config = parse_config(
        "prometheus:\n  url: https://mimir.example:8080/\n  timeout: 2500ms\n"
        "  path_prefix: /prometheus/\n  bearer_token_file: /var/run/token\n"
        "  tls: {ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem, "
        "insecure_skip_verify: true}\n")
    p = config.prometheus
    assert (p.url, p.timeout_s, p.path_prefix) == ("https://mimir.example:8080", 2.5, "/prometheus")
    assert (p.bearer_token_file, p.ca_file, p.cert_file, p.key_file) == (
        "/var/run/token", "/ca.pem", "/c.pem", "/k.pem")
    assert p.insecure_skip_verify is True
    assert p.basic_auth_username is None


def test_basic_auth() -> None:
    p = parse_config("prometheus: {basic_auth: {username: u, password_file: /p}}").prometheus
    assert (p.basic_auth_username, p.basic_auth_password_file, p.bearer_token_file) == (
        "u", "/p", None)


def test_simulation_section_is_kept_raw() -> None:
    config = parse_config("simulation: {duration: 1h, replicas: {startup_s: 90}, seeds: [1, 2]}")
    assert dict(config.simulation) == {"duration": "1h", "replicas": {"startup_s": 90},
                                       "seeds": [1, 2]}


def test_config_is_immutable_and_picklable() -> None:
    config = parse_config(DESIGN_EXAMPLE)
    with pytest.raises(FrozenInstanceError):
        config.interval_s = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.policies["x"] = config.policies["default"]  # type: ignore[index]
    with pytest.raises(TypeError):
        config.policies["batch"].targets["cpu"] = 1.0  # type: ignore[index]
    assert pickle.loads(pickle.dumps(config)) == config


def test_dataclass_defaults_match_the_table() -> None:
    config = Config()
    assert (config.interval_s, config.stale_after_s) == (15.0, 45.0)
    assert config == parse_config("", source="")
    spec = PolicySpec("x", DEFAULT_TARGETS)
    assert {f: getattr(spec, f) for f in POLICY_DEFAULTS} == dict(POLICY_DEFAULTS)


def test_load_config_reads_file_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("interval: 30s\n")
    assert load_config(path).interval_s == 30.0
    path.write_text("interval: 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: interval = 0, must be > 0"
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_added_signal_with_kind_reaches_the_policy_params() -> None:
    config = parse_config(
        "signals:\n"
        "  queue_p90: {query: 'histogram_quantile(0.9, sum by ($ns, $isvc, le) (x))', "
        "kind: latency}\n"
        "  inflight: {kind: latency}\n"
        "policies: {default: {targets: {queue_p90: 1.5, kv_cache: 0.8, inflight: 20}}}\n")
    assert config.kinds["queue_p90"] == "latency"
    assert config.kinds["inflight"] == "latency"
    assert config.kinds["kv_cache"] == "utilization"
    assert config.signal_names[-3:] == ("replicas", "spec_replicas", "requests")
    assert "queue_p90" in config.signal_names
    assert "by (namespace, isvc, le)" in config.queries["queue_p90"]
    params, _ = build_params(config, [("a", "b")])
    kinds = dict(zip(params.signals, params.kinds, strict=True))
    assert kinds == {**dict(config.kinds)}
    assert params.targets[0, params.signals.index("queue_p90")] == 1.5
