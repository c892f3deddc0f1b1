"""The ScaledObject writer: every retry period, elect, plan (scaler.kube.plan), and — only on
the replica holding the Lease, only from caches in sync — make the writes.

Every replica plans (so each reports the same problems on /status); one writes. A write's
result goes into the cache at once, so the next round does not repeat it before its watch
event arrives; a 409 (someone else wrote first) or 404 is left to the watch to settle.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes.client import CustomObjectsApi, V1DeleteOptions, V1Preconditions
from kubernetes.client.exceptions import ApiException

from scaler.config.model import PolicySpec
from scaler.keys import IsvcKey
from scaler.kube.cluster import SCALEDOBJECTS, Cluster
from scaler.kube.leader import LeaseElector
from scaler.kube.plan import Action, Plan, Problem, plan
from scaler.kube.telemetry import KubeMetrics

log = logging.getLogger(__name__)
_DONE = {"create": "created", "patch": "updated", "delete": "deleted"}


class Provisioner:
    """Owns the LeaseElector and the ScaledObject writes."""

    def __init__(self, cluster: Cluster, elector: LeaseElector, *,
                 policy: Callable[[IsvcKey], PolicySpec], scaler_address: str,
                 metrics: KubeMetrics) -> None:
        self.cluster = cluster
        self.elector = elector
        self._policy = policy
        self._address = scaler_address
        self._metrics = metrics
        self._api = CustomObjectsApi(cluster.api)
        self.problems: tuple[Problem, ...] = ()
        self._reported: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def is_leader(self) -> bool:
        """True while this replica may write."""
        return self.elector.is_leader

    def step(self, *, elect: bool = True) -> Plan | None:
        """One round: renew or acquire the Lease (if `elect`), plan, write if leading. None
        when the caches are not in sync (nothing is planned from a partial view)."""
        if elect:
            self._metrics.leader.set(1 if self.elector.step() else 0)
        if not (self.cluster.synced("inferenceservices") and self.cluster.synced("scaledobjects")):
            return None
        result = plan(self.cluster.isvcs(), self.cluster.scaledobjects(), policy=self._policy,
                      scaler_address=self._address)
        self._report(result.problems)
        for action in result.actions:
            if not self.elector.is_leader:
                break
            self._write(action)
        return result

    def start(self) -> None:
        """Run `step()` every retry period on a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="scaledobjects", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and hand the Lease over."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.elector.release()
        self._metrics.leader.set(0)

    def _run(self) -> None:
        """Elect every retry period; plan then and whenever a cache changes (batched: at
        most one round per 50 ms)."""
        period = self.elector.timing.retry_period_s
        version, elected_s = -1, -period
        while not self._stop.is_set():
            now = time.monotonic()
            elect = now - elected_s >= period
            elected_s = now if elect else elected_s
            try:
                self.step(elect=elect)
            except Exception:
                log.exception("kube: ScaledObject round failed")
            version = self.cluster.wait_changed(version, max(0.0, elected_s + period - now))
            self._stop.wait(0.05)

    def _write(self, action: Action) -> None:
        group, version, plural = SCALEDOBJECTS
        ns, name = action.namespace, action.name
        try:
            result: Any
            if action.verb == "create":
                result = self._api.create_namespaced_custom_object(
                    group, version, ns, plural, dict(action.body))
                self.cluster.scaledobject_written(result)
            elif action.verb == "patch":
                result = self._api.patch_namespaced_custom_object(
                    group, version, ns, plural, name, dict(action.body))
                self.cluster.scaledobject_written(result)
            else:
                pre = action.body["preconditions"]
                self._api.delete_namespaced_custom_object(
                    group, version, ns, plural, name, body=V1DeleteOptions(
                        preconditions=V1Preconditions(uid=pre["uid"],
                                                      resource_version=pre["resourceVersion"])))
                self.cluster.scaledobject_deleted(ns, name, pre["resourceVersion"])
            outcome = "ok"
            log.info("kube: ScaledObject %s/%s %s", ns, name, _DONE[action.verb])
        except ApiException as e:
            outcome = {409: "conflict", 404: "not-found"}.get(e.status or 0, "error")
            log.log(logging.INFO if outcome != "error" else logging.WARNING,
                    "kube: ScaledObject %s/%s: %s failed: HTTP %s %s", ns, name, action.verb,
                    e.status, e.reason)
        except Exception as e:
            outcome = "error"
            log.warning("kube: ScaledObject %s/%s: %s failed: %s", ns, name, action.verb, e)
        self._metrics.scaledobject_writes.labels(action.verb, outcome).inc()

    def _report(self, problems: tuple[Problem, ...]) -> None:
        self.problems = problems
        for kind in ("autoscaler-class", "conflict"):
            self._metrics.scaledobject_problems.labels(kind).set(
                sum(1 for p in problems if p.kind == kind))
        messages = {p.message for p in problems}
        for message in sorted(messages - self._reported):
            log.error("kube: %s", message)
        self._reported = messages
