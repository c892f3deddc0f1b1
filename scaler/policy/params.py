"""Per-ISVC policy parameters (DESIGN §3) as validated numpy arrays; pure, no I/O.

Every parameter is an array over ISVCs, so each ISVC may run a different policy in the same
step. Windows are given in seconds and become whole ticks with `max(1, ceil(window_s /
interval_s))`, e.g. a 300 s down window at a 15 s interval spans 20 ticks (the current one
included), a 0 s up window 1 tick (the current tick only) and a 20 s window 2 ticks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from scaler.policy.arrays import (
    broadcast,
    constant,
    finite_at_least,
    first_bad,
    frozen,
    vector,
)
from scaler.policy.windows import WindowGroups, window_ticks

MAX_REPLICAS_LIMIT = 65534
"""Largest accepted `max_replicas`: the history stores recommendations as uint16 saturating at
65535, which leaves every decision exact as long as max_replicas < 65535."""

RING8_LIMIT = 254
"""Largest max_replicas of a fleet whose history fits uint8 (saturating at 255, exact)."""

DEFAULTS: dict[str, float] = {
    "tolerance": 0.1,
    "scale_down_utilization": 0.7,
    "panic_threshold": 2.0,
    "activation_threshold": 0.0,
    "scale_up_window_s": 0.0,
    "scale_down_window_s": 300.0,
    "min_replicas": 1,
    "max_replicas": 64,
    "startup_timeout_s": 600.0,
    "latency_sustain_window_s": 60.0,
    "latency_observe_window_s": 60.0,
    "latency_min_improvement": 0.2,
}
"""§3's defaults, keyed by `PolicyParams.uniform` keyword (v2 adds startup_timeout_s and the
latency guard's windows, see scaler.policy.guard)."""

KINDS = ("utilization", "latency")
"""Signal kinds (DESIGN §2): a utilization signal sizes replicas, a latency signal only asks."""

DEFAULT_KINDS: dict[str, str] = {"latency_p99": "latency"}
"""Kind of a signal not given one: `latency` for these names, else `utilization`."""


_UNSET: Any = None


def default_kind(signal: str) -> str:
    """The kind a signal has unless configured (DESIGN §2 defaults)."""
    return DEFAULT_KINDS.get(signal, "utilization")

_FLOAT_FIELDS = (
    "tolerance",
    "scale_down_utilization",
    "panic_threshold",
    "activation_threshold",
    "scale_up_window_s",
    "scale_down_window_s",
    "startup_timeout_s",
    "latency_sustain_window_s",
    "latency_observe_window_s",
    "latency_min_improvement",
)
_INT_FIELDS = ("min_replicas", "max_replicas")
_NOT_PRESSURE = ("requests", "replicas", "spec_replicas")


@dataclass(frozen=True, eq=False)
class PolicyParams:
    """Policy parameters for n ISVCs; arrays are read-only, validated on construction.

    `targets` is (n, K) over `signals` (pressure-signal names, column order); NaN = no target
    for that ISVC; `kinds[k]` is signal k's kind (utilization or latency). Windows in seconds,
    `interval_s` the tick interval in seconds. Invalid
    values raise ValueError naming the parameter and the first offending index, e.g.
    `targets.kv_cache[3] = -1.0, must be > 0 or NaN`.
    """

    signals: tuple[str, ...]
    targets: np.ndarray
    interval_s: float
    tolerance: np.ndarray
    scale_down_utilization: np.ndarray
    panic_threshold: np.ndarray
    activation_threshold: np.ndarray
    scale_up_window_s: np.ndarray
    scale_down_window_s: np.ndarray
    min_replicas: np.ndarray
    max_replicas: np.ndarray
    startup_timeout_s: np.ndarray = _UNSET  # None: DEFAULTS (v2 fields, keyword or default)
    latency_sustain_window_s: np.ndarray = _UNSET
    latency_observe_window_s: np.ndarray = _UNSET
    latency_min_improvement: np.ndarray = _UNSET
    kinds: tuple[str, ...] = ()  # () = the default kind of each signal

    def __post_init__(self) -> None:
        signals = tuple(str(s) for s in self.signals)
        kinds = tuple(str(k) for k in self.kinds) if self.kinds else \
            tuple(default_kind(s) for s in signals)
        if len(kinds) != len(signals):
            raise ValueError(f"kinds = {kinds!r}, expected one per signal {signals!r}")
        for name, kind in zip(signals, kinds, strict=True):
            if kind not in KINDS:
                raise ValueError(f"kinds.{name} = {kind!r}, must be one of {', '.join(KINDS)}")
        object.__setattr__(self, "kinds", kinds)
        if len(set(signals)) != len(signals):
            raise ValueError(f"signals = {signals!r}, names must be unique")
        for name in signals:
            if name in _NOT_PRESSURE:
                raise ValueError(f"signals: {name!r} never enters the pressure")
        object.__setattr__(self, "signals", signals)
        interval_s = float(self.interval_s)
        if not (math.isfinite(interval_s) and interval_s > 0):
            raise ValueError(f"interval_s = {interval_s!r}, must be > 0")
        object.__setattr__(self, "interval_s", interval_s)
        targets = frozen(np.array(self.targets, dtype=np.float64))
        if targets.ndim != 2 or targets.shape[1] != len(signals):
            raise ValueError(f"targets: shape {targets.shape}, expected (n, {len(signals)})")
        object.__setattr__(self, "targets", targets)
        n = targets.shape[0]
        for name in _FLOAT_FIELDS:
            value = getattr(self, name)
            value = DEFAULTS[name] if value is None else value
            object.__setattr__(self, name, vector(name, broadcast(value, n), n, np.float64))
        for name in _INT_FIELDS:
            object.__setattr__(self, name, vector(name, getattr(self, name), n, np.int64))
        self._validate()

    def _validate(self) -> None:
        for k, name in enumerate(self.signals):
            col = self.targets[:, k]
            first_bad(f"targets.{name}", col, ~(np.isnan(col) | (col > 0)), "must be > 0 or NaN")
            first_bad(f"targets.{name}", col, np.isinf(col), "must be finite")
        finite_at_least("tolerance", self.tolerance, 0.0)
        sdu = self.scale_down_utilization
        first_bad("scale_down_utilization", sdu, ~((sdu > 0) & (sdu <= 1)), "must be in (0, 1]")
        pt = self.panic_threshold
        first_bad("panic_threshold", pt, ~(pt > 0), "must be > 0 (inf disables panic)")
        finite_at_least("activation_threshold", self.activation_threshold, 0.0)
        finite_at_least("scale_up_window_s", self.scale_up_window_s, 0.0)
        finite_at_least("scale_down_window_s", self.scale_down_window_s, 0.0)
        for name in ("startup_timeout_s", "latency_sustain_window_s",
                     "latency_observe_window_s"):
            finite_at_least(name, getattr(self, name), 0.0)
        mi = np.asarray(self.latency_min_improvement)
        first_bad("latency_min_improvement", mi, ~((mi >= 0) & (mi < 1)), "must be in [0, 1)")
        lo, hi = self.min_replicas, self.max_replicas
        first_bad("min_replicas", lo, lo < 0, "must be ≥ 0")
        first_bad("max_replicas", hi, hi > MAX_REPLICAS_LIMIT, f"must be ≤ {MAX_REPLICAS_LIMIT}")
        first_bad("min_replicas", lo, lo > hi, "must be ≤ max_replicas")

    @classmethod
    def uniform(
        cls,
        n: int,
        *,
        targets: Mapping[str, float | np.ndarray],
        interval_s: float,
        kinds: Mapping[str, str] | None = None,
        **overrides: float | np.ndarray,
    ) -> PolicyParams:
        """Parameters for n ISVCs: each value a scalar or an (n,) array; §3 defaults elsewhere.

        >>> p = PolicyParams.uniform(2, targets={"kv_cache": 0.8}, interval_s=15)
        >>> p.n, p.signals, int(p.down_ticks[0])
        (2, ('kv_cache',), 20)
        """
        unknown = sorted(set(overrides) - set(DEFAULTS))
        if unknown:
            raise TypeError(f"PolicyParams.uniform: unknown parameter(s) {', '.join(unknown)}")
        n = int(n)
        if n < 0:
            raise ValueError(f"n = {n}, must be ≥ 0")
        names = tuple(targets)
        columns = [vector(f"targets.{s}", broadcast(targets[s], n), n, np.float64)
                   for s in names]
        matrix = np.stack(columns, axis=1) if columns else np.empty((n, 0))
        values = {k: broadcast(overrides.get(k, v), n) for k, v in DEFAULTS.items()}
        given = dict(kinds or {})
        unknown_kinds = sorted(set(given) - set(names))
        if unknown_kinds:
            raise ValueError(f"kinds: {', '.join(unknown_kinds)} not among the targets' signals")
        kind_tuple = tuple(given.get(s, default_kind(s)) for s in names)
        return cls(signals=names, targets=matrix, interval_s=interval_s, kinds=kind_tuple,
                   **values)

    def take(self, index: np.ndarray, *, same_history: bool = False) -> PolicyParams:
        """Parameters of the ISVCs at `index` (rows of every array, in that order);
        `same_history`: keep this one's ring_dtype (to step columns of its history)."""
        rows = {name: getattr(self, name)[index] for name in (*_FLOAT_FIELDS, *_INT_FIELDS)}
        part = PolicyParams(self.signals, self.targets[index], self.interval_s, **rows,
                            kinds=self.kinds)
        if same_history:
            part.__dict__["ring_dtype"] = self.ring_dtype  # a cached_property, set before use
        return part

    @property
    def n(self) -> int:
        """Number of ISVCs."""
        return int(self.targets.shape[0])

    @property
    def signal(self) -> tuple[str, ...]:
        """Alias of `signals` (DESIGN §3 spells it `params.signal`)."""
        return self.signals

    @cached_property
    def up_ticks(self) -> np.ndarray:
        """Scale-up window per ISVC, in ticks (≥ 1)."""
        return frozen(window_ticks(self.scale_up_window_s, self.interval_s))

    @cached_property
    def down_ticks(self) -> np.ndarray:
        """Scale-down window per ISVC, in ticks (≥ 1)."""
        return frozen(window_ticks(self.scale_down_window_s, self.interval_s))

    @cached_property
    def sustain_ticks(self) -> np.ndarray:
        """Latency guard: ticks latency must stay above target before it asks (≥ 1)."""
        return frozen(window_ticks(self.latency_sustain_window_s, self.interval_s))

    @cached_property
    def sustain_ticks_u16(self) -> np.ndarray:
        """sustain_ticks as uint16, saturating (the kernel compares it with uint16 counts)."""
        return frozen(np.minimum(self.sustain_ticks, 65535).astype(np.uint16))

    @cached_property
    def observe_ticks(self) -> np.ndarray:
        """Latency guard: ticks the asked pods must be ready before the step is judged (≥ 1)."""
        return frozen(window_ticks(self.latency_observe_window_s, self.interval_s))

    @cached_property
    def startup_ticks(self) -> np.ndarray:
        """startup_timeout in ticks: pods starting longer no longer hold desired (≥ 1)."""
        return frozen(window_ticks(self.startup_timeout_s, self.interval_s))

    @cached_property
    def latency_target_s(self) -> np.ndarray:
        """Smallest latency-kind target per ISVC (s; NaN without one)."""
        cols = [self.targets[:, k] for k, kind in enumerate(self.kinds) if kind == "latency"]
        if not cols:
            return frozen(np.full(self.n, np.nan))
        with np.errstate(all="ignore"):
            return frozen(np.fmin.reduce(np.stack(cols), axis=0))

    @cached_property
    def ring_ticks(self) -> int:
        """History length kept by PolicyState: the longest window of any ISVC (≥ 1)."""
        if self.n == 0:
            return 1
        return int(max(self.up_ticks.max(), self.down_ticks.max()))

    @cached_property
    def ring_dtype(self) -> np.dtype:
        """dtype of the recommendation history: uint8 while every max_replicas ≤ 254, else
        uint16. Values saturate at the dtype's max, which keeps every decision exact: a
        saturated value is > max_replicas, and desired is clipped to max_replicas after the
        windows (e.g. a history of 512 stored as 255: clip(c, low, 255) and clip(c, low, 512)
        both clip to max_replicas 64). A 15-minute window at 15 s: 60 bytes, not 120."""
        small = self.n == 0 or int(self.max_replicas.max()) <= RING8_LIMIT
        return np.dtype(np.uint8 if small else np.uint16)

    @cached_property
    def up_groups(self) -> WindowGroups:
        """ISVCs grouped by scale-up window length."""
        return WindowGroups.of(self.up_ticks, for_max=False, dtype=self.ring_dtype)

    @cached_property
    def down_groups(self) -> WindowGroups:
        """ISVCs grouped by scale-down window length."""
        return WindowGroups.of(self.down_ticks, for_max=True, dtype=self.ring_dtype)

    @cached_property
    def up_threshold(self) -> np.ndarray:
        """1 + tolerance, the pressure above which the recommendation is `up` (n,)."""
        return frozen(1.0 + self.tolerance)

    @cached_property
    def min_replicas_f(self) -> np.ndarray:
        """min_replicas as float64 (n,)."""
        return frozen(self.min_replicas.astype(np.float64))

    @cached_property
    def max_replicas_f(self) -> np.ndarray:
        """max_replicas as float64 (n,)."""
        return frozen(self.max_replicas.astype(np.float64))

    @cached_property
    def constants(self) -> dict[str, float | None]:
        """For each float array (by attribute name; targets as `targets.<signal>`): its value
        if equal for all ISVCs (NaN included), else None."""
        names = (*_FLOAT_FIELDS, "up_threshold", "min_replicas_f", "max_replicas_f")
        arrays = {name: getattr(self, name) for name in names}
        arrays.update({f"targets.{s}": self.targets[:, k] for k, s in enumerate(self.signals)})
        return {name: constant(values) for name, values in arrays.items()}

    @cached_property
    def targets_by_signal(self) -> tuple[np.ndarray, ...]:
        """Contiguous (n,) target column per signal, in `signals` order."""
        return tuple(frozen(np.ascontiguousarray(self.targets[:, k])) for k in
                     range(len(self.signals)))


__all__ = ["DEFAULTS", "KINDS", "MAX_REPLICAS_LIMIT", "PolicyParams", "WindowGroups",
           "default_kind", "frozen", "window_ticks"]
