"""Numpy kernel of scaler.policy.step (DESIGN §3); pure apart from writing the new history
row into the ring buffer it is given.

ISVCs are processed in chunks of CHUNK so that every temporary stays in the CPU cache, with
in-place ufuncs into preallocated scratch buffers. Masked selections are written as NaN-aware
min/max arithmetic (np.copyto(where=) costs as much as ~6 plain ufunc passes). A parameter
equal for all ISVCs is read from a cache-resident constant buffer instead of memory. Rare
inputs (non-finite current, a signal at +inf or below 0, panic, clamping) are detected per
chunk with one cheap reduction and handled on a slow path; so are the v2 rules of
scaler.policy.guard (pods starting, latency above target, guard state), applied only to the
ISVCs they concern.
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
    Decision,
)
from scaler.policy.guard import GuardInputs, GuardState
from scaler.policy.params import PolicyParams
from scaler.policy.ring import window

CHUNK = 1 << 14
"""ISVCs per chunk: ~10 float64 scratch buffers of 128 KiB stay in a 2 MiB L2 cache."""

FRESH = 65535
"""last_desired marker of an ISVC that has never stepped (desired is always ≤ 65534)."""

SATURATE = 65535.0
"""History values saturate here (uint16 max); exact since max_replicas ≤ 65534."""

POW2_CAP = float(2**62)
"""pow2ceil saturates at 2**62 so that recommendations fit int64."""

_MANTISSA = np.int64((1 << 52) - 1)
_EXPONENT = np.int64(0x7FF << 52)
_PARAMS = ("scale_down_utilization", "up_threshold", "panic_threshold",
           "activation_threshold", "min_replicas_f", "max_replicas_f")


def pow2ceil(x: np.ndarray, out: np.ndarray, *, keep_nan: bool = True) -> np.ndarray:
    """out = pow2ceil(x): the smallest power of two ≥ x, clipped to [1, 2**62].

    Adding 2^52 − 1 to the IEEE-754 bits carries into the exponent unless the mantissa is
    zero; masking the mantissa off then leaves a power of two: 3.75 = 1.875·2^1 → 4,
    4.0 → 4, 0.3 → 0.25 → (clip) 1, inf → 2**62. NaN gives NaN if `keep_nan`, else 1.
    x and out: distinct contiguous float64 arrays.
    """
    bits = out.view(np.int64)
    np.add(x.view(np.int64), _MANTISSA, out=bits)
    np.bitwise_and(bits, _EXPONENT, out=bits)
    if keep_nan:
        np.maximum(out, x, out=out)  # the bit trick alone turns NaN into 0
    return np.clip(out, 1.0, POW2_CAP, out=out)


class _Scratch:
    """Per-step buffers of chunk length m; `const` holds parameters equal for all ISVCs."""

    def __init__(self, m: int, params: PolicyParams) -> None:
        self.buffers: dict[str, np.ndarray] = {
            name: np.empty(m, np.float64)
            for name in ("ideal", "up", "down", "r", "low", "held", "raised", "desired", "tmp",
                         "lat")
        }
        self.buffers.update({name: np.empty(m, np.bool_)
                             for name in ("b1", "b2", "b3", "nan", "g1", "g2")})
        self.buffers.update({name: np.empty(m, np.uint8) for name in ("score", "u8")})
        self.buffers.update({name: np.empty(m, np.uint16)
                             for name in ("u16a", "u16b", "u16c", "cnt")})
        self.buffers["one"] = np.ones(m)
        self.buffers["sat"] = np.full(m, SATURATE)
        self.buffers["cap"] = np.full(m, POW2_CAP)
        self.buffers["seven"] = np.full(m, 7, np.uint8)
        named = {name: getattr(params, name) for name in _PARAMS}
        named.update({f"target{k}": t for k, t in enumerate(params.targets_by_signal)})
        constants = {name: params.constants[name] for name in _PARAMS}
        constants.update({f"target{k}": params.constants[f"targets.{s}"]
                          for k, s in enumerate(params.signals)})
        self.params: dict[str, np.ndarray] = {}
        self.const: dict[str, np.ndarray] = {}
        for name, values in named.items():
            value = constants[name]
            if value is None:
                self.params[name] = values
            else:
                self.const[name] = np.full(m, value)


def run_kernel(
    params: PolicyParams,
    columns: list[np.ndarray | None],
    current: np.ndarray,
    requests: np.ndarray | None,
    ring: np.ndarray,
    head: int,
    last_desired: np.ndarray,
    *,
    spec: np.ndarray | None,
    guard_state: GuardState,
) -> tuple[Decision, np.ndarray, GuardState]:
    """Evaluate §3 for all ISVCs with `head` the new tick's ring row (written here; other
    rows are written only for fresh ISVCs). Returns the outputs, the new last_desired and the
    new guard state (`guard_state` itself when no ISVC needed the v2 rules)."""
    n = params.n
    out = Decision.empty(n)
    new_last = np.empty_like(last_desired)
    scratch = _Scratch(min(n, CHUNK), params)
    util = [c if kind == "utilization" else None for c, kind in zip(columns, params.kinds,
                                                                     strict=True)]
    lat = [(c, t) for c, kind, t in zip(columns, params.kinds, params.targets_by_signal,
                                        strict=True) if kind == "latency" and c is not None]
    busy = guard_state.busy() if guard_state.phase.size else None
    holder = _GuardHolder(guard_state)
    with np.errstate(all="ignore"):
        for lo in range(0, n, CHUNK):
            chunk = _Chunk(slice(lo, min(lo + CHUNK, n)), scratch, out)
            chunk.current(current, last_desired)
            chunk.recommend(params, util)
            chunk.latency(lat)
            chunk.guard(params, spec, requests, busy, holder)
            chunk.active(requests, out.active)
            chunk.history(params, ring, head, last_desired)
            chunk.decide(out, new_last)
    return out, new_last, holder.result()


class _GuardHolder:
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


class _Chunk:
    """One chunk of ISVCs; `b` and `p` hold buffer and parameter views of chunk length."""

    def __init__(self, sl: slice, scratch: _Scratch, out: Decision) -> None:
        self.sl = sl
        m = sl.stop - sl.start
        self.b = {k: v[:m] for k, v in scratch.buffers.items()}
        self.p = {k: v[sl] for k, v in scratch.params.items()}
        self.p.update({k: v[:m] for k, v in scratch.const.items()})
        self.c = out.current[sl]
        self.pressure = out.pressure[sl]
        self.lat_p = out.latency_pressure[sl]
        self.special: np.ndarray | None = None  # local indices handled by the guard
        self.floor: np.ndarray | None = None  # their in-flight floor on desired
        self.guard_result: guard.GuardResult | None = None

    def current(self, current: np.ndarray, last: np.ndarray) -> None:
        """Step 0: c = max(ceil(current), 1); previous desired (or min_replicas) if unknown."""
        b, c, sl = self.b, self.c, self.sl
        np.ceil(current[sl], out=c)
        np.maximum(c, b["one"], out=c)
        np.isfinite(current[sl], out=b["b1"])
        if not b["b1"].all():
            idx = np.flatnonzero(~b["b1"])
            prev = last[sl][idx]
            c[idx] = np.maximum(np.where(prev == FRESH, self.p["min_replicas_f"][idx], prev), 1)

    def recommend(self, params: PolicyParams, columns: list[np.ndarray | None]) -> None:
        """Steps 1–3: pressure, up/down candidates, recommendation r."""
        b, c = self.b, self.c
        self._pressure(params, columns)
        np.isnan(self.pressure, out=b["nan"])
        np.multiply(c, self.pressure, out=b["ideal"])
        pow2ceil(b["ideal"], b["up"], keep_nan=False)
        np.divide(b["ideal"], self.p["scale_down_utilization"], out=b["tmp"])
        pow2ceil(b["tmp"], b["down"])
        # r = max(up, c) if P > 1 + tolerance, else min(down, c); c where P is NaN.
        np.fmin(b["down"], c, out=b["r"])  # down is NaN where P is
        np.maximum(b["up"], c, out=b["tmp"])
        np.greater(self.pressure, self.p["up_threshold"], out=b["b1"])
        np.multiply(b["tmp"], b["b1"], out=b["tmp"])
        np.maximum(b["r"], b["tmp"], out=b["r"])  # max(up, c) ≥ c ≥ min(down, c)

    def _pressure(self, params: PolicyParams, columns: list[np.ndarray | None]) -> None:
        """Step 1: P = max_k s_k / t_k over present signals with a target; NaN if none.

        fmax skips NaN (missing signal, no target); a negative signal gives a ratio < 0 and
        +inf an infinite one: both are rare and recomputed exactly at their ISVCs.
        """
        sl, p, tmp = self.sl, self.pressure, self.b["tmp"]
        first = True
        for k, column in enumerate(columns):
            if column is None:
                continue
            np.divide(column[sl], self.p[f"target{k}"], out=p if first else tmp)
            if not first:
                np.fmax(p, tmp, out=p)
            first = False
        if first:
            p.fill(np.nan)
        elif np.fmin.reduce(p) < 0 or np.fmax.reduce(p) == np.inf:
            idx = np.flatnonzero((p < 0) | (p == np.inf))
            p[idx] = _exact_pressure(params, columns, sl.start + idx)

    def latency(self, lat: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """P_l = max latency signal / target (NaN if none); no-data needs P_u and P_l NaN."""
        p = self.lat_p
        if not lat:
            p.fill(np.nan)
            return
        tmp, sl = self.b["lat"], self.sl
        for k, (column, target) in enumerate(lat):
            np.divide(column[sl], target[sl], out=p if k == 0 else tmp)
            if k:
                np.fmax(p, tmp, out=p)
        bad = (p < 0) | (p == np.inf)
        if bad.any():
            idx = np.flatnonzero(bad)
            p[idx] = _exact_latency(lat, sl.start + idx)
        np.isnan(p, out=self.b["b1"])
        np.logical_and(self.b["nan"], self.b["b1"], out=self.b["nan"])

    def guard(self, params: PolicyParams, spec: np.ndarray | None,
              requests: np.ndarray | None, busy: np.ndarray | None,
              holder: _GuardHolder) -> None:
        """v2 rules (scaler.policy.guard) at the ISVCs that need them; adjusts r."""
        b, sl, c = self.b, self.sl, self.c
        lat_p = self.lat_p
        special = b["b2"]
        np.greater(lat_p, self.p["up_threshold"], out=special)
        if spec is not None:
            np.greater(spec[sl], c, out=b["b3"])
            np.logical_or(special, b["b3"], out=special)
        if busy is not None:
            np.logical_or(special, busy[sl], out=special)
        if not special.any():
            return
        idx = self._sustaining(params, special, spec, holder)
        if idx.size == 0:
            return
        gl = sl.start + idx
        sp = spec[gl] if spec is not None else np.full(idx.size, np.nan)
        demand = requests[gl] if requests is not None else np.full(idx.size, np.nan)
        g = GuardInputs(
            c=c[idx].copy(), spec=sp, demand=demand,
            latency_target_s=params.latency_target_s[gl], interval_s=params.interval_s,
            p_util=self.pressure[idx].copy(), p_lat=lat_p[idx].copy(),
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

    def _sustaining(self, params: PolicyParams, special: np.ndarray, spec: np.ndarray | None,
                    holder: _GuardHolder) -> np.ndarray:
        """Fast path, chunk-wide, for the common case — guard idle, nothing starting, no ask
        this tick — where guard.apply only counts (or resets) the ticks of high latency and
        blocks a scale-down while latency is high; returns the other local indices for
        guard.apply (same results: the oracle test runs both paths)."""
        sl, b, c, r = self.sl, self.b, self.c, self.b["r"]
        old = holder.old
        idle, high, cnt = b["g1"], b["g2"], b["cnt"]
        np.equal(old.phase[sl], 0, out=idle)
        np.logical_and(idle, old.start[sl] == 0, out=idle)
        if spec is not None:
            np.logical_and(idle, ~(spec[sl] > c), out=idle)
        np.greater(self.lat_p, self.p["up_threshold"], out=high)
        np.logical_and(high, idle, out=high)  # high and handled here
        counting = b["b3"]
        np.less_equal(r, c, out=counting)
        np.logical_and(counting, high, out=counting)
        np.minimum(old.count[sl], guard.U16_MAX - 1, out=cnt)
        np.add(cnt, 1, out=cnt)
        np.multiply(cnt, counting, out=cnt)  # count + 1 while counting, else 0
        due = np.flatnonzero(counting & (cnt >= params.sustain_ticks_u16[sl]))
        if due.size:
            nxt = np.minimum(np.minimum(guard.next_pow2(c[due]), self.p["max_replicas_f"][due]),
                             2.0 * r[due])
            asks = due[nxt > c[due]]
            idle[asks] = False
            high[asks] = False
        if cnt.any() or old.count[sl].any():
            np.copyto(holder.writable().count[sl], cnt, where=idle)
        np.multiply(c, high, out=b["tmp"])
        np.maximum(r, b["tmp"], out=r)  # latency high: no scale-down
        return np.flatnonzero(special & ~idle)

    def active(self, requests: np.ndarray | None, out: np.ndarray) -> None:
        """Step 7: requests > activation_threshold where present, else P is not NaN."""
        b, sl = self.b, self.sl
        if requests is None:
            np.logical_not(b["nan"], out=out[sl])
            return
        req, active = requests[sl], out[sl]
        below_inf, present, above = b["b1"], b["b2"], b["b3"]
        np.less(req, np.inf, out=below_inf)
        np.greater_equal(req, 0.0, out=present)
        np.logical_and(present, below_inf, out=present)
        np.greater(req, self.p["activation_threshold"], out=above)
        np.logical_and(above, below_inf, out=above)
        np.logical_or(present, b["nan"], out=active)
        np.logical_not(active, out=active)  # requests absent and P present
        np.logical_or(active, above, out=active)

    def history(self, params: PolicyParams, ring: np.ndarray, head: int,
                last: np.ndarray) -> None:
        """Step 4: write r (saturated) at row `head`; reduce the up and down windows."""
        b, sl = self.b, self.sl
        rows = ring[:, sl]
        np.equal(last[sl], FRESH, out=b["b1"])
        if b["b1"].any():  # first step: earlier ticks count as this tick's c
            fresh = np.flatnonzero(b["b1"])
            rows[:, fresh] = np.minimum(self.c[fresh], SATURATE).astype(np.uint16)
        np.minimum(b["r"], b["sat"], out=b["tmp"])
        np.copyto(rows[head], b["tmp"], casting="unsafe")
        u16 = b["u16a"], b["u16b"], b["u16c"]
        if params.up_groups.ticks == (1,):
            self.low = b["r"]
        else:  # as float64: the down window's reduction reuses the uint16 buffers
            self.low = b["low"]
            np.copyto(self.low, window(rows, head, params.up_groups, np.minimum, u16, sl))
        self.high = window(rows, head, params.down_groups, np.maximum, u16, sl)

    def decide(self, out: Decision, new_last: np.ndarray) -> None:
        """Steps 4–6: desired = clip(max(clip(c, low, high), up if panic), min, max)."""
        sl, b, p = self.sl, self.b, self.p
        held = b["held"]
        np.maximum(self.c, self.low, out=held)
        np.minimum(held, self.high, out=held)
        raised = held
        np.greater_equal(self.pressure, p["panic_threshold"], out=b["b1"])
        if b["b1"].any():
            raised = b["raised"]
            np.multiply(b["up"], b["b1"], out=raised)  # 0 where no panic: held ≥ 1 wins
            np.maximum(raised, held, out=raised)
        floored = self._floor(held, raised)
        desired = b["desired"]
        np.maximum(raised, p["min_replicas_f"], out=desired)
        np.minimum(desired, p["max_replicas_f"], out=desired)
        self._reason(raised, out.reason[sl])
        if floored is not None:
            self._v2_reason(floored, out.reason[sl])
        np.copyto(new_last[sl], desired, casting="unsafe")
        np.copyto(out.desired[sl], new_last[sl])
        np.minimum(b["r"], b["cap"], out=b["tmp"])
        np.copyto(out.recommendation[sl], b["tmp"], casting="unsafe")

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

    def _reason(self, raised: np.ndarray, out: np.ndarray) -> None:
        """Reason code: the first (smallest) code whose condition holds.

        Written as 7 − max(score) with score = 7 − code per condition: stabilizing 1,
        no-data 2, scale-down 3, scale-up 4, panic 5, clamped-min 6, clamped-max 7. Within
        {stabilizing, no-data}, {scale-down, scale-up} and {clamped-*} the conditions exclude
        each other (no data implies r = c), so each group's score is a sum of 0/1 terms.
        """
        b, c, p = self.b, self.c, self.p
        score, u8 = b["score"], b["u8"]
        b1, b2, nan = b["b1"].view(np.uint8), b["b2"].view(np.uint8), b["nan"].view(np.uint8)
        np.not_equal(b["r"], c, out=b["b1"])
        np.add(b1, nan, out=score)
        np.add(score, nan, out=score)
        np.greater(b["desired"], c, out=b["b1"])
        np.less(b["desired"], c, out=b["b2"])
        np.add(b1, b2, out=u8)
        np.multiply(u8, 3, out=u8)
        np.add(u8, b1, out=u8)
        np.maximum(score, u8, out=score)
        if raised is not b["held"]:
            np.greater(raised, b["held"], out=b["b1"])
            np.multiply(b1, 5, out=u8)
            np.maximum(score, u8, out=score)
        np.greater(raised, p["max_replicas_f"], out=b["b1"])
        np.less(raised, p["min_replicas_f"], out=b["b2"])
        if b["b1"].any() or b["b2"].any():
            np.multiply(b1, 7, out=u8)
            np.maximum(score, u8, out=score)
            np.multiply(b2, 6, out=u8)
            np.maximum(score, u8, out=score)
        np.subtract(b["seven"], score, out=out, casting="unsafe")


def _exact_latency(lat: list[tuple[np.ndarray, np.ndarray]], idx: np.ndarray) -> np.ndarray:
    """Latency pressure at `idx` counting only finite, ≥ 0 signals."""
    pressure = np.full(idx.shape, np.nan)
    for column, target in lat:
        value = column[idx]
        present = (value >= 0) & (value < np.inf)
        np.fmax(pressure, np.where(present, value / target[idx], np.nan), out=pressure)
    return pressure


def _exact_pressure(
    params: PolicyParams, columns: list[np.ndarray | None], idx: np.ndarray
) -> np.ndarray:
    """Step 1 written out at the ISVCs `idx`: only finite, ≥ 0 signals count."""
    pressure = np.full(idx.shape, np.nan)
    for column, target in zip(columns, params.targets_by_signal, strict=True):
        if column is not None:
            value = column[idx]
            present = (value >= 0) & (value < np.inf)
            np.fmax(pressure, np.where(present, value / target[idx], np.nan), out=pressure)
    return pressure
