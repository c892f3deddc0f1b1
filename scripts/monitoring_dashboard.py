"""The Grafana dashboard of deploy/monitoring/ as data (written by gen_monitoring.py).

Fleet overview (ISVCs per reason, desired vs ready, evaluation and query durations, snapshot
age, reloads) and a per-ISVC drill-down (signals vs targets, pressure, desired/ready/spec,
reason over time). Variables: `datasource` (Prometheus), `job`, `namespace`, `isvc`.
Per-ISVC series are reduced with `max by` so two scaler replicas show as one.
"""

from __future__ import annotations

from typing import Any

UID = "isvc-scaler"
DS = {"type": "prometheus", "uid": "${datasource}"}
J = 'job=~"$job"'
SEL = J + ',namespace=~"$namespace",isvc=~"$isvc"'
RI = "$__rate_interval"


def _target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref,
            "range": True}


def _panel(pid: int, title: str, kind: str, grid: tuple[int, int, int, int],
           targets: list[tuple[str, str]], *, unit: str = "short", description: str = "",
           stack: bool = False) -> dict[str, Any]:
    x, y, w, h = grid
    custom: dict[str, Any] = {}
    if kind == "timeseries":
        custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 20 if stack else 0,
                  "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    return {
        "id": pid, "type": kind, "title": title, "description": description,
        "datasource": DS, "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}
        if kind in ("timeseries", "state-timeline") else {},
        "targets": [_target(e, leg, chr(ord("A") + i)) for i, (e, leg) in enumerate(targets)],
    }


def _row(pid: int, title: str, y: int) -> dict[str, Any]:
    return {"id": pid, "type": "row", "title": title, "collapsed": False,
            "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}


def _isvc(metric: str, extra: str = "") -> str:
    return f"max by (namespace, isvc) ({metric}{{{SEL}{extra}}})"


def panels() -> list[dict[str, Any]]:
    """Every panel, rows included, in layout order."""
    fleet_sel = J + ',namespace=~"$namespace"'
    return [
        _row(1, "Fleet", 0),
        _panel(2, "ISVCs per reason", "timeseries", (0, 1, 12, 8), [(
            "count by (reason) (max by (namespace, isvc, reason) "
            f"(isvc_scaler_reason{{{fleet_sel}}}))", "{{reason}}")], stack=True,
            description="How many ISVCs got each decision reason at the latest tick."),
        _panel(3, "Desired vs ready replicas (fleet)", "timeseries", (12, 1, 12, 8), [
            (f"sum(max by (namespace, isvc) (isvc_scaler_desired_replicas{{{fleet_sel}}}))",
             "desired"),
            (f"sum(max by (namespace, isvc) (isvc_scaler_current_replicas{{{fleet_sel}}}))",
             "ready")]),
        _panel(4, "Evaluation duration", "timeseries", (0, 9, 8, 8), [
            (f"histogram_quantile({q}, sum by (le) "
             f"(rate(isvc_scaler_evaluation_duration_seconds_bucket{{{J}}}[{RI}])))", f"p{p}")
            for q, p in (("0.5", "50"), ("0.99", "99"))], unit="s",
            description="One engine tick: the signal queries plus the policy step."),
        _panel(5, "Query duration per signal (p99)", "timeseries", (8, 9, 8, 8), [(
            "histogram_quantile(0.99, sum by (le, signal) "
            f"(rate(isvc_scaler_query_duration_seconds_bucket{{{J}}}[{RI}])))", "{{signal}}")],
            unit="s"),
        _panel(6, "Snapshot age vs stale_after", "timeseries", (16, 9, 8, 8), [
            (f"max by (instance) (isvc_scaler_snapshot_age_seconds{{{J}}})", "age {{instance}}"),
            (f"max(isvc_scaler_stale_after_seconds{{{J}}})", "stale_after (UNAVAILABLE above)")],
            unit="s"),
        _panel(7, "Query errors per signal", "timeseries", (0, 17, 8, 8), [(
            f"sum by (signal) (rate(isvc_scaler_query_errors_total{{{J}}}[{RI}])) or "
            f"sum by (signal) (0 * rate(isvc_scaler_queries_total{{{J}}}[{RI}]))",
            "{{signal}}")], unit="reqps"),
        _panel(8, "Config reloads", "timeseries", (8, 17, 8, 8), [
            (f"sum(increase(isvc_scaler_config_reload_errors_total{{{J}}}[1h]))",
             "rejected (1h)"),
            (f"sum(increase(isvc_scaler_config_reloads_total{{{J}}}[1h]))", "applied (1h)"),
            (f"max(isvc_scaler_config_generation{{{J}}})", "generation")]),
        _panel(9, "Evaluations by outcome", "timeseries", (16, 17, 8, 8), [(
            f"sum by (outcome) (rate(isvc_scaler_evaluations_total{{{J}}}[{RI}]))",
            "{{outcome}}")], unit="ops"),
        _panel(10, "ISVCs tracked", "stat", (0, 25, 6, 4), [
            (f"max(isvc_scaler_isvcs_tracked{{{J}}})", "ISVCs")]),
        _panel(11, "Highest pressure", "table", (6, 25, 18, 4), [(
            f"topk(10, max by (namespace, isvc) (isvc_scaler_pressure{{{fleet_sel}}}))",
            "{{namespace}}/{{isvc}}")]),
        _row(12, "ISVC $namespace/$isvc", 29),
        _panel(13, "Signals vs targets", "timeseries", (0, 30, 12, 8), [
            (f"max by (signal) (isvc_scaler_signal{{{SEL}}} and on (namespace, isvc, signal) "
             f"isvc_scaler_target{{{SEL}}})", "{{signal}}"),
            (f"max by (signal) (isvc_scaler_target{{{SEL}}})", "target {{signal}}")],
            description="Pressure signals (those with a target) and their targets."),
        _panel(14, "Pressure (max signal / target)", "timeseries", (12, 30, 12, 8), [
            (_isvc("isvc_scaler_pressure"), "pressure"),
            (f"max by (signal) (isvc_scaler_signal{{{SEL}}}) / on (signal) "
             f"max by (signal) (isvc_scaler_target{{{SEL}}})", "{{signal}} / target")]),
        _panel(15, "Desired / ready / spec replicas", "timeseries", (0, 38, 12, 8), [
            (_isvc("isvc_scaler_desired_replicas"), "desired"),
            (_isvc("isvc_scaler_current_replicas"), "ready"),
            (_isvc("isvc_scaler_signal", ',signal="spec_replicas"') + " or "
             + _isvc("isvc_scaler_current_replicas"), "spec (ready when unknown)"),
            (_isvc("isvc_scaler_max_replicas"), "max_replicas")]),
        _panel(16, "Reason over time", "state-timeline", (12, 38, 12, 8), [
            (f"max by (reason) (isvc_scaler_reason{{{SEL}}})", "{{reason}}")]),
        _panel(17, "Requests", "timeseries", (0, 46, 12, 8), [
            (_isvc("isvc_scaler_signal", ',signal="requests"'), "req/s")], unit="reqps"),
        _panel(18, "Scale events (1h)", "timeseries", (12, 46, 12, 8), [(
            "sum by (direction) (max by (namespace, isvc, direction) "
            f"(increase(isvc_scaler_scale_events_total{{{SEL}}}[1h])))", "{{direction}}")]),
    ]


def _query_var(name: str, query: str, *, multi: bool) -> dict[str, Any]:
    return {"name": name, "label": name, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": f"{name}-var"}, "definition": query,
            "refresh": 2, "includeAll": multi, "multi": multi, "sort": 1,
            "current": {"selected": True, "text": "All", "value": "$__all"} if multi else {}}


def dashboard() -> dict[str, Any]:
    """The dashboard JSON model (schemaVersion 39)."""
    return {
        "uid": UID, "title": "isvc-scaler", "tags": ["isvc-scaler", "keda", "kserve"],
        "editable": True, "schemaVersion": 39, "version": 1, "timezone": "browser",
        "time": {"from": "now-6h", "to": "now"}, "refresh": "30s",
        "annotations": {"list": []}, "links": [],
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource",
             "query": "prometheus", "current": {}, "hide": 0},
            _query_var("job", "label_values(isvc_scaler_ready, job)", multi=True),
            _query_var("namespace", 'label_values(isvc_scaler_desired_replicas{job=~"$job"}, '
                       "namespace)", multi=True),
            _query_var("isvc", 'label_values(isvc_scaler_desired_replicas{job=~"$job",'
                       'namespace=~"$namespace"}, isvc)', multi=False),
        ]},
        "panels": panels(),
    }
