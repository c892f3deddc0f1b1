"""The scaler's own Prometheus metrics, all on one injectable CollectorRegistry."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
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
        self.stale_after = Gauge(
            p + "stale_after_seconds",
            "Snapshot age beyond which gRPC answers UNAVAILABLE (config stale_after).", registry=r)


@dataclass(frozen=True)
class IsvcExtras:
    """Per-ISVC values that are not in the snapshot entries, row i for `keys[i]`: the resolved
    max_replicas and targets (columns `target_signals`, NaN = none) and how often desired went
    up / down from one tick to the next since the ISVC appeared (scale events)."""

    keys: tuple[tuple[str, str], ...]
    max_replicas: np.ndarray
    target_signals: tuple[str, ...]
    targets: np.ndarray
    scale_up: np.ndarray
    scale_down: np.ndarray


class SnapshotGauges(Collector):
    """Per-ISVC series read at scrape time from the served snapshot (and IsvcExtras): no
    per-tick cost for thousands of label sets, and an ISVC that leaves the snapshot leaves the
    metrics with it. All carry `namespace` and `isvc`:
    `isvc_scaler_desired_replicas`, `isvc_scaler_pressure` (NaN if no data),
    `isvc_scaler_current_replicas` (ready replicas the policy used; NaN unknown),
    `isvc_scaler_reason{reason}` (1 for the ISVC's reason at the latest tick),
    `isvc_scaler_signal{signal}` (each finite signal value), and from IsvcExtras
    `isvc_scaler_max_replicas`, `isvc_scaler_target{signal}`,
    `isvc_scaler_scale_events_total{direction="up"|"down"}` (flapping alerts)."""

    def __init__(self, snapshot: Callable[[], Any],
                 extras: Callable[[], IsvcExtras | None] = lambda: None) -> None:
        self._snapshot = snapshot
        self._extras = extras

    def describe(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """The families, empty (lets the registry refuse a second registration)."""
        return iter(_families().values())

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        f = _families()
        snap = self._snapshot()
        for key, entry in (snap.entries.items() if snap is not None else ()):
            f["desired"].add_metric(key, entry.desired)
            f["pressure"].add_metric(key, entry.pressure)
            f["current"].add_metric(key, entry.current)
            f["reason"].add_metric((*key, entry.reason), 1.0)
            for name, value in entry.signals.items():
                if math.isfinite(value):
                    f["signal"].add_metric((*key, name), value)
        extras = self._extras()
        if extras is not None:
            _add_extras(f, extras)
        yield from f.values()


def _add_extras(f: dict[str, Any], x: IsvcExtras) -> None:
    targets = x.targets.tolist()
    for key, top, row, up, down in zip(x.keys, x.max_replicas.tolist(), targets,
                                       x.scale_up.tolist(), x.scale_down.tolist(), strict=True):
        f["max"].add_metric(key, top)
        for name, t in zip(x.target_signals, row, strict=True):
            if math.isfinite(t):
                f["target"].add_metric((*key, name), t)
        f["events"].add_metric((*key, "up"), up)
        f["events"].add_metric((*key, "down"), down)


def _families() -> dict[str, Any]:
    k = ["namespace", "isvc"]
    p = "isvc_scaler_"
    return {
        "desired": GaugeMetricFamily(p + "desired_replicas", "Desired replicas per ISVC.",
                                     labels=k),
        "pressure": GaugeMetricFamily(p + "pressure",
                                      "Pressure (max signal/target) per ISVC; NaN if no data.",
                                      labels=k),
        "current": GaugeMetricFamily(p + "current_replicas",
                                     "Ready replicas the policy used per ISVC; NaN if unknown.",
                                     labels=k),
        "reason": GaugeMetricFamily(p + "reason", "1 for the reason of the ISVC's decision.",
                                    labels=[*k, "reason"]),
        "signal": GaugeMetricFamily(p + "signal", "Signal value per ISVC (finite values only).",
                                    labels=[*k, "signal"]),
        "max": GaugeMetricFamily(p + "max_replicas", "Resolved max_replicas per ISVC.", labels=k),
        "target": GaugeMetricFamily(p + "target", "Resolved target per ISVC and signal.",
                                    labels=[*k, "signal"]),
        "events": CounterMetricFamily(p + "scale_events",
                                      "Ticks at which desired went up / down, per ISVC.",
                                      labels=[*k, "direction"]),
    }
