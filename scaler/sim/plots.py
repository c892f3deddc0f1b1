"""PNG plots of simulated runs (I/O, matplotlib Agg): replicas vs arrival rate, TTFT P99 vs
the SLO, KV-cache utilisation, and GPU-hours vs SLO attainment. With several ISVCs the
timeline is aggregated per tick: rates and replicas summed, TTFT P99 the worst, KV the mean."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from scaler.sim.jobs import JobResult
from scaler.sim.loop import TIMELINE_COLUMNS

_COL = {name: i for i, name in enumerate(TIMELINE_COLUMNS)}


def aggregate(timeline: Sequence[tuple[object, ...]]) -> dict[str, np.ndarray]:
    """Per tick (hours): requests and replicas summed, latency_p99 max, kv_cache mean."""
    times = np.array([float(row[0]) for row in timeline])  # type: ignore[arg-type]
    ticks, inverse = np.unique(times, return_inverse=True)

    def column(name: str) -> np.ndarray:
        return np.array([float(row[_COL[name]]) for row in timeline])  # type: ignore[arg-type]

    out = {"hours": ticks / 3600.0}
    for name, fn in (("requests", np.add), ("replicas", np.add), ("latency_p99", np.fmax)):
        acc = np.full(ticks.size, np.nan if fn is np.fmax else 0.0)
        fn.at(acc, inverse, np.nan_to_num(column(name)) if fn is np.add else column(name))
        out[name] = acc
    kv = column("kv_cache")
    total, count = np.zeros(ticks.size), np.zeros(ticks.size)
    np.add.at(total, inverse, np.nan_to_num(kv))
    np.add.at(count, inverse, np.isfinite(kv))
    out["kv_cache"] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _replicas_axes(rate: Mapping[str, np.ndarray] | None, *, ylabel: str, title: str,
                   rate_style: Mapping[str, Any]) -> tuple[Any, Any]:
    """A replicas-over-hours figure, drawn above the arrival rate of `rate` (an aggregate()
    series) on a second axis."""
    fig, ax = plt.subplots(figsize=(11, 4.5))
    rate_ax = ax.twinx()
    if rate is not None:
        rate_ax.plot(rate["hours"], rate["requests"], label="arrival rate", **rate_style)
    ax.set(xlabel="time (h)", ylabel=ylabel, title=title)
    rate_ax.set_ylabel("requests/s (1-min rate)")
    ax.set_zorder(rate_ax.get_zorder() + 1)
    ax.patch.set_visible(False)
    return fig, ax


def plot_schedules(path: Path, run: JobResult, schedules: Mapping[str, np.ndarray], *,
                   title: str, static_replicas: int) -> None:
    """One run's replicas per tick beside hourly schedules (label → replicas per hour) and a
    static fleet, over the arrival rate."""
    series = aggregate(run.timeline)
    fig, ax = _replicas_axes(series, ylabel="replicas", title=title,
                             rate_style={"color": "0.8", "lw": 0.6})
    ax.step(series["hours"], series["replicas"], where="post", lw=1.2, label=run.label)
    for label, picks in schedules.items():
        ax.stairs(picks, np.arange(picks.size + 1), lw=1.4, ls="--", label=label)
    ax.axhline(static_replicas, color="k", lw=0.8, ls=":",
               label=f"static peak ({static_replicas})")
    ax.legend(loc="upper left", fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(fig, path)


def plot_runs(directory: Path, results: Sequence[JobResult], *, slo_s: float) -> list[Path]:
    """replicas.png, ttft_p99.png, kv_cache.png (every run overlaid); returns the paths."""
    series = [(r.label, aggregate(r.timeline)) for r in results if r.timeline]
    paths = []
    fig, ax = _replicas_axes(series[0][1] if series else None, ylabel="ready replicas",
                             title="Replicas vs arrival rate", rate_style={"color": "0.75",
                                                                           "lw": 0.8})
    for label, s in series:
        ax.step(s["hours"], s["replicas"], where="post", lw=1.2, label=label)
    ax.legend(loc="upper left", fontsize=8)
    paths.append(directory / "replicas.png")
    _save(fig, paths[-1])
    for name, ylabel, title in (("latency_p99", "TTFT P99 (s)", "TTFT P99 (1-min) vs SLO"),
                                ("kv_cache", "KV-cache utilisation", "KV-cache utilisation")):
        fig, ax = plt.subplots(figsize=(11, 4))
        for label, s in series:
            ax.plot(s["hours"], s[name], lw=1.0, label=label)
        if name == "latency_p99":
            ax.axhline(slo_s, color="red", ls="--", lw=1, label=f"SLO {slo_s:g} s")
            ax.set_yscale("log")
        ax.set(xlabel="time (h)", ylabel=ylabel, title=title)
        ax.legend(loc="upper left", fontsize=8)
        paths.append(directory / f"{name}.png")
        _save(fig, paths[-1])
    return paths


def plot_comparison(path: Path, rows: Sequence[Mapping[str, Any]], *, attainment: float) -> None:
    """GPU-hours vs SLO attainment, one labelled point per run."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for row in rows:
        x, y = row.get("gpu_hours"), row.get("slo_attainment")
        if x is None or y is None:
            continue
        ax.scatter([x], [y], s=40)
        ax.annotate(str(row["run"]), (x, y), textcoords="offset points", xytext=(5, 4),
                    fontsize=8)
    ax.axhline(attainment, color="red", ls="--", lw=1, label=f"target {attainment:g}")
    ax.set(xlabel="GPU-hours", ylabel="SLO attainment (share of requests with TTFT ≤ SLO)",
           title="Which policy meets the TTFT SLO with the fewest GPU-hours?")
    ax.legend(loc="lower right", fontsize=8)
    _save(fig, path)
