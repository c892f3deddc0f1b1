"""Benchmark `--kubernetes` with 1,000 InferenceServices (+ their predictor Deployments and,
for a tenth, provisioned ScaledObjects) in the watch: initial sync, cache memory, CPU per
watch event under churn, RSS over repeated churn rounds (bounded?), and the per-tick cost of
the two seams (frame overlay, effective config).

The emulated API server (scaler.devtools.kubeapi) runs in a child process, so the figures
are the scaler's alone; the scaler side is the real code on the real kubernetes client.

    .venv/bin/python benchmarks/kube_watch.py [--isvcs 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import resource
import sys
import tempfile
import time
import tracemalloc
from multiprocessing.connection import Connection
from pathlib import Path

from prometheus_client import CollectorRegistry

from scaler.config import parse_config
from scaler.config.queries import SIGNAL_NAMES
from scaler.devtools.kubeapi import ApiServer
from scaler.kube import KubeOptions, Kubernetes, LeaseTiming, WatchTiming
from scaler.signals.frames import SignalFrame

CACHE_FILES = ("scaler/kube/objects.py", "scaler/kube/reflector.py", "scaler/config/model.py")
"""Where the cached records are allocated (reducers, stores, FrozenMap)."""

CONFIG = parse_config("policies:\n  default: {targets: {kv_cache: 0.8}}\n"
                      "  batch: {targets: {kv_cache: 0.9}}\n")


def isvc(i: int, generation: int) -> dict:
    ann = {"isvc-scaler.io/max-replicas": str(8 + generation % 8),
           "isvc-scaler.io/scale-down-window": "10m", "isvc-scaler.io/policy": "batch"}
    if i % 10 == 0:
        ann |= {"isvc-scaler.io/scaledobject": "true",
                "serving.kserve.io/autoscalerClass": "external"}
    return {"metadata": {"namespace": f"team-{i % 10}", "name": f"llm-{i:04d}",
                         "annotations": ann, "labels": {"app": "llm"}},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "vllm"},
                                             "args": ["--max-model-len=8192"] * 4}}}}


def deployment(i: int, ready: int) -> dict:
    name = f"llm-{i:04d}"
    return {"metadata": {"namespace": f"team-{i % 10}", "name": f"{name}-predictor",
                         "labels": {"serving.kserve.io/inferenceservice": name,
                                    "component": "predictor"}},
            "spec": {"replicas": 4, "template": {"spec": {"containers": [
                {"name": "kserve-container", "image": "vllm/vllm-openai:v0.9.0",
                 "args": ["--port=8080"] * 10}]}}},
            "status": {"readyReplicas": ready, "replicas": 4}}


def serve(n: int, conn: Connection) -> None:
    """Child: the emulated API server with n ISVCs; `churn` rounds on request."""
    api = ApiServer(bookmark_interval_s=5.0)
    for i in range(n):
        api.put("inferenceservices", isvc(i, 0))
        api.put("deployments", deployment(i, 1))
    api.start()
    conn.send(api.port)
    generation = 0
    while True:
        command = conn.recv()
        if command == "stop":
            api.stop()
            return
        generation += 1
        api.store.compact()             # the last round's events (delivered): history bounded
        for i in range(n):              # every Deployment's status, every ISVC's annotation
            api.put("deployments", deployment(i, 1 + generation % 4))
            api.put("inferenceservices", isvc(i, generation))
        conn.send(api.store.rv)


def caught_up(kube: Kubernetes, n: int, generation: int) -> bool:
    """Every Deployment and ISVC of the last round seen by the caches."""
    ready = 1 + generation % 4
    want = str(8 + generation % 8)
    deployments = kube.cluster.deployments().values()
    isvcs = kube.cluster.isvcs().values()
    return (sum(d.ready_replicas == ready for d in deployments) == n
            and sum(i.annotations.get("isvc-scaler.io/max-replicas") == want
                    for i in isvcs) == n)


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--isvcs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.isvcs
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=serve, args=(n, child), daemon=True)
    proc.start()
    port = parent.recv()
    kubeconfig = Path(tempfile.mkdtemp()) / "kubeconfig"
    probe = ApiServer()
    probe.port = port
    probe.kubeconfig(kubeconfig)
    gc.collect()
    rss0, cpu0 = rss_mib(), cpu_s()
    tracemalloc.start()
    kube = Kubernetes(KubeOptions(kubeconfig=str(kubeconfig), timing=WatchTiming(page_size=500)),
                      registry=CollectorRegistry(), config=lambda: CONFIG,
                      lease=("isvc-scaler", "leader"), lease_timing=LeaseTiming(15, 10, 2))
    t0 = time.perf_counter()
    kube.start()
    assert kube.cluster.wait_synced(120), "initial sync"
    sync_s = time.perf_counter() - t0
    deadline = time.monotonic() + 120
    while len(kube.cluster.scaledobjects()) < n // 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    gc.collect()
    traced, _ = tracemalloc.get_traced_memory()
    cache_bytes = sum(s.size for s in tracemalloc.take_snapshot().statistics("filename")
                      if s.traceback[0].filename.endswith(CACHE_FILES))
    tracemalloc.stop()
    print(f"ISVCs {n}, Deployments {n}, ScaledObjects provisioned "
          f"{len(kube.cluster.scaledobjects())}")
    print(f"initial sync (list, {n // 500 + 1} pages per resource): {sync_s:.2f} s, "
          f"CPU {cpu_s() - cpu0:.2f} s (incl. provisioning {n // 10} ScaledObjects)")
    print(f"caches (records kept per ISVC + Deployment + ScaledObject): "
          f"{cache_bytes / 2**20:.2f} MiB = {cache_bytes / n:.0f} B per ISVC; all traced "
          f"allocations since start (client, threads, caches): {traced / 2**20:.1f} MiB; "
          f"RSS +{rss_mib() - rss0:.1f} MiB")
    rss_rounds = []
    for r in range(args.rounds):
        cpu_before, t_before = cpu_s(), time.perf_counter()
        parent.send("churn")
        parent.recv()
        generation = r + 1
        while not caught_up(kube, n, generation) and time.perf_counter() - t_before < 120:
            time.sleep(0.01)
        kube.effective(CONFIG)          # what the next reload poll does
        spent = cpu_s() - cpu_before
        gc.collect()
        rss_rounds.append(rss_mib())
        print(f"churn round {r + 1}: {2 * n} watch events in "
              f"{time.perf_counter() - t_before:.2f} s, scaler CPU {spent:.2f} s = "
              f"{spent / (2 * n) * 1e6:.0f} µs/event (incl. re-validating {n} ISVCs' "
              f"annotations once), RSS {rss_rounds[-1]:.1f} MiB")
    keys = tuple(sorted((f"team-{i % 10}", f"llm-{i:04d}") for i in range(n)))
    import numpy as np

    frame = SignalFrame(0.0, keys, SIGNAL_NAMES, np.ones((n, len(SIGNAL_NAMES))),
                        queried=SIGNAL_NAMES)
    reps = 50
    t = time.perf_counter()
    for _ in range(reps):
        kube.overlay(frame)
    overlay_ms = (time.perf_counter() - t) / reps * 1e3
    t = time.perf_counter()
    for _ in range(reps):
        kube.effective(CONFIG)
    effective_us = (time.perf_counter() - t) / reps * 1e6
    print(f"per tick: overlay {overlay_ms:.2f} ms, effective config {effective_us:.0f} µs "
          "(memoised until an ISVC or the config changes)")
    growth = rss_rounds[-1] - rss_rounds[0] if rss_rounds else 0.0
    print(f"RSS growth over rounds 1→{len(rss_rounds)}: {growth:+.1f} MiB")
    kube.stop()
    parent.send("stop")
    proc.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
