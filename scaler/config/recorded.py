"""Recording rules for the default signal queries, derived from DEFAULT_TEMPLATES; pure.

With `signal_queries: recorded` in policy.yaml, the default query of each signal listed in
RECORDINGS reads a series that a Prometheus recording rule precomputes per ISVC, instead of
aggregating the raw pod series at every tick. The rules are built here from the very templates
the raw queries come from (`recording_rules`), and scripts/gen_monitoring.py writes them into
deploy/monitoring/ (a PrometheusRule and a plain rules file; a test regenerates and compares),
so queries and rules cannot drift. A signal without an entry here, or whose template does not
have the shape its entry expects, keeps its raw query.

Two shapes (`Recording.shape`):
* "histogram": the template is `histogram_quantile(q, AGG)`; one rule records AGG (the per-ISVC
  bucket rates, e.g. `isvc:vllm_time_to_first_token_seconds_bucket:rate1m`, still carrying
  `le`, so dashboards can read any quantile from it), a second one, in the same group (so at
  the same timestamp), the quantile over it (`isvc:vllm_time_to_first_token_seconds:p99_rate1m`),
  and the query is that series: at 10,000 ISVCs, `histogram_quantile` over the 230,000 recorded
  bucket series alone took ~2 s of a 2-core machine (docs/benchmarks.md).
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
    """One rule: the signal it serves, the series it records, its expression, and the raw
    query (rendered, no recorded series in it) whose value it records."""

    signal: str
    record: str
    expr: str
    raw: str


def _split(signal: str, template: str) -> list[tuple[str, str, str]] | None:
    """[(record, expression template, raw template)] for `signal`, the recorded query last;
    None if it has no recording (or its template has not the expected shape)."""
    rec = RECORDINGS.get(signal)
    if rec is None or not template:
        return None
    if rec.shape == "whole":
        return [(rec.record, template, template)]
    match = _QUANTILE.fullmatch(template)
    if rec.shape != "histogram" or match is None or not _balanced(match.group(2)):
        return None
    q, inner = match.group(1), match.group(2).strip()
    level, metric, ops = rec.record.split(":")
    quantile = f"{level}:{metric.removesuffix('_bucket')}:p{float(q) * 100:g}_{ops}".replace(
        ".", "_")
    return [(rec.record, inner, inner),
            (quantile, f"histogram_quantile({q}, {rec.record})", template)]


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
            out[signal] = split[-1][0]
    return out


def recording_rules(
    templates: Mapping[str, str] = DEFAULT_TEMPLATES, *, namespace_label: str = "namespace",
    isvc_label: str = "isvc", rate_window: str = DEFAULT_RATE_WINDOW,
) -> tuple[RecordingRule, ...]:
    """The rules of every recorded signal, in the templates' order (a signal's rules in
    dependency order), rendered with the label names."""
    def render(t: str) -> str:
        return render_query(t, namespace_label=namespace_label, isvc_label=isvc_label,
                            rate_window=rate_window)

    return tuple(RecordingRule(signal, record, render(expr), render(raw))
                 for signal, template in templates.items()
                 for record, expr, raw in _split(signal, template) or ())
