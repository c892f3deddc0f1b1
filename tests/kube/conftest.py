"""Fixtures of the Kubernetes tests: the emulated API server (tests/kube/apiserver.py), a
kubeconfig for the real client, object builders and an event wait with generous deadlines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from scaler.config import Config, parse_config
from scaler.kube import KubeOptions, Kubernetes, LeaseTiming, WatchTiming
from tests.e2e.harness import wait_until

from .apiserver import ApiServer

DEADLINE_S = 30.0
"""Waits for watch events: generous (a loaded 2-core box), never a fixed sleep."""

FAST = WatchTiming(watch_timeout_s=5, connect_timeout_s=2.0, read_slack_s=5.0, page_size=50,
                   backoff_base_s=0.02, backoff_cap_s=0.3)
"""Short server-side watch timeouts and back-off, so that outages resolve in tests fast."""

CONFIG = """\
interval: 15s
policies:
  default: {targets: {kv_cache: 0.8}, scale_down_window: 0s}
  batch: {targets: {kv_cache: 0.9}, max_replicas: 8, scale_down_window: 0s}
"""


def wait_for(predicate: Callable[[], Any], *, timeout_s: float = DEADLINE_S,
             what: str = "condition") -> Any:
    """Poll `predicate` until truthy (returned) or fail after `timeout_s` (the e2e harness's
    wait_until, failing the test instead of raising)."""
    try:
        return wait_until(predicate, timeout_s=timeout_s, what=what, poll_s=0.01)
    except TimeoutError as e:
        pytest.fail(f"timed out: {e}")


def isvc(ns: str, name: str, annotations: dict[str, str] | None = None, *,
         external: bool = False, scaledobject: bool = False) -> dict[str, Any]:
    ann = dict(annotations or {})
    if external:
        ann["serving.kserve.io/autoscalerClass"] = "external"
    if scaledobject:
        ann["isvc-scaler.io/scaledobject"] = "true"
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"namespace": ns, "name": name, "annotations": ann},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "vllm"}}}}}


def deployment(ns: str, isvc_name: str, *, spec: int | None, ready: int | None,
               name: str | None = None, component: str = "predictor") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"namespace": ns, "name": name or f"{isvc_name}-predictor",
                     "labels": {"serving.kserve.io/inferenceservice": isvc_name,
                                "component": component}},
        "spec": {} if spec is None else {"replicas": spec}, "status": {}}
    if ready is not None:
        obj["status"]["readyReplicas"] = ready
    return obj


@pytest.fixture
def api() -> Iterator[ApiServer]:
    with ApiServer(bookmark_interval_s=0.2) as server:
        yield server


@pytest.fixture
def kubeconfig(api: ApiServer, tmp_path: Path) -> Path:
    return api.kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def config() -> Config:
    return parse_config(CONFIG)


KubeFactory = Callable[..., Kubernetes]


@pytest.fixture
def make_kube(kubeconfig: Path, config: Config) -> Iterator[KubeFactory]:
    """make_kube(identity=..., namespaces=(...), config_map=..., clock=...) → a Kubernetes
    (not started) on the emulated server; every one made is stopped at the end."""
    made: list[Kubernetes] = []

    def make(*, identity: str = "replica-a", namespaces: tuple[str, ...] = (),
             config_map: tuple[str, str] | None = None,
             current: Callable[[], Config] | None = None,
             registry: CollectorRegistry | None = None, **kwargs: Any) -> Kubernetes:
        options = KubeOptions(kubeconfig=str(kubeconfig), namespaces=namespaces,
                              scaler_address="isvc-scaler.isvc-scaler.svc:6000",
                              config_map=config_map, timing=FAST,
                              user_agent=f"isvc-scaler/{identity}")
        kube = Kubernetes(options, registry=registry or CollectorRegistry(),
                          config=current or (lambda: config), identity=identity,
                          lease=("isvc-scaler", "isvc-scaler-leader"),
                          lease_timing=kwargs.pop("lease_timing", LeaseTiming(3.0, 2.0, 0.1)),
                          **kwargs)
        made.append(kube)
        return kube

    yield make
    for kube in made:
        kube.stop()
