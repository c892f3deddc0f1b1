"""One simulation job (a policy config or a baseline on a trace) → its compact result; pure.

Jobs carry the config as text so they can run in worker processes; results hold the summary
and the timeline, not per-request arrays, so they are cheap to send back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from scaler.config import Config, build_params, parse_config
from scaler.sim.baselines import (
    Autoscaler,
    HpaCpuScaler,
    KedaPrometheusScaler,
    PolicyScaler,
    StaticScaler,
)
from scaler.sim.loop import Fleet, fleet_for, simulate
from scaler.sim.params import SimParams, parse_sim_params
from scaler.sim.report import summarize
from scaler.sim.trace import Trace

BASELINES = ("static", "hpa-cpu", "keda-prometheus")


@dataclass(frozen=True, eq=False)
class Job:
    """Run `kind` ("policy" or a BASELINES name) with the config text on the trace."""

    label: str
    kind: str
    config_text: str
    config_source: str
    trace: Trace
    end_s: float | None = None


@dataclass(frozen=True, eq=False)
class JobResult:
    """What a job hands back: summary.json entry, timeline rows, scale events."""

    label: str
    summary: dict[str, Any]
    timeline: list[tuple[object, ...]]
    scale_events: list[tuple[float, int, int, int]]


def load_job_config(job: Job) -> tuple[Config, SimParams]:
    """The job's Config and its validated `simulation:` section."""
    config = parse_config(job.config_text, source=job.config_source)
    return config, parse_sim_params(config.simulation)


def peak_rate(trace: Trace, k: int, window_s: float) -> float:
    """Highest arrival rate of ISVC k over any window of `window_s` (req/s)."""
    t = trace.time_s[trace.isvc == k]
    counts = np.searchsorted(t, t + window_s, side="left") - np.arange(t.size)
    return float(counts.max()) / window_s if t.size else 0.0


def make_scaler(job: Job, config: Config, sim: SimParams, *,
                static_replicas: np.ndarray | None = None) -> tuple[Autoscaler, Fleet]:
    """The job's autoscaler and fleet (bounds from the ISVCs' resolved policies); a static
    job's fleet is `static_replicas` per ISVC if given, else sized for its peak."""
    trace = job.trace
    params, _ = build_params(config, trace.keys)
    fleet = fleet_for(trace, sim=sim, min_replicas=params.min_replicas,
                      max_replicas=params.max_replicas)
    if job.kind == "policy":
        return PolicyScaler(params, label=job.label), fleet
    if job.kind == "static":
        if static_replicas is None:
            peaks = np.array([peak_rate(trace, k, sim.metrics_window_s)
                              for k in range(len(trace.keys))])
            static_replicas = np.maximum(
                np.ceil(peaks / (fleet.capacity_rps * sim.static_utilization)), 1)
        return StaticScaler(), fleet_for(trace, sim=sim, min_replicas=params.min_replicas,
                                         max_replicas=params.max_replicas,
                                         initial=static_replicas.astype(np.int64))
    if job.kind == "hpa-cpu":
        return HpaCpuScaler(sim.hpa_cpu_target), fleet
    if job.kind == "keda-prometheus":
        if sim.keda_threshold is not None:
            thresholds = np.full(len(trace.keys), sim.keda_threshold)
        elif sim.keda_signal == "requests":
            thresholds = fleet.capacity_rps * sim.keda_utilization
        else:
            thresholds = np.full(len(trace.keys), sim.keda_utilization)
        return KedaPrometheusScaler(sim.keda_signal, thresholds), fleet
    raise ValueError(f"job kind = {job.kind}, must be policy or one of {', '.join(BASELINES)}")


def run_job(job: Job, progress: Callable[[float], None] | None = None) -> JobResult:
    """Run one job to completion (in this process)."""
    config, sim = load_job_config(job)
    scaler, fleet = make_scaler(job, config, sim)
    result = simulate(job.trace, sim=sim, fleet=fleet, scaler=scaler,
                      interval_s=config.interval_s, end_s=job.end_s, progress=progress)
    summary = summarize(result, slo_s=sim.ttft_slo_s)
    summary["kind"] = job.kind
    if job.kind == "static":
        summary["static_replicas"] = [int(n) for n in fleet.initial]
    summary["capacity_rps_per_replica"] = [round(float(c), 4) for c in fleet.capacity_rps]
    return JobResult(scaler.label, summary, result.timeline, result.scale_events)

