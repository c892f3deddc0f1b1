"""One engine tick without I/O: frame + config + previous tick → decision and snapshot (pure).

State carry-over: row i of the new PolicyState continues the old row of the same ISVC when its
resolved PolicySpec is unchanged, and starts fresh otherwise (new ISVC, or a config reload /
ScaledObject `policy` metadata that changed its policy).

An ISVC whose series vanish is not forgotten at once: for `VANISHED_RETENTION_S` after it was
last seen it stays in the evaluation with every signal missing, so it holds its last desired
count (`no-data`) instead of falling back to `min_replicas` — no scale-down on missing data.
This is also what `scaler replay` does for a tick without a row for an ISVC (DESIGN §6).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from scaler.config import build_params
from scaler.config.model import Config, PolicySpec
from scaler.engine.snapshot import IsvcStatus, Snapshot
from scaler.keys import IsvcKey
from scaler.policy import REASONS, Decision, PolicyParams, PolicyState, step
from scaler.signals.frames import SignalFrame


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Inputs and outputs of one tick; row i of every array is ISVC `keys[i]`."""

    frame: SignalFrame
    config: Config
    metadata_version: int
    specs: tuple[PolicySpec, ...]
    params: PolicyParams
    decision: Decision
    state: PolicyState
    last_seen_s: Mapping[IsvcKey, float] = field(default_factory=dict)

    @property
    def keys(self) -> tuple[IsvcKey, ...]:
        """ISVCs evaluated, sorted."""
        return self.frame.keys

    @property
    def tick_s(self) -> float:
        """The tick (Unix s)."""
        return self.frame.time_s


def evaluate(
    prev: Evaluation | None, frame: SignalFrame, config: Config, *,
    metadata: Mapping[IsvcKey, str], metadata_version: int,
) -> Evaluation:
    """Run policy.step over `frame`, continuing `prev`'s stabilisation state where valid."""
    frame, last_seen_s = retain_vanished(prev, frame)
    params, specs, state = _carry(prev, frame.keys, config, metadata, metadata_version)
    signals = {name: frame.column(name) for name in config.pressure_signals}
    decision, state = step(state, params, signals, frame.column("replicas"),
                           spec=frame.column("spec_replicas"), requests=frame.column("requests"))
    return Evaluation(frame, config, metadata_version, specs, params, decision, state,
                      last_seen_s)


VANISHED_RETENTION_S = 3600.0
"""How long (s) an ISVC whose series vanished keeps being evaluated as `no-data`."""


def retain_vanished(
    prev: Evaluation | None, frame: SignalFrame, *, retention_s: float = VANISHED_RETENTION_S
) -> tuple[SignalFrame, dict[IsvcKey, float]]:
    """`frame` plus all-NaN rows for ISVCs seen within `retention_s`, and last-seen times.

    Example: llm-a seen at t=0 and absent at t=15 → at t=15 it is evaluated with NaN signals
    and NaN current (so it holds its previous desired); absent until t=3615 → dropped.
    """
    seen = dict(prev.last_seen_s) if prev is not None else {}
    for key in frame.keys:
        seen[key] = frame.time_s
    present = set(frame.keys)
    kept = [k for k, t in seen.items()
            if k not in present and frame.time_s - t <= retention_s]
    seen = {k: t for k, t in seen.items() if k in present or k in kept}
    if not kept:
        return frame, seen
    keys = tuple(sorted((*frame.keys, *kept)))
    rows = {k: i for i, k in enumerate(frame.keys)}
    values = np.full((len(keys), len(frame.signals)), np.nan)
    for i, key in enumerate(keys):
        j = rows.get(key)
        if j is not None:
            values[i] = frame.values[j]
    return replace(frame, keys=keys, values=values), seen


def carry_index(
    old_keys: tuple[IsvcKey, ...], old_specs: tuple[PolicySpec, ...],
    keys: tuple[IsvcKey, ...], specs: tuple[PolicySpec, ...],
) -> np.ndarray:
    """For PolicyState.select: old row of each new key, -1 if new or its spec changed."""
    old = {k: i for i, k in enumerate(old_keys)}
    src = np.full(len(keys), -1, dtype=np.int64)
    for i, (key, spec) in enumerate(zip(keys, specs, strict=True)):
        j = old.get(key, -1)
        if j >= 0 and old_specs[j] == spec:
            src[i] = j
    return src


def _carry(
    prev: Evaluation | None, keys: tuple[IsvcKey, ...], config: Config,
    metadata: Mapping[IsvcKey, str], metadata_version: int,
) -> tuple[PolicyParams, tuple[PolicySpec, ...], PolicyState]:
    if (prev is not None and prev.keys == keys and prev.config is config
            and prev.metadata_version == metadata_version):
        return prev.params, prev.specs, prev.state
    params, specs = build_params(config, keys, metadata_policy=metadata)
    if prev is None:
        return params, specs, PolicyState.empty(params)
    src = carry_index(prev.keys, prev.specs, keys, specs)
    return params, specs, prev.state.select(src, params)


def snapshot_of(ev: Evaluation, *, made_s: float, generation: int) -> Snapshot:
    """The immutable Snapshot the server reads (signals NaN where missing)."""
    frame, d = ev.frame, ev.decision
    names = frame.signals
    rows = frame.values.tolist()
    entries: dict[IsvcKey, IsvcStatus] = {}
    for i, (key, spec, row, p, c, want, r, a) in enumerate(zip(
            frame.keys, ev.specs, rows, d.pressure.tolist(), d.current.tolist(),
            d.desired.tolist(), d.reason.tolist(), d.active.tolist(), strict=True)):
        del i
        entries[key] = IsvcStatus(
            namespace=key[0], isvc=key[1], policy=spec.name, signals=dict(zip(names, row,
                                                                             strict=True)),
            pressure=p, current=c, desired=int(want), reason=REASONS[r], active=bool(a))
    return Snapshot(tick_s=frame.time_s, made_s=made_s, generation=generation,
                    entries=entries, config=ev.config, errors=dict(frame.errors))


def reason_counts(decision: Decision) -> dict[str, int]:
    """How many ISVCs got each reason (reasons with zero omitted)."""
    counts = np.bincount(decision.reason.astype(np.int64), minlength=len(REASONS))
    return {REASONS[i]: int(n) for i, n in enumerate(counts) if n}
