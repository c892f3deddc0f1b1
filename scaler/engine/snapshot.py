"""Immutable evaluation results: one Snapshot per tick, one IsvcStatus per ISVC; pure.

The engine publishes one `Snapshot` per tick; the gRPC server and HTTP endpoints only read the
latest one, so an RPC costs O(1) and never touches Prometheus.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scaler.config.model import Config
from scaler.keys import IsvcKey


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
    config: Config | None = None
    errors: Mapping[str, str] = field(default_factory=dict)

    def age_s(self, now_s: float) -> float:
        """Seconds since the tick this snapshot describes (≥ 0)."""
        return max(0.0, now_s - self.tick_s)


def _finite_or_none(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
