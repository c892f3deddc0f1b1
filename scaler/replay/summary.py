"""Replay summaries (summary.json) and the multi-config comparison table; pure, no I/O.

Per ISVC, counted from its first row on:
* `scale_ups` / `scale_downs`: ticks whose `desired` is above / below the previous tick's;
* `replica_seconds`: Σ desired × tick duration, a tick lasting until the next tick (the last
  one `interval_s`), e.g. desired 2 then 4 at ticks 0 s and 15 s, interval 15 s → 90;
* `time_at_max_s`: Σ tick duration where desired = max_replicas;
* `max_desired`, `mean_desired` (over ticks), `ticks` and `reasons` (ticks per reason).
Overall: the sums, the max, the mean over all decisions, and reasons summed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scaler.policy import REASONS
from scaler.replay.loop import ReplayResult

COMPARISON_COLUMNS = ("config", "isvcs", "scale_ups", "scale_downs", "replica_hours",
                      "time_at_max_s", "max_desired", "mean_desired", *REASONS)


def tick_durations_s(ticks_s: np.ndarray, *, interval_s: float) -> np.ndarray:
    """Seconds each tick lasts: until the next tick, the last one `interval_s`."""
    return np.append(np.diff(ticks_s), interval_s).astype(np.float64)


def _per_isvc_arrays(result: ReplayResult) -> dict[str, np.ndarray]:
    started = result.started
    desired = result.desired
    dt = tick_durations_s(result.table.ticks_s, interval_s=float(result.params.interval_s))
    both = started[1:] & started[:-1]
    moved = np.diff(desired, axis=0)
    at_max = (desired == np.asarray(result.params.max_replicas)[None, :]) & started
    ticks = started.sum(axis=0)
    totals = np.where(started, desired, 0).sum(axis=0)
    n, n_reasons = len(result.table.keys), len(REASONS)
    codes = np.arange(n)[None, :] * n_reasons + result.reason.astype(np.int64)
    reasons = np.bincount(codes[started], minlength=n * n_reasons).reshape(n, n_reasons)
    return {
        "scale_ups": ((moved > 0) & both).sum(axis=0),
        "scale_downs": ((moved < 0) & both).sum(axis=0),
        "replica_seconds": (np.where(started, desired, 0) * dt[:, None]).sum(axis=0),
        "time_at_max_s": (at_max * dt[:, None]).sum(axis=0),
        "max_desired": np.where(started, desired, np.iinfo(np.int64).min).max(axis=0),
        "ticks": ticks,
        "desired_total": totals,
        "reasons": reasons,
    }


def _entry(arrays: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    return {
        "scale_ups": int(arrays["scale_ups"][i]),
        "scale_downs": int(arrays["scale_downs"][i]),
        "replica_seconds": float(arrays["replica_seconds"][i]),
        "time_at_max_s": float(arrays["time_at_max_s"][i]),
        "max_desired": int(arrays["max_desired"][i]),
        "mean_desired": float(arrays["desired_total"][i] / max(int(arrays["ticks"][i]), 1)),
        "ticks": int(arrays["ticks"][i]),
        "reasons": dict(zip(REASONS, (int(c) for c in arrays["reasons"][i]), strict=True)),
    }


def _overall(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    ticks = int(arrays["ticks"].sum())
    return {
        "isvcs": len(arrays["ticks"]),
        "scale_ups": int(arrays["scale_ups"].sum()),
        "scale_downs": int(arrays["scale_downs"].sum()),
        "replica_seconds": float(arrays["replica_seconds"].sum()),
        "time_at_max_s": float(arrays["time_at_max_s"].sum()),
        "max_desired": int(arrays["max_desired"].max()),
        "mean_desired": float(arrays["desired_total"].sum() / max(ticks, 1)),
        "ticks": ticks,
        "reasons": dict(zip(REASONS, (int(c) for c in arrays["reasons"].sum(axis=0)),
                            strict=True)),
    }


def summarize(result: ReplayResult) -> dict[str, Any]:
    """The summary.json document of one replay (JSON-safe: ints, floats, strings)."""
    arrays = _per_isvc_arrays(result)
    ticks_s = result.table.ticks_s
    per_isvc = {}
    for i, (namespace, isvc) in enumerate(result.table.keys):
        entry = _entry(arrays, i)
        entry["policy"] = result.policy_names[i]
        entry["first_time_s"] = float(ticks_s[result.first_tick[i]])
        per_isvc[f"{namespace}/{isvc}"] = entry
    return {
        "signals": result.table.source,
        "config": str(getattr(result.config, "source", "")),
        "interval_s": float(result.params.interval_s),
        "start_s": float(ticks_s[0]),
        "end_s": float(ticks_s[-1]),
        "ticks": len(ticks_s),
        "overall": _overall(arrays),
        "isvcs": per_isvc,
    }


def scale_events(result: ReplayResult) -> np.ndarray:
    """(n_keys,) int64: scale-ups + scale-downs per ISVC (used to pick ISVCs to plot)."""
    arrays = _per_isvc_arrays(result)
    return np.asarray(arrays["scale_ups"] + arrays["scale_downs"], dtype=np.int64)


def comparison_rows(names: Sequence[str], summaries: Sequence[dict[str, Any]]) -> list[dict]:
    """One row per config with COMPARISON_COLUMNS, from each summary's `overall`."""
    rows = []
    for name, summary in zip(names, summaries, strict=True):
        overall = summary["overall"]
        row: dict[str, Any] = {"config": name, "isvcs": overall["isvcs"]}
        for column in ("scale_ups", "scale_downs", "time_at_max_s", "max_desired"):
            row[column] = overall[column]
        row["replica_hours"] = round(overall["replica_seconds"] / 3600.0, 3)
        row["mean_desired"] = round(overall["mean_desired"], 3)
        row |= overall["reasons"]
        rows.append({column: row[column] for column in COMPARISON_COLUMNS})
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Aligned plain-text table (configs as columns, metrics as rows) for the terminal."""
    if not rows:
        return ""
    labels = list(COMPARISON_COLUMNS[1:])
    cells = [[str(row["config"]) for row in rows]]
    cells += [[f"{row[label]:g}" if isinstance(row[label], float) else str(row[label])
               for row in rows] for label in labels]
    label_width = max(len(label) for label in ("metric", *labels))
    widths = [max(len(cells[r][c]) for r in range(len(cells))) for c in range(len(rows))]
    lines = []
    for label, line in zip(("metric", *labels), cells, strict=True):
        values = "  ".join(value.rjust(width) for value, width in zip(line, widths, strict=True))
        lines.append(f"{label.ljust(label_width)}  {values}")
    return "\n".join(lines)
