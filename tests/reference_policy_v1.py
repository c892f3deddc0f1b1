"""Oracle of policy v1 (DESIGN §3 steps 0–7), one ISVC at a time; kept to prove v2 property 1.

Deliberately simple and independent of scaler.policy.kernel (no numpy arithmetic, no
saturation of the history, no ring buffer). Shares only the documented choices of
scaler.policy: a finite current is rounded up to a whole count; pow2ceil saturates at 2**62.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from scaler.policy import PolicyParams

REASONS = (
    "clamped-max",
    "clamped-min",
    "panic",
    "scale-up",
    "scale-down",
    "no-data",
    "stabilizing",
    "hold",
)
POW2_CAP = 2**62


def pow2ceil(x: float) -> int:
    """Smallest power of two ≥ x, at least 1, at most 2**62 (NaN → 1)."""
    p = 1
    while p < x and p < POW2_CAP:
        p *= 2
    return p


def ticks(window_s: float, interval_s: float) -> int:
    """Window length in ticks: max(1, ceil(window_s / interval_s))."""
    return max(1, math.ceil(window_s / interval_s))


def present(x: float | None) -> bool:
    """A signal value counts iff finite and ≥ 0."""
    return x is not None and math.isfinite(x) and x >= 0


@dataclass(frozen=True)
class RefParams:
    """§3 parameters of one ISVC as Python scalars."""

    targets: dict[str, float]
    interval_s: float
    tolerance: float
    scale_down_utilization: float
    panic_threshold: float
    activation_threshold: float
    scale_up_window_s: float
    scale_down_window_s: float
    min_replicas: int
    max_replicas: int

    @classmethod
    def row(cls, params: PolicyParams, i: int) -> RefParams:
        """ISVC i's parameters out of the vectorised PolicyParams."""
        return cls(
            targets={s: float(params.targets[i, k]) for k, s in enumerate(params.signals)},
            interval_s=params.interval_s,
            tolerance=float(params.tolerance[i]),
            scale_down_utilization=float(params.scale_down_utilization[i]),
            panic_threshold=float(params.panic_threshold[i]),
            activation_threshold=float(params.activation_threshold[i]),
            scale_up_window_s=float(params.scale_up_window_s[i]),
            scale_down_window_s=float(params.scale_down_window_s[i]),
            min_replicas=int(params.min_replicas[i]),
            max_replicas=int(params.max_replicas[i]),
        )


@dataclass(frozen=True)
class RefDecision:
    """One ISVC's decision; reason is a REASONS string, pressure None when no data."""

    desired: int
    pressure: float | None
    reason: str
    active: bool
    recommendation: int
    current: float


@dataclass
class RefIsvc:
    """One ISVC's history: `history` newest last; ticks before it count as `pad`."""

    history: list[float] = field(default_factory=list)
    pad: float | None = None
    last_desired: int | None = None

    def window(self, n: int) -> list[float]:
        """The last n recommendations, padded with `pad` before the first step."""
        assert self.pad is not None
        padded = [self.pad] * n + self.history
        return padded[-n:]

    def keep(self, n: int) -> None:
        """Forget all but the last n ticks; older ticks then repeat the oldest kept one."""
        if self.pad is not None:
            self.history = self.window(n)
            self.pad = self.history[0]

    def step(
        self, p: RefParams, signals: Mapping[str, float], current: float,
        requests: float | None,
    ) -> RefDecision:
        """Apply §3 steps 0–7 for one tick."""
        if math.isfinite(current):
            c = float(max(math.ceil(current), 1))
        elif self.last_desired is None:
            c = float(max(p.min_replicas, 1))
        else:
            c = float(max(self.last_desired, 1))
        if self.pad is None:
            self.pad = c

        ratios = [
            signals[name] / target
            for name, target in p.targets.items()
            if not math.isnan(target) and present(signals.get(name))
        ]
        pressure = max(ratios) if ratios else None

        r: float = c
        up = 1
        if pressure is not None:
            ideal = c * pressure
            up = pow2ceil(ideal)
            down = pow2ceil(ideal / p.scale_down_utilization)
            if pressure > 1 + p.tolerance:
                r = max(up, c)
            elif down < c:
                r = down
        self.history.append(r)

        low = min(self.window(ticks(p.scale_up_window_s, p.interval_s)))
        high = max(self.window(ticks(p.scale_down_window_s, p.interval_s)))
        held = min(max(c, low), high)
        panic = pressure is not None and pressure >= p.panic_threshold
        raised = max(held, up) if panic else held
        desired = int(min(max(raised, p.min_replicas), p.max_replicas))
        self.last_desired = desired

        if raised > p.max_replicas:
            reason = "clamped-max"
        elif raised < p.min_replicas:
            reason = "clamped-min"
        elif panic and raised > held:
            reason = "panic"
        elif desired > c:
            reason = "scale-up"
        elif desired < c:
            reason = "scale-down"
        elif pressure is None:
            reason = "no-data"
        elif r != c:
            reason = "stabilizing"
        else:
            reason = "hold"

        if present(requests):
            assert requests is not None
            active = requests > p.activation_threshold
        else:
            active = pressure is not None
        return RefDecision(desired, pressure, reason, active, int(min(r, POW2_CAP)), c)


class RefPolicy:
    """Many ISVCs, each stepped on its own; mirrors step() / PolicyState.select()."""

    def __init__(self, params: PolicyParams) -> None:
        self.params = params
        self.rows = [RefParams.row(params, i) for i in range(params.n)]
        self.isvcs = [RefIsvc() for _ in range(params.n)]

    def step(
        self,
        signals: Mapping[str, Sequence[float]],
        current: Sequence[float],
        requests: Sequence[float] | None = None,
    ) -> list[RefDecision]:
        """One tick for every ISVC; signals maps name → per-ISVC values."""
        out = []
        for i, (p, isvc) in enumerate(zip(self.rows, self.isvcs, strict=True)):
            values = {name: float(v[i]) for name, v in signals.items()}
            req = None if requests is None else float(requests[i])
            out.append(isvc.step(p, values, float(current[i]), req))
        return out

    def select(self, src_index: Sequence[int], params: PolicyParams) -> None:
        """Row i ← old row src_index[i] (-1 = fresh); keep the ticks a PolicyState keeps."""
        keep = min(self.params.ring_ticks, params.ring_ticks)
        new = []
        for src in src_index:
            if src < 0:
                new.append(RefIsvc())
                continue
            old = self.isvcs[int(src)]
            isvc = RefIsvc(list(old.history), old.pad, old.last_desired)
            isvc.keep(keep)
            new.append(isvc)
        self.params = params
        self.rows = [RefParams.row(params, i) for i in range(params.n)]
        self.isvcs = new


def as_arrays(decisions: Sequence[RefDecision]) -> dict[str, np.ndarray]:
    """Oracle decisions as arrays comparable with scaler.policy.Decision fields."""
    return {
        "desired": np.array([d.desired for d in decisions], dtype=np.int64),
        "pressure": np.array(
            [np.nan if d.pressure is None else d.pressure for d in decisions], dtype=np.float64
        ),
        "reason": np.array([REASONS.index(d.reason) for d in decisions], dtype=np.int8),
        "active": np.array([d.active for d in decisions], dtype=bool),
        "recommendation": np.array([d.recommendation for d in decisions], dtype=np.int64),
        "current": np.array([d.current for d in decisions], dtype=np.float64),
    }
