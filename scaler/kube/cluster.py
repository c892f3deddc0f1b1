"""The watched cluster: one Reflector per resource and namespace, read from memory only.

    cluster = Cluster(KubeOptions(namespaces=("team-a",)), metrics=KubeMetrics(registry))
    cluster.start(); cluster.wait_synced(timeout_s=30)
    cluster.isvcs()          # {(ns, name): IsvcInfo}   — a dict copy, no API call
    cluster.deployments()    # {(ns, deployment): DeploymentInfo}

Watched: InferenceServices (serving.kserve.io/v1beta1), Deployments labelled
`serving.kserve.io/inferenceservice`, ScaledObjects (keda.sh/v1alpha1; all of them, so that
a hand-made one with the provisioned name is seen as a conflict), and with `config_map` the
one ConfigMap (fieldSelector metadata.name, which RBAC's resourceNames can restrict).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client, config

from scaler.errors import ConfigError
from scaler.keys import IsvcKey
from scaler.kube.objects import (
    ISVC_LABEL,
    DeploymentInfo,
    IsvcInfo,
    ObjectKey,
    ScaledObjectInfo,
    reduce_configmap_text,
    reduce_deployment,
    reduce_isvc,
    reduce_scaledobject,
)
from scaler.kube.reflector import Reflector
from scaler.kube.telemetry import KubeMetrics
from scaler.kube.timing import WatchTiming

log = logging.getLogger(__name__)

DEFAULT_SCALER_ADDRESS = "isvc-scaler.isvc-scaler.svc:6000"
ISVC = ("serving.kserve.io", "v1beta1", "inferenceservices")
SCALEDOBJECTS = ("keda.sh", "v1alpha1", "scaledobjects")
POLICY_KEY = "policy.yaml"


@dataclass(frozen=True)
class KubeOptions:
    """`scaler serve --kubernetes` settings (DESIGN §8). `namespaces` empty = all."""

    kubeconfig: str | None = None
    namespaces: tuple[str, ...] = ()
    scaler_address: str = DEFAULT_SCALER_ADDRESS
    config_map: tuple[str, str] | None = None
    timing: WatchTiming = field(default_factory=WatchTiming)
    user_agent: str = "isvc-scaler"


def api_client(kubeconfig: str | None, *, user_agent: str = "isvc-scaler") -> client.ApiClient:
    """A client from `kubeconfig`, or the in-cluster service account without one."""
    configuration = client.Configuration()
    try:
        if kubeconfig:
            config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        else:
            config.load_incluster_config(client_configuration=configuration)
    except (config.ConfigException, OSError, ValueError) as e:
        where = f"--kubeconfig {kubeconfig}" if kubeconfig else "in-cluster service account"
        raise ConfigError(f"--kubernetes: cannot use the {where}: {e}") from e
    configuration.retries = False   # the reflectors back off themselves (jittered, bounded)
    api = client.ApiClient(configuration)
    api.user_agent = user_agent
    return api


def parse_config_map(text: str) -> tuple[str, str]:
    """`ns/name` → (ns, name); ValueError otherwise."""
    ns, sep, name = text.partition("/")
    if not sep or not ns or not name or "/" in name:
        raise ValueError(f"--config-map {text!r}: must be NAMESPACE/NAME")
    return ns, name


class Cluster:
    """Reflectors of every watched resource; thread-safe reads of their stores."""

    def __init__(self, options: KubeOptions, *, metrics: KubeMetrics,
                 api: client.ApiClient | None = None) -> None:
        self.options = options
        self.metrics = metrics
        self.api = api or api_client(options.kubeconfig, user_agent=options.user_agent)
        self._changed = threading.Condition()
        self.version = 0
        custom, apps = client.CustomObjectsApi(self.api), client.AppsV1Api(self.api)
        spaces: tuple[str | None, ...] = options.namespaces or (None,)
        self.reflectors: dict[str, list[Reflector]] = {
            "inferenceservices": [self._make("inferenceservices", ns, _custom(custom, ISVC, ns),
                                             reduce_isvc) for ns in spaces],
            "deployments": [self._make("deployments", ns, _deployments(apps, ns),
                                       reduce_deployment) for ns in spaces],
            "scaledobjects": [self._make("scaledobjects", ns,
                                         _custom(custom, SCALEDOBJECTS, ns),
                                         reduce_scaledobject) for ns in spaces],
        }
        if options.config_map is not None:
            cm_ns, cm_name = options.config_map
            lister = functools.partial(client.CoreV1Api(self.api).list_namespaced_config_map,
                                       cm_ns, field_selector=f"metadata.name={cm_name}")
            self.reflectors["configmap"] = [Reflector(
                f"configmap {cm_ns}/{cm_name}", lister, reduce=reduce_configmap_text(POLICY_KEY),
                timing=options.timing, on_change=self._bump,
                on_event=lambda _, e: self._event("configmap", e))]
        for resource in self.reflectors:     # read at scrape time
            metrics.synced.labels(resource).set_function(
                functools.partial(self._synced_gauge, resource))
            metrics.objects.labels(resource).set_function(
                functools.partial(self._objects_gauge, resource))

    def _make(self, resource: str, ns: str | None, lister: Callable[..., Any],
              reduce: Callable[[Mapping[str, Any]], Any]) -> Reflector:
        return Reflector(f"{resource} in {ns or 'all namespaces'}", lister, reduce=reduce,
                         timing=self.options.timing, on_change=self._bump,
                         on_event=lambda _, e: self._event(resource, e))

    def start(self) -> None:
        """Start every reflector's thread."""
        for group in self.reflectors.values():
            for r in group:
                r.start()

    def stop(self) -> None:
        """Stop every reflector (closes the open watches)."""
        for group in self.reflectors.values():
            for r in group:
                r.stop(join_s=0.0)
        for group in self.reflectors.values():
            for r in group:
                r.stop(join_s=2.0)

    def list_once(self) -> None:
        """Fill every cache with one list, no watch (for `scaler explain`)."""
        for group in self.reflectors.values():
            for r in group:
                r.list_once()

    def synced(self, resource: str) -> bool:
        """True when every reflector of `resource` is in sync."""
        return all(r.synced for r in self.reflectors.get(resource, ()))

    def wait_synced(self, timeout_s: float, *, resources: tuple[str, ...] = ()) -> bool:
        """Wait until `resources` (default all) are in sync; False on timeout."""
        names = tuple(n for n in resources if n in self.reflectors) or tuple(self.reflectors)
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not all(self.synced(n) for n in names):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.5))
        return True

    def wait_changed(self, version: int, timeout_s: float) -> int:
        """Wait until `version` moves on (or timeout); returns the current one."""
        with self._changed:
            if self.version == version:
                self._changed.wait(timeout_s)
            return self.version

    def isvcs(self) -> dict[IsvcKey, IsvcInfo]:
        """Every watched InferenceService."""
        return self._merged("inferenceservices")

    def deployments(self) -> dict[ObjectKey, DeploymentInfo]:
        """Every predictor Deployment, by (namespace, Deployment name)."""
        return self._merged("deployments")

    def scaledobjects(self) -> dict[ObjectKey, ScaledObjectInfo]:
        """Every ScaledObject in the watched namespaces."""
        return self._merged("scaledobjects")

    def scaledobject_written(self, obj: Mapping[str, Any]) -> None:
        """Record a ScaledObject the scaler just wrote (before its watch event arrives)."""
        for r in self.reflectors["scaledobjects"]:
            r.upsert(obj)

    def scaledobject_deleted(self, namespace: str, name: str, resource_version: str) -> None:
        """Record a ScaledObject the scaler just deleted (it was at `resource_version`)."""
        for r in self.reflectors["scaledobjects"]:
            r.forget((namespace, name), resource_version)

    def resource_version_of(self, resource: str) -> int:
        """A counter that moves whenever a cache of `resource` changes."""
        return sum(r.version for r in self.reflectors.get(resource, ()))

    def config_text(self) -> bytes:
        """The ConfigMap's policy.yaml; OSError while it is unknown (not synced, absent)."""
        group = self.reflectors.get("configmap")
        if not group:
            raise OSError("no --config-map")
        r = group[0]
        texts = list(r.items().values())
        if not texts:
            why = "not read yet" if not r.synced and r.version == 0 else f"no key {POLICY_KEY}"
            raise OSError(f"{r.name}: {why}")
        return str(texts[0]).encode()

    def status(self) -> dict[str, Any]:
        """Per resource: in sync, objects cached, last error (for /status)."""
        out: dict[str, Any] = {}
        for resource, group in self.reflectors.items():
            out[resource] = {"synced": all(r.synced for r in group),
                             "objects": sum(len(r) for r in group),
                             "errors": [r.last_error for r in group if r.last_error]}
        return out

    def _merged(self, resource: str) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for r in self.reflectors[resource]:
            out.update(r.items())
        return out

    def _synced_gauge(self, resource: str) -> float:
        return 1.0 if self.synced(resource) else 0.0

    def _objects_gauge(self, resource: str) -> float:
        return float(sum(len(r) for r in self.reflectors[resource]))

    def _bump(self) -> None:
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def _event(self, resource: str, event: str) -> None:
        self.metrics.watch_events.labels(resource, event).inc()


def _custom(api: client.CustomObjectsApi, gvr: tuple[str, str, str],
            ns: str | None) -> Callable[..., Any]:
    group, version, plural = gvr
    if ns is None:
        return functools.partial(api.list_cluster_custom_object, group, version, plural)
    return functools.partial(api.list_namespaced_custom_object, group, version, ns, plural)


def _deployments(api: client.AppsV1Api, ns: str | None) -> Callable[..., Any]:
    if ns is None:
        return functools.partial(api.list_deployment_for_all_namespaces,
                                 label_selector=ISVC_LABEL)
    return functools.partial(api.list_namespaced_deployment, ns, label_selector=ISVC_LABEL)
