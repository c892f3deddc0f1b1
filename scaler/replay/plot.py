"""PNG plots of one ISVC's replay: signals, pressure, current and desired replicas, scale events.

Uses matplotlib's object API with the Agg canvas (no pyplot, no display, thread-safe).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scaler.config.queries import PRESSURE_SIGNALS
from scaler.errors import ConfigError
from scaler.keys import IsvcKey
from scaler.replay.loop import ReplayResult
from scaler.replay.summary import scale_events


def select_isvcs(result: ReplayResult, wanted: Sequence[str], *, top: int) -> list[int]:
    """Indices of `wanted` ("ns/name", ConfigError if unknown), else the `top` by scale events."""
    index = {f"{ns}/{name}": i for i, (ns, name) in enumerate(result.table.keys)}
    if wanted:
        unknown = [name for name in wanted if name not in index]
        if unknown:
            raise ConfigError(f"--isvc {unknown[0]}: not in {result.table.source}")
        return [index[name] for name in wanted]
    events = scale_events(result)
    order = np.lexsort((np.arange(len(events)), -events))
    return [int(i) for i in order[:top]]


def plot_file_name(key: IsvcKey) -> str:
    """`<namespace>_<isvc>.png` (Kubernetes names contain no `_`, so this is unambiguous)."""
    return f"{key[0]}_{key[1]}.png"


def _dates(ticks_s: np.ndarray) -> np.ndarray:
    """Unix seconds → datetime64[ms] (UTC), which matplotlib plots as dates."""
    return np.round(np.asarray(ticks_s, dtype=np.float64) * 1000).astype("datetime64[ms]")


def plot_isvc(result: ReplayResult, i: int, path: Path) -> None:
    """Write the three-panel PNG of ISVC `i` to `path`."""
    table = result.table
    rows = np.flatnonzero(table.row_key == i)
    row_times = _dates(table.ticks_s[table.row_tick[rows]])
    ticks = np.arange(result.first_tick[i], len(table.ticks_s))
    times = _dates(table.ticks_s[ticks])
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax_sig, ax_p, ax_r = fig.subplots(3, 1, sharex=True)
    ns, name = table.keys[i]
    ax_sig.set_title(f"{ns}/{name}  (policy {result.policy_names[i]})")
    for signal in PRESSURE_SIGNALS:
        if signal in table.signals:
            ax_sig.plot(row_times, table.signals[signal][rows], label=signal, lw=1)
    ax_sig.set_ylabel("signal value")
    ax_sig.legend(loc="upper left", fontsize="small")
    ax_p.plot(times, result.pressure[ticks, i], color="tab:purple", lw=1, label="pressure")
    tolerance = float(np.asarray(result.params.tolerance)[i])
    utilisation = float(np.asarray(result.params.scale_down_utilization)[i])
    ax_p.axhline(1 + tolerance, color="tab:red", ls="--", lw=0.8, label="1 + tolerance")
    ax_p.axhline(utilisation / 2, color="tab:green", ls="--", lw=0.8,
                 label="scale_down_utilization / 2")
    ax_p.set_ylabel("pressure")
    ax_p.legend(loc="upper left", fontsize="small")
    _replicas_panel(ax_r, result, i, ticks, times)
    fig.savefig(path, dpi=90)


def _replicas_panel(ax: Axes, result: ReplayResult, i: int, ticks: np.ndarray,
                    times: np.ndarray) -> None:
    desired = result.desired[ticks, i]
    ax.step(times, result.current[ticks, i], where="post", color="tab:gray", lw=1,
            label="current (c)")
    ax.step(times, desired, where="post", color="tab:blue", lw=1.5, label="desired")
    moved = np.diff(desired)
    for mask, marker, color, label in ((moved > 0, "^", "tab:red", "scale up"),
                                       (moved < 0, "v", "tab:green", "scale down")):
        at = np.flatnonzero(mask) + 1
        ax.scatter(times[at], desired[at], marker=marker, color=color, zorder=3,
                   label=label)
    max_replicas = float(np.asarray(result.params.max_replicas)[i])
    if desired.size and desired.max() * 2 >= max_replicas:
        ax.axhline(max_replicas, color="k", ls=":", lw=0.8, label="max_replicas")
    ax.set_ylabel("replicas")
    ax.set_xlabel("time (UTC)")
    ax.legend(loc="upper left", fontsize="small")


def plot_all(result: ReplayResult, indices: Sequence[int], out_dir: Path) -> list[Path]:
    """One PNG per index under `out_dir`; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in indices:
        path = out_dir / plot_file_name(result.table.keys[i])
        plot_isvc(result, i, path)
        paths.append(path)
    return paths
