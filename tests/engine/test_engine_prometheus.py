"""Engine against the real Prometheus: down and back, warm start on the live grid, and the
engine feeding the real gRPC ExternalScaler end to end."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator

import grpc
import pytest
from prometheus_client import CollectorRegistry

from scaler._proto import externalscaler_pb2 as pb
from scaler._proto import externalscaler_pb2_grpc as pb_grpc
from scaler.config import Config
from scaler.devtools import Fleet, FleetServer, PrometheusProcess
from scaler.engine import Engine
from scaler.engine.store import SnapshotStore
from scaler.metrics import ScalerMetrics
from scaler.serving.external_scaler import ConfigAnswers, ExternalScalerService, start_grpc_server
from scaler.ticks import align_tick


def make_engine(config: Config, *, clock: Callable[[], float] = time.time,
                eval_delay_s: float | None = None) -> Engine:
    store = SnapshotStore(clock=clock, stale_after_s=config.stale_after_s)
    return Engine(config=config, store=store, metrics=ScalerMetrics(CollectorRegistry()),
                  clock=clock, eval_delay_s=eval_delay_s)


def errors(engine: Engine, signal: str, cause: str) -> float:
    value = engine.metrics.registry.get_sample_value(
        "isvc_scaler_query_errors_total", {"signal": signal, "cause": cause})
    return value or 0.0


@pytest.fixture
def own_prometheus(fleet_server: FleetServer) -> Iterator[PrometheusProcess]:
    """A Prometheus of this test alone (it gets stopped and restarted)."""
    with PrometheusProcess(fleet_server.targets(), scrape_interval_s=1.0) as prom:
        yield prom


async def test_prometheus_down_and_back(
    own_prometheus: PrometheusProcess, make_config: Callable[..., Config],
    caplog: pytest.LogCaptureFixture,
) -> None:
    prom = own_prometheus
    prom.wait_scraped(scrapes=1)
    engine = make_engine(make_config(prom.url, timeout="1s"))
    good = await engine.tick(time.time())
    assert good is not None and ("team-0", "llm-0000") in good.entries
    prom.stop()
    with caplog.at_level(logging.INFO, logger="scaler.signals.source"):
        assert await engine.tick(time.time()) is None
        assert await engine.tick(time.time()) is None
        assert engine.store.snapshot is good  # not refreshed: it ages towards stale_after
        assert errors(engine, "kv_cache", "connection") == 2
        assert caplog.text.count("kv_cache: cannot connect") == 1  # once per cause
        prom.start()
        back = await engine.tick(time.time())  # samples before the stop are in lookback
        assert back is not None and back.entries.keys() == good.entries.keys()
        assert "kv_cache: connection cleared" in caplog.text
    outcomes = {o: engine.metrics.registry.get_sample_value(
        "isvc_scaler_evaluations_total", {"outcome": o}) for o in ("ok", "failed")}
    assert outcomes == {"ok": 2, "failed": 2}


async def test_warm_start_matches_live_ticks_on_the_grid(
    prometheus_ready: PrometheusProcess, make_config: Callable[..., Config], fleet: Fleet,
) -> None:
    policies = "default: {targets: {kv_cache: 0.5, latency_p99: 0.6}, scale_down_window: 3s}"
    config = make_config(prometheus_ready.url, policies=policies)
    now = time.time()
    last = align_tick(now - 1.0, 1.0)
    live = make_engine(config)
    for k in range(6, -1, -1):  # longer than the 4 ticks of the 3 s window (3 s + 1)
        await live.tick(last - k)
    replica = make_engine(config, clock=lambda: now, eval_delay_s=1.0)
    # history back to the live engine's first tick, as `serve` replays back to the vanished-ISVC
    # retention: an ISVC of the shared fleet that vanished meanwhile is held by both
    replica_ticks = await replica.warm_start(timeout_s=10, lookback_s=6.0)
    assert replica_ticks == 7 and replica.last_tick_s == last
    live_snap, warm_snap = live.store.snapshot, replica.store.snapshot
    assert live_snap is not None and warm_snap is not None
    assert warm_snap.entries.keys() == live_snap.entries.keys()
    for key, entry in live_snap.entries.items():
        other = warm_snap.entries[key]
        assert (other.desired, other.reason) == (entry.desired, entry.reason), key
        for name, value in entry.signals.items():
            assert other.signals[name] == pytest.approx(value, nan_ok=True, rel=1e-12), name
    reasons = {e.reason for e in live_snap.entries.values()}
    assert "scale-up" in reasons and ({"stabilizing", "scale-down"} & reasons)


async def test_engine_feeds_the_grpc_server(
    prometheus_ready: PrometheusProcess, make_config: Callable[..., Config], fleet: Fleet,
) -> None:
    config = make_config(prometheus_ready.url, policies=(
        "default: {targets: {kv_cache: 0.8}, min_replicas: 1}\n"
        "  big: {targets: {kv_cache: 0.8}, min_replicas: 3}"))
    engine = make_engine(config)
    service = ExternalScalerService(store=engine.store, config=lambda: ConfigAnswers(config),
                                    metrics=engine.metrics, on_metadata=engine.note_metadata)
    server = await start_grpc_server(service, address="127.0.0.1:0")
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    stub = pb_grpc.ExternalScalerStub(channel)
    try:
        snap = await engine.tick(align_tick(time.time() - 1.0, 1.0))
        assert snap is not None
        key = ("team-1", "llm-0001")
        entry = snap.entries[key]
        ref = pb.ScaledObjectRef(name="llm-0001-predictor", namespace="team-1")
        reply = await stub.GetMetrics(pb.GetMetricsRequest(scaledObjectRef=ref,
                                                           metricName="desired-replicas"))
        assert reply.metricValues[0].metricValue == entry.desired
        assert (await stub.IsActive(ref)).result is entry.active is True
        unseen = pb.ScaledObjectRef(name="not-there", namespace="team-1",
                                    scalerMetadata={"policy": "big"})
        reply = await stub.GetMetrics(pb.GetMetricsRequest(scaledObjectRef=unseen))
        assert reply.metricValues[0].metricValue == 3  # min_replicas of its policy
        # the `policy` metadata KEDA sent reaches the next evaluation
        big = pb.ScaledObjectRef(name="llm-0001", namespace="team-1",
                                 scalerMetadata={"policy": "big"})
        await stub.GetMetrics(pb.GetMetricsRequest(scaledObjectRef=big))
        snap = await engine.tick(align_tick(time.time() - 1.0, 1.0) + 0.5)
        assert snap is not None and snap.entries[key].policy == "big"
        assert snap.entries[key].desired >= 3
        assert not math.isnan(snap.entries[key].pressure)
    finally:
        await channel.close()
        await server.stop(0.5)
