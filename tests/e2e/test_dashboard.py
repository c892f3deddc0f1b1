"""The Grafana dashboard of deploy/monitoring/ against the live stack: a real Prometheus that
scrapes the synthetic fleet, evaluates the generated recording rules and scrapes a real
`scaler serve` running with `signal_queries: recorded`. The JSON's structure is checked, and
every panel's PromQL (template variables substituted) and every variable's query must parse
and return data."""

from __future__ import annotations

import json
import re
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scaler.config.recorded import recording_rules
from scaler.devtools import FleetServer, PrometheusProcess, ScrapeTarget, TextExporter
from tests.e2e.harness import REPO, ServeProcess, wait_until, write_policy

MONITORING = REPO / "deploy" / "monitoring"
DASHBOARD = json.loads((MONITORING / "isvc-scaler-dashboard.json").read_text())
NS, ISVC = "team-0", "llm-0000"
VARIABLES = {"$__rate_interval": "15s", "$namespace": NS, "$isvc": ISVC,
             "$job": "isvc-scaler"}
POLICY = """\
prometheus: {{url: "{url}", timeout: 5s}}
interval: 1s
signal_queries: recorded
policies:
  default: {{targets: {{latency_p99: 0.5, kv_cache: 0.8, cpu: 0.7}}, max_replicas: 16}}
"""


def _panels() -> list[dict[str, Any]]:
    return [p for p in DASHBOARD["panels"] if p["type"] != "row"]


def _targets() -> list[tuple[str, str]]:
    return [(f"{p['title']}/{t['refId']}", t["expr"]) for p in _panels() for t in p["targets"]]


def _variable_queries() -> list[tuple[str, str]]:
    """Each `label_values(selector, label)` variable as the PromQL `group by (label) (...)`."""
    out = []
    for v in DASHBOARD["templating"]["list"]:
        if v["type"] == "query":
            m = re.fullmatch(r"label_values\((.*), (\w+)\)", v["query"]["query"])
            assert m, v["query"]
            out.append((f"variable {v['name']}", f"group by ({m[2]}) ({m[1]})"))
    return out


def substitute(expr: str) -> str:
    for name, value in sorted(VARIABLES.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(name, value)
    assert "$" not in expr, expr
    return expr


def test_dashboard_structure() -> None:
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {"namespace", "isvc"} <= set(variables)
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids)) and DASHBOARD["uid"] and DASHBOARD["schemaVersion"] >= 36
    rows = [p["title"] for p in DASHBOARD["panels"] if p["type"] == "row"]
    assert rows == ["Fleet", "ISVC $namespace/$isvc"]
    titles = {p["title"] for p in _panels()}
    assert {"ISVCs per reason", "Desired vs ready replicas (fleet)", "Evaluation duration",
            "Query duration per signal (p99)", "Snapshot age vs stale_after", "Config reloads",
            "Signals vs targets", "Pressure (max signal / target)",
            "Desired / ready / spec replicas", "Reason over time"} <= titles
    for p in _panels():
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"] and set(p["gridPos"]) == {"x", "y", "w", "h"}, p["title"]
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24, p["title"]
    drill = [e for p in _panels() if p["gridPos"]["y"] >= 30 for t in p["targets"]
             for e in [t["expr"]]]
    assert drill and all('isvc=~"$isvc"' in e for e in drill)


@pytest.fixture(scope="module")
def stack(fleet_server: FleetServer, fixture_exporters: dict[str, TextExporter],
          tmp_path_factory: pytest.TempPathFactory,
          ) -> Iterator[tuple[PrometheusProcess, ServeProcess]]:
    """Prometheus (fleet, real-exporter fixtures, recording rules) → scaler serve (recorded
    queries) → scraped back by the same Prometheus."""
    tmp = tmp_path_factory.mktemp("dashboard")
    sources = [*fleet_server.targets()] + [
        e.target(job=f"fixture-{name}",
                 **({} if name == "k8s" else {"namespace": "llm", "isvc": name}))
        for name, e in fixture_exporters.items()]
    with PrometheusProcess(sources, scrape_interval_s=1.0,
                           rule_files=[MONITORING / "isvc-scaler.rules.yaml"]) as prom:
        config = write_policy(tmp, POLICY.format(url=prom.url))
        with ServeProcess(config, log_path=tmp / "serve.log", warm_start_timeout_s=30) as serve:
            prom.set_targets([*sources,
                              ScrapeTarget(f"127.0.0.1:{serve.http_port}", job="isvc-scaler")])
            serve.wait_ready(timeout_s=90)
            yield prom, serve


def _has_data(prom: PrometheusProcess, expr: str) -> bool:
    try:
        return bool(prom.query(expr))
    except urllib.error.HTTPError as e:  # a parse error is a failure, not a wait
        raise AssertionError(f"{expr}: {e.read().decode()}") from e


def test_recorded_signals_reach_the_scaler(stack: tuple[PrometheusProcess, ServeProcess]) -> None:
    prom, serve = stack
    for rule in recording_rules():
        wait_until(lambda r=rule: _has_data(prom, r.record), timeout_s=90, what=rule.record)
        wait_until(lambda r=rule: _has_data(
            prom, f'isvc_scaler_signal{{job="isvc-scaler",signal="{r.signal}"}}'),
            timeout_s=90, what=f"scaler signal {rule.signal} from {rule.record}")
    status = serve.status(f"{NS}/{ISVC}")
    assert status["isvcs"][0]["signals"]["kv_cache"] is not None


@pytest.mark.parametrize(("where", "expr"), _targets() + _variable_queries(),
                         ids=[w for w, _ in _targets() + _variable_queries()])
def test_every_panel_query_returns_data(stack: tuple[PrometheusProcess, ServeProcess],
                                        where: str, expr: str, tmp_path: Path) -> None:
    prom, _ = stack
    query = substitute(expr)
    wait_until(lambda: _has_data(prom, query), timeout_s=120, what=f"{where}: {query}")
