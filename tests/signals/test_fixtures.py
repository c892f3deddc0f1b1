"""The default queries, evaluated by the real Prometheus over the shared fixture samples."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from scaler.config import Config
from scaler.devtools import PrometheusProcess
from scaler.signals import SignalFrame
from scaler.signals.source import PromSignalSource
from tests.conftest import FIXTURES

GROWTH_S = 100.0  # TextExporter growth: rate(x) = x_fixture / 100 s


def within_rate(value: float, slope: float) -> bool:
    """rate() over a counter that grows exactly linearly at `slope`: never above it, and at
    most a third below it. Prometheus extrapolates to the window's edges only up to 1.1 average
    scrape intervals (else half of one), so a scrape late by a second on a loaded machine costs
    up to ~1 s of the 3 s window (4.86 instead of 6.0 req/s was seen); a wrong series or a
    doubled sum (both metric spellings) is outside the band."""
    return slope * 2 / 3 <= value <= slope * (1 + 1e-6)  # 1e-6: float error of the exporter


def families(name: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = (FIXTURES / name).read_text()
    return {f.name: [(s.labels, s.value) for s in f.samples]
            for f in text_string_to_metric_families(text)}


def fixture_p99(q: float = 0.99) -> float:
    """histogram_quantile by hand over the fixture's TTFT buckets (linear interpolation)."""
    samples = families("vllm_metrics.txt")["vllm:time_to_first_token_seconds"]
    buckets = sorted((float(lab["le"]), v) for lab, v in samples if "le" in lab)
    rank = q * buckets[-1][1]
    prev_le, prev_n = 0.0, 0.0
    for le, n in buckets:
        if n >= rank:
            return prev_le + (le - prev_le) * (rank - prev_n) / (n - prev_n)
        prev_le, prev_n = le, n
    raise AssertionError("no bucket")


def test_fixtures_parse_with_the_expected_label_sets() -> None:
    vllm = families("vllm_metrics.txt")
    assert vllm["vllm:kv_cache_usage_perc"][0][1] == 0.4127
    assert sum(v for _, v in vllm["vllm:request_success"]) == 600
    k8s = families("k8s_metrics.txt")
    cpu = k8s["container_cpu_usage_seconds"]
    assert {lab["container"] for lab, _ in cpu} == {"", "kserve-container", "queue-proxy"}
    assert all("isvc" not in lab and lab["pod"].startswith("llama-predictor-") for lab, _ in cpu)
    requests = k8s["kube_pod_container_resource_requests"]
    assert {(lab["container"], lab["resource"]) for lab, _ in requests} >= {
        ("kserve-container", "cpu"), ("kserve-container", "nvidia_com_gpu")}
    assert fixture_p99() == pytest.approx(0.25 + 0.25 * (594 - 529) / (598 - 529))


@pytest.fixture(scope="module")
def frame(prometheus_ready: PrometheusProcess, make_config: Callable[..., Config]) -> SignalFrame:
    source = PromSignalSource.from_config(make_config(prometheus_ready.url))
    try:
        return asyncio.run(source.fetch(round(time.time() - 1.0, 3)))
    finally:
        source.close()


@pytest.mark.parametrize("isvc", ["llama", "llama-us", "llama-old"])
def test_default_queries_over_fixture_samples(frame: SignalFrame, isvc: str) -> None:
    assert not frame.failed
    row = dict(zip(frame.signals, frame.values[frame.keys.index(("llm", isvc))], strict=True))
    assert row["latency_p99"] == pytest.approx(fixture_p99(), rel=1e-9)
    assert row["kv_cache"] == pytest.approx(0.4127, rel=1e-12)
    assert row["replicas"] == 1
    assert within_rate(row["requests"], 600 / GROWTH_S)
    if isvc == "llama":  # cAdvisor pod llama-predictor-00001-deployment-... → isvc "llama"
        assert within_rate(row["cpu"], 1821.118203 / GROWTH_S / 8)
    else:
        assert row["cpu"] != row["cpu"]  # NaN: no pod of that name
