"""Figures of merit (SLO attainment, GPU-hours, percentiles) and the sweep grid."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from scaler.errors import ConfigError
from scaler.sim.loop import RunResult
from scaler.sim.report import best_run, comparison_rows, format_table, summarize
from scaler.sim.sweep import expand, parse_sweep, set_path
from scaler.sim.trace import make_trace

NAN = math.nan


def _result(first: list[float], rejected: list[bool], *, end_s: float = 100.0) -> RunResult:
    trace = make_trace([0.0, 10.0, 20.0, 30.0, 99.0], [1] * 5, [1] * 5)
    timeline: list[tuple[object, ...]] = [
        (t, "default", "llm", 1.0, p99, 0.5, 0.3, ready, 0, ready, NAN, NAN, "", 0, 0, need)
        for t, p99, ready, need in ((0.0, 1.0, 2, 1), (15.0, 3.0, 1, 2), (30.0, NAN, 2, 2))]
    return RunResult(
        label="x", trace=trace, first_token_s=np.array(first), finish_s=np.array(first) + 1,
        rejected=np.array(rejected), timed_out=np.zeros(5, bool), pod_isvc=np.array([0, 0]),
        pod_created_s=np.array([0.0, 50.0]), pod_ended_s=np.array([NAN, 80.0]),
        gpus_per_replica=np.array([2.0]), timeline=timeline,
        scale_events=[(50.0, 0, 1, 2), (80.0, 0, 2, 1)], end_s=end_s, interval_s=15.0)


def test_summary_counts_misses_and_skips_unknown_outcomes() -> None:
    # TTFTs: 1 s (met), 3 s (missed), rejected (missed), still waiting 70 s (missed),
    # still waiting 1 s at the end (unknown: not judged).
    r = _result([1.0, 13.0, NAN, NAN, NAN], [False, False, True, False, False])
    s = summarize(r, slo_s=2.0)
    assert (s["requests"], s["served"], s["rejected"], s["unfinished"]) == (5, 2, 1, 2)
    assert s["slo_attainment"] == pytest.approx(1 / 4)
    assert s["ttft_p50_s"] == pytest.approx(2.0)
    assert s["gpu_hours"] == pytest.approx((100 + 30) * 2 / 3600, abs=1e-4)
    assert s["scale_events"] == 2
    assert s["under_provisioned_s"] == 15.0 and s["over_slo_s"] == 15.0
    assert s["mean_replicas"] == pytest.approx(5 / 3, abs=1e-3)


def test_comparison_rows_best_run_and_table() -> None:
    summaries = [
        {"run": "a", "slo_attainment": 0.995, "gpu_hours": 10.0},
        {"run": "static-peak", "slo_attainment": 0.999, "gpu_hours": 20.0},
        {"run": "b", "slo_attainment": 0.9, "gpu_hours": 5.0}]
    rows = comparison_rows(summaries)
    assert [r["gpu_hours_vs_static"] for r in rows] == [0.5, 1.0, 0.25]
    assert best_run(summaries, attainment=0.99) == "a"
    assert best_run(summaries, attainment=0.9999) is None
    table = format_table(rows).splitlines()
    assert table[0].startswith("run") and len(table) == 4
    assert "0.995" in table[1] and table[3].split()[0] == "b"


def test_sweep_grid_sets_paths() -> None:
    base = "policies:\n  default:\n    targets: {kv_cache: 0.8}\n"
    points = list(expand(base, ["policies.default.targets.kv_cache=0.6,0.8",
                                "simulation.serving.startup=30s,2m"]))
    assert [label for label, _ in points] == [
        "[kv_cache=0.6,startup=30s]", "[kv_cache=0.6,startup=2m]",
        "[kv_cache=0.8,startup=30s]", "[kv_cache=0.8,startup=2m]"]
    doc = yaml.safe_load(points[1][1])
    assert doc["policies"]["default"]["targets"] == {"kv_cache": 0.6}
    assert doc["simulation"]["serving"]["startup"] == "2m"
    assert list(expand(base, [])) == [("", base)]
    assert set_path({"a": {"b": 1}}, "a.b", None) == {"a": {}}


@pytest.mark.parametrize("bad", ["nokey", "a..b=1", "a.b=", "=1,2"],
                         ids=["no-equals", "empty-part", "no-values", "no-key"])
def test_sweep_errors(bad: str) -> None:
    with pytest.raises(ConfigError, match="--sweep"):
        parse_sweep(bad)


def test_sweep_into_a_scalar_is_an_error() -> None:
    with pytest.raises(ConfigError, match="not a mapping"):
        list(expand("interval: 15s\n", ["interval.x=1"]))
