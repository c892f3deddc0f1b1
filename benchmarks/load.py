"""Load and fault benchmark: a KEDA-like client fleet against a real `scaler serve` process.

Set-up (loopback only): a synthetic vLLM fleet of --isvcs ISVCs → a real Prometheus (scrape every
--scrape s) → `scaler serve` (interval --interval s, stale_after --stale-after s, warm start) →
kedaload (benchmarks/kedaload, grpc-go: the gRPC library KEDA itself uses) with --scaled-objects
ScaledObjects and --streams StreamIsActive streams. Each ScaledObject follows KEDA: GetMetricSpec
once, then every pollingInterval GetMetrics + IsActive (operator's connection) and every HPA sync
one more GetMetrics (the metrics API server's connection). KEDA's defaults (30 s / 15 s) are
compressed so that the offered load is --rate RPC/s: pollingInterval = HPA sync = 3 × SOs / rate.

Phases: `steady` (--duration s), then `fault` (same load; Prometheus stopped at 1/3 of the
phase, started again on the same port and TSDB at 2/3). Errors are split by code and by whether
they fall in the documented UNAVAILABLE window (UNAVAILABLE while the served snapshot is older
than stale_after, from a /status monitor).

Client, scaler and Prometheus share this machine's cores, so the CPU each used is printed (cores,
/proc). In production Prometheus and the exporters run elsewhere: --prometheus-cores (default 1)
caps Prometheus' GOMAXPROCS and --prometheus-nice (default 19) lowers the priority of both, so
their bursts cannot take the cores from the scaler. Latency is
client-measured (send → answer), for OK answers; the server's own handler histogram is shown
next to it. RSS is the scaler's at the phase start, 10 s in, and at the end.

Targets: zero errors outside the documented window, p99 ≤ 10 ms, ≥ 3,000 RPC/s, RSS growth < 10 %.

    make bench-deps   # Go + grpc-go from Debian (golang-go golang-google-grpc-dev)
    .venv/bin/python benchmarks/load.py [--duration 60] [--rate 3600]
    .venv/bin/python benchmarks/load.py --phases steady --profile /tmp/serve.prof  # cProfile
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keda_client
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scaler.devtools import Fleet, PrometheusProcess  # noqa: E402
from scaler.devtools.prometheus import free_port  # noqa: E402
from tests.e2e.harness import ServeProcess, wait_until  # noqa: E402

TARGET = {"p99_ms": 10.0, "rps": 3000.0, "rss_growth": 0.10}
CONFIG = """\
prometheus: {{url: "{url}", timeout: 5s}}
interval: {interval:g}s
stale_after: {stale_after:g}s
policies:
  default: {{targets: {{latency_p99: 0.5, kv_cache: 0.8, cpu: 0.7}}}}
"""


@dataclass(frozen=True)
class Target:
    """What a phase loads: the scaler (with its /status and /metrics) or the floor server."""

    grpc_target: str
    pid: int
    serve: ServeProcess | None = None


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


def cpu_budget(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process; `<first>-loop` is the first one's main
    thread (the server's event loop)."""
    out = {name: cpu_s(pid) for name, pid in pids.items()}
    server = next(iter(pids))
    out[f"{server}-loop"] = cpu_s(pids[server], thread=pids[server])
    return out


class TickMonitor:
    """Polls /status?isvc=… every 0.2 s; remembers when each snapshot tick was first seen."""

    def __init__(self, url: str | None) -> None:
        self._url = url
        self.seen: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        if url is not None:   # None: a server without /status (the floor), never stale
            self._thread.start()

    def _run(self) -> None:
        while self._url and not self._stop.wait(0.2):
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
        if self._url is None:
            return False
        return not ticks or t_s - ticks[-1] > stale_after_s - 0.05

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)


def run_phase(name: str, args: argparse.Namespace, target: Target, prom: PrometheusProcess,
              keys: list[tuple[str, str]], client: Path) -> dict[str, Any]:
    """Run kedaload for one phase (and the fault, if any); gather and summarise."""
    period_s = 3 * args.scaled_objects / args.rate
    start = time.time() + 4.0 + args.streams / 250
    end = start + args.duration
    serve = target.serve
    monitor = TickMonitor(f"{serve.http_url}/status?isvc={keys[0][0]}/{keys[0][1]}"
                          if serve else None)
    records = client.parent / f"{name}.records"
    proc = keda_client.start(client, keda_client.plan(
        target.grpc_target, keys, scaled_objects=args.scaled_objects, streams=args.streams,
        period_s=period_s, start_s=start, end_s=end), records)
    time.sleep(max(0.0, start - time.time()))
    pids = {name if serve is None else "scaler": target.pid,
            "prometheus": prom.pid, "bench (fleet, monitor)": os.getpid()}
    cpu0, rss0, load0 = cpu_budget(pids), rss_bytes(target.pid), os.getloadavg()[0]
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
        rss_samples.append((time.time(), rss_bytes(target.pid)))
        time.sleep(0.5)
    pids["prometheus"] = prom.pid
    cpu1 = cpu_budget(pids)
    result = keda_client.finish(proc, records)
    monitor.stop()
    cpu = {k: (cpu1[k] - cpu0[k]) / (end - start) for k in cpu0}
    cpu["client (grpc-go)"] = result["cpu_s"] / (end - start)
    if events:   # Prometheus was restarted: its CPU counter restarted too
        cpu["prometheus"] = float("nan")
    metrics = serve.http("/metrics", timeout_s=10)[1] if serve else ""
    return summarise(name, args, result, monitor=monitor, start=start, end=end,
                     rss=(rss0, rss_samples), cpu=cpu, load=load0, events=events,
                     server_metrics=metrics)


def summarise(name: str, args: argparse.Namespace, result: dict[str, Any], *,
              monitor: TickMonitor, start: float, end: float,
              rss: tuple[int, list[tuple[float, int]]], cpu: dict[str, float], load: float,
              events: dict[str, float], server_metrics: str) -> dict[str, Any]:
    """Figures of one phase (RPCs sent within [start, end)); latencies of OK answers."""
    lat, n_by = [], Counter[str]()
    for method, values in result["lat"].items():
        inside = (result["sent"][method] >= start) & (result["sent"][method] < end)
        lat.append(values[inside])
        n_by[method] += int(inside.sum())
    ms = np.concatenate(lat) * 1000.0
    doc, undoc, outside = Counter[str](), Counter[str](), Counter[str]()
    shown = 0
    for sent, received, method, code, detail in result["errors"]:
        if not start <= sent < end:   # set-up (GetMetricSpec, streams opening) or shutdown
            outside[f"{method}:{code}:{'before' if sent < start else 'after'}"] += 1
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
        "errors_outside_phase": dict(outside),
        "streams": result["streams"],
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
        print(f"  errors outside the documented window: {p['errors_undocumented'] or 0}"
              f"  (before/after the measured {p['seconds']:.0f} s: "
              f"{p['errors_outside_phase'] or 0})")
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
    by_name = {p["phase"]: p for p in phases}
    if "steady" in by_name and "fault" in by_name:
        s, f = by_name["steady"], by_name["fault"]
        ratios = {k: f[k] / s[k] for k in ("rps_ok", "p50_ms", "p99_ms", "rss_end_mb")}
        print("\nfault/steady: " + ", ".join(f"{k} ×{v:.2f}" for k, v in ratios.items()))
    if "steady" in by_name and "floor" in by_name:
        s, f = by_name["steady"], by_name["floor"]
        cpu_s, cpu_f = (1e6 * p["cpu_cores"][n] / p["rps"] for p, n in ((s, "scaler"),
                                                                          (f, "floor")))
        print(f"steady vs floor (same load on constant answers): server CPU per RPC "
              f"{cpu_s:.0f} vs {cpu_f:.0f} µs (×{cpu_s / cpu_f:.2f}), p50 {s['p50_ms']:.2f} vs "
              f"{f['p50_ms']:.2f} ms, p99 {s['p99_ms']:.1f} vs {f['p99_ms']:.1f} ms "
              f"(×{s['p99_ms'] / f['p99_ms']:.2f})")


@contextlib.contextmanager
def floor_server() -> Iterator[Target]:
    """benchmarks/floor_server.py on a free loopback port, terminated on exit."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(REPO / "benchmarks" / "floor_server.py"),
                             "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "serving":
            raise SystemExit("benchmarks/floor_server.py did not start")
        yield Target(f"127.0.0.1:{port}", proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--isvcs", type=int, default=1000)
    p.add_argument("--scaled-objects", type=int, default=1000)
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument("--duration", type=float, default=60.0, help="seconds per phase")
    p.add_argument("--rate", type=float, default=3600.0, help="offered RPC/s")
    p.add_argument("--prometheus-cores", type=int, default=1,
                   help="GOMAXPROCS of the benchmark's Prometheus (0 = all cores)")
    p.add_argument("--prometheus-nice", type=int, default=19,
                   help="nice value of the benchmark's Prometheus and synthetic exporters "
                        "(0 = as the scaler)")
    p.add_argument("--interval", type=float, default=5.0, help="scaler interval (s)")
    p.add_argument("--stale-after", type=float, default=15.0)
    p.add_argument("--scrape", type=float, default=5.0, help="Prometheus scrape interval (s)")
    p.add_argument("--phases", default="steady,fault,floor",
                   help="steady, fault (Prometheus restarted mid-phase), floor (the same load "
                        "on a constant-answer grpc.aio server: what Python gRPC costs alone)")
    p.add_argument("--profile", type=Path, help="run the scaler under cProfile, stats here")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="scaler-load-"))
    client = keda_client.build(work)
    fleet = Fleet.synthetic(args.isvcs)
    keys = fleet.isvc_keys()
    prom_env = {"GOMAXPROCS": str(args.prometheus_cores)} if args.prometheus_cores else {}
    with fleet.serve(shards=4, nice=args.prometheus_nice) as server, \
            PrometheusProcess(server.targets(), scrape_interval_s=args.scrape,
                              env=prom_env, nice=args.prometheus_nice) as prom:
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
                  f"{3 * args.scaled_objects / args.rate:.3f} s; kedaload (grpc-go, 2 "
                  f"connections as KEDA); logs {work}", flush=True)
            target = Target(serve.grpc_target, serve.pid, serve)
            phases = [run_phase(name, args, target, prom, keys, client)
                      for name in args.phases.split(",") if name != "floor"]
        if "floor" in args.phases.split(","):
            with floor_server() as target:
                phases.append(run_phase("floor", args, target, prom, keys, client))
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
