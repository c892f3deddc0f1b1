"""1,000 ISVCs in the watch: the caches hold small records only and do not grow under churn
(the CPU figures are benchmarks/kube_watch.py's, with the emulator in its own process)."""

from __future__ import annotations

import gc
import tracemalloc

from .apiserver import ApiServer
from .conftest import KubeFactory, deployment, isvc, wait_for

N = 1000
CACHE_FILES = ("scaler/kube/objects.py", "scaler/kube/reflector.py", "scaler/config/model.py")


def cache_bytes() -> int:
    gc.collect()
    stats = tracemalloc.take_snapshot().statistics("filename")
    return sum(s.size for s in stats if s.traceback[0].filename.endswith(CACHE_FILES))


def put_all(api: ApiServer, generation: int) -> None:
    for i in range(N):
        ann = {"isvc-scaler.io/max-replicas": str(8 + generation), "team": "x" * 200}
        api.put("inferenceservices", isvc(f"team-{i % 10}", f"llm-{i:04d}", ann))
        api.put("deployments", deployment(f"team-{i % 10}", f"llm-{i:04d}", spec=4,
                                          ready=1 + generation))


def test_thousand_isvcs_bounded_memory(api: ApiServer, make_kube: KubeFactory) -> None:
    put_all(api, 0)
    kube = make_kube()
    tracemalloc.start()
    try:
        kube.cluster.start()
        wait_for(lambda: kube.cluster.synced("inferenceservices")
                 and kube.cluster.synced("deployments")
                 and len(kube.cluster.isvcs()) == N and len(kube.cluster.deployments()) == N,
                 what="1,000 ISVCs and Deployments cached", timeout_s=120)
        after_sync = cache_bytes()
        assert after_sync < 2_500 * N        # ~1 KB per ISVC measured; foreign annotations
        for generation in (1, 2, 3):           # are not kept
            put_all(api, generation)
            wait_for(lambda g=generation: sum(  # type: ignore[misc]
                d.ready_replicas == 1 + g for d in kube.cluster.deployments().values()) == N
                and sum(i.annotations.get("isvc-scaler.io/max-replicas") == str(8 + g)
                        for i in kube.cluster.isvcs().values()) == N,
                what=f"churn round {generation}", timeout_s=120)
            api.store.compact()
        assert cache_bytes() < after_sync * 1.2
        assert len(kube.overrides(kube._config())) == N
    finally:
        tracemalloc.stop()
