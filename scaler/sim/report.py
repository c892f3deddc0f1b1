"""Figures of merit of a simulated run, and the comparison table; pure (writers in outputs.py).

SLO attainment = requests with TTFT ≤ ttft_slo / requests judged. Judged: every request
except those still waiting at the end for less than the SLO (their outcome is unknown);
rejected (too long), abandoned (client timeout) and requests still waiting longer than the
SLO count as misses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scaler.sim.loop import TIMELINE_COLUMNS, RunResult

COMPARISON_COLUMNS = ("run", "slo_attainment", "ttft_p50_s", "ttft_p99_s", "e2e_p99_s",
                      "gpu_hours", "gpu_hours_vs_static", "mean_replicas", "scale_events",
                      "under_provisioned_s", "over_slo_s")


def _pct(values: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 4) if values.size else None


def _request_figures(r: RunResult, mask: np.ndarray, slo_s: float) -> dict[str, Any]:
    arrival = r.trace.time_s[mask]
    ttft = r.first_token_s[mask] - arrival
    e2e = r.finish_s[mask] - arrival
    served = np.isfinite(ttft)
    rejected = r.rejected[mask]
    end_s = r.end_s if math.isnan(r.drained_s) else r.drained_s
    unknown = ~served & ~rejected & ~r.timed_out[mask] & (end_s - arrival <= slo_s)
    judged = int(mask.sum() - unknown.sum())
    met = int(np.sum(served & (ttft <= slo_s)))
    return {
        "requests": int(mask.sum()),
        "served": int(served.sum()),
        "rejected": int(rejected.sum()),
        "timed_out": int(r.timed_out[mask].sum()),
        "unfinished": int(np.sum(~served & ~rejected)),
        "slo_attainment": round(met / judged, 5) if judged else None,
        "ttft_p50_s": _pct(ttft[served], 50),
        "ttft_p99_s": _pct(ttft[served], 99),
        "e2e_p50_s": _pct(e2e[np.isfinite(e2e)], 50),
        "e2e_p99_s": _pct(e2e[np.isfinite(e2e)], 99),
    }


def _fleet_figures(r: RunResult, k: int | None, slo_s: float) -> dict[str, Any]:
    pods = np.ones(r.pod_isvc.shape, bool) if k is None else r.pod_isvc == k
    ended = np.minimum(np.where(np.isnan(r.pod_ended_s), r.end_s, r.pod_ended_s), r.end_s)
    gpu_s = float(np.sum((ended - r.pod_created_s)[pods] * r.gpus_per_replica[r.pod_isvc[pods]]))
    key = None if k is None else r.trace.keys[k]
    rows = [row for row in r.timeline if key is None or (row[1], row[2]) == key]
    col = {name: i for i, name in enumerate(TIMELINE_COLUMNS)}
    ready = np.array([row[col["replicas"]] for row in rows], float)
    needed = np.array([row[col["needed"]] for row in rows], float)
    p99 = np.array([row[col["latency_p99"]] for row in rows], float)
    m = max(len(r.trace.keys) if k is None else 1, 1)
    return {
        "gpu_hours": round(gpu_s / 3600.0, 4),
        "mean_replicas": round(float(ready.mean()) * m, 3) if ready.size else None,
        "scale_events": sum(1 for e in r.scale_events if k is None or e[1] == k),
        "under_provisioned_s": float(np.sum(ready < needed) * r.interval_s / m),
        "over_slo_s": float(np.sum(p99 > slo_s) * r.interval_s / m),
    }


def summarize(r: RunResult, *, slo_s: float) -> dict[str, Any]:
    """summary.json entry of one run: totals, then per ISVC when there are several."""
    out: dict[str, Any] = {"run": r.label, "duration_s": r.end_s, "ttft_slo_s": slo_s}
    out.update(_request_figures(r, np.ones(r.trace.n, bool), slo_s))
    out.update(_fleet_figures(r, None, slo_s))
    if len(r.trace.keys) > 1:
        out["isvcs"] = {
            f"{ns}/{name}": {**_request_figures(r, r.trace.isvc == k, slo_s),
                             **_fleet_figures(r, k, slo_s)}
            for k, (ns, name) in enumerate(r.trace.keys)}
    return out


def comparison_rows(summaries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per run in COMPARISON_COLUMNS; GPU-hours relative to the static baseline."""
    static = next((s["gpu_hours"] for s in summaries if s["run"].startswith("static")), None)
    rows = []
    for s in summaries:
        row = {c: s.get(c) for c in COMPARISON_COLUMNS}
        row["gpu_hours_vs_static"] = (round(s["gpu_hours"] / static, 3)
                                      if static else None)
        rows.append(row)
    return rows


def best_run(summaries: Sequence[Mapping[str, Any]], *, attainment: float) -> str | None:
    """The run with the fewest GPU-hours among those with SLO attainment ≥ `attainment`."""
    ok = [s for s in summaries if (s.get("slo_attainment") or 0.0) >= attainment]
    return min(ok, key=lambda s: s["gpu_hours"])["run"] if ok else None


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Aligned text table of comparison rows (numbers to 4 significant digits)."""
    def cell(v: object) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    table = [list(COMPARISON_COLUMNS)] + [[cell(r.get(c)) for c in COMPARISON_COLUMNS]
                                          for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COMPARISON_COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(line, widths, strict=True)))
                     for line in table)
