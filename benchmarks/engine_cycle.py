"""Benchmark one engine cycle against a real Prometheus with 2,000 synthetic ISVCs, side by side
with the same signals fetched the way KEDA's built-in Prometheus scaler does (one query per
ScaledObject, i.e. per ISVC, per signal).

Target: queries per cycle = number of signals (5); cycle ≤ 1 s at 2,000 ISVCs.

    .venv/bin/python benchmarks/engine_cycle.py [--isvcs 2000] [--cycles 5] [--warmup 65]

--warmup waits until the default 1m rate windows are full of samples (honest query cost);
--warmup 0 only waits for two scrapes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from string import Template

import numpy as np
from prometheus_client import CollectorRegistry

from scaler.config import parse_config
from scaler.config.queries import SIGNAL_NAMES
from scaler.devtools import Fleet, PrometheusProcess, ScrapeTarget
from scaler.engine import Engine
from scaler.engine.store import SnapshotStore
from scaler.metrics import ScalerMetrics
from scaler.signals import SignalFrame, SignalHistory
from scaler.signals.client import PromClient
from scaler.signals.source import PromSignalSource
from scaler.ticks import align_tick

KV = '__name__=~"vllm[:_](kv_cache_usage_perc|gpu_cache_usage_perc)"'
ID = 'namespace="$ns",isvc="$name"'
POD = 'container="kserve-container",namespace="$ns",pod=~"$name-predictor-.*"'
PER_ISVC = {  # what a ScaledObject's prometheus trigger would hold, one ISVC each
    "latency_p99": "histogram_quantile(0.99, sum by (le) (rate("
                   '{__name__=~"vllm[:_]time_to_first_token_seconds_bucket",' + ID + "}[1m])))",
    "kv_cache": "avg({" + KV + "," + ID + "})",
    "cpu": "sum(rate(container_cpu_usage_seconds_total{" + POD + "}[1m])) / "
           "sum(kube_pod_container_resource_requests{" + POD + ',resource="cpu"})',
    "replicas": "count(group by (pod, instance) ({" + KV + "," + ID + "}))",
    "requests": 'sum(rate({__name__=~"vllm[:_]request_success_total",' + ID + "}[1m]))",
}
CONFIG = """\
prometheus: {{url: "{url}", timeout: 30s}}
interval: 15s
policies:
  default: {{targets: {{latency_p99: 0.5, kv_cache: 0.8, cpu: 0.7}}}}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--isvcs", type=int, default=2000)
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--warmup", type=float, default=65.0, help="seconds of samples to wait for")
    ap.add_argument("--scrape-interval", type=float, default=15.0,
                    help="seconds (15 s: a common PodMonitor interval and the scaler's default)")
    ap.add_argument("--keda-workers", type=int, default=16,
                    help="concurrent per-ISVC queries (KEDA polls ScaledObjects in parallel)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    with fleet_process(args.isvcs, shards=4) as (targets, keys), PrometheusProcess(
            targets, scrape_interval_s=args.scrape_interval) as prom:
        prom.wait_scraped(scrapes=2, timeout_s=120)
        wait = args.warmup - (time.perf_counter() - t0)
        if wait > 0:
            print(f"waiting {wait:.0f}s so the 1m rate windows are full…", file=sys.stderr)
            time.sleep(wait)
        batched, per_cycle, n_isvcs, values = asyncio.run(engine_cycles(prom.url, args.cycles))
        keda_s, keda_queries, keda_values = keda_cycle(prom.url, keys, args.keda_workers)
    report(args, batched, per_cycle, n_isvcs, keda_s, keda_queries)
    check_same(values, keda_values)
    return 0


@contextlib.contextmanager
def fleet_process(
    n: int, *, shards: int,
) -> Iterator[tuple[list[ScrapeTarget], list[tuple[str, str]]]]:
    """The synthetic exporters in a child process, so rendering 2,000 ISVCs per scrape does not
    compete for this process' GIL with the engine being measured."""
    parent, child = mp.Pipe()
    proc = mp.get_context("fork").Process(target=_serve_fleet, args=(n, shards, child),
                                          daemon=True)
    proc.start()
    addresses, keys = parent.recv()
    try:
        yield [ScrapeTarget(a, job=f"fleet-{i}") for i, a in enumerate(addresses)], keys
    finally:
        parent.send("stop")
        proc.join(10)


def _serve_fleet(n: int, shards: int, conn: Connection) -> None:
    fleet = Fleet.synthetic(n)
    fleet.set_all(pods=1)
    with fleet.serve(shards=shards) as server:
        conn.send((server.addresses, fleet.isvc_keys()))
        conn.recv()


async def engine_cycles(
    url: str, cycles: int,
) -> tuple[list[float], float, int, dict[tuple[str, str], float]]:
    config = parse_config(CONFIG.format(url=url))
    metrics = ScalerMetrics(CollectorRegistry())
    source = TimedSource(PromSignalSource.from_config(config, metrics=metrics))
    engine = Engine(config=config, store=SnapshotStore(clock=time.time), metrics=metrics,
                    source=source)
    times = []
    tick = align_tick(time.time() - 1, 1.0)
    for i in range(cycles):
        started = time.perf_counter()
        snap = await engine.tick(tick + i * 0.001)
        times.append(time.perf_counter() - started)
        assert snap is not None
    rest = [t - f for t, f in zip(times, source.seconds, strict=True)]
    print(f"breakdown (median): queries + parse {statistics.median(source.seconds):.3f} s, "
          f"policy + snapshot + metrics {statistics.median(rest):.3f} s", file=sys.stderr)
    reg = metrics.registry
    per_signal = {s: (reg.get_sample_value("isvc_scaler_query_duration_seconds_sum",
                                           {"signal": s}) or 0) / cycles for s in SIGNAL_NAMES}
    print("mean query time (concurrent): " + ", ".join(
        f"{s} {v:.3f} s" for s, v in per_signal.items()), file=sys.stderr)
    queries = sum(metrics.registry.get_sample_value("isvc_scaler_queries_total",
                                                    {"signal": s}) or 0 for s in SIGNAL_NAMES)
    assert engine.last is not None
    kv = dict(zip(engine.last.keys, engine.last.frame.column("kv_cache").tolist(), strict=True))
    return times, queries / cycles, len(snap.entries), kv


class TimedSource:
    """A SignalSource recording how long each fetch took."""

    def __init__(self, inner: PromSignalSource) -> None:
        self.inner = inner
        self.seconds: list[float] = []

    async def fetch(self, time_s: float) -> SignalFrame:
        started = time.perf_counter()
        frame = await self.inner.fetch(time_s)
        self.seconds.append(time.perf_counter() - started)
        return frame

    async def fetch_range(self, *, start_s: float, end_s: float, step_s: float) -> SignalHistory:
        return await self.inner.fetch_range(start_s=start_s, end_s=end_s, step_s=step_s)


def keda_cycle(
    url: str, keys: list[tuple[str, str]], workers: int,
) -> tuple[float, int, dict[tuple[str, str], float]]:
    config = parse_config(CONFIG.format(url=url))
    client = PromClient(config.prometheus, pool_size=workers)
    at = align_tick(time.time() - 1, 1.0)
    jobs = [(key, s, Template(q).substitute(ns=key[0], name=key[1])) for key in keys
            for s, q in PER_ISVC.items()]

    def one(job: tuple[tuple[str, str], str, str]) -> tuple[tuple[str, str], str, float]:
        key, signal, q = job
        result = client.query(q, time_s=at)
        value = float(result[0]["value"][1]) if result else math.nan
        return key, signal, value

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        answers = list(pool.map(one, jobs))
    elapsed = time.perf_counter() - started
    client.close()
    kv = {key: v for key, s, v in answers if s == "kv_cache"}
    return elapsed, len(jobs), kv


def report(args: argparse.Namespace, batched: list[float], per_cycle: float, n_isvcs: int,
           keda_s: float, keda_queries: int) -> None:
    med = statistics.median(batched)
    print(f"engine_cycle: {n_isvcs} ISVCs (1 pod each), real Prometheus (scrape "
          f"{args.scrape_interval:g} s, 4 targets), {len(SIGNAL_NAMES)} signals, {args.cycles} "
          f"cycles; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    rows = [
        ("queries per cycle", f"{per_cycle:.0f}", f"{keda_queries}",
         f"{keda_queries / per_cycle:.0f}×"),
        ("wall time per cycle", f"{med:.3f} s (median; max {max(batched):.3f} s)",
         f"{keda_s:.3f} s ({args.keda_workers} concurrent)", f"{keda_s / med:.1f}×"),
    ]
    print(f"{'':22}{'isvc-scaler (batched)':34}{'KEDA prometheus scaler style':30}ratio")
    for name, a, b, r in rows:
        print(f"{name:22}{a:34}{b:30}{r}")
    target = "OK" if per_cycle == len(SIGNAL_NAMES) and med <= 1.0 else "MISSED"
    print(f"target (queries = {len(SIGNAL_NAMES)}, cycle ≤ 1 s): {target}")


def check_same(batched: dict[tuple[str, str], float], keda: dict[tuple[str, str], float]) -> None:
    keys = sorted(set(batched) & set(keda))
    a = np.array([batched[k] for k in keys])
    b = np.array([keda[k] for k in keys])
    same = np.allclose(a, b, equal_nan=True)
    print(f"kv_cache agrees for {len(keys)} ISVCs between both methods: {same}")


if __name__ == "__main__":
    sys.exit(main())
