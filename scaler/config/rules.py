"""The rule groups of deploy/monitoring/: recording rules (scaler.config.recorded) and alerts on
the scaler's own metrics (scaler.metrics); pure data, written to YAML by
scripts/gen_monitoring.py as a PrometheusRule and as a plain Prometheus rules file.

Every alert has a runbook entry in deploy/README.md under its name (`runbook_url` points
there). Per-ISVC alerts aggregate by (namespace, isvc) so that two scaler replicas, which
export the same per-ISVC series, raise one alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scaler.config.queries import DEFAULT_TEMPLATES
from scaler.config.recorded import RECORDING_GROUP, RECORDING_INTERVAL, recording_rules

_GROUP = f'rule_group=~".*;{RECORDING_GROUP}"'

ALERT_GROUP = "isvc-scaler.alerts"
DEFAULT_JOB = "isvc-scaler"
"""`job` label of the scaler's own metrics (the ServiceMonitor of deploy/base: the Service)."""
DEFAULT_RUNBOOK = "https://github.com/isvc-scaler/isvc-scaler/blob/main/deploy/README.md"
FLAP_WINDOW = "5m"
"""Window of IsvcFlapping: the default scale_down_window (inside it, the policy's own
stabilisation forbids an up-then-down; seeing one means something outside it moves replicas)."""


@dataclass(frozen=True)
class Alert:
    """One alerting rule; `expr` uses `$job` for the scaler's job matcher."""

    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str


ALERTS: tuple[Alert, ...] = (
    Alert("IsvcScalerDown", '(up{$job} == 0) or absent(up{$job})', "5m", "critical",
          "isvc-scaler is down or not scraped",
          "A scaler target has failed its scrapes for 5 minutes, or none is scraped at all. "
          "KEDA applies its fallback while the scaler is unreachable."),
    Alert("IsvcScalerNotReady", "isvc_scaler_ready{$job} == 0", "10m", "warning",
          "isvc-scaler {{ $labels.instance }} is not ready",
          "The scaler has not finished its warm start for 10 minutes: it serves no decisions."),
    Alert("IsvcScalerSnapshotStale",
          "isvc_scaler_snapshot_age_seconds{$job} > isvc_scaler_stale_after_seconds{$job}",
          "1m", "critical", "isvc-scaler answers UNAVAILABLE: snapshot stale",
          "The latest snapshot of {{ $labels.instance }} is older than stale_after: "
          "KEDA gets UNAVAILABLE and applies its fallback."),
    Alert("IsvcScalerQueriesFailing",
          "sum by (job, instance, signal) (rate(isvc_scaler_query_errors_total{$job}[5m])) > 0",
          "10m", "warning", "isvc-scaler queries for signal {{ $labels.signal }} fail",
          "Prometheus queries of signal {{ $labels.signal }} have failed on "
          "{{ $labels.instance }} for 10 minutes; that signal is missing from decisions."),
    Alert("IsvcScalerConfigReloadRejected",
          "increase(isvc_scaler_config_reload_errors_total{$job}[15m]) > 0", "0s", "warning",
          "isvc-scaler rejected a policy.yaml reload",
          "{{ $labels.instance }} rejected a changed policy.yaml in the last 15 minutes and "
          "keeps the last good config."),
    Alert("IsvcScalerRecordingRulesSlow",
          f"prometheus_rule_group_last_duration_seconds{{{_GROUP}}} > 0.8 * "
          f"prometheus_rule_group_interval_seconds{{{_GROUP}}}", "15m", "warning",
          "isvc-scaler recording rules use most of their interval",
          "Prometheus {{ $labels.instance }} needs more than 80 % of the interval to evaluate "
          "the recording rules of isvc-scaler: recorded signals lag, and iterations will be "
          "missed."),
    Alert("IsvcAtMaxReplicas",
          "min by (namespace, isvc) ((isvc_scaler_desired_replicas{$job} "
          ">= isvc_scaler_max_replicas{$job}) and (isvc_scaler_pressure{$job} > 1))",
          "15m", "warning", "{{ $labels.namespace }}/{{ $labels.isvc }} pinned at max_replicas",
          "{{ $labels.namespace }}/{{ $labels.isvc }} has wanted max_replicas "
          "({{ $value }}) with pressure > 1 for 15 minutes: a capacity ceiling."),
    Alert("IsvcFlapping",
          "(max by (namespace, isvc) (increase(isvc_scaler_scale_events_total"
          '{$job,direction="up"}[' + FLAP_WINDOW + "])) > 0) and (max by (namespace, isvc) "
          "(increase(isvc_scaler_scale_events_total"
          '{$job,direction="down"}[' + FLAP_WINDOW + "])) > 0)",
          "0s", "warning", "{{ $labels.namespace }}/{{ $labels.isvc }} is flapping",
          "Desired replicas of {{ $labels.namespace }}/{{ $labels.isvc }} went both up and "
          "down within " + FLAP_WINDOW + " (one default scale-down window)."),
    Alert("IsvcNoData",
          'max by (namespace, isvc) (isvc_scaler_reason{$job,reason="no-data"}) == 1',
          "10m", "warning", "{{ $labels.namespace }}/{{ $labels.isvc }} has no signal data",
          "No pressure signal of {{ $labels.namespace }}/{{ $labels.isvc }} has been present "
          "for 10 minutes; its replicas are held at the last desired count."),
    Alert("IsvcLatencyFloor",
          'max by (namespace, isvc) (isvc_scaler_reason{$job,reason="latency-floor"}) == 1',
          "1h", "info", "{{ $labels.namespace }}/{{ $labels.isvc }} cannot meet its latency "
          "target", "{{ $labels.namespace }}/{{ $labels.isvc }} has been at its latency floor "
          "for an hour: more replicas did not lower latency; the target is below what the "
          "model can do."),
)
"""Alerts of deploy/monitoring/, in file order."""


def rule_groups(
    templates: Mapping[str, str] = DEFAULT_TEMPLATES, *, job: str = DEFAULT_JOB,
    runbook: str = DEFAULT_RUNBOOK, namespace_label: str = "namespace", isvc_label: str = "isvc",
) -> list[dict[str, Any]]:
    """The two groups (recording, alerts) as plain data, e.g. for yaml.safe_dump."""
    recording = [{"record": r.record, "expr": r.expr}
                 for r in recording_rules(templates, namespace_label=namespace_label,
                                          isvc_label=isvc_label)]
    alerts = []
    for a in ALERTS:
        rule: dict[str, Any] = {"alert": a.name, "expr": a.expr.replace("$job", f'job="{job}"')}
        if a.for_ != "0s":
            rule["for"] = a.for_
        rule["labels"] = {"severity": a.severity}
        rule["annotations"] = {"summary": a.summary, "description": a.description,
                               "runbook_url": f"{runbook}#{a.name.lower()}"}
        alerts.append(rule)
    return [{"name": RECORDING_GROUP, "interval": RECORDING_INTERVAL, "rules": recording},
            {"name": ALERT_GROUP, "rules": alerts}]


def prometheus_rule(groups: list[dict[str, Any]], *, name: str = "isvc-scaler") -> dict[str, Any]:
    """The PrometheusRule (monitoring.coreos.com/v1) holding `groups`."""
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "isvc-scaler"}},
            "spec": {"groups": groups}}
