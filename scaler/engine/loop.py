"""The evaluation loop (DESIGN §1, §4): every interval, query all signals for all ISVCs, step
the policy, publish an immutable Snapshot. RPCs and HTTP only read the snapshot.

Ticks are the multiples of `interval_s` since the Unix epoch; tick T is evaluated at
T + eval_delay_s (so samples scraped just before T have landed) with every query's `time=T`.
Warm start (scaler.engine.warmstart) replays the same grid from range queries, so replicas, restarts
and offline replays see identical inputs at identical ticks.

    engine = Engine(config=config, store=store, metrics=metrics)
    await engine.warm_start(timeout_s=30)
    await engine.run(stop)          # until stop.set()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from scaler.config.model import Config
from scaler.engine.evaluation import Evaluation, evaluate, snapshot_of
from scaler.engine.snapshot import Snapshot
from scaler.engine.store import SnapshotStore
from scaler.engine.telemetry import EngineTelemetry
from scaler.engine.warmstart import warm_start
from scaler.keys import IsvcKey
from scaler.metrics import ScalerMetrics
from scaler.signals.frames import SignalFrame, SignalSource
from scaler.signals.source import PromSignalSource
from scaler.ticks import align_tick, default_eval_delay_s

log = logging.getLogger(__name__)

SourceFactory = Callable[[Config, ScalerMetrics], SignalSource]
FrameOverlay = Callable[[SignalFrame], SignalFrame]
"""Replaces columns of each fetched frame (e.g. replicas from the Kubernetes API)."""


def _prom_source(config: Config, metrics: ScalerMetrics) -> SignalSource:
    return PromSignalSource.from_config(config, metrics=metrics)


class _Inputs(NamedTuple):
    """What one policy step reads besides the frame: config and ScaledObject metadata."""

    config: Config
    metadata: Mapping[IsvcKey, str]
    metadata_version: int


class Engine:
    """Owns the policy state; `tick` is one evaluation, `run` the aligned loop.

    `source` fixes the SignalSource (tests); otherwise `source_factory(config, metrics)` builds
    one, rebuilt when a new config changes `prometheus`, `queries` or the identity labels.
    `clock` is Unix seconds, `sleep` an awaitable sleep (both injectable for tests).
    `overlay`, if given, is applied to every fetched frame before the policy step.
    """

    def __init__(
        self, *, config: Config, store: SnapshotStore, source: SignalSource | None = None,
        metrics: ScalerMetrics | None = None, clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        eval_delay_s: float | None = None, source_factory: SourceFactory = _prom_source,
        overlay: FrameOverlay | None = None,
    ) -> None:
        self.metrics = metrics if metrics is not None else ScalerMetrics()
        self.store = store
        self._clock = clock
        self._sleep = sleep
        self._fixed_delay_s = eval_delay_s
        self._factory = source_factory
        self._overlay = overlay
        self._owns_source = source is None
        self._config = config
        self._pending: Config | None = None
        self._source: SignalSource = source or source_factory(config, self.metrics)
        self._metadata: dict[IsvcKey, str] = {}
        self._metadata_version = 0
        self._last: Evaluation | None = None
        self._last_tick_s: float | None = None
        self._attempted_s: float | None = None
        self._generation = 0
        self._telemetry = EngineTelemetry(self.metrics, store=store, clock=clock)
        # its own thread: the step never queues behind query threads a slow Prometheus holds
        self._stepper = ThreadPoolExecutor(1, thread_name_prefix="policy-step")
        store.stale_after_s = config.stale_after_s

    @property
    def config(self) -> Config:
        """The config the next tick uses (a pending one if set_config was called)."""
        return self._pending or self._config

    @property
    def source(self) -> SignalSource:
        """The SignalSource in use."""
        return self._source

    @property
    def last(self) -> Evaluation | None:
        """The latest evaluation (inputs, params, decision), for `scaler explain`."""
        return self._last

    @property
    def last_tick_s(self) -> float | None:
        """The latest tick evaluated (or replayed by warm start)."""
        return self._last_tick_s

    @property
    def eval_delay_s(self) -> float:
        """Seconds after a tick before it is evaluated."""
        if self._fixed_delay_s is not None:
            return self._fixed_delay_s
        return default_eval_delay_s(self.config.interval_s)

    def now_s(self) -> float:
        """The engine's clock (Unix s)."""
        return self._clock()

    def publish(self, snap: Snapshot) -> None:
        """Serve `snap` (atomic swap in the store) and update the snapshot gauges."""
        self.store.publish(snap)
        self._telemetry.published(snap)

    def set_config(self, config: Config) -> None:
        """Use `config` from the next tick on (stabilisation state kept where the resolved
        PolicySpec of an ISVC is unchanged)."""
        self._pending = config

    def note_metadata(self, key: IsvcKey, policy: str) -> None:
        """Record the ScaledObject's `policy` metadata for `key` (used from the next tick)."""
        if self._metadata.get(key) != policy:
            self._metadata[key] = policy
            self._metadata_version += 1

    async def tick(self, tick_s: float) -> Snapshot | None:
        """Evaluate tick `tick_s`: publish and return its Snapshot, or None (and keep the old
        snapshot) when every signal query failed.

        The policy step and snapshot of thousands of ISVCs run on the engine's own worker
        thread so the event loop keeps answering KEDA; config and metadata are taken here, on
        the loop, and only the publish (an atomic swap, then the snapshot gauges) comes back
        to it."""
        self._apply_pending()
        self._attempted_s = tick_s
        started = time.perf_counter()
        frame = await self._source.fetch(tick_s)
        if self._overlay is not None:
            frame = self._overlay(frame)
        inputs = _Inputs(self._config, dict(self._metadata), self._metadata_version)
        loop = asyncio.get_running_loop()
        snap = await loop.run_in_executor(self._stepper, self._step, frame, inputs, started)
        if snap is not None:
            self.publish(snap)
        return snap

    def _step(self, frame: SignalFrame, inputs: _Inputs, started: float) -> Snapshot | None:
        snap = self.absorb(frame, publish=False, inputs=inputs)
        self._telemetry.tick_done(frame, snap, seconds=time.perf_counter() - started,
                                  evaluation=self._last)
        return snap

    def absorb(self, frame: SignalFrame, *, publish: bool,
               inputs: _Inputs | None = None) -> Snapshot | None:
        """Step the policy over `frame` (no I/O); publish its snapshot if asked. Frames where
        every query failed are ignored (None). `inputs` defaults to the engine's own config
        and metadata (pass a copy when running off the loop)."""
        if frame.all_failed:
            return None
        config, metadata, version = inputs or _Inputs(
            self.config, self._metadata, self._metadata_version)
        prev = self._last
        self._last = evaluate(prev, frame, config, metadata=metadata, metadata_version=version)
        self._last_tick_s = frame.time_s
        self._attempted_s = max(frame.time_s, self._attempted_s or frame.time_s)
        if prev is None or prev.keys != frame.keys:
            _log_membership(prev, frame)
        self._generation += 1
        snap = snapshot_of(self._last, made_s=self._clock(), generation=self._generation)
        if publish:
            self.store.publish(snap)
        return snap

    async def warm_start(self, timeout_s: float = 30.0, *, lookback_s: float = 0.0) -> int:
        """Rebuild stabilisation state from Prometheus history; returns ticks replayed
        (0 = cold start, logged). Publishes the snapshot of the latest replayed tick.
        History covers the longest window, or `lookback_s` if longer."""
        self._apply_pending()
        return await warm_start(self, timeout_s=timeout_s, lookback_s=lookback_s)

    async def run(self, stop: asyncio.Event) -> None:
        """Evaluate every tick until `stop` is set. A tick that overruns does not pile up:
        the latest due tick runs next, the ones in between are skipped and counted."""
        self.metrics.ready.set(1)
        while not stop.is_set():
            interval, delay = self.config.interval_s, self.eval_delay_s
            now = self._clock()
            due = align_tick(now - delay, interval)
            last = self._attempted_s
            if last is None or due > last + 1e-6:
                skipped = 0 if last is None else round((due - last) / interval) - 1
                if skipped > 0:
                    self._telemetry.skipped(skipped)
                    log.warning("engine: %d tick(s) skipped (evaluation overran the %gs "
                                "interval)", skipped, interval)
                await self._safe_tick(due)
                continue
            if await self._sleep_or_stop(round(due + interval, 3) + delay - now, stop):
                return

    async def _safe_tick(self, tick_s: float) -> None:
        """tick(), but a bug in one tick must not stop the loop: logged, counted as failed."""
        try:
            await self.tick(tick_s)
        except Exception:
            log.exception("engine: tick %.3f failed", tick_s)
            self.metrics.evaluations.labels("failed").inc()

    async def _sleep_or_stop(self, seconds: float, stop: asyncio.Event) -> bool:
        """Sleep `seconds` (injected sleep); True if `stop` was set meanwhile."""
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()
        return stop.is_set()

    def _apply_pending(self) -> None:
        config, self._pending = self._pending, None
        if config is None or config is self._config:
            return
        old, self._config = self._config, config
        self.store.stale_after_s = config.stale_after_s
        rebuild = (old.prometheus, old.queries, old.namespace_label, old.isvc_label) != (
            config.prometheus, config.queries, config.namespace_label, config.isvc_label)
        if rebuild and self._owns_source:
            close = getattr(self._source, "close", None)
            if callable(close):
                close()
            self._source = self._factory(config, self.metrics)
            log.info("engine: Prometheus settings or queries changed; new signal source")


def _log_membership(prev: Evaluation | None, frame: SignalFrame) -> None:
    before = set(prev.keys) if prev is not None else set()
    after = set(frame.keys)
    added, removed = after - before, before - after
    if added or removed:
        log.info("engine: %d ISVCs tracked (%d appeared, %d disappeared)%s", len(after),
                 len(added), len(removed), _sample(added, removed))


def _sample(added: set[IsvcKey], removed: set[IsvcKey], limit: int = 3) -> str:
    parts = [f"+{ns}/{n}" for ns, n in sorted(added)[:limit]]
    parts += [f"-{ns}/{n}" for ns, n in sorted(removed)[:limit]]
    return ": " + " ".join(parts) if parts else ""
