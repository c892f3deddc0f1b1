"""Benchmark of `scaler simulate`: 24 simulated hours of each real trace with one policy.

Each public trace (~1 h) is rate-scaled, tiled to 24 h and given a daily cycle by thinning
(night load 1/8 of noon), scaled so that the busiest minute needs about 60 replicas of the
default profile. Mooncake is scaled by overlaying time-shifted copies (independent tenants):
its fleet needs 8-56 replicas over the day (10-min averages), ~1.9M requests. The Azure
code trace is scaled by duplicating requests (its 1-s bursts grow with the rate): its busiest
minutes need ~60 replicas but 10-min averages only 2-17, ~3M requests; overlaying it to 8-64
replicas in 10-min averages would take ~13M requests (about 2 min per simulated day).

The policy is the shipped default of deploy/base/policy.yaml with a latency target that
suits the trace (see TRACES). Prints the wall time of the policy run (target: ≤ 60 s) and
the comparison table against the three baselines on the same trace.

    .venv/bin/python benchmarks/simulate.py [--hours 24] [--traces mooncake,azure]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scaler.sim import trace as tr  # noqa: E402
from scaler.sim.jobs import BASELINES, Job, peak_rate, run_job  # noqa: E402
from scaler.sim.profiles import PROFILES, capacity_rps  # noqa: E402
from scaler.sim.report import best_run, comparison_rows, format_table  # noqa: E402
from scaler.sim.sweep import run_jobs  # noqa: E402

# name → (file, rate method, TTFT SLO s, latency_p99 target s). The default policy's 0.5 s
# target cannot work here: scale-down needs P ≤ scale_down_utilization / 2 = 0.35, i.e. a TTFT
# P99 below 0.175 s, while a 2048-token prompt alone takes 0.21 s (Mooncake's P99 prompt: 9 s).
TRACES = {"mooncake": ("mooncake_conversation_first30m.csv", "overlay", 15.0, 30.0),
          "azure": ("azure_code_2023.csv", "duplicate", 2.0, 1.0)}
PEAK_REPLICAS, TROUGH = 60, 0.125


def _capacity(trace: tr.Trace) -> float:
    return capacity_rps(PROFILES["a100-80gb-llama3.1-8b"],
                        mean_input=float(trace.input_tokens.mean()),
                        mean_output=float(trace.output_tokens.mean()))


def build_trace(name: str, hours: float, seed: int) -> tuple[tr.Trace, float]:
    """The day-long trace and the rate factor applied to the original."""
    rng = np.random.default_rng(seed)
    file, method = TRACES[name][:2]
    trace = tr.load_trace(Path(__file__).resolve().parents[2] / "shared" / "traces" / file)
    if tr.slot_s(trace) > 0:
        trace = tr.jitter(trace, width_s=tr.slot_s(trace), rng=rng)
    factor = PEAK_REPLICAS * _capacity(trace) / (trace.n / trace.duration_s) / 2
    for _ in range(2):  # overlaid copies smooth the peak: correct the factor once
        scaled = tr.rate_scale(trace, factor=factor, rng=np.random.default_rng(seed),
                               method=method)
        factor *= PEAK_REPLICAS * _capacity(trace) / peak_rate(scaled, 0, 60.0)
    scaled = tr.rate_scale(trace, factor=factor, rng=rng, method=method)
    day = tr.tile(scaled, until_s=hours * 3600)
    return tr.diurnal(day, trough=TROUGH, rng=rng, period_s=hours * 3600), factor


def needed_range(trace: tr.Trace, window_s: float = 600.0) -> tuple[int, int]:
    """(min, max) replicas needed over windows of `window_s`, from the capacity estimate."""
    counts = np.bincount((trace.time_s // window_s).astype(int))[:-1]
    need = np.ceil(counts / window_s / _capacity(trace))
    return int(need.min()), int(need.max())


def shipped_policy() -> dict[str, Any]:
    """deploy/base/policy.yaml (the shipped default policy) as a document."""
    doc: dict[str, Any] = yaml.safe_load((ROOT / "deploy/base/policy.yaml").read_text())
    return doc


def config_text(slo_s: float, latency_target_s: float | None,
                prefill_tokens_per_s: float | None = None) -> str:
    """The shipped policy (optionally with another latency_p99 target) + a simulation section
    (optionally serving another prefill rate than the default profile's 10k tokens/s)."""
    doc = shipped_policy()
    if latency_target_s is not None:
        doc["policies"]["default"]["targets"]["latency_p99"] = latency_target_s
    doc["simulation"] = {"ttft_slo": f"{slo_s:g}s"}
    if prefill_tokens_per_s is not None:
        doc["simulation"]["serving"] = {"prefill_tokens_per_s": prefill_tokens_per_s}
    return yaml.safe_dump(doc, sort_keys=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--traces", default="mooncake,azure")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name in args.traces.split(","):
        file, method, slo_s, target_s = TRACES[name]
        text = config_text(slo_s, target_s)
        trace, factor = build_trace(name, args.hours, args.seed)
        low, high = needed_range(trace)
        print(f"== {name}: {file} x{factor:.2f} rate ({method}), tiled to {args.hours:g} h, "
              f"daily cycle (trough {TROUGH:g}): {trace.n:,} requests, "
              f"{trace.n / trace.duration_s:.1f} req/s mean; needs {low}-{high} replicas "
              f"(10-min averages); TTFT SLO {slo_s:g} s, policy latency_p99 target "
              f"{target_s:g} s")
        start = time.perf_counter()
        policy = run_job(Job("policy", "policy", text, "deploy/base/policy.yaml", trace))
        wall = time.perf_counter() - start
        per_request_us = wall / trace.n * 1e6
        print(f"policy run: {wall:.1f} s wall for {args.hours:g} simulated h "
              f"({per_request_us:.1f} µs/request, {args.hours * 3600 / wall:,.0f}x real time; "
              f"target ≤ 60 s: {'met' if wall <= 60 else 'MISSED'})")
        start = time.perf_counter()
        jobs = [Job(b, b, text, "deploy/base/policy.yaml", trace) for b in BASELINES]
        results = [policy, *run_jobs(jobs, workers=2)]
        print(f"baselines: {time.perf_counter() - start:.1f} s wall (3 runs, 2 workers)")
        summaries = [r.summary for r in results]
        print(format_table(comparison_rows(summaries)))
        best = best_run(summaries, attainment=0.99)
        print(f"fewest GPU-hours with ≥ 99 % of TTFT ≤ {slo_s:g} s: {best}")
        static = next(s for s in summaries if s["run"] == "static-peak")
        ratio = summaries[0]["gpu_hours"] / static["gpu_hours"]
        print(f"policy / static-peak GPU-hours: {ratio:.3f}; SLO attainment "
              f"{summaries[0]['slo_attainment']:.4f} vs {static['slo_attainment']:.4f}\n")
        if math.isnan(ratio):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
