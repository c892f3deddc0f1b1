"""Benchmark of scaler.policy.step: ns per ISVC per step and state bytes per ISVC.

Setting: 3 pressure signals + requests, 300 s down window, 15 s interval, realistic random
signals (lognormal latency, kv-cache and cpu utilisations around their targets, 2 % missing),
closed loop (current = previous desired), warm state (a full down window stepped first).
Figures: median and best step over the timed steps (the machine is shared with other jobs:
the best step shows the uncontended speed, the median a typical one).
The pure-Python oracle (tests/reference_policy.py) runs at a smaller n, per ISVC extrapolated.

    .venv/bin/python benchmarks/policy_step.py [--sizes 1000,100000,1000000] [--steps 40]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaler.policy import PolicyParams, PolicyState, step
from tests.reference_policy import RefPolicy

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


def mixed_params(n: int) -> PolicyParams:
    """Three policies spread at random over n ISVCs: other targets, windows and bounds."""
    pick = np.random.default_rng(7).integers(0, 3, n)
    per = lambda *v: np.array(v)[pick]  # noqa: E731
    return PolicyParams.uniform(
        n,
        targets={"latency_p99": per(0.5, 2.0, np.nan), "kv_cache": per(0.8, 0.9, 0.8),
                 "cpu": per(0.7, np.nan, 0.6)},
        interval_s=15,
        scale_down_window_s=per(300.0, 600.0, 300.0),
        scale_up_window_s=per(0.0, 0.0, 30.0),
        max_replicas=per(64, 16, 8),
        tolerance=per(0.1, 0.2, 0.1),
    )


def bench_vectorised(n: int, steps: int, *, mixed: bool = False,
                     kinds: dict[str, str] | None = None,
                     latency_scale: float = 1.0) -> tuple[float, float, float]:
    """(median and best ns per ISVC per step, state bytes per ISVC) of the numpy policy.

    `kinds` overrides signal kinds (latency_p99 as utilization = the v1 path); latency_scale
    multiplies the latency signal (how many ISVCs sit above their latency target)."""
    params = (mixed_params(n) if mixed else
              PolicyParams.uniform(n, targets=TARGETS, interval_s=15, scale_down_window_s=300,
                                   kinds=kinds))
    ticks = make_signals(n, seed=n)
    for tick in ticks:
        tick["latency_p99"] = tick["latency_p99"] * latency_scale
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
    return float(np.median(elapsed_ns)) / n, float(np.min(elapsed_ns)) / n, state.nbytes / n


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
    print(f"{'n':>9} {'median ns/ISVC':>15} {'best ns/ISVC':>13} {'ms/step':>8}"
          f" {'state B/ISVC':>13} {'oracle ÷ numpy':>15}")

    def row(label: str, n: int, **kw: Any) -> None:
        median, best, nbytes = bench_vectorised(n, args.steps, **kw)
        print(f"{label:>9} {median:>15.1f} {best:>13.1f} {median * n / 1e6:>8.2f}"
              f" {nbytes:>13.1f} {oracle_ns / median:>15.0f}")

    sizes = [int(float(s)) for s in args.sizes.split(",")]
    for n in sizes:
        row(str(n), n)
    print(f"mixed: 3 policies (targets, 300/600 s down, 0/30 s up windows) at n={sizes[-1]}")
    row("mixed", sizes[-1], mixed=True)
    ticks = make_signals(1000, seed=1)
    above = np.mean([np.nanmean(t["latency_p99"] / TARGETS["latency_p99"] > 1.1) for t in ticks])
    print(f"above: the signals above have {above:.0%} of ISVCs above their latency target at "
          "every tick (the v2 guard's slow path); at n = " f"{sizes[-1]}:")
    print("v1 path: latency_p99 as a utilization signal (v2 property 1: exactly v1)")
    row("v1", sizes[-1], kinds={"latency_p99": "utilization"})
    print("latency 0.6x: about 3 % of ISVCs above their latency target")
    row("lat×0.6", sizes[-1], latency_scale=0.6)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
