"""PolicyState (the stabilisation history) and `step`, the one vectorised policy evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scaler.policy.decision import Decision
from scaler.policy.guard import GuardState
from scaler.policy.kernel import FRESH, run_kernel
from scaler.policy.params import (
    PolicyParams,
    frozen,
)
from scaler.policy.ring import Ring


@dataclass(frozen=True, eq=False)
class PolicyState:
    """Stabilisation history for n ISVCs; behaves as immutable (step returns a new one).

    ring: (ring_ticks, n) recommendations of params.ring_dtype (uint8 while every
    max_replicas ≤ 254, else uint16; saturating at the dtype's max), the most recent
    tick at row `head` (a persistent array: a step writes one row, older states stay
    readable and steppable); last_desired: (n,) uint16 previous desired, FRESH (65535)
    before an ISVC's first step; guard: the v2 per-ISVC state (scaler.policy.guard, 19
    bytes). Memory: ring_ticks × (1 or 2) + 2 + 19 bytes per ISVC, e.g. 41 bytes for a 300 s
    down window at a 15 s interval and max_replicas ≤ 254, 81 for 15 minutes.
    """

    ring: Ring
    head: int
    last_desired: np.ndarray
    guard: GuardState | None = None

    def __post_init__(self) -> None:
        if self.guard is None:
            object.__setattr__(self, "guard", GuardState.zeros(self.n))

    @classmethod
    def empty(cls, params: PolicyParams) -> PolicyState:
        """State for `params` in which every ISVC is fresh (has never stepped)."""
        ticks = params.ring_ticks
        ring = Ring(np.zeros((ticks, params.n), dtype=params.ring_dtype))
        return cls(ring, ticks - 1, frozen(np.full(params.n, FRESH, dtype=np.uint16)))

    @property
    def n(self) -> int:
        """Number of ISVCs."""
        return int(self.last_desired.shape[0])

    @property
    def history(self) -> np.ndarray:
        """A copy of the (ring_ticks, n) recommendation ring (row `head` = latest tick)."""
        return self.ring.array()

    @property
    def ring_ticks(self) -> int:
        """Number of ticks kept per ISVC."""
        return self.ring.shape[0]

    @property
    def nbytes(self) -> int:
        """Bytes of history and last_desired (the state proper)."""
        assert self.guard is not None
        ring_bytes = self.ring_ticks * self.n * self.ring.dtype.itemsize
        return ring_bytes + int(self.last_desired.nbytes) + self.guard.nbytes

    def select(self, src_index: np.ndarray, params: PolicyParams) -> PolicyState:
        """New state for `params`: row i copies old row `src_index[i]`, fresh where -1.

        Used when ISVCs appear or disappear and on config reload. If `params` needs a different
        history length, the most recent ticks are kept; ticks older than the old history (when
        it grows) repeat its oldest tick, e.g. old ages [r0, r1, r2] → new ages [r0, r1, r2, r2].
        """
        src = np.asarray(src_index)
        if src.shape != (params.n,) or (src.size and src.dtype.kind not in "iu"):
            raise ValueError(f"src_index: shape {src.shape} dtype {src.dtype}, "
                             f"expected ({params.n},) integers")
        src = src.astype(np.int64)
        bad = (src < -1) | (src >= self.n)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"src_index[{i}] = {int(src[i])}, must be -1 or in [0, {self.n})")
        old_ticks, new_ticks = self.ring_ticks, params.ring_ticks
        ages = np.minimum(np.arange(new_ticks - 1, -1, -1), old_ticks - 1)
        rows = (self.head - ages) % old_ticks
        fresh = src < 0
        assert self.guard is not None
        if self.n == 0:
            history = np.zeros((new_ticks, params.n), dtype=params.ring_dtype)
            last = np.full(params.n, FRESH, dtype=np.uint16)
            guard = GuardState.zeros(params.n)
        else:
            cols = np.where(fresh, 0, src)
            history = _as_dtype(self.ring.rows(rows, cols), params.ring_dtype)
            last = np.where(fresh, FRESH, self.last_desired[cols]).astype(np.uint16)
            guard = self.guard.take(cols, fresh)
        return PolicyState(Ring(history), new_ticks - 1, frozen(last), guard)


def _as_dtype(history: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """history in `dtype`, saturating (a uint16 512 becomes a uint8 255: still above every
    max_replicas a uint8 history allows)."""
    if history.dtype.itemsize <= dtype.itemsize:
        return history.astype(dtype, copy=False)
    return np.minimum(history, history.dtype.type(np.iinfo(dtype).max)).astype(dtype)


def step(
    state: PolicyState,
    params: PolicyParams,
    signals: Mapping[str, np.ndarray] | np.ndarray,
    current: np.ndarray,
    *,
    spec: np.ndarray | None = None,
    requests: np.ndarray | None = None,
) -> tuple[Decision, PolicyState]:
    """One policy tick for all ISVCs (DESIGN §3, v2); pure: `state` is left unchanged.

    signals: Mapping name → (n,) array (names not in params.signals ignored; "requests" and
    "spec_replicas" used when `requests` / `spec` are None; a missing pressure signal counts
    as all NaN), or a 2-D (n, K) array in params.signals order. current: (n,) ready replicas,
    NaN = unknown; spec: (n,) requested replicas (ready + starting), NaN = unknown (= current).
    """
    n = params.n
    if (state.ring_ticks, state.n) != (params.ring_ticks, n):
        raise ValueError(
            f"state holds {state.ring_ticks} ticks × {state.n} ISVCs, params need "
            f"{params.ring_ticks} × {n}; "
            "use state.select(src_index, params) after a config change"
        )
    if state.ring.dtype != params.ring_dtype:
        raise ValueError(
            f"state holds a {state.ring.dtype} history, params need {params.ring_dtype} "
            "(max_replicas crossed 254); use state.select(src_index, params)"
        )
    columns = _pressure_columns(signals, params)
    if requests is None and isinstance(signals, Mapping) and "requests" in signals:
        requests = signals["requests"]
    req = None if requests is None else _float_vector("requests", requests, n)
    if spec is None and isinstance(signals, Mapping) and "spec_replicas" in signals:
        spec = signals["spec_replicas"]
    spc = None if spec is None else _float_vector("spec", spec, n)
    cur = _float_vector("current", current, n)
    head = (state.head + 1) % state.ring_ticks
    last = state.last_desired
    guard_state = state.guard
    assert guard_state is not None
    results = []

    def write(ring: np.ndarray) -> None:
        results.append(run_kernel(params, columns, cur, req, ring, head, last, spec=spc,
                                  guard_state=guard_state))

    fresh = n > 0 and int(last.max()) == FRESH  # fresh ISVCs rewrite every row of theirs
    ring = state.ring.update(head, write, whole=fresh)
    decision, new_last, new_guard = results[0]
    return decision, PolicyState(ring, head, frozen(new_last), new_guard)


def _float_vector(name: str, value: object, n: int) -> np.ndarray:
    """`value` as an (n,) float64 array (no copy when it already is one)."""
    a = np.asarray(value, dtype=np.float64)
    if a.shape != (n,):
        raise ValueError(f"{name}: shape {a.shape}, expected ({n},)")
    return a


def _pressure_columns(
    signals: Mapping[str, np.ndarray] | np.ndarray, params: PolicyParams
) -> list[np.ndarray | None]:
    """One (n,) float64 column per params.signals entry; None where the signal is missing."""
    n, names = params.n, params.signals
    if isinstance(signals, Mapping):
        return [
            _float_vector(f"signals[{name!r}]", signals[name], n) if name in signals else None
            for name in names
        ]
    matrix = np.asarray(signals, dtype=np.float64)
    if matrix.shape != (n, len(names)):
        raise ValueError(f"signals: shape {matrix.shape}, expected ({n}, {len(names)})")
    return [matrix[:, k] for k in range(len(names))]
