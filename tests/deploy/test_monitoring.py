"""deploy/monitoring/ is what scripts/gen_monitoring.py makes from the code, renders with
kustomize, passes `promtool check rules`, and every rule passes `promtool test rules`: the
committed alert tests, and a test generated here that checks each recording rule against the
raw query of its signal on the synthetic fleet's series (for whatever signals exist)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from scaler.config.recorded import RecordingRule, recording_rules
from scaler.config.rules import ALERTS
from scaler.devtools import Fleet
from tests.shared_paths import FIXTURES

from .manifests import DEPLOY, REPO, one, render

MONITORING = DEPLOY / "monitoring"
RULES = MONITORING / "isvc-scaler.rules.yaml"
ALERT_TESTS = MONITORING / "tests" / "alerts.test.yaml"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_monitoring",
                                                  REPO / "scripts" / "gen_monitoring.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_monitoring"] = module
    spec.loader.exec_module(module)
    return module


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: install the Debian package `prometheus`"
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_committed_files_match_regenerated(tmp_path: Path) -> None:
    written = _generator().generate(tmp_path)
    assert written
    for path in written:
        assert path.read_bytes() == (MONITORING / path.name).read_bytes(), (
            f"deploy/monitoring/{path.name} is stale: run scripts/gen_monitoring.py")


def test_kustomize_renders_the_rule_and_the_dashboard_configmap() -> None:
    docs = render("monitoring")
    assert sorted((d["kind"], d["metadata"]["name"]) for d in docs) == [
        ("ConfigMap", "isvc-scaler-dashboard"), ("PrometheusRule", "isvc-scaler")]
    cm = one(docs, "ConfigMap")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    name = "isvc-scaler-dashboard.json"
    assert json.loads(cm["data"][name]) == json.loads((MONITORING / name).read_text())
    rule = one(docs, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]
    assert not [d for d in render("base") if d["kind"] in ("PrometheusRule", "ConfigMap")
                and d["metadata"]["name"] != "isvc-scaler-policy"]


def test_servicemonitor_keeps_the_isvc_namespace_label() -> None:
    monitor = one(render("base"), "ServiceMonitor")
    assert all(e.get("honorLabels") is True for e in monitor["spec"]["endpoints"])


@pytest.mark.parametrize("source", ["rules-file", "prometheusrule"])
def test_promtool_check_rules(source: str, tmp_path: Path) -> None:
    path = RULES
    if source == "prometheusrule":
        spec = one(render("monitoring"), "PrometheusRule")["spec"]
        path = tmp_path / "from-prometheusrule.yaml"
        path.write_text(yaml.safe_dump(spec))
    out = promtool("check", "rules", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    n = len(ALERTS) + len(recording_rules())
    assert f"SUCCESS: {n} rules found" in out.stdout


def test_promtool_alert_tests_pass() -> None:
    out = promtool("test", "rules", str(ALERT_TESTS))
    assert out.returncode == 0, out.stdout + out.stderr


def _alert_cases() -> dict[str, list[bool]]:
    cases: dict[str, list[bool]] = {}
    for group in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for case in group.get("alert_rule_test", []):
            cases.setdefault(case["alertname"], []).append(bool(case.get("exp_alerts")))
    return cases


@pytest.mark.parametrize("alert", [a.name for a in ALERTS], ids=[a.name for a in ALERTS])
def test_every_alert_is_tested_firing_and_quiet(alert: str) -> None:
    outcomes = _alert_cases().get(alert, [])
    assert True in outcomes and False in outcomes, f"{alert}: {outcomes}"


@pytest.mark.parametrize("alert", [a.name for a in ALERTS], ids=[a.name for a in ALERTS])
def test_every_alert_has_a_runbook_entry(alert: str) -> None:
    readme = (DEPLOY / "README.md").read_text()
    assert re.search(rf"^#### {alert}$", readme, re.M), f"deploy/README.md: #### {alert}"


def _input_series(step_s: float, steps: int) -> list[dict[str, str]]:
    """promtool input series sampled every step_s: the synthetic fleet's exposition (both vLLM
    metric spellings, the legacy KV name, cAdvisor and kube-state-metrics series) and the
    shared fixture texts of real vLLM / Kubernetes exporters (as tests/conftest.py serves them;
    their counters grow 1 % a step)."""
    now = [1_000_000.0]
    fleet = Fleet.synthetic(8, clock=lambda: now[0])
    fleet.add("edge", "idle", request_rate=0.0, kv_cache=0.02, pods=2)
    vllm = (FIXTURES / "vllm_metrics.txt").read_text()
    fixtures = [(vllm, '{namespace="llm",isvc="llama",'),
                (vllm.replace("vllm:", "vllm_"), '{namespace="llm",isvc="llama-us",'),
                ((FIXTURES / "k8s_metrics.txt").read_text(), "{")]
    values: dict[str, list[str]] = {}
    for i in range(steps + 1):
        texts = [fleet.render().decode()] + [_labelled(t, extra, 1 + 0.01 * i)
                                             for t, extra in fixtures]
        for line in "\n".join(texts).splitlines():
            if line and not line.startswith("#"):
                series, value = line.rsplit(" ", 1)
                values.setdefault(series, []).append(repr(float(value)))
        now[0] += step_s
    return [{"series": s, "values": " ".join(v)} for s, v in values.items()
            if len(v) == steps + 1]


def _labelled(text: str, extra: str, scale: float) -> str:
    lines = []
    for line in text.splitlines():
        if not line or line.startswith("#") or line.split(" ")[0].endswith("_created"):
            continue
        series, value = line.rsplit(" ", 1)
        if "{" not in series:
            series += "{}"
        series = series.replace("{", extra, 1).replace(",}", "}")
        lines.append(f"{series} {float(value) * scale!r}")
    return "\n".join(lines)


RECORDING_RULES = recording_rules()


@pytest.mark.parametrize("rule", RECORDING_RULES, ids=[r.record for r in RECORDING_RULES])
def test_recording_rule_equals_its_raw_query_under_promtool(rule: RecordingRule,
                                                            tmp_path: Path) -> None:
    """Per ISVC (and `le`), the recorded series is exactly the signal's raw query at the rule's
    evaluation time (NaN where it is NaN), on input that has data for it (an empty raw query
    fails: 1 expected)."""
    rec, raw = rule.record, f"({rule.raw})"
    same = f"({rec} == {raw}) or (({rec} != {rec}) and ({raw} != {raw}))"
    tests = [{"expr": expr, "eval_time": "5m", "exp_samples": [{"labels": "{}", "value": 1}]}
             for expr in (f"count({same}) / count({raw})", f"count({rec}) / count({raw})")]
    doc = {"rule_files": [str(RULES)], "evaluation_interval": "15s",
           "tests": [{"name": f"{rule.record} = raw {rule.signal}", "interval": "15s",
                      "input_series": _input_series(15.0, 24), "promql_expr_test": tests}]}
    path = tmp_path / "recorded.test.yaml"
    path.write_text(yaml.safe_dump(doc, width=10_000))
    out = promtool("test", "rules", str(path))
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_a_wrong_expectation_fails_promtool(tmp_path: Path) -> None:
    """The gate works: promtool exits non-zero when a rule test fails."""
    doc: dict[str, Any] = yaml.safe_load(ALERT_TESTS.read_text())
    doc["rule_files"] = [str(RULES)]
    doc["tests"][0]["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"x": "y"}}]
    path = tmp_path / "broken.test.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert promtool("test", "rules", str(path)).returncode != 0
