"""HTTP endpoints of a running `scaler serve` (subprocess) against the real Prometheus:
/healthz, /readyz (503 while warm start waits on Prometheus → 200), /status, /metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2

from scaler.devtools import PrometheusProcess
from tests.e2e.conftest import AddIsvc
from tests.e2e.harness import (
    GatedProxy,
    ServeProcess,
    policy_yaml,
    scaled_ref,
    wait_scraped,
    wait_until,
    write_policy,
)

NS = "int-http"
ENTRY_FIELDS = {"namespace", "isvc", "policy", "signals", "pressure", "current", "desired",
                "reason", "active", "age_s"}


def test_endpoints_through_warm_start(prometheus_ready: PrometheusProcess, add_isvc: AddIsvc,
                                      tmp_path: Path) -> None:
    add_isvc(NS, "hot", kv_cache=0.95, pods=2)     # P = 0.95/0.8 → up to 4: scale-up
    add_isvc(NS, "calm", kv_cache=0.5, pods=2)     # P = 0.625 (hysteresis band): hold
    wait_scraped(prometheus_ready, (NS, "hot"), (NS, "calm"))
    with GatedProxy(prometheus_ready.url) as gate:
        config = write_policy(tmp_path, policy_yaml(gate.url, timeout="20s"))
        with ServeProcess(config, log_path=tmp_path / "serve.log",
                          warm_start_timeout_s=20) as serve:
            serve.wait_listening()
            # warm start is blocked on the gate: alive, not ready, gRPC says UNAVAILABLE
            for _ in range(3):
                assert serve.http("/healthz") == (200, "ok\n")
                assert serve.http("/readyz") == (503, "warming up\n")
            assert gate.held >= 1
            reply = serve.desired(NS, "hot")
            assert reply.code == grpc.StatusCode.UNAVAILABLE
            assert "no evaluation has completed yet" in reply.details
            spec = serve.stub.GetMetricSpec(scaled_ref(NS, "hot"), timeout=3).metricSpecs[0]
            assert (spec.metricName, spec.targetSize) == ("desired-replicas", 1)
            assert serve.health() == health_pb2.HealthCheckResponse.NOT_SERVING
            assert serve.health("") == health_pb2.HealthCheckResponse.SERVING
            assert json.loads(serve.http("/status")[1]) == {
                "ready": False, "stale": True, "tick_s": None, "isvcs": []}

            gate.open()
            serve.wait_ready(timeout_s=15)
            assert serve.http("/readyz") == (200, "ready\n")
            assert serve.health() == health_pb2.HealthCheckResponse.SERVING
            assert serve.desired(NS, "hot").value == 4
            assert serve.active(NS, "hot").value is True

            doc = serve.status()
            assert doc["ready"] is True and doc["stale"] is False
            assert isinstance(doc["tick_s"], float) and doc["generation"] >= 1
            assert 0 <= doc["age_s"] <= 3.0 and doc["errors"] == {}
            entries = {(e["namespace"], e["isvc"]): e for e in doc["isvcs"]}
            assert {(NS, "hot"), (NS, "calm")} <= set(entries)
            assert all(set(e) == ENTRY_FIELDS for e in doc["isvcs"])
            hot, calm = entries[(NS, "hot")], entries[(NS, "calm")]
            assert (hot["policy"], hot["desired"], hot["reason"], hot["current"]) == (
                "default", 4, "scale-up", 2.0)
            assert hot["pressure"] == pytest.approx(0.95 / 0.8)
            assert hot["signals"]["kv_cache"] == pytest.approx(0.95)
            assert hot["signals"]["replicas"] == 2.0
            assert hot["signals"]["latency_p99"] is None and hot["signals"]["cpu"] is None
            assert (calm["desired"], calm["reason"], calm["active"]) == (2, "hold", True)
            assert hot["age_s"] == doc["age_s"]

            one = serve.status(f"{NS}/calm")
            assert [(e["namespace"], e["isvc"]) for e in one["isvcs"]] == [(NS, "calm")]

            text = serve.http("/metrics")[1]
            assert serve.metric("isvc_scaler_ready") == 1.0
            assert serve.metric("isvc_scaler_config_generation") == 1.0
            assert serve.metric("isvc_scaler_desired_replicas", namespace=NS, isvc="hot") == 4.0
            assert serve.metric("isvc_scaler_pressure", namespace=NS, isvc="calm") == (
                pytest.approx(0.625))
            assert (serve.metric("isvc_scaler_isvcs_tracked") or 0) >= 2
            wait_until(lambda: serve.metric("isvc_scaler_evaluations_total", outcome="ok"),
                       timeout_s=5, what="a live tick")
            assert serve.metric("isvc_scaler_grpc_requests_total", method="GetMetrics",
                                code="UNAVAILABLE") == 1.0
            assert serve.metric("isvc_scaler_grpc_requests_total", method="GetMetrics",
                                code="OK") == 1.0
            age = serve.metric("isvc_scaler_snapshot_age_seconds")
            assert age is not None and math.isfinite(age) and 0 <= age <= 3.0
            assert "process_resident_memory_bytes" in text
            assert serve.http("/nope")[0] == 404
        assert serve.stop() == 0

