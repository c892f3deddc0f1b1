"""Benchmark of scaler.policy.step: ns per ISVC per step and state bytes per ISVC.

Setting: 3 pressure signals + requests, 300 s down window, 15 s interval, realistic random
signals (lognormal latency, kv-cache and cpu utilisations around their targets, 2 % missing),
closed loop (current = previous desired), warm state (a full down window stepped first).
The pure-Python oracle (tests/reference_policy.py) runs at a smaller n, per ISVC extrapolated.

    .venv/bin/python benchmarks/policy_step.py [--sizes 1000,100000,1000000] [--steps 40]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaler.policy import PolicyParams, PolicyState, step  # noqa: E402
from tests.reference_policy import RefPolicy  # noqa: E402

TARGETS = {"latency_p99": 0.5, "kv_cache": 0.8, "cpu": 0.7}
VARIANTS = 8


def make_signals(n: int, seed: int) -> list[dict[str, np.ndarray]]:
    """VARIANTS ticks of signals for n ISVCs, cycled through during the benchmark."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(0.2, 1.6, n)
    ticks = []
    for _ in range(VARIANTS):
        load = level * rng.lognormal(0.0, 0.25, n)
        tick = {
            "latency_p99": 0.5 * load * rng.lognormal(0.0, 0.3, n),
            "kv_cache": np.clip(0.8 * load + rng.normal(0, 0.05, n), 0.0, 1.0),
            "cpu": 0.7 * load * rng.uniform(0.8, 1.2, n),
            "requests": 20.0 * load,
        }
        for values in tick.values():
            values[rng.random(n) < 0.02] = np.nan
        ticks.append(tick)
    return ticks


def bench_vectorised(n: int, steps: int) -> tuple[float, float]:
    """(ns per ISVC per step, state bytes per ISVC) of the numpy policy at size n."""
    params = PolicyParams.uniform(n, targets=TARGETS, interval_s=15, scale_down_window_s=300)
    ticks = make_signals(n, seed=n)
    state = PolicyState.empty(params)
    current = np.full(n, 2.0)
    for t in range(params.ring_ticks):
        decision, state = step(state, params, ticks[t % VARIANTS], current)
        current = decision.desired.astype(np.float64)
    elapsed_ns = []
    for t in range(steps):
        start = time.perf_counter_ns()
        decision, state = step(state, params, ticks[t % VARIANTS], current)
        elapsed_ns.append(time.perf_counter_ns() - start)
        current = decision.desired.astype(np.float64)
    return float(np.mean(elapsed_ns)) / n, state.nbytes / n


def bench_oracle(n: int, steps: int) -> float:
    """ns per ISVC per step of the pure-Python oracle at size n."""
    params = PolicyParams.uniform(n, targets=TARGETS, interval_s=15, scale_down_window_s=300)
    ticks = [{k: v.tolist() for k, v in t.items()} for t in make_signals(n, seed=1)]
    oracle = RefPolicy(params)
    current = [2.0] * n
    start = time.perf_counter_ns()
    for t in range(steps):
        tick = ticks[t % VARIANTS]
        requests = tick["requests"]
        decisions = oracle.step(tick, current, requests)
        current = [float(d.desired) for d in decisions]
    return (time.perf_counter_ns() - start) / steps / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--oracle-n", type=int, default=2000)
    args = parser.parse_args()
    oracle_ns = bench_oracle(args.oracle_n, 25)
    print(f"oracle (pure Python, n={args.oracle_n}): {oracle_ns:10.1f} ns/ISVC/step")
    print(f"{'n':>9} {'ns/ISVC/step':>13} {'ms/step':>9} {'state B/ISVC':>13} {'oracle ÷ numpy':>15}")
    for n in (int(float(s)) for s in args.sizes.split(",")):
        ns, nbytes = bench_vectorised(n, args.steps)
        print(f"{n:>9} {ns:>13.1f} {ns * n / 1e6:>9.2f} {nbytes:>13.1f} {oracle_ns / ns:>15.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
