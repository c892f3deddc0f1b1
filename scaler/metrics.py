"""The scaler's own Prometheus metrics, all on one injectable CollectorRegistry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class ScalerMetrics:
    """Every metric the scaler exports (prefix `isvc_scaler_`); pass a registry in tests."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        p = "isvc_scaler_"
        self.evaluation_duration = Histogram(
            p + "evaluation_duration_seconds", "Duration of one engine tick (query + policy).",
            registry=r, buckets=_LATENCY_BUCKETS)
        self.evaluations = Counter(
            p + "evaluations_total", "Engine ticks by outcome (ok, partial, failed, skipped).",
            ["outcome"], registry=r)
        self.query_duration = Histogram(
            p + "query_duration_seconds", "Duration of one Prometheus signal query.",
            ["signal"], registry=r, buckets=_LATENCY_BUCKETS)
        self.query_errors = Counter(
            p + "query_errors_total", "Failed Prometheus signal queries by cause.",
            ["signal", "cause"], registry=r)
        self.queries = Counter(
            p + "queries_total", "Prometheus queries issued.", ["signal"], registry=r)
        self.isvcs_tracked = Gauge(
            p + "isvcs_tracked", "ISVCs in the latest snapshot.", registry=r)
        self.snapshot_age = Gauge(
            p + "snapshot_age_seconds", "Age of the latest snapshot at scrape time.", registry=r)
        self.snapshot_timestamp = Gauge(
            p + "snapshot_timestamp_seconds", "Tick time of the latest snapshot.", registry=r)
        self.decisions = Counter(
            p + "decisions_total", "Per-ISVC decisions by reason.", ["reason"], registry=r)
        self.config_generation = Gauge(
            p + "config_generation", "Generation of the config in force (1 = first load).",
            registry=r)
        self.config_reload_errors = Counter(
            p + "config_reload_errors_total", "Rejected config reloads.", registry=r)
        self.config_reloads = Counter(
            p + "config_reloads_total", "Applied config reloads.", registry=r)
        self.grpc_requests = Counter(
            p + "grpc_requests_total", "gRPC requests by method and status code.",
            ["method", "code"], registry=r)
        self.grpc_duration = Histogram(
            p + "grpc_request_duration_seconds", "gRPC unary handling time.", ["method"],
            registry=r, buckets=_LATENCY_BUCKETS)
        self.grpc_streams = Gauge(
            p + "grpc_open_streams", "Open StreamIsActive/StreamMetricSpec streams.", registry=r)
        self.ready = Gauge(p + "ready", "1 when serving decisions (warm start done).", registry=r)


class SnapshotGauges(Collector):
    """Per-ISVC `isvc_scaler_desired_replicas` and `isvc_scaler_pressure` (NaN if no data),
    read from the served snapshot at scrape time: no per-tick cost for thousands of label
    sets, and an ISVC that leaves the snapshot leaves the metrics with it."""

    def __init__(self, snapshot: Callable[[], Any]) -> None:
        self._snapshot = snapshot

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The two families, empty (lets the registry refuse a second registration)."""
        return iter(_families())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        desired, pressure = _families()
        snap = self._snapshot()
        for key, entry in (snap.entries.items() if snap is not None else ()):
            desired.add_metric(key, entry.desired)
            pressure.add_metric(key, entry.pressure)
        yield desired
        yield pressure


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    labels = ["namespace", "isvc"]
    return (GaugeMetricFamily("isvc_scaler_desired_replicas", "Desired replicas per ISVC.",
                              labels=labels),
            GaugeMetricFamily("isvc_scaler_pressure",
                              "Pressure (max signal/target) per ISVC; NaN if no data.",
                              labels=labels))
