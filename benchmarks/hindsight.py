"""What hindsight would need: the cheapest hourly fleet schedule that knows each hour's load in
advance, on the 24 h daily-cycle traces of benchmarks/decisions.py, against the shipped
default policy.

Each fleet size n runs as a static fleet for the whole simulated day (same simulator, same
TTFT SLO); its SLO attainment is counted per hour of arrival. A schedule picks one size per
hour; its GPU-hours are Σ n × 1 h and its attainment the hours' met requests over all
requests. The cheapest schedule reaching an attainment is found exactly (a knapsack over
replica-hours). It is optimistic: pods are ready on the hour and an hour's queue does not
spill into the next. Printed per trace: the policy, the hindsight schedule at the policy's
attainment, and at static peak − 1 pt, for sizes that are powers of two ≤ max_replicas (the
policy's own constraint), powers of two ≤ 128, and any of 4, 6, 8, 12, 16, 24 … 128.

    .venv/bin/python benchmarks/hindsight.py [--traces azure,mooncake] [--hours 24]
                                             [--plot DIR]

--plot DIR writes DIR/hindsight_<trace>.png: the policy's replicas over the day beside the
hindsight schedules and the static fleet.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from decisions import SLO_S  # noqa: E402
from simulate import build_trace, config_text, shipped_policy  # noqa: E402

from scaler.sim import trace as tr  # noqa: E402
from scaler.sim.jobs import Job, load_job_config, make_scaler, run_job  # noqa: E402
from scaler.sim.loop import simulate  # noqa: E402
from scaler.sim.plots import plot_schedules  # noqa: E402

SIZES = (4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
HOUR_S = 3600.0


def met_per_hour(trace: tr.Trace, slo_s: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(requests within the TTFT SLO, requests) per hour of arrival, static fleet of n."""
    job = Job("static", "static", config_text(slo_s, None), "hindsight", trace)
    config, sim = load_job_config(job)
    scaler, fleet = make_scaler(job, config, sim, static_replicas=np.array([n]))
    result = simulate(trace, sim=sim, fleet=fleet, scaler=scaler,
                      interval_s=config.interval_s, end_s=None, progress=None)
    ttft_s = result.first_token_s - trace.time_s
    met = np.isfinite(ttft_s) & (ttft_s <= slo_s)
    hour = (trace.time_s // HOUR_S).astype(np.int64)
    hours = int(hour.max()) + 1
    return np.bincount(hour, met, hours), np.bincount(hour, None, hours)


def cheapest(met: np.ndarray, sizes: np.ndarray, need: float) -> tuple[int, np.ndarray]:
    """Fewest replica-hours over schedules (one size per hour) with Σ met ≥ need.

    met: (len(sizes), hours) requests met per size and hour. Exact: best[b] = most requests
    met with b replica-hours, extended hour by hour. Returns (replica-hours, sizes per hour),
    or (-1, empty) when even the largest size every hour falls short.
    """
    n_sizes, hours = met.shape
    budget = int(sizes.max()) * hours
    best = np.full(budget + 1, -np.inf)
    best[0] = 0.0
    choice = np.zeros((hours, budget + 1), np.int64)
    for h in range(hours):
        new = np.full(budget + 1, -np.inf)
        for i in range(n_sizes):
            n = int(sizes[i])
            cand = np.full(budget + 1, -np.inf)
            cand[n:] = best[:budget + 1 - n] + met[i, h]
            better = cand > new
            new[better] = cand[better]
            choice[h, better] = i
        best = new
    reach = np.flatnonzero(best >= need - 1e-9)
    if reach.size == 0:
        return -1, np.zeros(0, np.int64)
    b = int(reach[0])
    picks = np.zeros(hours, np.int64)
    for h in range(hours - 1, -1, -1):
        picks[h] = sizes[choice[h, b]]
        b -= int(picks[h])
    return int(reach[0]), picks


def study(name: str, hours: float, workers: int, plot_dir: Path | None) -> None:
    """Print the policy and the hindsight schedules for one trace (and plot them)."""
    slo_s = SLO_S[name]
    trace = build_trace(name, hours, 0)[0]
    text = config_text(slo_s, None)
    policy_run = run_job(Job("default", "policy", text, "shipped", trace))
    policy = policy_run.summary
    static = run_job(Job("static", "static", text, "shipped", trace)).summary
    with ProcessPoolExecutor(workers) as pool:
        runs = list(pool.map(met_per_hour, [trace] * len(SIZES), [slo_s] * len(SIZES), SIZES))
    met = np.array([m for m, _ in runs])
    total = float(runs[0][1].sum())
    static_gh = static["gpu_hours"]
    max_replicas = int(shipped_policy()["policies"]["default"].get("max_replicas", 64))
    print(f"\n{name} {hours:g} h: static peak {static['static_replicas'][0]} replicas, "
          f"{100 * static['slo_attainment']:.1f} % at {static_gh:.0f} GPU-h; shipped default "
          f"{100 * policy['slo_attainment']:.1f} % at {policy['gpu_hours'] / static_gh:.2f}x")
    pow2 = [n for n in SIZES if n & (n - 1) == 0]
    variants = {f"powers of two <= {max_replicas}": [n for n in pow2 if n <= max_replicas],
                "powers of two <= 128": pow2, "any listed size <= 128": list(SIZES)}
    goals = {"the policy's attainment": policy["slo_attainment"],
             "static peak - 1 pt": static["slo_attainment"] - 0.01}
    plotted: dict[str, np.ndarray] = {}
    for goal, attainment in goals.items():
        for label, sizes in variants.items():
            rows = np.array([SIZES.index(n) for n in sizes])
            cost, picks = cheapest(met[rows], np.array(sizes), attainment * total)
            if cost < 0:
                ceiling = met[rows].max(axis=0).sum() / total
                print(f"  at {goal} ({100 * attainment:.1f} %), {label}: unreachable "
                      f"(ceiling {100 * ceiling:.1f} %)")
                continue
            print(f"  at {goal} ({100 * attainment:.1f} %), {label}: "
                  f"{cost / static_gh:.2f}x static  [{' '.join(map(str, picks))}]")
            if label == next(iter(variants)) or label.startswith("any"):
                plotted[f"hindsight at {goal}, {label} ({cost / static_gh:.2f}x)"] = picks
    if plot_dir is not None:
        path = plot_dir / f"hindsight_{name}.png"
        label = f"shipped default ({policy['gpu_hours'] / static_gh:.2f}x)"
        plot_schedules(path, dataclasses.replace(policy_run, label=label), plotted,
                       title=f"{name} {hours:g} h: policy vs hindsight",
                       static_replicas=int(static["static_replicas"][0]))
        print(f"  wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", default="azure,mooncake")
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--plot", type=Path, default=None, metavar="DIR")
    args = parser.parse_args()
    for name in args.traces.split(","):
        study(name, args.hours, args.workers, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
