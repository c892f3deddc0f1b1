"""Warm start: rebuild stabilisation state from Prometheus history before serving (DESIGN §1).

Range queries on the live tick grid (multiples of `interval` since the epoch) over the longest
stabilisation window, replayed tick by tick through the same evaluation as live ticks: a
restarted or second replica then holds the same windows, and makes the same decisions, as one
that never stopped. On failure the engine starts cold (scale-downs held for one window).
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Protocol

from scaler.config.model import Config
from scaler.engine.snapshot import Snapshot
from scaler.errors import SignalError
from scaler.signals.frames import SignalFrame, SignalSource
from scaler.ticks import align_tick

log = logging.getLogger(__name__)


def longest_window_s(config: Config) -> float:
    """The longest scale-up or scale-down window of any policy or ISVC override (s)."""
    windows = [max(p.scale_down_window_s, p.scale_up_window_s)
               for p in config.policies.values()]
    for override in config.isvcs.values():
        windows += [float(override[k]) for k in ("scale_down_window_s", "scale_up_window_s")
                    if k in override]
    return max(windows, default=0.0)


def history_ticks(config: Config, *, lookback_s: float = 0.0) -> int:
    """Ticks to replay: the longest window (or `lookback_s` if longer) in ticks, plus one so
    that the first live tick's window is entirely replayed ticks (e.g. 300 s / 15 s → 21)."""
    span_s = max(longest_window_s(config), lookback_s)
    return max(1, math.ceil(span_s / config.interval_s - 1e-9)) + 1


class Replayable(Protocol):
    """What warm start needs of the engine: its config, clock, source and per-tick absorb."""

    @property
    def config(self) -> Config: ...
    @property
    def source(self) -> SignalSource: ...
    @property
    def eval_delay_s(self) -> float: ...
    def now_s(self) -> float: ...
    def absorb(self, frame: SignalFrame, *, publish: bool) -> Snapshot | None: ...
    def publish(self, snap: Snapshot) -> None: ...


async def warm_start(engine: Replayable, *, timeout_s: float, lookback_s: float = 0.0) -> int:
    """Replay history into `engine`; returns the number of ticks replayed (0 = cold start)."""
    config = engine.config
    interval = config.interval_s
    last = align_tick(engine.now_s() - engine.eval_delay_s, interval)
    ticks = history_ticks(config, lookback_s=lookback_s)
    start = round(last - (ticks - 1) * interval, 3)
    try:
        history = await asyncio.wait_for(
            engine.source.fetch_range(start_s=start, end_s=last, step_s=interval), timeout_s)
    except (TimeoutError, SignalError) as e:
        log.warning("warm start: no history (%s); starting cold: scale-downs are held for one "
                    "window", e or f"timed out after {timeout_s:g}s")
        return 0
    if history.queried and all(s in history.failed for s in history.queried):
        log.warning("warm start: every range query failed (%s); starting cold: scale-downs "
                    "are held for one window", "; ".join(history.errors.values()))
        return 0
    snap = None
    for t in range(len(history.times_s)):
        snap = engine.absorb(history.frame(t), publish=False) or snap
    if snap is not None:
        engine.publish(snap)
    log.info("warm start: replayed %d ticks (%gs of history, step %gs), %d ISVCs", ticks,
             (ticks - 1) * interval, interval, 0 if snap is None else len(snap.entries))
    return ticks
