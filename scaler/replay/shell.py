"""`scaler replay` end to end (imperative shell): load, replay each config, write, publish.

Layout of the output directory: one config → DIR/decisions.csv, DIR/summary.json,
DIR/plots/*.png; several → DIR/<config-stem>/{decisions.csv, summary.json, plots/} and
DIR/comparison.csv. Nothing is written unless every step succeeds.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scaler.replay.io import SignalTable, load_signals
from scaler.replay.loop import replay
from scaler.replay.output import decisions_table, staged_dir, write_csv
from scaler.replay.summary import COMPARISON_COLUMNS, comparison_rows, summarize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlotRequest:
    """Which ISVCs to plot: `isvcs` ("ns/name") if given, else the `top` by scale events."""

    isvcs: tuple[str, ...] = ()
    top: int = 5


def run_names(config_paths: Sequence[str | Path]) -> list[str]:
    """Sub-directory name per config: its file stem, suffixed -2, -3 … when stems collide."""
    names: list[str] = []
    for path in config_paths:
        stem, name, k = Path(path).stem, Path(path).stem, 1
        while name in names:
            k += 1
            name = f"{stem}-{k}"
        names.append(name)
    return names


def check_spacing(table: SignalTable, interval_s: float) -> None:
    """Warn when the recorded tick spacing is not the config's interval (windows would differ)."""
    if len(table.ticks_s) < 2:
        return
    spacing = float(np.median(np.diff(table.ticks_s)))
    if not np.isclose(spacing, interval_s):
        log.warning("%s: ticks are %gs apart but the config's interval is %gs; windows are "
                    "counted in ticks of %gs", table.source, spacing, interval_s, interval_s)


def _check_isvcs(table: SignalTable, wanted: Sequence[str]) -> None:
    from scaler.errors import ConfigError

    known = {f"{ns}/{name}" for ns, name in table.keys}
    for name in wanted:
        if name not in known:
            raise ConfigError(f"--isvc {name}: no such ISVC in {table.source}")


def _write_one(result: Any, out: Path, plot: PlotRequest | None) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    write_csv(decisions_table(result), out / "decisions.csv")
    summary = summarize(result)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    if plot is not None:
        from scaler.replay.plot import plot_all, select_isvcs

        plot_all(result, select_isvcs(result, plot.isvcs, top=plot.top), out / "plots")
    return summary


def replay_to_dir(signals_path: str | Path, config_paths: Sequence[str | Path],
                  out_dir: str | Path, *, plot: PlotRequest | None = None,
                  ) -> list[dict[str, Any]]:
    """Replay every config over the signals file into `out_dir`; returns the comparison rows."""
    from scaler.config import load_config

    configs = [load_config(path) for path in config_paths]
    table = load_signals(signals_path,
                         extra=sorted({s for c in configs for s in c.signal_names}))
    if plot is not None:
        _check_isvcs(table, plot.isvcs)
    names = run_names(config_paths)
    summaries = []
    with staged_dir(out_dir) as stage:
        for name, config in zip(names, configs, strict=True):
            check_spacing(table, float(config.interval_s))
            result = replay(table, config)
            target = stage if len(configs) == 1 else stage / name
            summaries.append(_write_one(result, target, plot))
            del result
        rows = comparison_rows(names, summaries)
        if len(configs) > 1:
            with (stage / "comparison.csv").open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=list(COMPARISON_COLUMNS))
                writer.writeheader()
                writer.writerows(rows)
    return rows
