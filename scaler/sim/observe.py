"""What Prometheus would show of the simulated fleet: the five signals of DESIGN §2; pure.

Counters are scraped every `scrape_interval_s`; a signal at time t is computed from the
latest scrape and the one `window_s` before it, as `rate(...[1m])` would:
  latency_p99  histogram_quantile(0.99) over vLLM's TTFT buckets of first tokens in the window
  kv_cache     mean over ready pods of reserved KV tokens / capacity (instant)
  cpu          Σ CPU core-seconds used in the window / Σ requested core-seconds (ready pods)
  inflight     sum over pods of avg_over_time(vLLM num_requests_running + waiting[window]) per
               ready pod: each ready pod's samples at the scrapes in the window (admitted
               requests, prefilled or not, plus the pod's own queue: the sum is the same however
               vLLM's scheduler splits running and waiting)
  prompt_throughput  rate of vLLM prompt_tokens_total (prompt tokens prefilled, counted when a
               prompt's prefill completes) over the window, per ready pod
  replicas     ready pods (draining and starting pods export nothing)
  spec_replicas  kube-state-metrics kube_deployment_spec_replicas at the scrape (the HPA's
               replicas: ready + starting)
  requests     arrivals per second at the gateway over the window (sees traffic at 0 pods)
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scaler.sim.serving import READY, STARTING, TTFT_BUCKETS_S, Serving


def histogram_quantile(q: float, bounds: Sequence[float], counts: Sequence[float]) -> float:
    """Prometheus' histogram_quantile on per-bucket counts (last bucket = +Inf); NaN if empty.

    Linear interpolation inside the bucket holding rank q × total; the +Inf bucket answers
    the largest finite bound. Example: bounds (1, 2.5), counts (90, 10, 0): rank 99 lies 9/10
    into (1, 2.5] → 1 + 1.5 × 0.9 = 2.35.
    """
    total = float(sum(counts))
    if total <= 0:
        return math.nan
    rank, below = q * total, 0.0
    for b, count in enumerate(counts):
        if below + count >= rank and count > 0:
            if b == len(bounds):
                return float(bounds[-1])
            lower = bounds[b - 1] if b > 0 else 0.0
            return float(lower + (bounds[b] - lower) * (rank - below) / count)
        below += count
    return float(bounds[-1])


@dataclass(frozen=True, eq=False)
class Scrape:
    """Counter values at time t: per ISVC (m,) arrays and per pod CPU core-seconds."""

    t: float
    arrivals: np.ndarray
    hist: np.ndarray  # (m, buckets + 1) TTFT counts per bucket
    pod_cpu: dict[int, float]
    prompt_tokens: np.ndarray  # (m,) counter
    inflight: dict[int, float]  # per ready pod: running + waiting
    kv: dict[int, float]  # per ready pod: KV-cache usage (0–1)
    spec: np.ndarray  # (m,) gauge: Deployment spec.replicas (NaN: not given)


class Observer:
    """Scrapes a Serving model and answers signals from the last scrapes."""

    def __init__(self, serving: Serving, *, window_s: float) -> None:
        self.serving = serving
        self.window_s = window_s
        self._scrapes: deque[Scrape] = deque()

    def _pod_cpu(self, p: int, t: float) -> float:
        s = self.serving
        sp = s.params[s.pod_isvc[p]]
        return (sp.cpu_idle_cores * (t - s.created_s[p]) + sp.cpu_busy_cores * s.busy_until(p, t)
                + sp.cpu_cores_per_ktoken_s * s.tokens[p] / 1000.0)

    def scrape(self, t: float, *, spec: Sequence[int] | None = None) -> None:
        """Record the counters at t (call after `serving.advance(t)`); `spec`: the
        Deployments' spec.replicas per ISVC, as kube-state-metrics exports them."""
        s = self.serving
        pods = {p: self._pod_cpu(p, t) for alive in s.alive for p in alive}
        inflight = {p: float(s.nrun[p] + len(s.local[p])) for ready in s.ready for p in ready}
        kv = {p: s.kv[p] / s.params[k].kv_cache_tokens for k, ready in enumerate(s.ready)
              for p in ready}
        specs = np.full(len(s.ready), math.nan) if spec is None else np.array(spec, np.float64)
        self._scrapes.append(Scrape(t, np.array(s.arrivals, np.float64),
                                    np.array(s.ttft_hist, np.float64), pods,
                                    np.array(s.prompt_tokens, np.float64), inflight, kv,
                                    specs))
        while len(self._scrapes) > 2 and self._scrapes[1].t <= t - self.window_s + 1e-9:
            self._scrapes.popleft()

    def _pair(self) -> tuple[Scrape, Scrape]:
        return self._scrapes[0], self._scrapes[-1]

    def pod_cpu_utilization(self, p: int) -> float:
        """CPU used / requested by pod p over the window (NaN before its second scrape)."""
        old, new = self._pair()
        if p not in new.pod_cpu:
            return math.nan
        s = self.serving
        start = max(old.t, s.created_s[p])
        if new.t <= start:
            return math.nan
        used = new.pod_cpu[p] - old.pod_cpu.get(p, 0.0)
        return used / (s.params[s.pod_isvc[p]].cpu_request_cores * (new.t - start))

    def signals(self) -> dict[str, np.ndarray]:
        """Every signal of DESIGN §2 per ISVC, (m,) float64, NaN where Prometheus has none."""
        old, new = self._pair()
        s = self.serving
        m = len(s.ready)
        span = new.t - old.t
        window_hist = new.hist - old.hist
        out = {name: np.full(m, math.nan) for name in
               ("latency_p99", "kv_cache", "cpu", "inflight", "prompt_throughput", "replicas",
                "requests")}
        out["spec_replicas"] = new.spec.copy()
        for k in range(m):
            ready = s.ready[k]
            out["replicas"][k] = len(ready)
            if span > 0:
                out["requests"][k] = (new.arrivals[k] - old.arrivals[k]) / span
                out["latency_p99"][k] = histogram_quantile(0.99, TTFT_BUCKETS_S, window_hist[k])
                if ready:
                    out["prompt_throughput"][k] = (
                        (new.prompt_tokens[k] - old.prompt_tokens[k]) / span / len(ready))
            if ready:
                out["inflight"][k] = sum(self._window_means(s.alive[k], new.t,
                                                            "inflight")) / len(ready)
                out["kv_cache"][k] = sum(new.kv[p] for p in ready) / len(ready)
                utils = [u for u in map(self.pod_cpu_utilization, ready) if not math.isnan(u)]
                out["cpu"][k] = sum(utils) / len(utils) if utils else math.nan
        return out

    def _window_means(self, pods: Sequence[int], t: float, gauge: str) -> list[float]:
        """Per pod with samples in (t − window, t]: their mean, as PromQL's
        `avg_over_time(x[window])` (pods no longer scraped drop out with their series)."""
        means = []
        for p in pods:
            samples = [v for sc in self._scrapes
                       if sc.t > t - self.window_s + 1e-9 and (v := getattr(sc, gauge).get(p))
                       is not None]
            if samples:
                means.append(sum(samples) / len(samples))
        return means

    def unready(self, k: int) -> int:
        """Pods of ISVC k still starting."""
        s = self.serving
        return sum(1 for p in s.alive[k] if s.state[p] == STARTING)

    def ready_utilizations(self, k: int) -> list[float]:
        """CPU utilisation of each ready pod of ISVC k with a measurement."""
        s = self.serving
        return [u for p in s.alive[k] if s.state[p] == READY
                if not math.isnan(u := self.pod_cpu_utilization(p))]
