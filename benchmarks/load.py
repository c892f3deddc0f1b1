"""Load and fault benchmark: a KEDA-like client fleet against a real `scaler serve` process.

Set-up (loopback only): a synthetic vLLM fleet of --isvcs ISVCs → a real Prometheus (scrape every
--scrape s) → `scaler serve` (interval --interval s, stale_after --stale-after s, warm start) →
--clients client processes (grpc.aio, --channels channels each) sharing --scaled-objects
ScaledObjects and --streams StreamIsActive streams. Each ScaledObject follows KEDA: GetMetricSpec
once, then every pollingInterval GetMetrics + IsActive (scale loop) and every HPA sync one more
GetMetrics (HPA path). KEDA's defaults (30 s / 15 s) are compressed so that the offered load is
--rate RPC/s: pollingInterval = HPA sync = 3 × scaled-objects / rate.

Phases: `steady` (--duration s), then `fault` (same load; Prometheus stopped at 1/3 of the
phase, started again on the same port and TSDB at 2/3). Errors are split by code and by whether
they fall in the documented UNAVAILABLE window (UNAVAILABLE while the served snapshot is older
than stale_after, from a /status monitor).

Client split: --clients spawned processes (default 2) each take every n-th ScaledObject and
stream, with their own event loop and --channels channels (one HTTP/2 connection each); client
and server share this machine's cores, so the CPU each side used is printed (cores, /proc).
Latency is client-measured (send → answer), for OK answers; the server's own handler histogram
is shown next to it. RSS is the scaler's at the phase start, 10 s in, and at the end.

Targets: zero errors outside the documented window, p99 ≤ 10 ms, ≥ 3,000 RPC/s, RSS growth < 10 %.

    .venv/bin/python benchmarks/load.py [--duration 60] [--rate 3600] [--clients 2]
    .venv/bin/python benchmarks/load.py --phases steady --profile /tmp/serve.prof  # cProfile
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scaler.devtools import Fleet, PrometheusProcess  # noqa: E402
from tests.integration.harness import ServeProcess, wait_until  # noqa: E402

TARGET = {"p99_ms": 10.0, "rps": 3000.0, "rss_growth": 0.10}
CONFIG = """\
prometheus: {{url: "{url}", timeout: 5s}}
interval: {interval:g}s
stale_after: {stale_after:g}s
policies:
  default: {{targets: {{latency_p99: 0.5, kv_cache: 0.8, cpu: 0.7}}}}
"""


@dataclass(frozen=True)
class ClientPlan:
    """What one client process does: its slice of ScaledObjects and streams, over [start, end]."""

    target: str
    isvcs: list[tuple[str, str]]
    streams: list[tuple[str, str]]
    channels: int
    poll_s: float
    hpa_s: float
    start_s: float
    end_s: float
    seed: int


def client_main(plan: ClientPlan, conn: Any) -> None:
    """Process entry point: run the plan, send the results through `conn`."""
    conn.send(asyncio.run(_client(plan)))
    conn.close()


async def _client(plan: ClientPlan) -> dict[str, Any]:
    import grpc

    from scaler._proto import externalscaler_pb2 as pb
    from scaler._proto import externalscaler_pb2_grpc as pb_grpc

    channels = [grpc.aio.insecure_channel(plan.target, options=[
        ("grpc.use_local_subchannel_pool", 1)]) for _ in range(plan.channels)]
    stubs = [pb_grpc.ExternalScalerStub(c) for c in channels]
    lat: dict[str, list[float]] = {"GetMetricSpec": [], "GetMetrics": [], "IsActive": []}
    sent: dict[str, list[float]] = {k: [] for k in lat}
    errors: list[tuple[float, float, str, str, str]] = []
    streams: dict[str, Any] = {"opened": 0, "first": 0, "messages": 0, "errors": []}
    rng = random.Random(plan.seed)
    reconcile = asyncio.Semaphore(20)   # KEDA reconciles ScaledObjects with a few workers

    def ref(ns: str, name: str) -> Any:
        return pb.ScaledObjectRef(name=f"{name}-predictor", namespace=ns, scalerMetadata={
            "scalerAddress": "isvc-scaler.keda:6000", "isvc": name, "policy": "default"})

    async def call(method: str, stub: Any, request: Any) -> None:
        t_sent, t0 = time.time(), time.perf_counter()
        try:
            await getattr(stub, method)(request, timeout=5)
        except grpc.aio.AioRpcError as e:   # (sent, received, method, code, details)
            errors.append((t_sent, time.time(), method, e.code().name, (e.details() or "")[:90]))
            return
        lat[method].append(time.perf_counter() - t0)
        sent[method].append(t_sent)

    async def get_spec(i: int, key: tuple[str, str]) -> None:
        async with reconcile:
            await call("GetMetricSpec", stubs[i % len(stubs)], ref(*key))

    async def keda_loop(i: int, key: tuple[str, str], period_s: float, hpa: bool) -> None:
        stub, r = stubs[i % len(stubs)], ref(*key)
        metrics = pb.GetMetricsRequest(scaledObjectRef=r, metricName="desired-replicas")
        t = plan.start_s + rng.uniform(0, period_s)
        while t < plan.end_s:
            await asyncio.sleep(max(0.0, t - time.time()))
            await call("GetMetrics", stub, metrics)
            if not hpa:
                await call("IsActive", stub, r)
            t += period_s

    async def stream_loop(i: int, key: tuple[str, str]) -> None:
        stub, r = stubs[i % len(stubs)], ref(*key)
        while time.time() < plan.end_s:
            streams["opened"] += 1
            got = 0
            try:
                async for _ in stub.StreamIsActive(r):
                    got += 1
                    streams["messages"] += 1
                    streams["first"] += got == 1
            except grpc.aio.AioRpcError as e:
                now = time.time()
                streams["errors"].append((now, now, "StreamIsActive", e.code().name,
                                          (e.details() or "")[:90]))
                await asyncio.sleep(1.0)   # KEDA re-opens a failed stream after a pause

    for c in channels:
        await c.channel_ready()
    stream_tasks = [asyncio.create_task(stream_loop(i, k)) for i, k in enumerate(plan.streams)]
    await asyncio.gather(*(get_spec(i, k) for i, k in enumerate(plan.isvcs)))
    await asyncio.sleep(max(0.0, plan.start_s - time.time()))
    cpu0 = time.process_time()
    loops = [keda_loop(i, k, plan.poll_s, False) for i, k in enumerate(plan.isvcs)]
    loops += [keda_loop(i, k, plan.hpa_s, True) for i, k in enumerate(plan.isvcs)]
    await asyncio.gather(*loops)
    cpu = time.process_time() - cpu0
    for task in stream_tasks:
        task.cancel()
    await asyncio.gather(*stream_tasks, return_exceptions=True)
    for c in channels:
        await c.close()
    return {"lat": {k: np.array(v) for k, v in lat.items()},
            "sent": {k: np.array(v) for k, v in sent.items()},
            "errors": errors, "streams": streams, "cpu_s": cpu}


def rss_bytes(pid: int) -> int:
    """Resident set size of `pid` from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_s(pid: int, *, thread: int | None = None) -> float:
    """utime + stime of process `pid`, or of one of its threads (s)."""
    path = f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prometheus_pid(prom: PrometheusProcess) -> int:
    """The pid of the running `prometheus` listening on prom.port (from /proc cmdlines)."""
    flag = f"--web.listen-address=127.0.0.1:{prom.port}".encode()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and flag in (entry / "cmdline").read_bytes().split(b"\0"):
                return int(entry.name)
        except OSError:
            continue
    raise RuntimeError(f"no prometheus process on port {prom.port}")


def cpu_budget(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process; `scaler-loop` is the scaler's main thread."""
    out = {name: cpu_s(pid) for name, pid in pids.items()}
    out["scaler-loop"] = cpu_s(pids["scaler"], thread=pids["scaler"])
    return out


class TickMonitor:
    """Polls /status?isvc=… every 0.2 s; remembers when each snapshot tick was first seen."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.seen: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                with urllib.request.urlopen(self._url, timeout=1) as r:
                    tick = json.load(r)["tick_s"]
            except (OSError, ValueError, KeyError):
                continue
            if tick is not None and (not self.seen or tick != self.seen[-1][1]):
                self.seen.append((time.time(), float(tick)))

    def stale_at(self, t_s: float, stale_after_s: float) -> bool:
        """Could the server have judged its snapshot stale at `t_s`? (newest tick seen by t)"""
        ticks = [tick for seen_s, tick in self.seen if seen_s <= t_s]
        return not ticks or t_s - ticks[-1] > stale_after_s - 0.05

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


def run_phase(name: str, args: argparse.Namespace, serve: ServeProcess,
              prom: PrometheusProcess, keys: list[tuple[str, str]]) -> dict[str, Any]:
    """Spawn the clients for one phase (and the fault, if any); gather and summarise."""
    period_s = 3 * args.scaled_objects / args.rate
    start = time.time() + 4.0 + args.streams / 250
    end = start + args.duration
    monitor = TickMonitor(f"{serve.http_url}/status?isvc={keys[0][0]}/{keys[0][1]}")
    ctx = mp.get_context("spawn")
    procs, pipes = [], []
    sos, streams = keys[:args.scaled_objects], keys[:args.streams]
    for c in range(args.clients):
        plan = ClientPlan(serve.grpc_target, sos[c::args.clients], streams[c::args.clients],
                          args.channels, period_s, period_s, start, end, seed=c)
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=client_main, args=(plan, child), daemon=True)
        proc.start()
        procs.append(proc)
        pipes.append(parent)
    time.sleep(max(0.0, start - time.time()))
    pids = {"scaler": serve.pid, "prometheus": prometheus_pid(prom),
            "bench (fleet, monitor)": os.getpid()}
    cpu0, rss0, load0 = cpu_budget(pids), rss_bytes(serve.pid), os.getloadavg()[0]
    rss_samples: list[tuple[float, int]] = []
    events: dict[str, float] = {}
    while time.time() < end:
        now = time.time() - start
        if name == "fault" and "stop" not in events and now >= args.duration / 3:
            prom.stop()
            events["stop"] = time.time()
        if name == "fault" and "start" not in events and now >= 2 * args.duration / 3:
            prom.start()
            events["start"] = time.time()
        rss_samples.append((time.time(), rss_bytes(serve.pid)))
        time.sleep(0.5)
    pids["prometheus"] = prometheus_pid(prom)
    cpu1 = cpu_budget(pids)
    results = [p.recv() for p in pipes]
    for p in procs:
        p.join(30)
    monitor.stop()
    cpu = {k: (cpu1[k] - cpu0[k]) / (end - start) for k in cpu0}
    cpu["clients"] = sum(r["cpu_s"] for r in results) / (end - start)
    if events:   # Prometheus was restarted: its CPU counter restarted too
        cpu["prometheus"] = float("nan")
    return summarise(name, args, results, monitor=monitor, start=start, end=end,
                     rss=(rss0, rss_samples), cpu=cpu, load=load0, events=events,
                     server_metrics=serve.http("/metrics", timeout_s=10)[1])


def summarise(name: str, args: argparse.Namespace, results: list[dict[str, Any]], *,
              monitor: TickMonitor, start: float, end: float,
              rss: tuple[int, list[tuple[float, int]]], cpu: dict[str, float], load: float,
              events: dict[str, float], server_metrics: str) -> dict[str, Any]:
    """Figures of one phase (RPCs sent within [start, end)); latencies of OK answers."""
    lat, n_by = [], Counter[str]()
    for r in results:
        for method, values in r["lat"].items():
            inside = (r["sent"][method] >= start) & (r["sent"][method] < end)
            lat.append(values[inside])
            n_by[method] += int(inside.sum())
    ms = np.concatenate(lat) * 1000.0
    doc, undoc = Counter[str](), Counter[str]()
    shown = 0
    for r in results:
        for sent, received, method, code, detail in r["errors"] + r["streams"]["errors"]:
            if not start <= sent < end:
                continue
            documented = code == "UNAVAILABLE" and monitor.stale_at(received, args.stale_after)
            (doc if documented else undoc)[f"{method}:{code}"] += 1
            if not documented and shown < 3:
                shown += 1
                print(f"  undocumented error at +{received - start:.2f}s {method} {code}: {detail}")
    unary_errors = sum(v for k, v in (doc + undoc).items() if not k.startswith("Stream"))
    rss0, samples = rss
    warm = [v for t, v in samples if t >= start + min(10.0, args.duration / 4)]
    stale = [t - start for t in np.arange(start, end, 0.1) if monitor.stale_at(t, args.stale_after)]
    return {
        "phase": name, "seconds": end - start, "rpcs_ok": len(ms), "by_method": dict(n_by),
        "rps_ok": len(ms) / (end - start), "rps": (len(ms) + unary_errors) / (end - start),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()),
        "errors_documented": dict(doc), "errors_undocumented": dict(undoc),
        "streams": {"opened": sum(r["streams"]["opened"] for r in results),
                    "first_message": sum(r["streams"]["first"] for r in results),
                    "messages": sum(r["streams"]["messages"] for r in results),
                    "errors": sum(len(r["streams"]["errors"]) for r in results)},
        "rss_start_mb": rss0 / 2**20, "rss_warm_mb": (warm[0] if warm else rss0) / 2**20,
        "rss_end_mb": samples[-1][1] / 2**20, "cpu_cores": cpu, "loadavg_1m_at_start": load,
        "stale_window_s": (round(float(min(stale)), 1), round(float(max(stale)), 1))
        if stale else None,
        "prometheus_events_s": {k: round(v - start, 1) for k, v in events.items()},
        "server_handler_p99_ms": handler_p99_ms(server_metrics),
        "server_codes": server_codes(server_metrics),
    }


def handler_p99_ms(text: str) -> float | None:
    """P99 of isvc_scaler_grpc_request_duration_seconds over all methods (bucket upper bound)."""
    from prometheus_client.parser import text_string_to_metric_families

    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "isvc_scaler_grpc_request_duration_seconds":
            for s in family.samples:
                if s.name.endswith("_bucket"):
                    le = float(s.labels["le"])
                    buckets[le] = buckets.get(le, 0.0) + s.value
    if not buckets:
        return None
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    return next((b * 1000 for b in bounds if buckets[b] >= 0.99 * total), None)


def server_codes(text: str) -> dict[str, float]:
    """isvc_scaler_grpc_requests_total by method:code (cumulative since start)."""
    from prometheus_client.parser import text_string_to_metric_families

    return {f"{s.labels['method']}:{s.labels['code']}": s.value
            for family in text_string_to_metric_families(text)
            if family.name == "isvc_scaler_grpc_requests"
            for s in family.samples if s.name.endswith("_total")}


def report(phases: list[dict[str, Any]]) -> None:
    """Print each phase, the targets and fault/steady ratios."""
    for p in phases:
        print(f"\n== {p['phase']}: {p['rpcs_ok']} RPCs answered OK in {p['seconds']:.0f} s "
              f"{p['by_method']}")
        print(f"  throughput       {p['rps_ok']:7.0f} RPC/s answered OK, {p['rps']:.0f} RPC/s "
              f"completed  (target ≥ {TARGET['rps']:.0f})")
        print(f"  latency (client, OK answers) p50 {p['p50_ms']:.2f} ms, p99 {p['p99_ms']:.2f} ms, "
              f"max {p['max_ms']:.1f} ms  (target p99 ≤ {TARGET['p99_ms']:g} ms); "
              f"server handler p99 ≤ {p['server_handler_p99_ms']} ms")
        print(f"  errors outside the documented window: {p['errors_undocumented'] or 0}")
        print(f"  errors inside it (UNAVAILABLE, snapshot older than stale_after): "
              f"{p['errors_documented'] or 0}; stale {p['stale_window_s']} s, "
              f"Prometheus {p['prometheus_events_s'] or 'up throughout'}")
        print(f"  streams          {p['streams']}")
        growth = p["rss_end_mb"] / p["rss_start_mb"] - 1
        print(f"  scaler RSS       start {p['rss_start_mb']:.1f} MB, +10 s "
              f"{p['rss_warm_mb']:.1f} MB, end {p['rss_end_mb']:.1f} MB ({growth:+.1%}; target "
              f"< {TARGET['rss_growth']:.0%})")
        cores = ", ".join(f"{k} {v:.2f}" for k, v in p["cpu_cores"].items())
        print(f"  CPU (cores)      {cores}; load average at start {p['loadavg_1m_at_start']:.1f}")
        print(f"  server counters  {p['server_codes']}")
    if len(phases) == 2:
        s, f = phases
        ratios = {k: f[k] / s[k] for k in ("rps_ok", "p50_ms", "p99_ms", "rss_end_mb")}
        print("\nfault/steady: " + ", ".join(f"{k} ×{v:.2f}" for k, v in ratios.items()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--isvcs", type=int, default=1000)
    p.add_argument("--scaled-objects", type=int, default=1000)
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument("--duration", type=float, default=60.0, help="seconds per phase")
    p.add_argument("--rate", type=float, default=3600.0, help="offered RPC/s")
    p.add_argument("--clients", type=int, default=2, help="client processes")
    p.add_argument("--channels", type=int, default=2, help="gRPC channels per client")
    p.add_argument("--interval", type=float, default=5.0, help="scaler interval (s)")
    p.add_argument("--stale-after", type=float, default=15.0)
    p.add_argument("--scrape", type=float, default=5.0, help="Prometheus scrape interval (s)")
    p.add_argument("--phases", default="steady,fault")
    p.add_argument("--profile", type=Path, help="run the scaler under cProfile, stats here")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="scaler-load-"))
    fleet = Fleet.synthetic(args.isvcs)
    keys = fleet.isvc_keys()
    with fleet.serve(shards=4) as server, \
            PrometheusProcess(server.targets(), scrape_interval_s=args.scrape) as prom:
        prom.wait_scraped(scrapes=2, timeout_s=60)
        config = work / "policy.yaml"
        config.write_text(CONFIG.format(url=prom.url, interval=args.interval,
                                        stale_after=args.stale_after))
        serve = ServeProcess(config, log_path=work / "serve.log", warm_start_timeout_s=30)
        if args.profile:
            serve.args[1:3] = ["-m", "cProfile", "-o", str(args.profile), "-m", "scaler"]
        with serve:
            serve.wait_ready(timeout_s=60)
            wait_until(lambda: (serve.metric("isvc_scaler_isvcs_tracked") or 0) >= args.isvcs,
                       timeout_s=60, what="every ISVC in the served snapshot")
            print(f"scaler pid {serve.pid}: {len(keys)} ISVCs, {args.scaled_objects} "
                  f"ScaledObjects, {args.streams} streams; poll = HPA sync = "
                  f"{3 * args.scaled_objects / args.rate:.3f} s; {args.clients} client "
                  f"processes × {args.channels} channels; logs {work}", flush=True)
            phases = [run_phase(name, args, serve, prom, keys)
                      for name in args.phases.split(",")]
    report(phases)
    if args.profile:
        import pstats

        print(f"\nscaler profile (main thread, by own time): {args.profile}")
        pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(15)
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args), "phases": phases,
                                         "target": TARGET}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
