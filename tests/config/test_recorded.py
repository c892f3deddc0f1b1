"""`signal_queries: recorded` and the recording rules are derived from DEFAULT_TEMPLATES, for
whatever signals it holds (every case below iterates over the signals present)."""

from __future__ import annotations

import re

import pytest

from scaler.config import parse_config
from scaler.config.model import default_queries
from scaler.config.queries import DEFAULT_TEMPLATES, render_query
from scaler.config.recorded import RECORDINGS, recorded_templates, recording_rules
from scaler.config.rules import ALERTS, rule_groups

SIGNALS = sorted(DEFAULT_TEMPLATES)
RECORDED = sorted(s for s in SIGNALS if s in RECORDINGS and DEFAULT_TEMPLATES[s])
NAME = re.compile(r"isvc:[a-z][a-z0-9_]*:[a-z0-9_]+")


def test_latency_buckets_and_their_p99_are_recorded_per_isvc() -> None:
    buckets, p99 = [r for r in recording_rules() if r.signal == "latency_p99"]
    assert buckets.record == "isvc:vllm_time_to_first_token_seconds_bucket:rate1m"
    assert buckets.expr == buckets.raw == (
        'sum by (namespace, isvc, le) (rate({__name__=~"vllm[:_]time_to_first_token_seconds_'
        'bucket"}[1m]))')
    assert p99.record == "isvc:vllm_time_to_first_token_seconds:p99_rate1m"
    assert p99.expr == f"histogram_quantile(0.99, {buckets.record})"
    assert p99.raw == default_queries()["latency_p99"]
    assert recorded_templates()["latency_p99"] == p99.record


@pytest.mark.parametrize("signal", SIGNALS, ids=SIGNALS)
def test_recorded_query_reads_its_rule_or_falls_back_to_raw(signal: str) -> None:
    recorded = parse_config("signal_queries: recorded").queries[signal]
    rules = {r.signal: r for r in recording_rules()}  # the last rule of a signal is read
    if signal in rules:
        assert recorded == rules[signal].record
        assert rules[signal].raw == default_queries()[signal]
    else:
        assert recorded == default_queries()[signal]


@pytest.mark.parametrize("signal", RECORDED, ids=RECORDED)
def test_rule_expression_is_the_raw_query_or_its_inner_aggregation(signal: str) -> None:
    raw = default_queries()[signal]
    for rule in (r for r in recording_rules() if r.signal == signal):
        assert NAME.fullmatch(rule.record), rule.record
        assert rule.raw in raw
        assert rule.expr == rule.raw or rule.expr.startswith("histogram_quantile(")
        if "vllm" in rule.raw:  # both metric spellings (DESIGN §2)
            assert "vllm[:_]" in rule.raw


@pytest.mark.parametrize("signal", RECORDED, ids=RECORDED)
def test_rules_follow_the_identity_labels(signal: str) -> None:
    rule = next(r for r in recording_rules(namespace_label="ns", isvc_label="svc")
                if r.signal == signal)
    assert rule.expr == render_query(
        _recorded_part(signal), namespace_label="ns", isvc_label="svc")
    assert re.search(r"\bns\b", rule.expr) and re.search(r"\bsvc\b", rule.expr)


def _recorded_part(signal: str) -> str:
    """The part of the signal's template its first rule records (the whole, or the
    histogram's inner aggregation)."""
    template = DEFAULT_TEMPLATES[signal]
    m = re.fullmatch(r"histogram_quantile\([0-9.]+, (.*)\)", template, re.DOTALL)
    return m.group(1) if m and RECORDINGS[signal].shape == "histogram" else template


def test_a_signal_without_a_recording_keeps_its_raw_query() -> None:
    templates = {**DEFAULT_TEMPLATES, "custom_signal": "sum by ($ns, $isvc) (x)",
                 "latency_p99": "max by ($ns, $isvc) (y)"}  # not a histogram_quantile
    out = recorded_templates(templates)
    assert out["custom_signal"] == templates["custom_signal"]
    assert out["latency_p99"] == templates["latency_p99"]
    assert {r.signal for r in recording_rules(templates)} == set(RECORDED) - {"latency_p99"}
    q95 = {**DEFAULT_TEMPLATES,
           "latency_p99": DEFAULT_TEMPLATES["latency_p99"].replace("(0.99,", "(0.995,")}
    assert recorded_templates(q95)["latency_p99"] == (
        "isvc:vllm_time_to_first_token_seconds:p99_5_rate1m")


def test_user_query_overrides_the_recorded_default() -> None:
    config = parse_config("signal_queries: recorded\n"
                          "signals: {kv_cache: {query: 'max by ($ns, $isvc) (k)'}}")
    assert config.queries["kv_cache"] == "max by (namespace, isvc) (k)"
    assert config.signal_queries == "recorded"
    assert parse_config("").signal_queries == "raw"
    assert parse_config("").queries == default_queries()


def test_rule_groups_hold_every_recording_and_alert_once() -> None:
    recording, alerts = rule_groups()
    records = [r["record"] for r in recording["rules"]]
    assert records == [r.record for r in recording_rules()]
    assert len(set(records)) == len(records)
    assert [r["alert"] for r in alerts["rules"]] == [a.name for a in ALERTS]
    for rule, alert in zip(alerts["rules"], ALERTS, strict=True):
        assert "$job" not in rule["expr"]
        assert ('job="isvc-scaler"' in rule["expr"]) == ("$job" in alert.expr)
        assert rule["annotations"]["runbook_url"].endswith("#" + rule["alert"].lower())
