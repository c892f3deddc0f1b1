"""Validated, read-only numpy vectors for PolicyParams; pure."""

from __future__ import annotations

from typing import Any

import numpy as np


def first_bad(name: str, values: np.ndarray, bad: np.ndarray, rule: str) -> None:
    """Raise ValueError naming the parameter and the first index where `bad` holds."""
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{i}] = {values[i].item()!r}, {rule}")


def finite_at_least(name: str, values: np.ndarray, low: float) -> None:
    first_bad(name, values, ~(np.isfinite(values) & (values >= low)), f"must be ≥ {low:g}")


def constant(values: np.ndarray) -> float | None:
    """The value of an array whose elements are all equal (or all NaN), else None."""
    if values.size == 0:
        return None
    first = values[0]
    same = np.isnan(values).all() if np.isnan(first) else (values == first).all()
    return float(first) if same else None


def frozen(a: np.ndarray) -> np.ndarray:
    """`a`, made read-only."""
    a.flags.writeable = False
    return a


def broadcast(value: Any, n: int) -> np.ndarray:
    """A scalar or (n,) array-like as a fresh (n,) array (dtype left to `_vector`)."""
    a = np.asarray(value)
    if a.ndim == 0:
        return np.full(n, a[()])
    return a


def vector(name: str, value: Any, n: int, dtype: type) -> np.ndarray:
    """`value` as a read-only (n,) array of `dtype`; integers must be whole numbers."""
    raw = np.asarray(value)
    if raw.shape != (n,):
        raise ValueError(f"{name}: shape {raw.shape}, expected ({n},)")
    if dtype is np.int64 and raw.dtype.kind not in "iub":
        as_float = raw.astype(np.float64)
        first_bad(name, as_float, ~np.isfinite(as_float) | (as_float != np.round(as_float)),
                   "must be a whole number")
    return frozen(np.array(raw, dtype=dtype))
