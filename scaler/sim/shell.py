"""The imperative shell of `scaler simulate`: read inputs, build jobs, run them, write DIR."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from scaler.config import parse_config
from scaler.durations import parse_duration
from scaler.errors import ConfigError
from scaler.sim import trace as tr
from scaler.sim.jobs import BASELINES, Job, JobResult
from scaler.sim.outputs import write_comparison, write_summary, write_timeline
from scaler.sim.params import SimParams, parse_sim_params
from scaler.sim.report import best_run, comparison_rows, format_table
from scaler.sim.sweep import expand, run_jobs
from scaler.sim.synth import parse_synth, synthetic


def build_trace(args: argparse.Namespace) -> tuple[tr.Trace, dict[str, Any], list[str]]:
    """The trace after window → jitter → rate scale → speed → tile → diurnal; (trace, info,
    notes)."""
    try:
        default = tr.parse_isvc(args.isvc)
    except ValueError as e:
        raise ConfigError(f"--isvc: {e}") from None
    rng = np.random.default_rng(args.seed)
    if args.trace.startswith("synthetic:"):
        base = synthetic(parse_synth(args.trace), seed=args.seed)
        trace = tr.Trace(base.time_s, base.input_tokens, base.output_tokens, base.isvc,
                         (default,), base.source)
    else:
        trace = tr.load_trace(args.trace, default_isvc=default)
    notes: list[str] = []
    steps: list[str] = []
    if args.start or args.duration is not None:
        trace = tr.window(trace, start_s=args.start,
                          duration_s=np.inf if args.duration is None else args.duration)
        end = "end" if args.duration is None else f"{args.start + args.duration:g} s"
        steps.append(f"window [{args.start:g} s, {end})")
    slot = tr.slot_s(trace)
    width = 0.0
    if args.jitter == "auto":
        width = slot
    elif args.jitter is not None:
        try:
            width = parse_duration(args.jitter)
        except ValueError as e:
            raise ConfigError(f"--jitter {args.jitter}: {e}") from None
    if width > 0:
        trace = tr.jitter(trace, width_s=width, rng=rng)
        steps.append(f"jitter {width:g}s")
    elif slot > 0:
        notes.append(f"arrival times look quantised to ~{slot:g} s slots (e.g. Mooncake); "
                     "--jitter auto spreads them")
    if args.rate_scale != 1.0:
        trace = tr.rate_scale(trace, factor=args.rate_scale, rng=rng, method=args.rate_method)
        steps.append(f"rate x{args.rate_scale:g}"
                     + (f" ({args.rate_method})" if args.rate_method != "duplicate" else ""))
    if args.speed != 1.0:
        trace = tr.speed(trace, factor=args.speed)
        steps.append(f"speed x{args.speed:g}")
    if args.tile_to:
        trace = tr.tile(trace, until_s=args.tile_to)
        steps.append(f"tiled to {args.tile_to:g}s")
    if args.diurnal is not None:
        try:
            trace = tr.diurnal(trace, trough=args.diurnal, rng=rng)
        except ValueError as e:
            raise ConfigError(f"--diurnal: {e}") from None
        steps.append(f"diurnal trough {args.diurnal:g}")
    info = {"source": trace.source, "transformations": steps, "requests": trace.n,
            "duration_s": round(trace.duration_s, 3),
            "mean_rate_rps": round(trace.n / max(trace.duration_s, 1e-9), 4),
            "isvcs": [f"{ns}/{name}" for ns, name in trace.keys]}
    return trace, info, notes


def _read_config(path: str) -> tuple[str, SimParams]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read: {e}", source=path) from e
    config = parse_config(text, source=path)
    try:
        return text, parse_sim_params(config.simulation)
    except ConfigError as e:
        raise ConfigError(e.errors, source=path) from None


def build_jobs(args: argparse.Namespace, trace: tr.Trace) -> tuple[list[Job], SimParams]:
    """Policy jobs (each config × sweep point) then baselines (with the first config)."""
    names = [] if args.baselines == "none" else [b for b in args.baselines.split(",") if b]
    unknown = [b for b in names if b not in BASELINES]
    if unknown:
        raise ConfigError(f"--baselines: unknown {', '.join(unknown)} "
                          f"(expected: {', '.join(BASELINES)} or none)")
    jobs: list[Job] = []
    first: tuple[str, SimParams] | None = None
    seen: set[str] = set()
    for path in args.config:
        text, sim = _read_config(path)
        first = first or (text, sim)
        stem = Path(path).stem
        label = stem if stem not in seen else f"{stem}#{len(seen)}"
        seen.add(label)
        for suffix, variant in expand(text, args.sweep):
            parse_sim_params(parse_config(variant, source=f"{path}{suffix}").simulation)
            jobs.append(Job(label + suffix, "policy", variant, path, trace))
    assert first is not None
    jobs += [Job(name, name, first[0], args.config[0], trace) for name in names]
    return jobs, first[1]


def _progress_bar(start: float) -> tuple[Callable[[float], None], Callable[[int, int], None]]:
    tty = sys.stderr.isatty()

    def fraction(f: float) -> None:
        if tty:
            bar = "#" * int(30 * f)
            sys.stderr.write(f"\r  simulating [{bar:<30}] {100 * f:5.1f}% "
                             f"{time.monotonic() - start:6.1f}s")
            sys.stderr.flush()

    def done(n: int, total: int) -> None:
        if tty:
            sys.stderr.write(f"\r  runs done: {n}/{total} ({time.monotonic() - start:.1f}s)"
                             + " " * 20 + ("\n" if n == total else ""))
            sys.stderr.flush()

    return fraction, done


def write_outputs(out: Path, results: list[JobResult], info: dict[str, Any], sim: SimParams,
                  *, plots: bool) -> tuple[list[dict[str, Any]], str | None]:
    """Write every output file; returns (comparison rows, best run)."""
    out.mkdir(parents=True, exist_ok=True)
    summaries = [r.summary for r in results]
    rows = comparison_rows(summaries)
    best = best_run(summaries, attainment=sim.slo_attainment)
    write_summary(out / "summary.json", {
        "trace": info, "ttft_slo_s": sim.ttft_slo_s, "slo_attainment_target": sim.slo_attainment,
        "best": best, "runs": summaries})
    write_timeline(out / "timeline.csv", results)
    if len(results) > 1:
        write_comparison(out / "comparison.csv", rows)
    if plots:
        from scaler.sim.plots import plot_comparison, plot_runs

        plot_runs(out, results, slo_s=sim.ttft_slo_s)
        if len(results) > 1:
            plot_comparison(out / "comparison.png", rows, attainment=sim.slo_attainment)
    return rows, best


def execute(args: argparse.Namespace) -> int:
    """`scaler simulate`: exit code 0 on success (errors raise ScalerError)."""
    trace, info, notes = build_trace(args)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    jobs, sim = build_jobs(args, trace)
    fraction, done = _progress_bar(time.monotonic())
    results = run_jobs(jobs, workers=args.workers, on_done=done, progress=fraction)
    rows, best = write_outputs(args.output, results, info, sim, plots=not args.no_plots)
    print(f"trace: {info['source']}  {trace.n} requests over {trace.duration_s / 3600:.2f} h"
          f"  (TTFT SLO {sim.ttft_slo_s:g} s)")
    print(format_table(rows))
    target = f"SLO attainment ≥ {sim.slo_attainment:g}"
    print(f"fewest GPU-hours with {target}: {best}" if best else f"no run reached {target}")
    print(f"wrote {args.output}/summary.json, timeline.csv"
          + (", comparison.csv" if len(results) > 1 else "")
          + ("" if args.no_plots else ", *.png"))
    return 0
