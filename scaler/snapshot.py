"""Immutable evaluation results (snapshots) and the store that swaps them atomically.

The engine publishes one `Snapshot` per tick; the gRPC server and HTTP endpoints only read the
latest one, so an RPC costs O(1) and never touches Prometheus.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

IsvcKey = tuple[str, str]
"""(namespace, isvc name)."""


@dataclass(frozen=True, slots=True)
class IsvcStatus:
    """One ISVC's decision at one tick; signals are NaN where missing."""

    namespace: str
    isvc: str
    policy: str
    signals: Mapping[str, float]
    pressure: float
    current: float
    desired: int
    reason: str
    active: bool

    def as_json(self, *, age_s: float) -> dict[str, Any]:
        """JSON-safe dict (NaN/Inf → null), as served on /status and by `scaler explain --json`."""
        return {
            "namespace": self.namespace,
            "isvc": self.isvc,
            "policy": self.policy,
            "signals": {k: _finite_or_none(v) for k, v in self.signals.items()},
            "pressure": _finite_or_none(self.pressure),
            "current": _finite_or_none(self.current),
            "desired": int(self.desired),
            "reason": self.reason,
            "active": bool(self.active),
            "age_s": round(age_s, 3),
        }


@dataclass(frozen=True, slots=True)
class Snapshot:
    """All ISVCs' decisions at tick `tick_s` (Unix seconds), made at wall time `made_s`.

    `config` is the (immutable) config the tick ran with; the server uses it to validate a
    ScaledObject's `policy` metadata and to answer `min_replicas` for ISVCs not seen yet.
    """

    tick_s: float
    made_s: float
    generation: int
    entries: Mapping[IsvcKey, IsvcStatus]
    config: Any = None
    errors: Mapping[str, str] = field(default_factory=dict)

    def age_s(self, now_s: float) -> float:
        """Seconds since the tick this snapshot describes (≥ 0)."""
        return max(0.0, now_s - self.tick_s)


def _finite_or_none(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


class SnapshotStore:
    """Holds the latest snapshot; `publish` swaps it in atomically and wakes stream waiters.

    `clock` returns Unix seconds (injected for tests). Readers never see a half-built snapshot:
    the reference assignment is the swap.
    """

    def __init__(self, *, clock: Callable[[], float], stale_after_s: float = 45.0) -> None:
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._version = 0
        self._changed = asyncio.Event()
        self.stale_after_s = stale_after_s
        self.ready = False

    @property
    def snapshot(self) -> Snapshot | None:
        """The latest snapshot, or None before the first successful tick."""
        return self._snapshot

    @property
    def version(self) -> int:
        """Increments on every publish (and on `touch`), for change detection by streams."""
        return self._version

    def now_s(self) -> float:
        """The store's clock (Unix seconds)."""
        return self._clock()

    def publish(self, snapshot: Snapshot) -> None:
        """Swap in `snapshot` and wake everyone waiting in `wait_changed`."""
        self._snapshot = snapshot
        self.ready = True
        self.touch()

    def touch(self) -> None:
        """Wake stream waiters without a new snapshot (e.g. staleness may have changed)."""
        self._version += 1
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def is_stale(self) -> bool:
        """True when there is no snapshot or it is older than `stale_after_s`."""
        snap = self._snapshot
        return snap is None or snap.age_s(self._clock()) > self.stale_after_s

    async def wait_changed(self, version: int, timeout_s: float | None = None) -> int:
        """Wait until `version` differs from the current one (or timeout); return the current."""
        while self._version == version:
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), timeout_s)
            except TimeoutError:
                break
        return self._version
