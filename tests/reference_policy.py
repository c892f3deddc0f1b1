"""Oracle: DESIGN §3 (v2) in plain Python, one ISVC at a time, history as a list.

Deliberately simple and independent of scaler.policy.kernel and scaler.policy.guard (no numpy
arithmetic, no saturation of the history, no ring buffer, the guard applied to every ISVC
every tick). Shares only the documented choices of scaler.policy: a finite current is rounded
up to a whole count; pow2ceil saturates at 2**62; the guard keeps its reference latency and
load as float32 and its counters saturate at 65535.

v2 restated (scaler/policy/guard.py has the worked examples):
* P_u = max over utilization signals, P_l = max over latency signals (s / t, present only).
* sp = ceil(spec) (NaN → c), at least c; pods start while sp > c, for ≤ startup ticks.
* Utilization recommends as v1 from P_u; while pods start: max(up, sp) above the band, else sp.
* Latency guard: idle → (sustained P_l > 1 + tol, nothing starting, utilization not scaling
  up, a step left below max) trial at the next power of two above c → after the goal's pods
  are ready for the observe window: helped (met target or improved by min_improvement) or
  floor; trial without ready pods for startup + observe (+ the latency at the ask) → floor.
  helped holds the goal until the demand falls to scale_down_utilization × the demand at the
  ask or P_l ≤ scale_down_utilization; floor holds nothing and re-arms after a sustain window
  at or under target.
* r = max(utilization's r, the goal while trial/helped, c while P_l > 1 + tol outside floor);
  desired = clip(max(v1's held/panic value, sp while starting), min, max).
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
    "starting",
    "latency-floor",
)
POW2_CAP = 2**62
IDLE, TRIAL, FLOOR, HELPED = 0, 1, 2, 3


def f32(x: float) -> float:
    """x as stored in float32 (the guard's reference values; overflow → inf)."""
    with np.errstate(over="ignore"):
        return float(np.float32(x))


def next_pow2(c: float) -> int:
    """Smallest power of two > c."""
    p = 1
    while p <= c:
        p *= 2
    return p


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
    kinds: dict[str, str]
    startup_timeout_s: float
    latency_sustain_window_s: float
    latency_observe_window_s: float
    latency_min_improvement: float
    history_max: float = 65535.0  # the history saturates here: 255 while the fleet's
    # max_replicas are all ≤ 254 (exact: every decision is clipped to max_replicas), so a
    # reload that widens the history finds the saturated values the kernel kept

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
            kinds=dict(zip(params.signals, params.kinds or (), strict=True)),
            startup_timeout_s=float(params.startup_timeout_s[i]),
            latency_sustain_window_s=float(params.latency_sustain_window_s[i]),
            latency_observe_window_s=float(params.latency_observe_window_s[i]),
            latency_min_improvement=float(params.latency_min_improvement[i]),
            history_max=float(np.iinfo(params.ring_dtype).max),
        )

    def ticks(self, window_s: float) -> int:
        """A window of this ISVC in ticks."""
        return ticks(window_s, self.interval_s)


@dataclass(frozen=True)
class RefDecision:
    """One ISVC's decision; reason is a REASONS string, pressure None when no data."""

    desired: int
    pressure: float | None
    latency_pressure: float | None
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
    guard: RefGuard = field(default_factory=lambda: RefGuard())

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
        requests: float | None, spec: float = math.nan,
    ) -> RefDecision:
        """Apply §3 (v2) for one tick."""
        if math.isfinite(current):
            c = float(max(math.ceil(current), 1))
        elif self.last_desired is None:
            c = float(max(p.min_replicas, 1))
        else:
            c = float(max(self.last_desired, 1))
        if self.pad is None:
            self.pad = min(c, p.history_max)

        pressure = _pressure(p, signals, "utilization")
        latency = _pressure(p, signals, "latency")

        r_v1: float = c
        up = 1
        if pressure is not None:
            ideal = c * pressure
            up = pow2ceil(ideal)
            down = pow2ceil(ideal / p.scale_down_utilization)
            if pressure > 1 + p.tolerance:
                r_v1 = max(up, c)
            elif down < c:
                r_v1 = down

        sp = float(math.ceil(spec)) if math.isfinite(spec) else c
        sp = max(sp, c)
        g = self.guard
        if sp > c and (g.start == 0 or sp > g.spec_at):
            g.start, g.spec_at = 1, min(sp, 65535)
        elif sp > c:
            g.start = min(g.start + 1, 65535)
        else:
            g.start, g.spec_at = 0, 0
        starting = sp > c and g.start <= p.ticks(p.startup_timeout_s)
        supply = sp if starting else c
        above = pressure is not None and pressure > 1 + p.tolerance
        outgrown = above and pressure is not None and c * pressure > sp * (1 + p.tolerance)
        r_u = (max(up, sp) if outgrown else sp) if starting else r_v1
        r = g.step(p, c=c, r_u=r_u, supply=supply, starting=starting, raw_starting=sp > c,
                   latency=latency, demand=requests if present(requests) else None,
                   replica_load=None if pressure is None else c * pressure)
        self.history.append(min(r, p.history_max))

        low = min(self.window(ticks(p.scale_up_window_s, p.interval_s)))
        high = max(self.window(ticks(p.scale_down_window_s, p.interval_s)))
        held = min(max(c, low), high)
        panic = pressure is not None and pressure >= p.panic_threshold
        panicked = max(held, up) if panic else held
        raised = max(panicked, sp) if starting else panicked
        desired = int(min(max(raised, p.min_replicas), p.max_replicas))
        self.last_desired = desired

        if raised > p.max_replicas:
            reason = "clamped-max"
        elif raised < p.min_replicas:
            reason = "clamped-min"
        elif panic and panicked > held and panicked >= raised:
            reason = "panic"
        elif starting and c < desired <= sp:
            reason = "starting"
        elif desired > c:
            reason = "scale-up"
        elif desired < c:
            reason = "scale-down"
        elif g.phase == FLOOR and latency is not None and latency > 1 + p.tolerance:
            reason = "latency-floor"
        elif pressure is None and latency is None:
            reason = "no-data"
        elif r != c:
            reason = "stabilizing"
        else:
            reason = "hold"

        if present(requests):
            assert requests is not None
            active = requests > p.activation_threshold
        else:
            active = pressure is not None or latency is not None
        return RefDecision(desired, pressure, latency, reason, active, int(min(r, POW2_CAP)), c)


def _pressure(p: RefParams, signals: Mapping[str, float], kind: str) -> float | None:
    ratios = [
        signals[name] / target
        for name, target in p.targets.items()
        if p.kinds[name] == kind and not math.isnan(target) and present(signals.get(name))
    ]
    return max(ratios) if ratios else None


@dataclass
class RefGuard:
    """The latency guard and the pods-starting counter of one ISVC."""

    phase: int = IDLE
    count: int = 0
    seen: int = 0
    goal: float = 0.0
    start: int = 0
    spec_at: float = 0
    ref: float = 0.0
    load: float | None = None  # request rate at the ask, or −c·P_u without one

    def step(self, p: RefParams, *, c: float, r_u: float, supply: float, starting: bool,
             raw_starting: bool, latency: float | None, demand: float | None,
             replica_load: float | None) -> float:
        """Advance one tick; returns the recommendation r."""
        thr = 1 + p.tolerance
        high = latency is not None and latency > thr
        quiet = not starting and r_u <= supply
        nxt = min(next_pow2(c), p.max_replicas, 2 * r_u)
        if self.phase in (IDLE, HELPED):
            self.count = min(self.count + 1, 65535) if high and quiet else 0
            if self.count >= p.ticks(p.latency_sustain_window_s) and quiet and nxt > c:
                self.phase, self.count, self.seen = TRIAL, 0, 0
                self.goal, self.ref = float(nxt), f32(latency or 0.0)
                at_ask = demand if demand is not None else (
                    None if replica_load is None else -replica_load)
                self.load = None if at_ask is None else f32(at_ask)
            elif self.phase == HELPED:
                comfortable = latency is not None and latency <= p.scale_down_utilization / 2
                self.seen = min(self.seen + 1, 65535) if comfortable else 0
                if self.seen >= p.ticks(p.scale_down_window_s) or self._fell(
                        p, demand, replica_load):
                    self._idle()
        elif self.phase == TRIAL:
            self.count = min(self.count + 1, 65535)
            self.seen = min(self.seen + 1, 65535) if c >= self.goal and not raw_starting else 0
            lat_targets = [t for s, t in p.targets.items()
                           if p.kinds[s] == "latency" and not math.isnan(t)]
            backlog_s = self.ref * min(lat_targets) if lat_targets else 0.0
            backlog = math.ceil(backlog_s / p.interval_s - 1e-9) \
                if math.isfinite(backlog_s) else 0
            observe = p.ticks(p.latency_observe_window_s) + backlog
            judged = self.seen >= observe and latency is not None
            if judged:
                assert latency is not None
                comparable = self.load is None or math.isnan(self.load) or (
                    (demand is not None and demand >= p.scale_down_utilization * self.load)
                    if self.load >= 0 else not (
                        replica_load is not None
                        and replica_load < -p.scale_down_utilization * self.load))
                improved = comparable and (
                    latency <= thr or latency <= (1 - p.latency_min_improvement) * self.ref)
                self.phase, self.count, self.seen = (HELPED if improved else FLOOR), 0, 0
                if not improved:
                    self.ref = f32(latency)
            elif self.count > p.ticks(p.startup_timeout_s) + observe:
                self.phase, self.count, self.seen = FLOOR, 0, 0
                self.ref = f32(latency) if latency is not None else math.nan
        elif self.phase == FLOOR:
            ok = latency is not None and latency <= 1.0
            self.count = min(self.count + 1, 65535) if ok else 0
            if self.count >= p.ticks(p.scale_down_window_s):
                self._idle()
        hold = self.goal if self.phase in (TRIAL, HELPED) else 0.0
        block = min(c, 2 * r_u) if high and self.phase != FLOOR else 0.0
        return max(r_u, hold, block)

    def _fell(self, p: RefParams, demand: float | None, replica_load: float | None) -> bool:
        if self.load is None or math.isnan(self.load):
            return False
        if self.load >= 0:
            return demand is not None and demand <= p.scale_down_utilization * self.load
        return (replica_load is not None and math.isfinite(replica_load)
                and replica_load <= -p.scale_down_utilization * self.load)

    def _idle(self) -> None:
        self.phase, self.count, self.seen, self.goal, self.ref, self.load = \
            IDLE, 0, 0, 0.0, 0.0, None


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
        spec: Sequence[float] | None = None,
    ) -> list[RefDecision]:
        """One tick for every ISVC; signals maps name → per-ISVC values."""
        out = []
        for i, (p, isvc) in enumerate(zip(self.rows, self.isvcs, strict=True)):
            values = {name: float(v[i]) for name, v in signals.items()}
            req = None if requests is None else float(requests[i])
            sp = math.nan if spec is None else float(spec[i])
            out.append(isvc.step(p, values, float(current[i]), req, sp))
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
            cap = float(np.iinfo(params.ring_dtype).max)  # a uint8 history saturates at 255
            isvc = RefIsvc([min(r, cap) for r in old.history],
                           None if old.pad is None else min(old.pad, cap),
                           old.last_desired, RefGuard(**vars(old.guard)))
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
        "latency_pressure": np.array(
            [np.nan if d.latency_pressure is None else d.latency_pressure for d in decisions],
            dtype=np.float64),
        "reason": np.array([REASONS.index(d.reason) for d in decisions], dtype=np.int8),
        "active": np.array([d.active for d in decisions], dtype=bool),
        "recommendation": np.array([d.recommendation for d in decisions], dtype=np.int64),
        "current": np.array([d.current for d in decisions], dtype=np.float64),
    }
