"""Benchmark of decision quality: `scaler simulate` on the shared real traces, as they are and
tiled over 24 h with a daily cycle (as benchmarks/simulate.py builds them), for the shipped
default policy (deploy/base/policy.yaml) and for it with latency targets 0.3 s, 0.5 s and 2 s,
against the three baselines. TTFT SLO 2 s (Azure code) and 15 s (Mooncake conversation).

Prints one table: SLO attainment, GPU-hours vs static peak and vs KEDA's Prometheus scaler on
requests, scale events, flaps (a scale-up and a scale-down of one ISVC less than one
scale-down window apart), then the targets of issue #14 checked against the table.

    .venv/bin/python benchmarks/decisions.py [--traces azure,mooncake] [--hours 24] [--quick]
                                             [--seed 0] [--prefill-tokens-per-s 10000]

--seed draws another 24 h build (other thinning and jitter of the same trace: a trace the
policy was not tuned on). --prefill-tokens-per-s serves the traces on replicas of another
prefill rate (a slower or faster GPU/model than the 7000 tokens/s prompt_throughput target of
the shipped policy assumes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from simulate import build_trace, config_text, shipped_policy  # noqa: E402

from scaler.durations import parse_duration  # noqa: E402
from scaler.sim import trace as tr  # noqa: E402
from scaler.sim.jobs import BASELINES, Job, JobResult  # noqa: E402
from scaler.sim.sweep import run_jobs  # noqa: E402

SLO_S = {"azure": 2.0, "mooncake": 15.0}
FILES = {"azure": "azure_code_2023.csv", "mooncake": "mooncake_conversation_first30m.csv"}
LATENCY_TARGETS_S = (0.3, 0.5, 2.0)
COLUMNS = ("trace", "run", "slo_attainment", "vs_static", "vs_keda", "scale_events", "flaps")


def flaps(result: JobResult, window_s: float) -> int:
    """Pairs (up, down) or (down, up) of one ISVC less than `window_s` apart."""
    count = 0
    last: dict[int, tuple[float, int]] = {}
    for t, k, old, new in sorted(result.scale_events):
        if new == old or old == 0 or new == 0:
            continue
        direction = 1 if new > old else -1
        prev = last.get(k)
        if prev is not None and prev[1] != direction and t - prev[0] < window_s:
            count += 1
        last[k] = (t, direction)
    return count


def traces(names: list[str], hours: float, quick: bool,
           seed: int = 0) -> list[tuple[str, str, tr.Trace]]:
    """(trace name, label, trace) for each trace as it is and (unless quick) over `hours`
    (the build of benchmarks/simulate.py with `seed`)."""
    out = []
    for name in names:
        raw = tr.load_trace(ROOT.parent / "shared" / "traces" / FILES[name])
        if tr.slot_s(raw) > 0:
            raw = tr.jitter(raw, width_s=tr.slot_s(raw), rng=np.random.default_rng(0))
        out.append((name, f"{name} as is", raw))
        if not quick:
            out.append((name, f"{name} {hours:g} h", build_trace(name, hours, seed)[0]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", default="azure,mooncake")
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--quick", action="store_true", help="only the traces as they are")
    parser.add_argument("--seed", type=int, default=0, help="seed of the 24 h builds")
    parser.add_argument("--prefill-tokens-per-s", type=float, default=None,
                        help="the simulated replicas' prefill rate (default: the profile's)")
    args = parser.parse_args()
    window_s = parse_duration(shipped_policy()["policies"]["default"].get("scale_down_window",
                                                                          "300s"))
    rows: list[dict[str, Any]] = []
    for name, label, trace in traces(args.traces.split(","), args.hours, args.quick, args.seed):
        slo = SLO_S[name]
        rate = args.prefill_tokens_per_s
        jobs = [Job("default", "policy", config_text(slo, None, rate), "shipped", trace)]
        jobs += [Job(f"latency {t:g}s", "policy", config_text(slo, t, rate), "shipped", trace)
                 for t in LATENCY_TARGETS_S]
        jobs += [Job(b, b, config_text(slo, None, rate), "shipped", trace) for b in BASELINES]
        results = run_jobs(jobs, workers=2)
        by_label = {job.label: res for job, res in zip(jobs, results, strict=True)}
        static = by_label["static"].summary["gpu_hours"]
        keda = next(r for lab, r in by_label.items() if lab.startswith("keda")).summary
        for lab, res in by_label.items():
            s = res.summary
            rows.append({"trace": label, "run": lab, "slo_attainment": s["slo_attainment"],
                         "gpu_hours": s["gpu_hours"], "vs_static": s["gpu_hours"] / static,
                         "vs_keda": s["gpu_hours"] / keda["gpu_hours"],
                         "scale_events": s["scale_events"], "flaps": flaps(res, window_s),
                         "kind": "baseline" if lab in BASELINES else "policy"})
        print_table([r for r in rows if r["trace"] == label])
    return check(rows)


def print_table(rows: list[dict[str, Any]]) -> None:
    """One block of the table."""
    for r in rows:
        print(f"{r['trace']:<16} {r['run']:<26} {100 * r['slo_attainment']:6.1f} % "
              f"{r['vs_static']:6.2f}x static {r['vs_keda']:6.2f}x keda "
              f"{r['scale_events']:5d} events {r['flaps']:3d} flaps", flush=True)


def check(rows: list[dict[str, Any]]) -> int:
    """Print the issue's targets, each met or MISSED; exit status 0 (figures, not a gate)."""
    policy = [r for r in rows if r["kind"] == "policy"]
    worst = max(policy, key=lambda r: r["vs_static"])
    verdict = "met" if worst["vs_static"] <= 1.25 else "MISSED"
    print(f"\nno ratchet (every policy run ≤ 1.25x static): worst {worst['vs_static']:.2f}x "
          f"({worst['trace']}, {worst['run']}): {verdict}")
    for r in (r for r in policy if r["run"] == "default"):
        base = [b for b in rows if b["trace"] == r["trace"] and b["kind"] == "baseline"]
        dominated = [b["run"] for b in base if b["slo_attainment"] >= r["slo_attainment"]
                     and b["gpu_hours"] < 0.95 * r["gpu_hours"]]
        static = next(b for b in base if b["run"] == "static")
        gap = 100 * (r["slo_attainment"] - static["slo_attainment"])
        print(f"default on {r['trace']}: dominated by {dominated or 'none'}; SLO attainment "
              f"{gap:+.1f} pt vs static; {r['vs_static']:.2f}x static GPU-hours; "
              f"{r['flaps']} flaps")
    total_flaps = sum(r["flaps"] for r in policy)
    print(f"flaps over every policy run: {total_flaps} ({'met' if total_flaps == 0 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
