"""Test doubles shared by every test package: the injected clock, hand-made snapshots."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from scaler.engine.snapshot import IsvcStatus, Snapshot

T0 = 1_800_000_000.0
"""A fixed Unix time (2027-01-15T08:00:00Z) that tests start their clocks at."""


@dataclass
class FakeClock:
    """Injected wall clock (Unix seconds): reads advance by `step_s` (0 = frozen), and `sleep`
    advances time instead of waiting."""

    now_s: float = T0
    step_s: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        self.now_s += self.step_s
        return self.now_s

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_s += seconds
        await asyncio.sleep(0)


def status(ns: str, name: str, *, desired: int, active: bool = True) -> IsvcStatus:
    """An IsvcStatus with plausible signals."""
    return IsvcStatus(
        namespace=ns, isvc=name, policy="default",
        signals={"latency_p99": 0.2, "kv_cache": 0.5, "cpu": math.nan},
        pressure=0.6, current=float(desired), desired=desired, reason="hold", active=active)


def snapshot(tick_s: float, *entries: IsvcStatus, generation: int = 1) -> Snapshot:
    """A snapshot of the given entries at tick_s."""
    return Snapshot(tick_s=tick_s, made_s=tick_s + 1, generation=generation,
                    entries={(e.namespace, e.isvc): e for e in entries})
