"""The synthetic fleet: exposition text, TTFT shapes, counters, load patterns (no Prometheus)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from scaler.devtools import Fleet, LoadPattern, ttft_fractions
from scaler.devtools.load import TTFT_BUCKETS_S, IsvcDrive, mean_of
from scaler.devtools.textfile import TextExporter, parse_lines


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def histogram_quantile(q: float, cumulative: np.ndarray) -> float:
    """Prometheus' bucketQuantile over cumulative counts on TTFT_BUCKETS_S + Inf."""
    bounds = [*TTFT_BUCKETS_S, math.inf]
    rank = q * cumulative[-1]
    b = int(np.argmax(cumulative >= rank))
    if b == len(bounds) - 1:
        return bounds[-2]
    lo, below = (0.0, 0.0) if b == 0 else (bounds[b - 1], float(cumulative[b - 1]))
    return lo + (bounds[b] - lo) * (rank - below) / (float(cumulative[b]) - below)


@given(st.floats(min_value=0.006, max_value=2560.0))
def test_ttft_fractions_give_the_requested_p99(p99_s: float) -> None:
    cumulative = ttft_fractions(p99_s)
    assert np.all(np.diff(cumulative) >= 0) and cumulative[-1] == 1.0
    assert histogram_quantile(0.99, cumulative) == pytest.approx(p99_s, rel=1e-9)
    assert 0 < mean_of(cumulative) <= 2 * TTFT_BUCKETS_S[-1]


def families(fleet: Fleet) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = fleet.render().decode()
    return {f.name: [(s.labels, s.value) for s in f.samples]
            for f in text_string_to_metric_families(text)}


def test_render_has_real_names_labels_and_spellings() -> None:
    fleet = Fleet(clock=Clock())
    fleet.add("a", "colon", kv_cache=0.5, pods=2)
    fleet.add("a", "under", kv_cache=0.25, metric_style="underscore")
    fleet.add("a", "legacy", kv_cache=0.75, metric_style="legacy")
    fams = families(fleet)
    kv = {(lab["isvc"], lab["pod"]): v for lab, v in fams["vllm:kv_cache_usage_perc"]}
    assert len(kv) == 2 and set(kv.values()) == {0.5}
    assert all(pod.startswith("colon-predictor-") for _, pod in kv)
    assert fams["vllm_kv_cache_usage_perc"][0][1] == 0.25
    assert fams["vllm:gpu_cache_usage_perc"][0][1] == 0.75
    buckets = [lab["le"] for lab, _ in fams["vllm:time_to_first_token_seconds"]
               if "le" in lab and lab["pod"].endswith(next(iter(kv))[1][-5:])]
    assert buckets == [*(repr(b) for b in TTFT_BUCKETS_S), "+Inf"]
    cpu = fams["container_cpu_usage_seconds"]
    assert all("isvc" not in lab for lab, _ in cpu)
    assert {lab["container"] for lab, _ in cpu} == {"", "kserve-container"}
    requests = fams["kube_pod_container_resource_requests"]
    assert {(lab["resource"], lab["unit"]) for lab, _ in requests} == {
        ("cpu", "core"), ("memory", "byte")}


def test_counters_integrate_the_driven_rates() -> None:
    clock = Clock()
    fleet = Fleet(clock=clock, uptime_s=0.0)
    key = fleet.add("a", "m", request_rate=4.0, pods=2, cpu_ratio=0.5, cpu_request_cores=2.0)

    def totals() -> tuple[float, float]:
        fams = families(fleet)
        req = sum(v for _, v in fams["vllm:request_success"])
        cpu = sum(v for lab, v in fams["container_cpu_usage_seconds"]
                  if lab["container"] == "kserve-container")
        return req, cpu

    assert totals() == (0.0, 0.0)
    clock.t += 10
    assert totals() == pytest.approx((40.0, 2 * 0.5 * 2.0 * 10))
    fleet.set(key, request_rate=1.0)
    clock.t += 10
    assert totals()[0] == pytest.approx(50.0)
    fleet.set(key, pods=3)  # the new pod starts at 0: the per-ISVC sum keeps growing
    clock.t += 6
    assert totals()[0] == pytest.approx(56.0)
    fleet.remove(key)
    assert "vllm:request_success" not in families(fleet)


def test_zero_pods_means_no_series() -> None:
    fleet = Fleet(clock=Clock())
    fleet.add("a", "gone", pods=0)
    assert fleet.render() == b""
    with pytest.raises(ValueError, match="metric_style"):
        IsvcDrive(metric_style="camel")


def test_shards_partition_the_isvcs() -> None:
    fleet = Fleet.synthetic(10, clock=Clock())
    parts = [fleet.render(shard=i, shards=3).decode() for i in range(3)]
    seen = [{s.labels["isvc"] for f in text_string_to_metric_families(p) for s in f.samples
             if "isvc" in s.labels} for p in parts]
    assert set().union(*seen) == {k[1] for k in fleet.isvc_keys()}
    assert sum(len(s) for s in seen) == 10


@pytest.mark.parametrize(("t", "pods", "expected"), [
    pytest.param(0.0, 1, {"kv_cache": 0.99, "request_rate": 9.6}, id="overloaded"),
    pytest.param(0.0, 4, {"kv_cache": 0.85 * 10 / 32, "request_rate": 10.0}, id="ok"),
    pytest.param(30.0, 4, {"request_rate": 30.0}, id="burst"),
])
def test_load_pattern(t: float, pods: int, expected: dict[str, float]) -> None:
    pattern = LoadPattern(base_rate=10, amplitude=0.0, burst_every_s=100, burst_s=20,
                          phase=0.75, capacity_per_pod=8)
    got = pattern.drive(t, pods=pods)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value)


def test_patterned_fleet_follows_its_pattern() -> None:
    clock = Clock(0.0)
    fleet = Fleet(clock=clock)
    key = fleet.add("a", "p", pattern=LoadPattern(base_rate=8, amplitude=0.5, period_s=40),
                    pods=1)
    clock.t = 10.0  # sin peak: demand 12 on one pod of capacity 8
    assert fleet.drive(key).kv_cache == pytest.approx(0.99)
    clock.t = 30.0  # trough: demand 4
    assert fleet.drive(key).kv_cache == pytest.approx(0.85 * 0.5)


def test_text_exporter_grows_counters_only() -> None:
    clock = Clock(100.0)
    text = ("# TYPE c_total counter\nc_total{a=\"1\"} 10 123\n# TYPE g gauge\ng 5\n"
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 4\nh_count 4\nh_sum 2.5\n")
    assert [grows for _, v, grows in parse_lines(text) if v is not None] == [
        True, False, True, True, True]
    with TextExporter(text, growth_s=50, clock=clock) as exporter:
        clock.t = 150.0
        out = exporter.render()
    assert 'c_total{a="1"} 20.0 150000\n' in out and "g 5.0\n" in out
    assert "h_sum 5.0 150000\n" in out
