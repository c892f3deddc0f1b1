"""What `scaler serve --kubernetes` adds, behind three narrow seams:

* `overlay(frame)` — the Engine's frame overlay: ready / requested replicas from the
  predictor Deployments replace the Prometheus values while that cache is in sync;
* `effective(config)` — the config with the annotation overrides folded in
  (scaler.config.with_annotations), handed to `Engine.set_config` when either changes;
* `status()` — the `kubernetes` object of /status (caches, annotation errors, ScaledObject
  problems, leadership).
Plus `config_text()` for `--config-map`. Nothing here calls the API per evaluation: every
read is from the caches that the watch threads keep.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes.client import CoordinationV1Api
from prometheus_client import CollectorRegistry

from scaler.config import Config, PolicySpec, resolve_policy, with_annotations
from scaler.keys import IsvcKey
from scaler.kube.annotations import PREFIX, AnnotationError, Overrides, parse_annotations
from scaler.kube.cluster import Cluster, KubeOptions
from scaler.kube.leader import LeaseElector, LeaseTiming
from scaler.kube.overlay import overlay_replicas, replica_counts
from scaler.kube.provision import Provisioner
from scaler.kube.telemetry import KubeMetrics
from scaler.signals.frames import SignalFrame

log = logging.getLogger(__name__)

LEASE_NAME = "isvc-scaler-leader"


def default_identity() -> str:
    """The pod name (HOSTNAME) plus the process id: unique per replica."""
    return f"{os.environ.get('HOSTNAME') or socket.gethostname()}_{os.getpid()}"


def lease_namespace() -> str:
    """The scaler's own namespace (the service account's), `isvc-scaler` outside a pod."""
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip() or "isvc-scaler"
    except OSError:
        return os.environ.get("POD_NAMESPACE", "isvc-scaler")


class Kubernetes:
    """The watched cluster, the annotation overrides and the ScaledObject writer."""

    def __init__(self, options: KubeOptions, *, registry: CollectorRegistry,
                 config: Callable[[], Config], api: Any = None, identity: str | None = None,
                 lease: tuple[str, str] | None = None, lease_timing: LeaseTiming | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.options = options
        self.metrics = KubeMetrics(registry)
        self.cluster = Cluster(options, metrics=self.metrics, api=api)
        self._config = config
        self._lock = threading.Lock()
        self._memo: tuple[Config, int, dict[IsvcKey, Overrides]] | None = None
        self._effective: tuple[dict[IsvcKey, Overrides], Config] | None = None
        self._logged: set[str] = set()
        lease_ns, lease_name = lease or (lease_namespace(), LEASE_NAME)
        elector = LeaseElector(CoordinationV1Api(self.cluster.api), namespace=lease_ns,
                               name=lease_name, identity=identity or default_identity(),
                               timing=lease_timing or LeaseTiming(), clock=clock, wall=wall)
        self.provisioner = Provisioner(self.cluster, elector, policy=self._policy,
                                       scaler_address=options.scaler_address,
                                       metrics=self.metrics)

    def start(self, *, provision: bool = True) -> None:
        """Start the watches (and the ScaledObject writer)."""
        self.cluster.start()
        if provision:
            self.provisioner.start()

    def stop(self) -> None:
        """Stop writing (hand the Lease over), then stop the watches."""
        self.provisioner.stop()
        self.cluster.stop()

    @property
    def version(self) -> int:
        """Moves whenever a cache changes (poll it to know when to call `effective` again)."""
        return self.cluster.version

    def overlay(self, frame: SignalFrame) -> SignalFrame:
        """The frame with replicas from the Deployments cache (unchanged while out of sync)."""
        if not self.cluster.synced("deployments"):
            return frame
        return overlay_replicas(frame, replica_counts(self.cluster.deployments()))

    def overrides(self, config: Config) -> dict[IsvcKey, Overrides]:
        """Validated annotation overrides per annotated ISVC, against `config`'s policies
        (re-parsed only when the config or an InferenceService changes). New errors are
        logged once and counted."""
        version = self.cluster.resource_version_of("inferenceservices")
        with self._lock:
            memo = self._memo
            if memo is not None and memo[0] is config and memo[1] == version:
                return memo[2]
            result = {key: parse_annotations(key, info.annotations, policies=config.policies,
                                             pinned=config.isvcs.get(f"{key[0]}/{key[1]}"))
                      for key, info in self.cluster.isvcs().items()
                      if any(a.startswith(PREFIX) for a in info.annotations)}
            self._memo = (config, version, result)
            self._note_errors([e for o in result.values() for e in o.errors])
        return result

    def effective(self, config: Config) -> Config:
        """`config` with the ISVCs' annotation overrides (precedence: DESIGN §8); the same
        object until the config or an InferenceService changes."""
        found = self.overrides(config)
        with self._lock:
            if self._effective is not None and self._effective[0] is found:
                return self._effective[1]
        result = with_annotations(config, {k: o.fields for k, o in found.items() if o.fields})
        with self._lock:
            self._effective = (found, result)
        return result

    def annotation_errors(self, config: Config) -> list[AnnotationError]:
        """Every rejected annotation in force, sorted by ISVC."""
        found = self.overrides(config)
        return [e for key in sorted(found) for e in found[key].errors]

    def config_text(self) -> bytes:
        """policy.yaml from the `--config-map` (OSError while unknown)."""
        return self.cluster.config_text()

    def status(self) -> dict[str, Any]:
        """The `kubernetes` object of /status."""
        config = self._config()
        return {
            "caches": self.cluster.status(),
            "leader": self.provisioner.is_leader,
            "identity": self.provisioner.elector.identity,
            "lease_holder": self.provisioner.elector.holder,
            "annotation_errors": [e.message for e in self.annotation_errors(config)],
            "scaledobject_problems": [
                {"isvc": f"{p.key[0]}/{p.key[1]}", "problem": p.kind, "message": p.message}
                for p in self.provisioner.problems],
        }

    def _policy(self, key: IsvcKey) -> PolicySpec:
        return resolve_policy(self.effective(self._config()), key)

    def _note_errors(self, errors: list[AnnotationError]) -> None:
        messages = {e.message for e in errors}
        for message in sorted(messages - self._logged):
            log.error("kube: annotation rejected: %s", message)
            self.metrics.annotation_errors_seen.inc()
        self._logged = messages
        self.metrics.annotation_errors.set(len(messages))

