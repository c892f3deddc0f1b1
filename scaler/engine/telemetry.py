"""The engine's updates of ScalerMetrics (I/O-free; per-ISVC gauges are read at scrape time)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from scaler.engine.evaluation import Evaluation, reason_counts
from scaler.engine.snapshot import Snapshot
from scaler.engine.store import SnapshotStore
from scaler.metrics import IsvcExtras, ScalerMetrics, SnapshotGauges
from scaler.signals.frames import SignalFrame


class EngineTelemetry:
    """Evaluation duration/outcomes, ISVCs tracked, snapshot age and timestamp, decisions by
    reason; per-ISVC desired and pressure are read from the store at scrape time."""

    def __init__(self, metrics: ScalerMetrics, *, store: SnapshotStore,
                 clock: Callable[[], float]) -> None:
        self.metrics = metrics
        self._store = store
        self._clock = clock
        self.extras: IsvcExtras | None = None
        self._desired: np.ndarray | None = None
        metrics.snapshot_age.set_function(self._age)
        metrics.registry.register(SnapshotGauges(lambda: store.snapshot, lambda: self.extras))

    def _age(self) -> float:
        snap = self._store.snapshot
        return math.nan if snap is None else snap.age_s(self._clock())

    def skipped(self, ticks: int) -> None:
        """Count ticks skipped because an evaluation overran."""
        self.metrics.evaluations.labels("skipped").inc(ticks)

    def tick_done(self, frame: SignalFrame, snap: Snapshot | None, *, seconds: float,
                  evaluation: Evaluation | None) -> None:
        """Record one tick: `snap` None means every query failed (snapshot not refreshed).
        The snapshot gauges follow with `published`, once the snapshot is served."""
        m = self.metrics
        m.evaluation_duration.observe(seconds)
        if snap is None:
            m.evaluations.labels("failed").inc()
            return
        m.evaluations.labels("partial" if frame.failed else "ok").inc()
        if evaluation is not None:
            for reason, n in reason_counts(evaluation.decision).items():
                m.decisions.labels(reason).inc(n)
            self.extras = next_extras(self.extras, self._desired, evaluation)
            self._desired = evaluation.decision.desired

    def published(self, snap: Snapshot) -> None:
        """Gauges describing the snapshot now served."""
        m = self.metrics
        m.isvcs_tracked.set(len(snap.entries))
        m.snapshot_timestamp.set(snap.tick_s)
        if snap.config is not None:
            m.stale_after.set(snap.config.stale_after_s)


def next_extras(prev: IsvcExtras | None, prev_desired: np.ndarray | None,
                ev: Evaluation) -> IsvcExtras:
    """IsvcExtras of `ev`: scale events continue `prev`'s counts per ISVC (a new ISVC starts
    at 0; an ISVC gone from `ev` is dropped), +1 up / down where desired rose / fell."""
    n = len(ev.keys)
    up, down = np.zeros(n, np.int64), np.zeros(n, np.int64)
    desired = ev.decision.desired
    if prev is not None and prev_desired is not None:
        if prev.keys == ev.keys:
            src = np.arange(n)
        else:
            old = {k: i for i, k in enumerate(prev.keys)}
            src = np.array([old.get(k, -1) for k in ev.keys], dtype=np.int64)
        known = src >= 0
        up[known] = prev.scale_up[src[known]]
        down[known] = prev.scale_down[src[known]]
        before = desired.copy()
        before[known] = prev_desired[src[known]]
        up += desired > before
        down += desired < before
    return IsvcExtras(keys=ev.keys, max_replicas=ev.params.max_replicas,
                      target_signals=ev.params.signals, targets=ev.params.targets,
                      scale_up=up, scale_down=down)
