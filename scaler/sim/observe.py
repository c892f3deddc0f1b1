"""What Prometheus would show of the simulated fleet: the five signals of DESIGN §2; pure.

Counters are scraped every `scrape_interval_s`; a signal at time t is computed from the
latest scrape and the one `window_s` before it, as `rate(...[1m])` would:
  latency_p99  histogram_quantile(0.99) over vLLM's TTFT buckets of first tokens in the window
  kv_cache     mean over ready pods of reserved KV tokens / capacity (instant)
  cpu          Σ CPU core-seconds used in the window / Σ requested core-seconds (ready pods)
  replicas     ready pods (draining and starting pods export nothing)
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

    def scrape(self, t: float) -> None:
        """Record the counters at t (call after `serving.advance(t)`)."""
        s = self.serving
        pods = {p: self._pod_cpu(p, t) for alive in s.alive for p in alive}
        self._scrapes.append(Scrape(t, np.array(s.arrivals, np.float64),
                                    np.array(s.ttft_hist, np.float64), pods))
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
               ("latency_p99", "kv_cache", "cpu", "replicas", "requests")}
        for k in range(m):
            ready = s.ready[k]
            out["replicas"][k] = len(ready)
            if span > 0:
                out["requests"][k] = (new.arrivals[k] - old.arrivals[k]) / span
                out["latency_p99"][k] = histogram_quantile(0.99, TTFT_BUCKETS_S, window_hist[k])
            if ready:
                cap = s.params[k].kv_cache_tokens
                out["kv_cache"][k] = sum(s.kv[p] for p in ready) / (cap * len(ready))
                utils = [u for u in map(self.pod_cpu_utilization, ready) if not math.isnan(u)]
                out["cpu"][k] = sum(utils) / len(utils) if utils else math.nan
        return out

    def unready(self, k: int) -> int:
        """Pods of ISVC k still starting."""
        s = self.serving
        return sum(1 for p in s.alive[k] if s.state[p] == STARTING)

    def ready_utilizations(self, k: int) -> list[float]:
        """CPU utilisation of each ready pod of ISVC k with a measurement."""
        s = self.serving
        return [u for p in s.alive[k] if s.state[p] == READY
                if not math.isnan(u := self.pod_cpu_utilization(p))]
