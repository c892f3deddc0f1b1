"""`--config-map ns/name`: policy.yaml watched through the API, with the file watcher's
validation and last-good semantics (generation, reload metrics, rejected changes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from scaler.errors import ConfigError
from scaler.kube import KubeOptions, LeaseTiming
from scaler.serving.wiring import Runtime
from tests.fakes import FakeClock

from .apiserver import ApiServer
from .conftest import CONFIG, FAST, wait_for

CM = ("isvc-scaler", "isvc-scaler-policy")


def configmap(text: str | None) -> dict[str, Any]:
    return {"metadata": {"namespace": CM[0], "name": CM[1]},
            "data": {} if text is None else {"policy.yaml": text}}


def cached(rt: Runtime) -> str | None:
    """The policy.yaml the cache holds now (None: no key); waits on content, not on a
    version counter another resource's relist may move."""
    assert rt.kube is not None
    try:
        return rt.kube.cluster.config_text().decode()
    except OSError:
        return None


def load(kubeconfig: Path, **kwargs: Any) -> Runtime:
    options = KubeOptions(kubeconfig=str(kubeconfig), timing=FAST, config_map=CM)
    return Runtime.load(None, clock=FakeClock(), registry=CollectorRegistry(),
                        kube_options=options, kube_args={
                            "identity": "a", "lease": ("isvc-scaler", "leader"),
                            "lease_timing": LeaseTiming(3.0, 2.0, 0.1)}, **kwargs)


def test_policy_from_the_configmap_reloads_and_keeps_the_last_good(
        api: ApiServer, kubeconfig: Path) -> None:
    api.put("configmaps", configmap(CONFIG))
    api.put("configmaps", {"metadata": {"namespace": CM[0], "name": "other"},
                           "data": {"policy.yaml": "interval: 99s"}})
    rt = load(kubeconfig)
    assert rt.kube is not None
    try:
        assert rt.config.interval_s == 15.0 and set(rt.config.policies) == {"default", "batch"}
        assert rt.watcher.generation == 1
        sample = rt.metrics.registry.get_sample_value
        steps = [
            (CONFIG.replace("15s", "30s"), "applied", 30.0, 2),
            ("interval: -1s", "rejected", 30.0, 2),             # invalid: last good stays
            (None, "rejected", 30.0, 2),                         # key removed: same
            (CONFIG.replace("15s", "30s"), "unchanged", 30.0, 2),  # back: errors cleared
            (CONFIG.replace("15s", "20s"), "applied", 20.0, 3),
        ]
        for text, kind, interval_s, generation in steps:
            api.put("configmaps", configmap(text))
            wait_for(lambda t=text: cached(rt) == t, what="the ConfigMap in the cache")
            result = rt.watcher.poll()
            assert result.kind == kind, result.message
            if kind == "applied":
                rt.config = result.config  # type: ignore[assignment]
            assert (rt.config.interval_s, rt.watcher.generation) == (interval_s, generation)
        assert rt.watcher.errors == ()
        assert sample("isvc_scaler_config_generation") == 1.0   # metrics follow reload_once
        rt.reload_once()
        assert rt.engine.config.interval_s == 20.0
        assert next(r.field_selector for r in api.log if r.resource == "configmaps") == (
            "metadata.name=isvc-scaler-policy")
    finally:
        rt.kube.stop()


def test_no_configmap_no_start(api: ApiServer, kubeconfig: Path) -> None:
    with pytest.raises(ConfigError, match="configmap isvc-scaler/isvc-scaler-policy"):
        load(kubeconfig, kube_sync_timeout_s=5.0)
