"""What the simulated Prometheus shows: the v2 signals (prompt throughput, in-flight requests,
spec replicas) computed as their PromQL queries would over the scraped samples."""

from __future__ import annotations

import math

import pytest

from scaler.sim.observe import Observer
from scaler.sim.profiles import PROFILES
from scaler.sim.serving import Serving
from scaler.sim.trace import make_trace

BASE = PROFILES["a100-80gb-llama3.1-8b"]


def _observed(arrivals: list[float], inputs: list[int], outputs: list[int], *, pods: int,
              scrapes: list[float], spec: list[int] | None = None) -> dict[str, float]:
    s = Serving(make_trace(arrivals, inputs, outputs), [BASE], routing="central")
    for _ in range(pods):
        s.set_ready(s.add_pod(0, 0.0), 0.0)
    obs = Observer(s, window_s=60.0)
    for t in scrapes:
        s.advance(t)
        obs.scrape(t, spec=spec)
    return {name: float(v[0]) for name, v in obs.signals().items()}


def test_prompt_throughput_is_prefilled_tokens_per_second_per_ready_pod() -> None:
    # 10 prompts of 2000 tokens in the first 10 s, all prefilled well before t = 60
    sig = _observed([float(i) for i in range(10)], [2000] * 10, [5] * 10, pods=2,
                    scrapes=[0.0, 15.0, 30.0, 45.0, 60.0])
    assert sig["prompt_throughput"] == pytest.approx(20_000 / 60.0 / 2)


def test_inflight_averages_the_scraped_gauges_over_the_window() -> None:
    # 4 long requests running from t = 0 to well past t = 60 on one pod: 0 at the first
    # scrape (t = 0, before they arrive), 4 at the next four → avg_over_time over (0, 60] = 4
    sig = _observed([0.5, 0.5, 0.5, 0.5], [100] * 4, [20_000] * 4, pods=1,
                    scrapes=[0.0, 15.0, 30.0, 45.0, 60.0])
    assert sig["inflight"] == pytest.approx(4.0)


def test_spec_replicas_is_what_kube_state_metrics_exports_at_the_scrape() -> None:
    sig = _observed([1.0], [10], [2], pods=1, scrapes=[0.0, 15.0], spec=[4])
    assert sig["spec_replicas"] == 4.0
    assert sig["replicas"] == 1.0
    assert math.isnan(_observed([1.0], [10], [2], pods=1, scrapes=[0.0, 15.0])["spec_replicas"])
