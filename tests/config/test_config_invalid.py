"""Invalid policy.yaml files: every error is collected and names its path (exact messages)."""

from __future__ import annotations

import pytest

from scaler.config import parse_config
from scaler.errors import ConfigError

P = "policies.p"
UNIT_HINT = "a duration (e.g. 15s, 5m, 1h30m, 250ms, or a number of seconds)"
LABEL_RULE = "a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)"
DNS_RULE = ('key must be "namespace/name", both DNS labels '
            "(a-z, 0-9, '-', ≤ 63 characters, alphanumeric at both ends)")

CASES: list[tuple[str, str, list[str]]] = [
    ("target-negative", "policies: {p: {targets: {kv_cache: -1}}}",
     [f"{P}.targets.kv_cache = -1, must be > 0"]),
    ("target-zero", "policies: {p: {targets: {latency_p99: 0}}}",
     [f"{P}.targets.latency_p99 = 0, must be > 0"]),
    ("target-string", "policies: {p: {targets: {cpu: '0.5'}}}",
     [f'{P}.targets.cpu = "0.5", must be a number']),
    ("target-typo", "policies: {p: {targets: {kv_cahce: 0.8}}}",
     [f'{P}.targets.kv_cahce: unknown signal, did you mean "kv_cache"?']),
    ("target-not-pressure", "policies: {p: {targets: {requests: 5}}}",
     [f"{P}.targets.requests: not a pressure signal, takes no target "
      "(targets: latency_p99, kv_cache, cpu, inflight, prompt_throughput)"]),
    ("targets-empty", "policies: {p: {targets: {}}}",
     [f"{P}.targets: no target set, set at least one of latency_p99, kv_cache, cpu, inflight, "
      "prompt_throughput"]),
    ("targets-list", "policies: {p: {targets: [kv_cache]}}",
     [f'{P}.targets = ["kv_cache"], must be a mapping']),
    ("tolerance-negative", "policies: {p: {tolerance: -0.1}}",
     [f"{P}.tolerance = -0.1, must be ≥ 0"]),
    ("tolerance-bool", "policies: {p: {tolerance: yes}}",
     [f"{P}.tolerance = true, must be a number"]),
    ("tolerance-nan", "policies: {p: {tolerance: .nan}}",
     [f"{P}.tolerance = NaN, must be a finite number"]),
    ("sdu-zero", "policies: {p: {scale_down_utilization: 0}}",
     [f"{P}.scale_down_utilization = 0, must be in (0, 1]"]),
    ("sdu-above-one", "policies: {p: {scale_down_utilization: 1.5}}",
     [f"{P}.scale_down_utilization = 1.5, must be in (0, 1]"]),
    ("panic-one", "policies: {p: {panic_threshold: 1}}",
     [f"{P}.panic_threshold = 1, must be > 1"]),
    ("window-negative", "policies: {p: {scale_down_window: -5s}}",
     [f"{P}.scale_down_window = -5s, must be ≥ 0"]),
    ("window-words", "policies: {p: {scale_up_window: 5 minutes}}",
     [f"{P}.scale_up_window = 5 minutes, must be {UNIT_HINT}"]),
    ("window-unit-order", "policies: {p: {scale_down_window: 1m1h}}",
     [f"{P}.scale_down_window = 1m1h, must be {UNIT_HINT}; units must go from d to ms, "
      "each once"]),
    ("min-negative", "policies: {p: {min_replicas: -1}}",
     [f"{P}.min_replicas = -1, must be ≥ 0"]),
    ("min-fraction", "policies: {p: {min_replicas: 2.5}}",
     [f"{P}.min_replicas = 2.5, must be an integer"]),
    ("min-above-max", "policies: {p: {min_replicas: 8, max_replicas: 4}}",
     [f"{P}.min_replicas = 8, must be ≤ max_replicas (4)"]),
    ("min-above-default-max", "policies: {p: {min_replicas: 100}}",
     [f"{P}.min_replicas = 100, must be ≤ max_replicas (64)"]),
    ("max-zero", "policies: {p: {max_replicas: 0}}",
     [f"{P}.max_replicas = 0, must be in [1, 65534]"]),
    ("max-huge", "policies: {p: {max_replicas: 100000}}",
     [f"{P}.max_replicas = 100000, must be in [1, 65534]"]),
    ("activation-negative", "policies: {p: {activation_threshold: -0.1}}",
     [f"{P}.activation_threshold = -0.1, must be ≥ 0"]),
    ("policy-key-typo", "policies: {p: {scale_down_windw: 5m}}",
     [f'{P}.scale_down_windw: unknown key, did you mean "scale_down_window"?']),
    ("policies-list", "policies: [default]",
     ['policies = ["default"], must be a mapping']),
    ("policy-not-mapping", "policies: {p: 3}", [f"{P} = 3, must be a mapping"]),
    ("top-key-unknown", "foo: 1",
     ["foo: unknown key (expected one of: prometheus, interval, stale_after, labels, signals, "
      "policies, isvcs, simulation, signal_queries)"]),
    ("signal-queries-unknown", "signal_queries: fast",
     ["signal_queries = fast, must be one of raw, recorded"]),
    ("signal-queries-not-string", "signal_queries: [recorded]",
     ['signal_queries = ["recorded"], must be one of raw, recorded']),
    ("top-key-typo", "intervall: 15s", ['intervall: unknown key, did you mean "interval"?']),
    ("top-list", "- 1\n- 2\n", ["(top level) = [1, 2], must be a mapping"]),
    ("interval-zero", "interval: 0", ["interval = 0, must be > 0"]),
    ("interval-negative", "interval: -15s", ["interval = -15s, must be > 0"]),
    ("stale-below-interval", "interval: 30s\nstale_after: 15s",
     ["stale_after = 15s, must be ≥ interval (30s)"]),
    ("url-ftp", "prometheus: {url: 'ftp://prom:9090'}",
     ["prometheus.url = ftp://prom:9090, must be an http(s) URL with a host, "
      "e.g. http://prometheus:9090"]),
    ("url-no-host", "prometheus: {url: 'http://'}",
     ["prometheus.url = http://, must be an http(s) URL with a host, "
      "e.g. http://prometheus:9090"]),
    ("url-empty", "prometheus: {url: ''}", ['prometheus.url = "", must be a non-empty string']),
    ("timeout-zero", "prometheus: {timeout: 0s}", ["prometheus.timeout = 0s, must be > 0"]),
    ("prometheus-key-typo", "prometheus: {header: {a: b}}",
     ['prometheus.header: unknown key, did you mean "headers"?']),
    ("header-number", "prometheus: {headers: {X-Scope-OrgID: 1}}",
     ["prometheus.headers.X-Scope-OrgID = 1, must be a string (quote it)"]),
    ("header-bad-name", "prometheus: {headers: {'bad header': x}}",
     ["prometheus.headers.bad header: not a valid HTTP header name"]),
    ("tls-cert-without-key", "prometheus: {tls: {cert_file: /c.pem}}",
     ["prometheus.tls.key_file: required with cert_file"]),
    ("tls-skip-verify-string", "prometheus: {tls: {insecure_skip_verify: 'true'}}",
     ['prometheus.tls.insecure_skip_verify = "true", must be true or false']),
    ("basic-auth-no-password", "prometheus: {basic_auth: {username: u}}",
     ["prometheus.basic_auth.password_file: required"]),
    ("bearer-and-basic", "prometheus: {bearer_token_file: /t, "
     "basic_auth: {username: u, password_file: /p}}",
     ["prometheus.basic_auth: cannot be combined with bearer_token_file"]),
    ("path-prefix-relative", "prometheus: {path_prefix: prometheus}",
     ['prometheus.path_prefix = prometheus, must be a URL path starting with "/"']),
    ("isvc-key-uppercase", "isvcs: {Prod/llama: {max_replicas: 4}}",
     [f"isvcs.Prod/llama: {DNS_RULE}"]),
    ("isvc-key-no-slash", "isvcs: {llama: {max_replicas: 4}}", [f"isvcs.llama: {DNS_RULE}"]),
    ("isvc-key-dots", "isvcs: {prod/llama.3: {max_replicas: 4}}",
     [f"isvcs.prod/llama.3: {DNS_RULE}"]),
    ("isvc-policy-typo", "policies: {batch: {}}\nisvcs: {prod/llama: {policy: batc}}",
     ['isvcs.prod/llama.policy = batc, must be a policy defined under policies:, '
      'did you mean "batch"?']),
    ("isvc-policy-unknown", "isvcs: {prod/llama: {policy: gold}}",
     ["isvcs.prod/llama.policy = gold, must be a policy defined under policies: (default)"]),
    ("isvc-key-typo", "isvcs: {prod/llama: {max_replica: 4}}",
     ['isvcs.prod/llama.max_replica: unknown key, did you mean "max_replicas"?']),
    ("isvc-value-invalid", "isvcs: {prod/llama: {targets: {kv_cache: 2, cpu: -1}}}",
     ["isvcs.prod/llama.targets.cpu = -1, must be > 0"]),
    ("isvc-max-below-policy-min",
     "policies: {big: {min_replicas: 4}}\nisvcs: {prod/llama: {max_replicas: 2}}",
     ['isvcs.prod/llama.max_replicas = 2, must be ≥ min_replicas (4, from policy "big")']),
    ("isvc-min-above-pinned-policy-max",
     "policies: {small: {max_replicas: 2}}\nisvcs: {prod/llama: {policy: small, min_replicas: 3}}",
     ['isvcs.prod/llama.min_replicas = 3, must be ≤ max_replicas (2, from policy "small")']),
    ("isvc-min-above-own-max", "isvcs: {prod/llama: {min_replicas: 3, max_replicas: 2}}",
     ["isvcs.prod/llama.min_replicas = 3, must be ≤ max_replicas (2)"]),
    ("isvc-removes-all-targets",
     "policies: {default: {targets: {kv_cache: 0.8}}}\n"
     "isvcs: {prod/llama: {targets: {kv_cache: null}}}",
     ['isvcs.prod/llama.targets: leaves no target (from policy "default")']),
    ("labels-missing-isvc", "labels: {namespace: namespace}", ["labels.isvc: required"]),
    ("labels-dotted-name",
     "labels: {namespace: namespace, isvc: serving.kserve.io/inferenceservice}",
     [f"labels.isvc = serving.kserve.io/inferenceservice, must be {LABEL_RULE}"]),
    ("labels-reserved-name", "labels: {namespace: __ns, isvc: isvc}",
     [f"labels.namespace = __ns, must be {LABEL_RULE}"]),
    ("labels-same", "labels: {namespace: x, isvc: x}",
     ["labels.isvc = x, must be different from labels.namespace"]),
    ("labels-extra-key", "labels: {namespace: n, isvc: i, model: m}",
     ["labels.model: unknown key (expected one of: namespace, isvc)"]),
    ("signals-unknown", "signals: {kv_cache_usage: {query: 'x'}}",
     ['signals.kv_cache_usage: unknown key, did you mean "kv_cache"?']),
    ("signals-new-without-kind", "signals: {queue_time: {query: 'x'}}",
     ["signals.queue_time: a signal added to the defaults (latency_p99, kv_cache, cpu, inflight, "
      "prompt_throughput, replicas, spec_replicas, requests) needs kind"]),
    ("signals-bad-kind", "signals: {kv_cache: {kind: fast}}",
     ["signals.kv_cache.kind = fast, must be one of utilization, latency"]),
    ("signals-kind-on-input", "signals: {replicas: {kind: latency}}",
     ["signals.replicas.kind: unknown key (expected one of: query)"]),
    ("signals-bad-name", "signals: {Queue-Time: {query: 'x', kind: latency}}",
     ["signals.Queue-Time: a signal name is lower case letters, digits and _, starting with a "
      "letter (default signals: latency_p99, kv_cache, cpu, inflight, prompt_throughput, "
      "replicas, spec_replicas, requests)"]),
    ("target-for-added-signal-needs-the-signal", "policies: {p: {targets: {queue_time: 1}}}",
     [f"{P}.targets.queue_time: unknown signal (expected one of: latency_p99, kv_cache, cpu, "
      "inflight, prompt_throughput)"]),
    ("signals-shorthand", "signals: {kv_cache: 'avg by (namespace, isvc) (x)'}",
     ["signals.kv_cache = avg by (namespace, isvc) (x), must be a mapping"]),
    ("signals-query-loses-labels", "signals: {kv_cache: {query: 'avg(vllm:kv_cache_usage_perc)'}}",
     ["signals.kv_cache.query = avg(vllm:kv_cache_usage_perc), must be a query keeping the "
      "identity labels, namespace, isvc missing (e.g. avg by ($ns, $isvc) (...))"]),
    ("signals-query-loses-custom-label",
     "labels: {namespace: ns, isvc: model}\n"
     "signals: {cpu: {query: 'sum by ($ns) (rate(x[1m]))'}}",
     ["signals.cpu.query = sum by ($ns) (rate(x[1m])), must be a query keeping the identity "
      "labels, model missing (e.g. avg by ($ns, $isvc) (...))"]),
    ("simulation-scalar", "simulation: 3", ["simulation = 3, must be a mapping"]),
    ("yaml-syntax", "policies:\n  p: {targets: {kv_cache: 0.8}\ninterval: 15s\n",
     ["line 3, column 1: invalid YAML: expected ',' or '}', but got '<scalar>'"]),
    ("yaml-tab-indent", "policies:\n\tdefault: {}\n",
     ["line 2, column 1: invalid YAML: found character '\\t' that cannot start any token"]),
    ("yaml-duplicate-key", "interval: 15s\npolicies:\n  p: {}\n  p: {}\ninterval: 30s\n",
     ['line 4, column 3: duplicate key "p"', 'line 5, column 1: duplicate key "interval"']),
    ("all-errors-collected",
     "interval: 0\nprometheus: {url: ftp://x}\npolicies: {p: {tolerance: -1, max_replicas: 0}}\n"
     "isvcs: {X/y: {}}",
     ["interval = 0, must be > 0",
      "prometheus.url = ftp://x, must be an http(s) URL with a host, e.g. http://prometheus:9090",
      f"{P}.tolerance = -1, must be ≥ 0",
      f"{P}.max_replicas = 0, must be in [1, 65534]",
      f"isvcs.X/y: {DNS_RULE}"]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_config_names_every_error(text: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="policy.yaml")
    assert info.value.errors == expected
    assert info.value.source == "policy.yaml"
    assert str(info.value) == "policy.yaml: " + "; ".join(expected)


def test_table_is_large_and_ids_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) >= 20
    assert len(set(ids)) == len(ids)
