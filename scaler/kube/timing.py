"""Timeouts, page size and jittered exponential back-off of the watches; pure (the random
source is injectable)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Backoff:
    """Exponential back-off with jitter: the n-th delay is uniform in [½, 1] × min(cap,
    base × 2ⁿ); `reset()` after a success."""

    base_s: float = 0.5
    cap_s: float = 30.0
    rng: random.Random | None = None
    failures: int = 0

    def next_s(self) -> float:
        """The delay before the next attempt (and count one more failure)."""
        rng = self.rng or random
        delay = min(self.cap_s, self.base_s * 2.0 ** min(self.failures, 30))
        self.failures += 1
        return delay * rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        """Back to the base delay."""
        self.failures = 0


@dataclass(frozen=True)
class WatchTiming:
    """Watch and request timeouts (s), page size and back-off of every reflector."""

    watch_timeout_s: int = 300
    connect_timeout_s: float = 5.0
    read_slack_s: float = 30.0
    page_size: int = 500
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
