"""Default PromQL templates per signal (DESIGN §2) and their rendering; pure, no I/O.

Templates use `$ns` and `$isvc` for the two identity label names (configurable under
`labels:` in policy.yaml) and `$window` for the rate window (default `1m`), e.g. with labels
{namespace: namespace, isvc: isvc}: 'avg by ($ns, $isvc) (x)' → 'avg by (namespace, isvc) (x)'.
`$$` is a literal `$` (needed in label_replace replacements: `"$$1"` → `"$1"`).

Where the labels come from (the defaults assume a KServe cluster scraped by kubernetes_sd or
the Prometheus Operator):
* vLLM series (`latency_p99`, `kv_cache`, `replicas`, `requests`) need `namespace` and `isvc`
  as target labels. KServe puts `serving.kserve.io/inferenceservice: <name>` on every predictor
  pod; relabel it in the scrape config / PodMonitor:
      - sourceLabels: [__meta_kubernetes_pod_label_serving_kserve_io_inferenceservice]
        targetLabel: isvc
      - sourceLabels: [__meta_kubernetes_namespace]
        targetLabel: namespace
  (or keep the label name and set `labels: {isvc: <that label>}` in policy.yaml).
* Metric names match both spellings (`vllm:x` and `vllm_x`, see DESIGN §2), the current
  `kv_cache_usage_perc` and the older `gpu_cache_usage_perc`.
* `cpu`: cAdvisor's `container_cpu_usage_seconds_total` and kube-state-metrics'
  `kube_pod_container_resource_requests` carry `namespace` and `pod` but no ISVC label. The ISVC
  is derived from the pod name with label_replace: KServe names predictor pods
  `<isvc>-predictor-<rs-hash>-<pod-hash>` (RawDeployment) or
  `<isvc>-predictor-00001-deployment-<hash>-<id>` (Serverless); `(.+)-predictor-.*` gives
  `<isvc>` for both. Chosen over joining `kube_pod_labels`, which needs kube-state-metrics
  started with `--metric-labels-allowlist=pods=[serving.kserve.io/inferenceservice]`. Only the
  `kserve-container` container counts (not the queue-proxy / agent sidecars, nor the pod-level
  cgroup row with `container=""`).
* `replicas` counts distinct scraped pods (`pod`, `instance`), so several vLLM engines in one
  pod (data parallel) or both metric spellings count once.
"""

from __future__ import annotations

import re
from string import Template

PRESSURE_SIGNALS = ("latency_p99", "kv_cache", "cpu")
"""Signals that may carry a target and so enter the pressure."""

SIGNAL_NAMES = (*PRESSURE_SIGNALS, "replicas", "requests")
"""Every signal the engine queries, in matrix column order."""

SIGNAL_UNITS: dict[str, str] = {
    "latency_p99": "s", "kv_cache": "", "cpu": "", "replicas": "", "requests": "req/s"}
"""Display unit per signal ("" = a ratio or a count)."""

DEFAULT_RATE_WINDOW = "1m"
"""The `$window` of the default templates (≥ 4 scrape intervals of a 15 s scrape)."""

_KV_NAMES = '{__name__=~"vllm[:_](kv_cache_usage_perc|gpu_cache_usage_perc)"}'
_POD_FROM_NAME = '"$isvc", "$$1", "pod", "(.+)-predictor-.*"'

DEFAULT_TEMPLATES: dict[str, str] = {
    "latency_p99": (
        "histogram_quantile(0.99, sum by ($ns, $isvc, le) "
        '(rate({__name__=~"vllm[:_]time_to_first_token_seconds_bucket"}[$window])))'
    ),
    "kv_cache": f"avg by ($ns, $isvc) ({_KV_NAMES})",
    "cpu": (
        "sum by ($ns, $isvc) (label_replace(rate(container_cpu_usage_seconds_total"
        f'{{container="kserve-container"}}[$window]), {_POD_FROM_NAME}))'
        " / sum by ($ns, $isvc) (label_replace(kube_pod_container_resource_requests"
        f'{{container="kserve-container",resource="cpu"}}, {_POD_FROM_NAME}))'
    ),
    "replicas": f"count by ($ns, $isvc) (group by ($ns, $isvc, pod, instance) ({_KV_NAMES}))",
    "requests": (
        'sum by ($ns, $isvc) (rate({__name__=~"vllm[:_]request_success_total"}[$window]))'
    ),
}
"""Default query per signal (DESIGN §2), each returning one series per ISVC."""

ALTERNATIVE_TEMPLATES: dict[str, str] = {
    "latency_p99_e2e": (
        "histogram_quantile(0.99, sum by ($ns, $isvc, le) "
        '(rate({__name__=~"vllm[:_]e2e_request_latency_seconds_bucket"}[$window])))'
    ),
    "replicas_kube_state_metrics": (
        "count by ($ns, $isvc) (label_replace(kube_pod_status_ready"
        f'{{condition="true"}} == 1, {_POD_FROM_NAME}))'
    ),
}
"""Documented alternatives to paste into `signals:` (e.g. P99 end-to-end latency instead of
time to first token; ready pods from kube-state-metrics, which also sees pods not yet serving)."""


def render_query(
    template: str, *, namespace_label: str, isvc_label: str,
    rate_window: str = DEFAULT_RATE_WINDOW,
) -> str:
    """Substitute the identity label names and rate window into a template (`$$` → `$`)."""
    return Template(template).safe_substitute(
        ns=namespace_label, isvc=isvc_label, window=rate_window)


def missing_identity_labels(query: str, *, namespace_label: str, isvc_label: str) -> list[str]:
    """Identity labels the query text never mentions (a static check done at config load)."""
    return [
        label
        for label in (namespace_label, isvc_label)
        if not re.search(rf"(?<![\w:]){re.escape(label)}(?![\w:])", query)
    ]
