"""Default PromQL templates per signal (DESIGN §2) and their rendering; pure, no I/O.

Templates use `$ns` and `$isvc` for the two identity label names (configurable under
`labels:` in policy.yaml), e.g. with labels {namespace: namespace, isvc: isvc}:
  'avg by ($ns, $isvc) (x)' → 'avg by (namespace, isvc) (x)'.
"""

from __future__ import annotations

import re
from string import Template

PRESSURE_SIGNALS = ("latency_p99", "kv_cache", "cpu")
"""Signals that may carry a target and so enter the pressure."""

SIGNAL_NAMES = (*PRESSURE_SIGNALS, "replicas", "requests")
"""Every signal the engine queries, in matrix column order."""

DEFAULT_TEMPLATES: dict[str, str] = {
    "latency_p99": (
        'histogram_quantile(0.99, sum by ($ns, $isvc, le) '
        '(rate({__name__=~"vllm[:_]time_to_first_token_seconds_bucket"}[1m])))'
    ),
    "kv_cache": (
        'avg by ($ns, $isvc) '
        '({__name__=~"vllm[:_](kv_cache_usage_perc|gpu_cache_usage_perc)"})'
    ),
    "cpu": (
        'sum by ($ns, $isvc) (label_replace(rate(container_cpu_usage_seconds_total'
        '{container="kserve-container"}[1m]), "$isvc", "$$1", "pod", "(.+)-predictor-.*"))'
        ' / sum by ($ns, $isvc) (label_replace(kube_pod_container_resource_requests'
        '{container="kserve-container",resource="cpu"}, "$isvc", "$$1", "pod", "(.+)-predictor-.*"))'
    ),
    "replicas": 'count by ($ns, $isvc) ({__name__=~"vllm[:_](kv_cache_usage_perc|gpu_cache_usage_perc)"})',
    "requests": 'sum by ($ns, $isvc) (rate({__name__=~"vllm[:_]request_success_total"}[1m]))',
}


def render_query(template: str, *, namespace_label: str, isvc_label: str) -> str:
    """Substitute the identity label names into a template (`$$` is a literal `$`)."""
    return Template(template).safe_substitute(ns=namespace_label, isvc=isvc_label)


def missing_identity_labels(query: str, *, namespace_label: str, isvc_label: str) -> list[str]:
    """Identity labels the query text never mentions (a static check done at config load)."""
    return [
        label
        for label in (namespace_label, isvc_label)
        if not re.search(rf"(?<![\w:]){re.escape(label)}(?![\w:])", query)
    ]
