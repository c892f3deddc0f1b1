"""A fake SignalSource and an injected clock for engine tests (no Prometheus, no real time)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import CollectorRegistry

from scaler.config import Config, parse_config
from scaler.config.queries import SIGNAL_NAMES
from scaler.engine import Engine
from scaler.engine.store import SnapshotStore
from scaler.keys import IsvcKey
from scaler.metrics import ScalerMetrics
from scaler.signals.frames import SignalFrame, SignalHistory, align
from tests.fakes import FakeClock

Values = Mapping[IsvcKey, Mapping[str, float]]

CONFIG = """\
prometheus: {url: "http://127.0.0.1:9"}
interval: 15s
policies:
  default: {targets: {kv_cache: 0.8}, scale_down_window: 60s}
  batch: {targets: {kv_cache: 0.9}, scale_down_window: 60s}
"""


def config(text: str = CONFIG) -> Config:
    return parse_config(text)


def frame(t_s: float, values: Values, *, failed: Mapping[str, str] | None = None) -> SignalFrame:
    """A frame with the given per-ISVC signal values (others NaN); every signal queried."""
    columns: dict[str, dict[IsvcKey, float]] = {}
    for key, signals in values.items():
        for name, v in signals.items():
            columns.setdefault(name, {})[key] = v
    keys, matrix = align(columns, signals=SIGNAL_NAMES)
    failed = dict(failed or {})
    return SignalFrame(t_s, keys, SIGNAL_NAMES, matrix, queried=SIGNAL_NAMES, failed=failed,
                       errors={s: f"{s} failed: {c}" for s, c in failed.items()})


@dataclass
class FakeSource:
    """Answers fetch(t) with script(t); `cost_s(t)` advances the clock (a slow query)."""

    clock: FakeClock
    script: Callable[[float], Values]
    cost_s: Callable[[float], float] = lambda t: 0.0
    fail_all: Callable[[float], bool] = lambda t: False
    fetched: list[float] = field(default_factory=list)
    stop_after: int = 0
    stop: asyncio.Event | None = None

    async def fetch(self, time_s: float) -> SignalFrame:
        self.fetched.append(time_s)
        self.clock.now_s += self.cost_s(time_s)
        if self.stop is not None and len(self.fetched) >= self.stop_after:
            self.stop.set()
        if self.fail_all(time_s):
            return frame(time_s, {}, failed={s: "connection" for s in SIGNAL_NAMES})
        return frame(time_s, self.script(time_s))

    async def fetch_range(self, *, start_s: float, end_s: float, step_s: float) -> SignalHistory:
        times = start_s + step_s * np.arange(math.floor((end_s - start_s) / step_s + 1e-9) + 1)
        frames = [frame(float(t), self.script(float(t))) for t in times]
        keys = tuple(sorted({k for f in frames for k in f.keys}))
        values = np.full((len(times), len(keys), len(SIGNAL_NAMES)), np.nan)
        present = np.zeros((len(times), len(keys)), dtype=bool)
        for t, f in enumerate(frames):
            for i, key in enumerate(f.keys):
                j = keys.index(key)
                values[t, j] = f.values[i]
                present[t, j] = True
        return SignalHistory(times, keys, SIGNAL_NAMES, values, present, queried=SIGNAL_NAMES)


def engine(source: FakeSource, *, cfg: Config | None = None,
           eval_delay_s: float = 2.0) -> Engine:
    clock = source.clock
    store = SnapshotStore(clock=clock)
    return Engine(config=cfg or config(), store=store, source=source,
                  metrics=ScalerMetrics(CollectorRegistry()), clock=clock, sleep=clock.sleep,
                  eval_delay_s=eval_delay_s)


def sample(e: Engine, name: str, **labels: str) -> float | None:
    return e.metrics.registry.get_sample_value(name, labels)
