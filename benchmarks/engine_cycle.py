"""Benchmark one engine cycle against a real Prometheus with synthetic ISVCs (2,000 and 10,000),
raw signal queries side by side with `signal_queries: recorded` (the recording rules of
deploy/monitoring/ loaded into the same Prometheus, cycles interleaved in the same run), and, up
to --keda-max ISVCs, the same signals fetched the way KEDA's built-in Prometheus scaler does
(one query per ScaledObject, i.e. per ISVC, per signal). Prometheus' own cost of the rules
(`prometheus_rule_group_last_duration_seconds`) is reported beside the cycle.

Targets: queries per cycle = number of signals; cycle ≤ 1 s at 2,000 ISVCs (raw) and at
10,000 ISVCs (recorded).

    .venv/bin/python benchmarks/engine_cycle.py [--isvcs 2000,10000] [--cycles 5] [--warmup 65]

--warmup waits until the default 1m rate windows are full of samples (honest query cost);
--warmup 0 only waits for two scrapes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import re
import statistics
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from string import Template

import numpy as np
from prometheus_client import CollectorRegistry

from scaler.config import parse_config
from scaler.config.queries import SIGNAL_NAMES
from scaler.config.recorded import RECORDING_GROUP
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
Key = tuple[str, str]
RULES = Path(__file__).resolve().parent.parent / "deploy" / "monitoring" / "isvc-scaler.rules.yaml"
CONFIG = """\
prometheus: {{url: "{url}", timeout: 30s}}
interval: 15s
signal_queries: {mode}
policies:
  default: {{targets: {{latency_p99: 0.5, kv_cache: 0.8, cpu: 0.7}}}}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--isvcs", default="2000,10000", help="fleet sizes, comma-separated")
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--warmup", type=float, default=65.0, help="seconds of samples to wait for")
    ap.add_argument("--scrape-interval", type=float, default=15.0,
                    help="seconds (15 s: a common PodMonitor interval and the scaler's default)")
    ap.add_argument("--keda-workers", type=int, default=16,
                    help="concurrent per-ISVC queries (KEDA polls ScaledObjects in parallel)")
    ap.add_argument("--keda-max", type=int, default=2000,
                    help="largest fleet also measured KEDA-style (10,000 ISVCs: 50,000 queries)")
    args = ap.parse_args()
    ok = True
    for n in (int(x) for x in args.isvcs.split(",")):
        ok &= run_size(n, args)
    return 0 if ok else 1


@dataclass
class Cycles:
    """One mode's cycles: wall times, fetch (queries + parse) times, per-signal query means."""

    mode: str
    times: list[float]
    fetch: list[float]
    per_signal: dict[str, float]
    queries: float
    values: dict[str, dict[Key, float]]


def run_size(n: int, args: argparse.Namespace) -> bool:
    t0 = time.perf_counter()
    with fleet_process(n, shards=4) as (targets, keys), PrometheusProcess(
            targets, scrape_interval_s=args.scrape_interval, rule_files=[RULES]) as prom:
        prom.wait_scraped(scrapes=2, timeout_s=300)
        wait = args.warmup - (time.perf_counter() - t0)
        if wait > 0:
            print(f"{n} ISVCs: waiting {wait:.0f}s so the 1m rate windows are full…",
                  file=sys.stderr)
            time.sleep(wait)
        prom.wait_until(lambda: rule_costs(prom.url)[1] >= 2, timeout_s=120,
                        what="two evaluations of the recording rules")
        raw, recorded, rule_s = asyncio.run(engine_cycles(prom.url, args.cycles))
        print("  per rule (last evaluation): " + ", ".join(
            f"{r} {t:.3f} s" for r, t in rule_breakdown(prom.url)))
        keda = keda_cycle(prom.url, keys, args.keda_workers) if n <= args.keda_max else None
    report(args, n, raw, recorded, rule_s, keda)
    check_same(raw, recorded, keda[2] if keda else None)
    return recorded.queries == len(SIGNAL_NAMES) and statistics.median(recorded.times) <= 1.0


def rule_costs(url: str) -> tuple[float, int]:
    """(last duration of the recording group in s, evaluations so far) from Prometheus' own
    /metrics (`prometheus_rule_group_last_duration_seconds`, `..._iterations_total`)."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    found = dict(re.findall(r"^prometheus_rule_group_(last_duration_seconds|iterations_total)"
                            rf'{{rule_group="[^"]*;{RECORDING_GROUP}"}} (\S+)$', text, re.M))
    return float(found.get("last_duration_seconds", "nan")), int(
        float(found.get("iterations_total", "0")))


@contextlib.contextmanager
def fleet_process(n: int, *, shards: int) -> Iterator[tuple[list[ScrapeTarget], list[Key]]]:
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


def rule_breakdown(url: str) -> list[tuple[str, float]]:
    """(record, evaluationTime s) of each rule of the recording group (/api/v1/rules)."""
    with urllib.request.urlopen(url + "/api/v1/rules?type=record", timeout=10) as r:
        groups = json.load(r)["data"]["groups"]
    return [(rule["name"], float(rule.get("evaluationTime", math.nan)))
            for g in groups if g["name"] == RECORDING_GROUP for rule in g["rules"]]


async def engine_cycles(url: str, cycles: int) -> tuple[Cycles, Cycles, list[float]]:
    """`cycles` ticks of a raw-query engine and a recorded-query engine, interleaved; and the
    recording group's last duration sampled after each pair."""
    runs = {mode: _engine(url, mode) for mode in ("raw", "recorded")}
    times: dict[str, list[float]] = {mode: [] for mode in runs}
    rule_s = []
    tick = align_tick(time.time() - 1, 1.0)
    for i in range(cycles):
        for mode, (engine, _, _) in runs.items():
            started = time.perf_counter()
            snap = await engine.tick(tick + i * 0.001)
            times[mode].append(time.perf_counter() - started)
            assert snap is not None
        rule_s.append(rule_costs(url)[0])
    return (*(_summary(mode, times[mode], *runs[mode], cycles) for mode in runs),
            rule_s)  # type: ignore[return-value]


def _engine(url: str, mode: str) -> tuple[Engine, TimedSource, ScalerMetrics]:
    config = parse_config(CONFIG.format(url=url, mode=mode))
    metrics = ScalerMetrics(CollectorRegistry())
    source = TimedSource(PromSignalSource.from_config(config, metrics=metrics))
    engine = Engine(config=config, store=SnapshotStore(clock=time.time), metrics=metrics,
                    source=source)
    return engine, source, metrics


def _summary(mode: str, times: list[float], engine: Engine, source: TimedSource,
             metrics: ScalerMetrics, cycles: int) -> Cycles:
    reg = metrics.registry
    per_signal = {s: (reg.get_sample_value("isvc_scaler_query_duration_seconds_sum",
                                           {"signal": s}) or 0) / cycles for s in SIGNAL_NAMES}
    queries = sum(reg.get_sample_value("isvc_scaler_queries_total", {"signal": s}) or 0
                  for s in SIGNAL_NAMES)
    assert engine.last is not None
    values = {s: dict(zip(engine.last.keys, engine.last.frame.column(s).tolist(), strict=True))
              for s in SIGNAL_NAMES}
    return Cycles(mode, times, source.seconds, per_signal, queries / cycles, values)


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


def keda_cycle(url: str, keys: list[Key], workers: int) -> tuple[float, int, dict[Key, float]]:
    config = parse_config(CONFIG.format(url=url, mode="raw"))
    client = PromClient(config.prometheus, pool_size=workers)
    at = align_tick(time.time() - 1, 1.0)
    jobs = [(key, s, Template(q).substitute(ns=key[0], name=key[1])) for key in keys
            for s, q in PER_ISVC.items()]

    def one(job: tuple[Key, str, str]) -> tuple[Key, str, float]:
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


def report(args: argparse.Namespace, n: int, raw: Cycles, recorded: Cycles,
           rule_s: list[float], keda: tuple[float, int, dict[Key, float]] | None) -> None:
    print(f"\nengine_cycle: {n} ISVCs (1 pod each), real Prometheus (scrape "
          f"{args.scrape_interval:g} s, 4 targets, recording rules loaded), "
          f"{len(SIGNAL_NAMES)} signals, {args.cycles} cycles per mode; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    cols = [("raw queries", raw), ("recorded series", recorded)]
    print(f"{'':30}" + "".join(f"{name:30}" for name, _ in cols) + (
        "KEDA prometheus scaler style" if keda else ""))
    rows = [
        ("queries per cycle", [f"{c.queries:.0f}" for _, c in cols],
         f"{keda[1]}" if keda else ""),
        ("wall time per cycle (median)", [
            f"{statistics.median(c.times):.3f} s (max {max(c.times):.3f})" for _, c in cols],
         f"{keda[0]:.3f} s ({args.keda_workers} concurrent)" if keda else ""),
        ("queries + parse (median)", [f"{statistics.median(c.fetch):.3f} s" for _, c in cols],
         ""),
        ("slowest query (mean)", [
            "{} {:.3f} s".format(*max(c.per_signal.items(), key=lambda kv: kv[1]))
            for _, c in cols], ""),
    ]
    for name, values, k in rows:
        print(f"{name:30}" + "".join(f"{v:30}" for v in values) + k)
    for _, c in cols:
        print(f"  {c.mode}: mean query time per signal (concurrent): " + ", ".join(
            f"{s} {v:.3f} s" for s, v in c.per_signal.items()))
    print(f"Prometheus recording-rule group ({RECORDING_GROUP}, every 15 s): last duration "
          f"median {statistics.median(rule_s):.3f} s, max {max(rule_s):.3f} s")
    med = statistics.median(recorded.times)
    target = "OK" if recorded.queries == len(SIGNAL_NAMES) and med <= 1.0 else "MISSED"
    print(f"target (recorded: queries = {len(SIGNAL_NAMES)}, cycle ≤ 1 s): {target}")


def check_same(raw: Cycles, recorded: Cycles, keda: dict[Key, float] | None) -> None:
    """Recorded signals agree with raw ones (rates within 5 %: the rules lag ≤ 15 s)."""
    parts = []
    for s in SIGNAL_NAMES:
        keys = sorted(set(raw.values[s]) & set(recorded.values[s]))
        a = np.array([raw.values[s][k] for k in keys])
        b = np.array([recorded.values[s][k] for k in keys])
        close = np.isclose(a, b, rtol=0.05, equal_nan=True)
        parts.append(f"{s} {np.mean(close):.1%}")
        bad = np.flatnonzero(~close)[:2]
        if len(bad):
            parts[-1] += " (e.g. " + ", ".join(
                f"{'/'.join(keys[i])} {a[i]:.4g} vs {b[i]:.4g}" for i in bad) + ")"
    print("recorded vs raw, share of ISVCs within 5 %: " + ", ".join(parts))
    if keda is not None:
        keys = sorted(set(raw.values["kv_cache"]) & set(keda))
        same = np.allclose([raw.values["kv_cache"][k] for k in keys],
                           [keda[k] for k in keys], equal_nan=True)
        print(f"kv_cache agrees for {len(keys)} ISVCs between batched and KEDA style: {same}")


if __name__ == "__main__":
    sys.exit(main())
