"""The v2 part of a kernel chunk (scaler.policy.guard's rules inside the chunked kernel).

Mixed into the kernel's chunk: the choice of the ISVCs that need the v2 rules (a chunk-wide
fast path for the guard's common case, `guard.apply` on the rest), the in-flight floor on
desired and the v2 reason codes. Pure apart from the guard state it is handed to write.
"""

from __future__ import annotations

import numpy as np

from scaler.policy import guard
from scaler.policy.decision import (
    CLAMPED_MAX,
    CLAMPED_MIN,
    HOLD,
    LATENCY_FLOOR,
    NO_DATA,
    PANIC,
    SCALE_DOWN,
    SCALE_UP,
    STABILIZING,
    STARTING,
)
from scaler.policy.guard import GuardInputs, GuardState
from scaler.policy.params import PolicyParams

DEFER_FRACTION = 8
"""A chunk whose guard ISVCs are at most 1/8 of it leaves them to one guard.apply for the
whole step (run_kernel re-evaluates them as their own problem): a call costs ~180 µs
whatever its size, 11 ns per ISVC at 10⁶ ISVCs when made per chunk of 16,384 for ~9."""


class GuardHolder:
    """The new guard state, copied from the old one on the first chunk that changes it."""

    def __init__(self, old: GuardState) -> None:
        self.old = old
        self.new: GuardState | None = None

    def writable(self) -> GuardState:
        if self.new is None:
            self.new = self.old.copy()
        return self.new

    def result(self) -> GuardState:
        return self.old if self.new is None else self.new


class V2Chunk:
    """Methods of the kernel chunk for v2; the chunk sets these attributes."""

    sl: slice
    b: dict[str, np.ndarray]
    p: dict[str, np.ndarray]
    c: np.ndarray
    pressure: np.ndarray
    lat_p: np.ndarray
    special: np.ndarray | None
    floor: np.ndarray | None
    guard_result: guard.GuardResult | None

    def guard(self, params: PolicyParams, spec: np.ndarray | None,
              requests: np.ndarray | None, steady: np.ndarray, holder: GuardHolder,
              deferred: list[np.ndarray] | None) -> None:
        """v2 rules (scaler.policy.guard) at the ISVCs that need them; adjusts r. `steady`:
        (n,) bool, guard state all zero. Few of them: their global indices go to `deferred`
        (if given), their r stays v1's here."""
        b, sl, c = self.b, self.sl, self.c
        special, high, starting = b["b2"], b["g2"], b["b3"]
        np.greater(self.lat_p, self.p["up_threshold"], out=high)
        np.logical_not(steady[sl], out=special)  # guard state left from earlier ticks
        np.logical_or(special, high, out=special)
        if spec is not None:
            np.greater(spec[sl], c, out=starting)
            np.logical_or(special, starting, out=special)
        if not special.any():
            return
        idx = self._sustaining(params, special, steady[sl],
                               starting if spec is not None else None, holder)
        if idx.size == 0:
            return
        gl = sl.start + idx
        if deferred is not None and idx.size * DEFER_FRACTION <= c.size:
            deferred.append(gl)
            return
        sp = spec[gl] if spec is not None else np.full(idx.size, np.nan)
        demand = requests[gl] if requests is not None else np.full(idx.size, np.nan)
        g = GuardInputs(
            c=c[idx].copy(), spec=sp, demand=demand,
            latency_target_s=params.latency_target_s[gl], interval_s=params.interval_s,
            p_util=self.pressure[idx].copy(), p_lat=self.lat_p[idx].copy(),
            r=b["r"][idx].copy(), up=b["up"][idx].copy(),
            up_threshold=self.p["up_threshold"][idx],
            scale_down_utilization=self.p["scale_down_utilization"][idx],
            min_improvement=params.latency_min_improvement[gl],
            max_replicas=self.p["max_replicas_f"][idx],
            sustain_ticks=params.sustain_ticks[gl], observe_ticks=params.observe_ticks[gl],
            startup_ticks=params.startup_ticks[gl], down_ticks=params.down_ticks[gl])
        res = guard.apply(g, holder.old, holder.writable(), gl)
        b["r"][idx] = res.r
        self.special, self.floor, self.guard_result = idx, res.floor, res

    def _sustaining(self, params: PolicyParams, special: np.ndarray, steady: np.ndarray,
                    starting: np.ndarray | None, holder: GuardHolder) -> np.ndarray:
        """Fast path, chunk-wide, for the common case — guard state zero but for the count of
        high-latency ticks (idle, nothing started), nothing starting, no ask this tick — where
        guard.apply only counts (or resets) those ticks and blocks a scale-down below 2 r
        while latency is high; returns the other local indices for guard.apply (same
        results: the oracle test runs both paths)."""
        sl, b, c, r = self.sl, self.b, self.c, self.b["r"]
        old = holder.old
        idle, high, cnt, counting = b["g1"], b["g2"], b["cnt"], b["b1"]
        np.equal(old.phase[sl], 0, out=idle)
        np.logical_and(idle, old.start[sl] == 0, out=idle)
        if starting is not None:
            np.greater(idle, starting, out=idle)  # idle and not starting
        np.logical_and(high, idle, out=high)  # high and handled here
        np.less_equal(r, c, out=counting)
        np.logical_and(counting, high, out=counting)
        np.minimum(old.count[sl], guard.U16_MAX - 1, out=cnt)
        np.add(cnt, 1, out=cnt)
        np.multiply(cnt, counting, out=cnt)  # count + 1 while counting, else 0
        due = np.flatnonzero(cnt >= params.sustain_ticks_u16[sl])  # sustain ≥ 1: counting
        if due.size:
            nxt = guard.next_step(c[due], self.p["max_replicas_f"][due], r[due])
            asks = due[nxt > c[due]]
            idle[asks] = False
            high[asks] = False
        if cnt.any() or not steady.all():
            np.copyto(holder.writable().count[sl], cnt, where=idle)
        np.multiply(r, 2.0, out=b["tmp"])
        np.minimum(b["tmp"], c, out=b["tmp"])
        np.multiply(b["tmp"], high, out=b["tmp"])
        np.maximum(r, b["tmp"], out=r)  # latency high: no scale-down below 2 r
        np.greater(special, idle, out=special)
        return np.flatnonzero(special)

    def _floor(self, held: np.ndarray, raised: np.ndarray) -> tuple[np.ndarray, ...] | None:
        """desired ≥ spec while pods start (at the guard's ISVCs); returns their held,
        panicked and floored values for the reasons."""
        if self.special is None or self.floor is None:
            return None
        idx = self.special
        held_sub, panicked = held[idx].copy(), raised[idx].copy()
        floored = np.maximum(panicked, self.floor)
        raised[idx] = floored
        return held_sub, panicked, floored

    def _v2_reason(self, values: tuple[np.ndarray, ...], out: np.ndarray) -> None:
        """Reason codes at the guard's ISVCs, v2 precedence (DESIGN §3 reasons + `starting`
        after `panic`, `latency-floor` after `scale-down`)."""
        held, panicked, floored = values
        idx, res, p, b = self.special, self.guard_result, self.p, self.b
        assert idx is not None and self.floor is not None and res is not None
        c, desired = self.c[idx], b["desired"][idx]
        hi, lo = p["max_replicas_f"][idx], p["min_replicas_f"][idx]
        sp = np.where(res.starting, self.floor, 0.0)
        conditions = [
            floored > hi, floored < lo, (panicked > held) & (panicked >= floored),
            res.starting & (desired > c) & (desired <= sp), desired > c, desired < c,
            (res.phase == guard.FLOOR) & (self.lat_p[idx] > p["up_threshold"][idx]),
            b["nan"][idx], b["r"][idx] != c]
        codes = [CLAMPED_MAX, CLAMPED_MIN, PANIC, STARTING, SCALE_UP, SCALE_DOWN,
                 LATENCY_FLOOR, NO_DATA, STABILIZING]
        out[idx] = np.select(conditions, codes, HOLD)
