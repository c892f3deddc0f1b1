"""PromSignalSource against the real Prometheus scraping the synthetic fleet."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from scaler.config import Config
from scaler.config.queries import SIGNAL_NAMES
from scaler.devtools import Fleet, PrometheusProcess
from scaler.metrics import ScalerMetrics
from scaler.signals import SignalFrame
from scaler.signals.source import PromSignalSource
from tests.conftest import FLEET_SIZE


def source_for(prom: PrometheusProcess, make_config: Callable[..., Config],
               **kw: str) -> PromSignalSource:
    return PromSignalSource.from_config(make_config(prom.url, **kw),
                                        metrics=ScalerMetrics(CollectorRegistry()))


def fetch_now(source: PromSignalSource, *, ago_s: float = 1.0) -> SignalFrame:
    return asyncio.run(source.fetch(round(time.time() - ago_s, 3)))


def row(frame: SignalFrame, key: tuple[str, str]) -> dict[str, float]:
    return dict(zip(frame.signals, frame.values[frame.keys.index(key)], strict=True))


def test_signals_for_many_isvcs_match_the_driven_values(
    prometheus_ready: PrometheusProcess, make_config: Callable[..., Config], fleet: Fleet,
) -> None:
    source = source_for(prometheus_ready, make_config)
    synthetic = [k for k in fleet.isvc_keys() if k[0].startswith("team-")]
    assert len(synthetic) == FLEET_SIZE
    # rates: counters follow wall time, Prometheus stamps samples at scrape start, so scrape
    # jitter over a 3 s window shows (a few ms / 2 s; ~150 ms on a loaded machine); values
    # span 30×, so 5% still tells every ISVC apart. A late scrape passes within a second or
    # two: up to three frames; every frame must match exactly, the rates in at least one.
    for attempt in range(3):
        frame = fetch_now(source)
        assert set(synthetic) <= set(frame.keys)
        late = []
        for key in synthetic:
            d, got = fleet.drive(key), row(frame, key)
            assert got["kv_cache"] == pytest.approx(d.kv_cache, rel=1e-12), key
            assert got["replicas"] == d.pods, key
            assert got["latency_p99"] == pytest.approx(d.ttft_p99_s, rel=1e-6), key
            if (got["cpu"] != pytest.approx(d.cpu_ratio, rel=0.05)
                    or got["requests"] != pytest.approx(d.request_rate, rel=0.05)):
                late.append((key, got["cpu"], d.cpu_ratio, got["requests"], d.request_rate))
        if not late:
            break
        assert attempt < 2, f"rates off by > 5% in 3 frames: {late[:3]}"
        time.sleep(1.5)
    styles = {fleet.drive(k).metric_style for k in synthetic}
    assert styles == {"colon", "underscore", "legacy"}
    # one query per signal for ALL ISVCs
    registry = source.metrics.registry if source.metrics else None
    assert registry is not None
    assert [registry.get_sample_value("isvc_scaler_queries_total", {"signal": s})
            for s in SIGNAL_NAMES] == [1.0] * len(SIGNAL_NAMES)
    source.close()


def test_idle_isvc_has_nan_latency_and_no_pods_isvc_is_missing(
    prometheus_ready: PrometheusProcess, make_config: Callable[..., Config],
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = source_for(prometheus_ready, make_config)
    with caplog.at_level(logging.WARNING, logger="scaler.signals.source"):
        frame = fetch_now(source)
        fetch_now(source)
    idle = row(frame, ("edge", "idle"))
    assert math.isnan(idle["latency_p99"])  # histogram_quantile over zero rates
    assert idle["requests"] == 0 and idle["replicas"] == 2 and idle["kv_cache"] == 0.02
    assert ("edge", "no-pods") not in frame.keys
    assert [(i.signal, i.cause) for i in frame.issues] == [("latency_p99", "non_finite")]
    registry = source.metrics.registry if source.metrics else None
    assert registry is not None
    assert registry.get_sample_value(
        "isvc_scaler_query_errors_total", {"signal": "latency_p99", "cause": "non_finite"}) == 2
    assert caplog.text.count("non_finite") == 1  # logged once, not every tick
    source.close()


def test_isvc_appears_and_disappears_with_its_series(
    prometheus: PrometheusProcess, make_config: Callable[..., Config], fleet: Fleet,
) -> None:
    source = source_for(prometheus, make_config)
    key = fleet.add("scratch-appear", "m", kv_cache=0.7, pods=3)
    prometheus.wait_until(lambda: key in fetch_now(source, ago_s=0).keys, timeout_s=10,
                          what="new ISVC visible")
    assert row(fetch_now(source, ago_s=0), key)["replicas"] == 3
    fleet.set(key, pods=1)
    prometheus.wait_until(lambda: row(fetch_now(source, ago_s=0), key)["replicas"] == 1,
                          timeout_s=10, what="pods scaled in")
    fleet.remove(key)
    prometheus.wait_until(lambda: key not in fetch_now(source, ago_s=0).keys, timeout_s=10,
                          what="removed ISVC gone (staleness marker)")
    source.close()


def test_bad_query_fails_one_signal_only(
    prometheus: PrometheusProcess, make_config: Callable[..., Config],
) -> None:
    import dataclasses

    config = make_config(prometheus.url)
    queries = dict(config.queries)
    queries["cpu"] = "sum by (namespace, isvc) (rate(x[1m]"  # parse error → HTTP 400
    queries["requests"] = "vllm:kv_cache_usage_perc[1m]"  # range vector → matrix
    queries["replicas"] = ""  # disabled
    source = PromSignalSource.from_config(dataclasses.replace(config, queries=queries))
    frame = fetch_now(source, ago_s=0)
    assert frame.failed == {"cpu": "http_4xx", "requests": "matrix"}
    assert "replicas" not in frame.queried and not frame.all_failed
    assert "parse error" in frame.errors["cpu"]
    assert len(frame.keys) > FLEET_SIZE
    assert all(math.isnan(v) for v in frame.column("cpu"))
    source.close()
