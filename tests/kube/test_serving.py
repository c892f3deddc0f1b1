"""`scaler serve --kubernetes` in-process (scaler.serving.Runtime) on the emulated API server
and a scripted signal source, ticks driven by hand on an injected clock: annotations and
Deployments reach the decisions at the next tick, a bad annotation is reported, the API
going away for a minute leaves serving on Prometheus values, and the caches resync."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from scaler.kube import KubeOptions, LeaseTiming
from scaler.serving.wiring import Runtime
from tests.engine.fakes import FakeSource
from tests.fakes import T0, FakeClock

from .apiserver import ApiServer
from .conftest import CONFIG, FAST, deployment, isvc, wait_for

KEY = ("team-a", "llama")
MAX = "isvc-scaler.io/max-replicas"


@pytest.fixture
def runtime(api: ApiServer, kubeconfig: Path, tmp_path: Path) -> Iterator[Runtime]:
    path = tmp_path / "policy.yaml"
    path.write_text(CONFIG)
    clock = FakeClock()
    source = FakeSource(clock, lambda t: {KEY: {"kv_cache": 1.6, "replicas": 2.0}})
    options = KubeOptions(kubeconfig=str(kubeconfig), timing=FAST,
                          scaler_address="isvc-scaler.isvc-scaler.svc:6000")
    rt = Runtime.load(path, clock=clock, registry=CollectorRegistry(), kube_options=options,
                      kube_args={"identity": "a", "lease": ("isvc-scaler", "leader"),
                                 "lease_timing": LeaseTiming(3.0, 2.0, 0.1)},
                      kube_sync_timeout_s=30.0, source=source)
    rt.clock = clock  # type: ignore[attr-defined]
    yield rt
    assert rt.kube is not None
    rt.kube.stop()


async def tick(rt: Runtime, n: int) -> Any:
    """The reload poll the serve loop makes every second, then tick n (15 s apart)."""
    rt.reload_once()
    rt.clock.now_s = T0 + 15.0 * n + 2.0  # type: ignore[attr-defined]
    snap = await rt.engine.tick(T0 + 15.0 * n)
    assert snap is not None
    return snap.entries[KEY]


def annotate(api: ApiServer, rt: Runtime, annotations: dict[str, str]) -> None:
    """Change the ISVC and wait until the watch has delivered it."""
    assert rt.kube is not None
    api.put("inferenceservices", isvc(*KEY, annotations))
    kube = rt.kube

    def seen() -> bool:
        info = kube.cluster.isvcs().get(KEY)
        return info is not None and dict(info.annotations) == annotations

    wait_for(seen, what="the annotation in the cache")


async def test_annotation_added_changed_removed_decides_at_the_next_tick(
        api: ApiServer, runtime: Runtime) -> None:
    annotate(api, runtime, {})
    assert (await tick(runtime, 0)).desired == 4          # kv 1.6/0.8 = 2 → panic 2→4
    annotate(api, runtime, {MAX: "2"})
    entry = await tick(runtime, 1)
    assert (entry.desired, entry.reason) == (2, "clamped-max")
    annotate(api, runtime, {MAX: "3", "isvc-scaler.io/policy": "batch"})
    entry = await tick(runtime, 2)
    assert (entry.policy, entry.desired) == ("batch", 3)
    annotate(api, runtime, {})
    entry = await tick(runtime, 3)
    assert (entry.policy, entry.desired) == ("default", 4)


async def test_bad_annotation_is_logged_once_counted_and_shown(
        api: ApiServer, runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    message = f'{MAX} = "abc" on team-a/llama: must be an integer'
    with caplog.at_level(logging.ERROR, logger="scaler.kube"):
        annotate(api, runtime, {MAX: "abc", "isvc-scaler.io/min-replicas": "8"})
        for n in range(3):
            entry = await tick(runtime, n)
    assert entry.desired == 8                               # the valid key still applies
    assert caplog.text.count(message) == 1
    sample = runtime.metrics.registry.get_sample_value
    assert sample("isvc_scaler_kube_annotation_errors_seen_total") == 1.0
    assert sample("isvc_scaler_kube_annotation_errors") == 1.0
    await runtime.start(grpc_address="127.0.0.1:0", http_host="127.0.0.1", http_port=0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{runtime.http_port}/status") as r:
            doc = json.load(r)
    finally:
        await runtime.shutdown(grace_s=0.1)
    kube = doc["kubernetes"]
    assert kube["annotation_errors"] == [message]
    assert kube["caches"]["inferenceservices"]["synced"] is True


async def test_deployment_replicas_replace_the_prometheus_values(
        api: ApiServer, runtime: Runtime) -> None:
    assert runtime.kube is not None
    annotate(api, runtime, {})
    entry = await tick(runtime, 0)
    assert entry.current == 2.0                             # Prometheus: no Deployment known
    for n, (spec, ready) in enumerate([(4, 1), (4, 4), (2, 4)], start=1):
        api.put("deployments", deployment(*KEY, spec=spec, ready=ready))
        wait_for(lambda s=spec, r=ready: any(  # type: ignore[misc]
            (d.spec_replicas, d.ready_replicas) == (s, r)
            for d in runtime.kube.cluster.deployments().values()), what="the Deployment")
        entry = await tick(runtime, n)
        assert (entry.signals["spec_replicas"], entry.signals["replicas"]) == (spec, ready)
        assert entry.current == ready


async def test_api_down_for_a_minute_serving_continues_and_caches_resync(
        api: ApiServer, runtime: Runtime) -> None:
    assert runtime.kube is not None
    kube = runtime.kube
    annotate(api, runtime, {MAX: "2"})
    api.put("deployments", deployment(*KEY, spec=3, ready=3))
    wait_for(lambda: kube.cluster.deployments(), what="the Deployment")
    entry = await tick(runtime, 0)
    assert (entry.current, entry.desired) == (3.0, 2)
    api.stop()
    wait_for(lambda: not kube.cluster.synced("deployments"), what="the outage noticed")
    for n in range(1, 5):                                   # a minute of 15 s ticks
        entry = await tick(runtime, n)
        assert entry.current == 2.0                         # Prometheus, the fallback
        assert entry.desired == 2                           # annotations: last good cache
        assert not runtime.store.is_stale()
    assert kube.status()["caches"]["deployments"]["synced"] is False
    synced = runtime.metrics.registry.get_sample_value
    assert synced("isvc_scaler_kube_synced", {"resource": "deployments"}) == 0.0
    api.put("deployments", deployment(*KEY, spec=4, ready=4))     # changed while down
    api.put("inferenceservices", isvc(*KEY, {MAX: "16"}))
    api.store.compact()                                     # and the history expired
    api.resume()
    wait_for(lambda: kube.cluster.synced("deployments") and kube.cluster.synced(
        "inferenceservices") and kube.cluster.isvcs()[KEY].annotations.get(MAX) == "16",
        what="caches resynced")
    assert synced("isvc_scaler_kube_synced", {"resource": "deployments"}) == 1.0
    assert (synced("isvc_scaler_kube_watch_events_total",
                   {"resource": "deployments", "event": "relist"}) or 0) >= 1
    entry = await tick(runtime, 5)
    assert (entry.current, entry.desired) == (4.0, 8)       # kv pressure 2 → panic 4→8
