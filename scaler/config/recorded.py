"""Recording rules for the default signal queries, derived from DEFAULT_TEMPLATES; pure.

With `signal_queries: recorded` in policy.yaml, the default query of each signal listed in
RECORDINGS reads a series that a Prometheus recording rule precomputes per ISVC, instead of
aggregating the raw pod series at every tick. The rules are built here from the very templates
the raw queries come from (`recording_rules`), and scripts/gen_monitoring.py writes them into
deploy/monitoring/ (a PrometheusRule and a plain rules file; a test regenerates and compares),
so queries and rules cannot drift. A signal without an entry here, or whose template does not
have the shape its entry expects, keeps its raw query.

Two shapes (`Recording.shape`):
* "histogram": the template is `histogram_quantile(q, AGG)`; the rule records AGG (the per-ISVC
  bucket rates, e.g. `isvc:vllm_time_to_first_token_seconds_bucket:rate1m`, still carrying
  `le`, so any quantile can be read from it) and the query becomes `histogram_quantile(q, record)`.
* "whole": the rule records the whole per-ISVC result; the query is the recorded series itself.

Names follow Prometheus' `level:metric:operations` convention (level `isvc`: one series per
ISVC; `_total` dropped after a rate). The rules keep the templates' `{__name__=~"vllm[:_]…"}`
selectors, so both vLLM metric spellings are matched (DESIGN §2).

A recorded series lags the raw query by up to one rule-group interval (RECORDING_INTERVAL).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from scaler.config.queries import DEFAULT_RATE_WINDOW, DEFAULT_TEMPLATES, render_query

SIGNAL_QUERY_MODES = ("raw", "recorded")
"""Values of policy.yaml's top-level `signal_queries` (default "raw")."""

RECORDING_GROUP = "isvc-scaler.recording"
RECORDING_INTERVAL = "15s"
"""Evaluation interval of the recording group: the scaler's default tick interval."""


@dataclass(frozen=True)
class Recording:
    """How one signal's default template becomes a recording rule (see the module doc)."""

    record: str
    shape: str  # "histogram" | "whole"


RECORDINGS: Mapping[str, Recording] = {
    "latency_p99": Recording("isvc:vllm_time_to_first_token_seconds_bucket:rate1m", "histogram"),
    "kv_cache": Recording("isvc:vllm_kv_cache_usage_perc:avg", "whole"),
    "cpu": Recording("isvc:container_cpu_usage_seconds:rate1m_ratio_requests", "whole"),
    "replicas": Recording("isvc:vllm_pods:count", "whole"),
    "requests": Recording("isvc:vllm_request_success:rate1m", "whole"),
    # signals of policy v2, used when DEFAULT_TEMPLATES defines them (`spec_replicas`, one
    # kube-state-metrics series per Deployment, is cheap raw and keeps its raw query)
    "inflight": Recording("isvc:vllm_num_requests_inflight:per_replica", "whole"),
    "prompt_throughput": Recording("isvc:vllm_prompt_tokens:rate1m_per_replica", "whole"),
}
"""Signal name → its recording; keyed by signal, applied only to signals DEFAULT_TEMPLATES has."""

_QUANTILE = re.compile(r"\s*histogram_quantile\(\s*([0-9.eE+-]+)\s*,\s*(.*)\)\s*", re.DOTALL)


@dataclass(frozen=True)
class RecordingRule:
    """One rule: the signal it serves, the series it records and its (rendered) expression."""

    signal: str
    record: str
    expr: str


def _split(signal: str, template: str) -> tuple[str, str] | None:
    """(rule expression template, recorded query) for `signal`, None if it has no recording."""
    rec = RECORDINGS.get(signal)
    if rec is None or not template:
        return None
    if rec.shape == "whole":
        return template, rec.record
    match = _QUANTILE.fullmatch(template)
    if rec.shape != "histogram" or match is None or not _balanced(match.group(2)):
        return None
    return match.group(2).strip(), f"histogram_quantile({match.group(1)}, {rec.record})"


def _balanced(expr: str) -> bool:
    depth = 0
    for ch in expr:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def recorded_templates(templates: Mapping[str, str] = DEFAULT_TEMPLATES) -> dict[str, str]:
    """The templates with every recorded signal's query pointed at its recorded series; the
    others unchanged (raw). Recorded queries need no `$ns`/`$isvc`: the rules keep the labels."""
    out = dict(templates)
    for signal, template in templates.items():
        split = _split(signal, template)
        if split is not None:
            out[signal] = split[1]
    return out


def recording_rules(
    templates: Mapping[str, str] = DEFAULT_TEMPLATES, *, namespace_label: str = "namespace",
    isvc_label: str = "isvc", rate_window: str = DEFAULT_RATE_WINDOW,
) -> tuple[RecordingRule, ...]:
    """One rule per recorded signal, in the templates' order, rendered with the label names."""
    rules = []
    for signal, template in templates.items():
        split = _split(signal, template)
        if split is not None:
            expr = render_query(split[0], namespace_label=namespace_label,
                                isvc_label=isvc_label, rate_window=rate_window)
            rules.append(RecordingRule(signal, RECORDINGS[signal].record, expr))
    return tuple(rules)
