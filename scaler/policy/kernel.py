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

from scaler.policy.chunk_v2 import GuardHolder, V2Chunk
from scaler.policy.decision import Decision
from scaler.policy.guard import GuardState
from scaler.policy.params import PolicyParams
from scaler.policy.pow2 import POW2_CAP, pow2ceil
from scaler.policy.ring import window

CHUNK = 1 << 14
"""ISVCs per chunk: ~10 float64 scratch buffers of 128 KiB stay in a 2 MiB L2 cache."""

FRESH = 65535
"""last_desired marker of an ISVC that has never stepped (desired is always ≤ 65534)."""

_PARAMS = ("scale_down_utilization", "up_threshold", "panic_threshold",
           "activation_threshold", "min_replicas_f", "max_replicas_f")


class _Scratch:
    """Per-step buffers of chunk length m; `const` holds parameters equal for all ISVCs."""

    def __init__(self, m: int, params: PolicyParams) -> None:
        self.buffers: dict[str, np.ndarray] = {
            name: np.empty(m, np.float64)
            for name in ("ideal", "up", "down", "r", "low", "held", "raised", "desired", "tmp")
        }
        self.buffers.update({name: np.empty(m, np.bool_)
                             for name in ("b1", "b2", "b3", "nan", "g1", "g2")})
        self.buffers.update({name: np.empty(m, np.uint8) for name in ("score", "u8")})
        self.buffers.update({name: np.empty(m, params.ring_dtype)
                             for name in ("hist_a", "hist_b", "hist_c")})
        self.buffers["cnt"] = np.empty(m, np.uint16)
        self.buffers["one"] = np.ones(m)
        self.buffers["sat"] = np.full(m, float(np.iinfo(params.ring_dtype).max))  # history
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
    defer: bool = True,
) -> tuple[Decision, np.ndarray, GuardState]:
    """Evaluate §3 for all ISVCs with `head` the new tick's ring row (written here; other
    rows are written only for fresh ISVCs). Returns the outputs, the new last_desired and the
    new guard state (`guard_state` itself when no ISVC needed the v2 rules). `defer`: chunks
    with few guard ISVCs leave them to one re-evaluation of those ISVCs at the end."""
    n = params.n
    out = Decision.empty(n)
    new_last = np.empty_like(last_desired)
    scratch = _Scratch(min(n, CHUNK), params)
    util, lat = ([c if kind == wanted else None for c, kind in zip(columns, params.kinds,
                                                                    strict=True)]
                 for wanted in ("utilization", "latency"))
    steady = ~guard_state.busy()
    holder = GuardHolder(guard_state)
    deferred: list[np.ndarray] | None = [] if defer else None
    with np.errstate(all="ignore"):
        for lo in range(0, n, CHUNK):
            chunk = _Chunk(slice(lo, min(lo + CHUNK, n)), scratch, out)
            chunk.current(current, last_desired)
            chunk.recommend(params, util)
            chunk.latency(params, lat)
            chunk.guard(params, spec, requests, steady, holder, deferred)
            chunk.active(requests, out.active)
            chunk.history(params, ring, head, last_desired)
            chunk.decide(out, new_last)
    if deferred:
        index = np.concatenate(deferred)
        rows = ring[:, index]
        part, part_last, part_guard = run_kernel(
            params.take(index, same_history=True), [None if col is None else col[index]
                                                    for col in columns],
            current[index], None if requests is None else requests[index], rows, head,
            last_desired[index], spec=None if spec is None else spec[index],
            guard_state=guard_state.rows(index), defer=False)
        if (last_desired[index] == FRESH).any():  # their rows were all rewritten
            ring[:, index] = rows
        else:
            ring[head, index] = rows[head]
        out.put(index, part)
        new_last[index] = part_last
        holder.writable().put(index, part_guard)
    return out, new_last, holder.result()


class _Chunk(V2Chunk):
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
        self.special = None  # local indices handled by guard.apply
        self.floor = None  # their in-flight floor on desired
        self.guard_result = None

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
        """Steps 1–3: pressure, up/down candidates, recommendation r (utilization signals)."""
        b, c = self.b, self.c
        self._max_ratio(params, columns, self.pressure)
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

    def latency(self, params: PolicyParams, columns: list[np.ndarray | None]) -> None:
        """P_l = max latency signal / target (NaN if none); no-data needs P_u and P_l NaN."""
        self._max_ratio(params, columns, self.lat_p)
        np.isnan(self.lat_p, out=self.b["b1"])
        np.logical_and(self.b["nan"], self.b["b1"], out=self.b["nan"])

    def _max_ratio(self, params: PolicyParams, columns: list[np.ndarray | None],
                   p: np.ndarray) -> None:
        """Step 1: p = max_k s_k / t_k over the given present signals with a target; NaN if
        none (columns in params.signals order, None = not taken).

        fmax skips NaN (missing signal, no target); a negative signal gives a ratio < 0 and
        +inf an infinite one: both are rare and recomputed exactly at their ISVCs.
        """
        sl, tmp = self.sl, self.b["tmp"]
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
            rows[:, fresh] = np.minimum(self.c[fresh], b["sat"][:1]).astype(ring.dtype)
        np.minimum(b["r"], b["sat"], out=b["tmp"])
        np.copyto(rows[head], b["tmp"], casting="unsafe")
        hist = b["hist_a"], b["hist_b"], b["hist_c"]
        if params.up_groups.ticks == (1,):
            self.low = b["r"]
        else:  # as float64: the down window's reduction reuses the history-dtype buffers
            self.low = b["low"]
            np.copyto(self.low, window(rows, head, params.up_groups, np.minimum, hist, sl))
        self.high = window(rows, head, params.down_groups, np.maximum, hist, sl)

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


def _exact_pressure(
    params: PolicyParams, columns: list[np.ndarray | None], idx: np.ndarray
) -> np.ndarray:
    """Step 1 written out at the ISVCs `idx`: only finite, ≥ 0 signals count (None columns
    are not taken)."""
    pressure = np.full(idx.shape, np.nan)
    for column, target in zip(columns, params.targets_by_signal, strict=True):
        if column is not None:
            value = column[idx]
            present = (value >= 0) & (value < np.inf)
            np.fmax(pressure, np.where(present, value / target[idx], np.nan), out=pressure)
    return pressure
