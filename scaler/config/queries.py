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
* `inflight` (requests running + waiting in vLLM's scheduler, averaged over the rate window
  so that a burst shorter than a pod's start-up does not count as load; one avg_over_time per
  gauge, since range functions drop the metric name and the two would collide) and
  `prompt_throughput` (prompt tokens prefilled per second, vLLM's `prompt_tokens_total`) are
  per ready replica: the sum over the ISVC's pods divided by the pods exporting
  `num_requests_running`.
* `spec_replicas` is the predictor Deployment's `spec.replicas` from kube-state-metrics: KServe
  names it `<isvc>-predictor` (RawDeployment), so `(.+)-predictor` gives the ISVC.
"""

from __future__ import annotations

import re
from string import Template

PRESSURE_SIGNALS = ("latency_p99", "kv_cache", "cpu", "inflight", "prompt_throughput")
"""Default signals that may carry a target and so enter the pressure (a config may add more)."""

INPUT_SIGNALS = ("replicas", "spec_replicas", "requests")
"""Signals that never enter the pressure: ready and requested replicas, request rate."""

SIGNAL_NAMES = (*PRESSURE_SIGNALS, *INPUT_SIGNALS)
"""Every default signal the engine queries, in matrix column order."""

SIGNAL_UNITS: dict[str, str] = {
    "latency_p99": "s", "kv_cache": "", "cpu": "", "inflight": "req", "prompt_throughput": "tok/s",
    "replicas": "", "spec_replicas": "", "requests": "req/s"}
"""Display unit per signal ("" = a ratio or a count)."""

DEFAULT_RATE_WINDOW = "1m"
"""The `$window` of the default templates (≥ 4 scrape intervals of a 15 s scrape)."""

_KV_NAMES = '{__name__=~"vllm[:_](kv_cache_usage_perc|gpu_cache_usage_perc)"}'
_READY_PODS = ('count by ($ns, $isvc) (group by ($ns, $isvc, pod, instance) '
               '({__name__=~"vllm[:_]num_requests_running"}))')
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
    "inflight": (
        "(sum by ($ns, $isvc) (avg_over_time("
        '{__name__=~"vllm[:_]num_requests_running"}[$window]))'
        " + sum by ($ns, $isvc) (avg_over_time("
        '{__name__=~"vllm[:_]num_requests_waiting"}[$window])))'
        f" / {_READY_PODS}"
    ),
    "prompt_throughput": (
        'sum by ($ns, $isvc) (rate({__name__=~"vllm[:_]prompt_tokens_total"}[$window]))'
        f" / {_READY_PODS}"
    ),
    "replicas": f"count by ($ns, $isvc) (group by ($ns, $isvc, pod, instance) ({_KV_NAMES}))",
    "spec_replicas": (
        "sum by ($ns, $isvc) (label_replace(kube_deployment_spec_replicas"
        '{deployment=~".+-predictor"}, "$isvc", "$$1", "deployment", "(.+)-predictor"))'
    ),
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
