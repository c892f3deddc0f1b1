"""The Kubernetes part's own metrics (prefix `isvc_scaler_kube_`), on the scaler's registry.

Registered only with `--kubernetes`, so a scaler without it exports exactly what it did.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class KubeMetrics:
    """Caches, annotation errors, ScaledObject provisioning and leadership."""

    def __init__(self, registry: CollectorRegistry) -> None:
        p, r = "isvc_scaler_kube_", registry
        self.synced = Gauge(p + "synced", "1 while every watch of a resource is in sync.",
                            ["resource"], registry=r)
        self.objects = Gauge(p + "objects", "Objects in the cache of a resource.",
                             ["resource"], registry=r)
        self.watch_events = Counter(
            p + "watch_events_total", "Watch lifecycle events (synced, unsynced, error, relist).",
            ["resource", "event"], registry=r)
        self.annotation_errors = Gauge(
            p + "annotation_errors", "Rejected InferenceService annotations now in force.",
            registry=r)
        self.annotation_errors_seen = Counter(
            p + "annotation_errors_seen_total",
            "Rejected InferenceService annotations, each counted once when first seen.",
            registry=r)
        self.scaledobject_problems = Gauge(
            p + "scaledobject_problems",
            "Annotated ISVCs without a provisioned ScaledObject, by problem "
            "(autoscaler-class, conflict).", ["problem"], registry=r)
        self.scaledobject_writes = Counter(
            p + "scaledobject_writes_total", "ScaledObject writes by verb and outcome.",
            ["verb", "outcome"], registry=r)
        self.leader = Gauge(p + "leader", "1 while this replica holds the Lease and writes "
                            "ScaledObjects.", registry=r)
        for problem in ("autoscaler-class", "conflict"):
            self.scaledobject_problems.labels(problem).set(0)
