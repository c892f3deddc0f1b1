"""Writers of `scaler simulate`'s output directory (I/O): summary.json, timeline.csv,
comparison.csv; NaN becomes an empty CSV cell or JSON null."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scaler.sim.jobs import JobResult
from scaler.sim.loop import TIMELINE_COLUMNS
from scaler.sim.report import COMPARISON_COLUMNS


def _cell(value: object) -> object:
    if isinstance(value, float):
        return "" if math.isnan(value) else round(value, 6)
    return value


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def write_summary(path: Path, document: Mapping[str, Any]) -> None:
    """summary.json (indented, NaN/Inf → null)."""
    path.write_text(json.dumps(_json_safe(document), indent=2) + "\n", encoding="utf-8")


def write_timeline(path: Path, results: Sequence[JobResult]) -> None:
    """timeline.csv: one row per run, tick and ISVC (`run` first, then TIMELINE_COLUMNS)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("run", *TIMELINE_COLUMNS))
        for result in results:
            for row in result.timeline:
                writer.writerow((result.label, *map(_cell, row)))


def write_comparison(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """comparison.csv in COMPARISON_COLUMNS order."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COMPARISON_COLUMNS)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else _cell(row.get(c))
                             for c in COMPARISON_COLUMNS])
