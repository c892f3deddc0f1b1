"""What the synthetic fleet exposes per ISVC (IsvcDrive), a time-varying load model
(LoadPattern) and the TTFT histogram shape giving a chosen P99 (pure, for scaler.devtools.fleet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

TTFT_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
    10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
"""vLLM's `time_to_first_token_seconds` bucket bounds (vllm/v1/metrics/loggers.py, as in
/work/shared/fixtures/vllm_metrics.txt), without +Inf."""

METRIC_STYLES = ("colon", "underscore", "legacy")
"""`vllm:kv_cache_usage_perc`, `vllm_kv_cache_usage_perc` (OpenMetrics-1.0 spelling of
prometheus_client ≥ 0.22), `vllm:gpu_cache_usage_perc` (vLLM before v0.10)."""


@dataclass
class IsvcDrive:
    """Values one ISVC's exporters show; per pod: kv_cache and cpu_ratio as given, request
    rate and TTFT observations split evenly over `pods` (0 pods = no series at all)."""

    kv_cache: float = 0.3
    ttft_p99_s: float = 0.2
    cpu_ratio: float = 0.3
    request_rate: float = 2.0
    pods: int = 1
    cpu_request_cores: float = 4.0
    metric_style: str = "colon"

    def __post_init__(self) -> None:
        if self.metric_style not in METRIC_STYLES:
            raise ValueError(f"metric_style = {self.metric_style!r}, must be one of "
                             f"{', '.join(METRIC_STYLES)}")
        if self.pods < 0 or self.request_rate < 0 or self.cpu_request_cores <= 0:
            raise ValueError("pods and request_rate must be ≥ 0, cpu_request_cores > 0")


@dataclass(frozen=True)
class LoadPattern:
    """Demand (req/s) = base · (1 + amplitude · sin(2π (t/period + phase))), × burst_factor
    during a burst (`burst_s` long, every `burst_every_s`, offset by `phase`); 0 disables.

    `drive` turns demand and pods into signals through utilisation u = demand / (pods ·
    capacity): kv_cache = min(0.99, 0.85 u), cpu = 0.05 + 0.6 u, TTFT P99 = ttft_floor +
    ttft_base · (1 + 3 min(u, 3)²), served rate = min(demand, 1.2 · pods · capacity).
    `ttft_floor_s` is the part of the latency no replica count removes (the prefill of long
    prompts): with a floor above the latency target, more pods cannot meet it.
    Example: base 10, capacity 8, 1 pod, no wave → u = 1.25, kv 0.99, TTFT ×5.7.
    """

    base_rate: float = 10.0
    amplitude: float = 0.5
    period_s: float = 600.0
    phase: float = 0.0
    burst_every_s: float = 0.0
    burst_s: float = 60.0
    burst_factor: float = 3.0
    capacity_per_pod: float = 8.0
    ttft_base_s: float = 0.08
    ttft_floor_s: float = 0.0

    def demand(self, t_s: float) -> float:
        """Requests per second wanted at Unix time `t_s` (≥ 0)."""
        wave = 1.0 + self.amplitude * math.sin(2 * math.pi * (t_s / self.period_s + self.phase))
        rate = self.base_rate * max(0.0, wave)
        if self.burst_every_s > 0:
            since = (t_s + self.phase * self.burst_every_s) % self.burst_every_s
            if since < self.burst_s:
                rate *= self.burst_factor
        return rate

    def drive(self, t_s: float, *, pods: int) -> dict[str, float]:
        """IsvcDrive fields (kv_cache, cpu_ratio, ttft_p99_s, request_rate) at `t_s`."""
        demand = self.demand(t_s)
        if pods <= 0:
            return {"kv_cache": 0.0, "cpu_ratio": 0.0,
                    "ttft_p99_s": self.ttft_floor_s + self.ttft_base_s, "request_rate": 0.0}
        u = demand / (pods * self.capacity_per_pod)
        return {
            "kv_cache": min(0.99, 0.85 * u),
            "cpu_ratio": 0.05 + 0.6 * u,
            "ttft_p99_s": self.ttft_floor_s + self.ttft_base_s * (1.0 + 3.0 * min(u, 3.0) ** 2),
            "request_rate": min(demand, 1.2 * pods * self.capacity_per_pod),
        }


@lru_cache(maxsize=4096)
def ttft_fractions(p99_s: float, buckets: tuple[float, ...] = TTFT_BUCKETS_S) -> np.ndarray:
    """Cumulative fraction of requests ≤ each bound (then +Inf = 1) whose histogram_quantile
    (0.99, ·) is exactly `p99_s` (clamped into (buckets[1], buckets[-1]]).

    With x in bucket (lo, hi] and u = (x - lo)/(hi - lo): if u ≤ 0.99, a fraction
    a = (0.99 - u)/(1 - u) lies in the bucket ending at lo and the rest in (lo, hi], so the
    interpolated rank 0.99 lands at lo + u (hi - lo) = x; if u > 0.99, a fraction 0.99/u lies in
    (lo, hi] and the rest above hi. Example: x = 0.3 → lo 0.25, hi 0.5, u = 0.2, a = 0.9875.
    """
    bounds = np.array((*buckets, math.inf))
    x = min(max(float(p99_s), buckets[1] * 1.0001), buckets[-1])
    hi_i = int(np.searchsorted(bounds, x, side="left"))
    lo, hi = bounds[hi_i - 1], bounds[hi_i]
    u = (x - lo) / (hi - lo)
    cumulative = np.zeros(len(bounds))
    if u <= 0.99:
        cumulative[hi_i - 1] = (0.99 - u) / (1.0 - u)
        cumulative[hi_i:] = 1.0
    else:
        cumulative[hi_i] = 0.99 / u
        cumulative[hi_i + 1:] = 1.0
    cumulative.setflags(write=False)
    return cumulative


def mean_of(cumulative: np.ndarray, buckets: tuple[float, ...] = TTFT_BUCKETS_S) -> float:
    """Mean observation of a bucketed distribution (mid-points; +Inf bucket at 2× the last)."""
    uppers = np.array((*buckets, 2 * buckets[-1]))
    lowers = np.concatenate(([0.0], uppers[:-1]))
    mass = np.diff(np.concatenate(([0.0], cumulative)))
    return float(np.sum(mass * (lowers + uppers) / 2))
