"""The engine's updates of ScalerMetrics (I/O-free; per-ISVC gauges are read at scrape time)."""

from __future__ import annotations

import math
from collections.abc import Callable

from scaler.engine.evaluation import Evaluation, reason_counts
from scaler.engine.snapshot import Snapshot
from scaler.engine.store import SnapshotStore
from scaler.metrics import ScalerMetrics, SnapshotGauges
from scaler.signals.frames import SignalFrame


class EngineTelemetry:
    """Evaluation duration/outcomes, ISVCs tracked, snapshot age and timestamp, decisions by
    reason; per-ISVC desired and pressure are read from the store at scrape time."""

    def __init__(self, metrics: ScalerMetrics, *, store: SnapshotStore,
                 clock: Callable[[], float]) -> None:
        self.metrics = metrics
        self._store = store
        self._clock = clock
        metrics.snapshot_age.set_function(self._age)
        metrics.registry.register(SnapshotGauges(lambda: store.snapshot))

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

    def published(self, snap: Snapshot) -> None:
        """Gauges describing the snapshot now served."""
        m = self.metrics
        m.isvcs_tracked.set(len(snap.entries))
        m.snapshot_timestamp.set(snap.tick_s)
