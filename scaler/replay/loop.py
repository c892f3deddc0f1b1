"""The replay loop: the live engine's `scaler.policy.step` over every tick of a SignalTable.

Vectorised over ISVCs (one `step` call per tick, all ISVCs at once). An ISVC's policy state
starts fresh at its first row (PolicyState.select with -1), so §3's first-step rule applies
there, not at the file's first tick. A tick without a row for a started ISVC counts as all
signals and `current` missing. `current` is the `replicas` column when the file has one, else
the previous tick's `desired` (NaN at the ISVC's first tick).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scaler.config import Config, build_params
from scaler.policy import PolicyParams, PolicyState, step
from scaler.replay.io import SignalTable


@dataclass(frozen=True)
class ReplayResult:
    """Decisions of one config over one SignalTable; per-tick arrays are (n_ticks, n_keys).

    Entries before an ISVC's first tick (`started` False) are not decisions and are ignored.
    """

    table: SignalTable
    config: Config
    params: PolicyParams
    policy_names: tuple[str, ...]
    first_tick: np.ndarray
    desired: np.ndarray
    pressure: np.ndarray
    reason: np.ndarray
    active: np.ndarray
    current: np.ndarray

    @property
    def started(self) -> np.ndarray:
        """(n_ticks, n_keys) bool: tick t is at or after ISVC i's first row."""
        ticks = np.arange(len(self.table.ticks_s))[:, None]
        return ticks >= self.first_tick[None, :]


def _scatter(values: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    out[index] = values
    return out


def replay(table: SignalTable, config: Config) -> ReplayResult:
    """Run the policy of `config` over `table`; pure (no I/O), deterministic."""
    keys = list(table.keys)
    params, specs = build_params(config, keys)
    n, n_ticks = len(keys), len(table.ticks_s)
    first_tick = table.first_tick()
    starts_at = np.argsort(first_tick, kind="stable")
    start_bounds = np.searchsorted(first_tick[starts_at], np.arange(n_ticks + 1))
    columns = {name: table.signals[name] for name in config.signal_names
               if name in table.signals and name != "replicas"}
    replicas = table.signals.get("replicas")
    out = {name: np.empty((n_ticks, n), dtype=dtype) for name, dtype in
           (("desired", np.int64), ("pressure", np.float64), ("reason", np.int8),
            ("active", np.bool_), ("current", np.float64))}
    state = PolicyState.empty(params)
    previous = np.full(n, np.nan)
    for t in range(n_ticks):
        fresh = starts_at[start_bounds[t]:start_bounds[t + 1]]
        if fresh.size:
            source = np.arange(n)
            source[fresh] = -1
            state = state.select(source, params)
            previous[fresh] = np.nan
        lo, hi = table.tick_offsets[t], table.tick_offsets[t + 1]
        rows = table.row_key[lo:hi]
        signals = {name: _scatter(col[lo:hi], rows, n) for name, col in columns.items()}
        if replicas is not None:
            current = _scatter(replicas[lo:hi], rows, n)
        else:
            current = np.full(n, np.nan)
            current[rows] = previous[rows]
        decision, state = step(state, params, signals, current)
        previous = decision.desired.astype(np.float64)
        out["desired"][t] = decision.desired
        out["pressure"][t] = decision.pressure
        out["reason"][t] = decision.reason
        out["active"][t] = decision.active
        out["current"][t] = decision.current
    return ReplayResult(table=table, config=config, params=params,
                        policy_names=tuple(spec.name for spec in specs),
                        first_tick=first_tick, **out)
