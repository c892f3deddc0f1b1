"""Prometheus results → per-ISVC signal matrices (pure: no I/O, no clock, no logging).

Every signal query returns one series per ISVC, identified by two labels (`namespace`, `isvc`
by default). `parse_vector` turns an instant-query result into {IsvcKey: value}; `align` stacks
the signals into an N×K float64 matrix (rows: ISVCs sorted by key; columns: signals; NaN where a
series is missing, duplicated, NaN or ±Inf). Range results (warm start, `scaler record`) go
through `parse_matrix` / `align_history` onto a tick grid, giving a T×N×K array.

The engine reads frames through the `SignalSource` protocol; `scaler.signals.PromSignalSource`
is the Prometheus implementation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from scaler.errors import SignalError
from scaler.keys import IsvcKey


@dataclass(frozen=True, slots=True)
class Issue:
    """A non-fatal problem in one signal's answer, e.g. 3 series with a NaN value."""

    signal: str
    cause: str  # missing_labels | duplicate | non_finite | malformed | off_grid
    detail: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class ParsedVector:
    """One instant-query answer: value per ISVC (NaN where unusable) and what was wrong."""

    values: Mapping[IsvcKey, float]
    issues: tuple[Issue, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedMatrix:
    """One range-query answer on a tick grid: per ISVC, values (T,) and presence (T,) masks."""

    values: Mapping[IsvcKey, np.ndarray]
    present: Mapping[IsvcKey, np.ndarray]
    issues: tuple[Issue, ...] = ()


@dataclass(frozen=True)
class SignalFrame:
    """All signals for all ISVCs at one tick.

    `values[i, k]` is signal `signals[k]` of ISVC `keys[i]` (NaN = missing). `failed` maps each
    signal whose query failed entirely to its cause kind, `errors` to its message; `queried`
    lists the signals that have a query (the others are disabled and all NaN).
    """

    time_s: float
    keys: tuple[IsvcKey, ...]
    signals: tuple[str, ...]
    values: np.ndarray
    queried: tuple[str, ...] = ()
    failed: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    issues: tuple[Issue, ...] = ()

    def column(self, signal: str) -> np.ndarray:
        """Signal `signal` for every ISVC, shape (N,); all NaN if it is not a column."""
        if signal not in self.signals:
            return np.full(len(self.keys), np.nan)
        return self.values[:, self.signals.index(signal)]

    @property
    def all_failed(self) -> bool:
        """True when at least one signal was queried and every query failed (DESIGN §4)."""
        return bool(self.queried) and all(s in self.failed for s in self.queried)


@dataclass(frozen=True)
class SignalHistory:
    """All signals for all ISVCs over a tick grid: values (T, N, K), present (T, N).

    `present[t, i]` is True when any signal had a point for ISVC i at tick t (the ISVC
    existed then, as a live tick would have seen it).
    """

    times_s: np.ndarray
    keys: tuple[IsvcKey, ...]
    signals: tuple[str, ...]
    values: np.ndarray
    present: np.ndarray
    queried: tuple[str, ...] = ()
    failed: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    issues: tuple[Issue, ...] = ()

    def frame(self, t: int) -> SignalFrame:
        """The frame a live tick at `times_s[t]` would have seen (only ISVCs present then)."""
        rows = np.flatnonzero(self.present[t])
        return SignalFrame(
            time_s=float(self.times_s[t]), keys=tuple(self.keys[i] for i in rows),
            signals=self.signals, values=self.values[t][rows], queried=self.queried,
            failed=self.failed, errors=self.errors)


class SignalSource(Protocol):
    """Where the engine gets its signals from (Prometheus, or a fake in tests)."""

    async def fetch(self, time_s: float) -> SignalFrame:
        """Every signal for every ISVC, evaluated at tick `time_s` (Unix s)."""
        ...

    async def fetch_range(self, *, start_s: float, end_s: float, step_s: float) -> SignalHistory:
        """Every signal on the grid start_s + k·step_s ≤ end_s."""
        ...


def identity(metric: Any, *, namespace_label: str, isvc_label: str) -> IsvcKey | None:
    """The (namespace, isvc) of a series' label set, or None if either label is missing/empty."""
    if not isinstance(metric, Mapping):
        return None
    ns, name = metric.get(namespace_label), metric.get(isvc_label)
    if not isinstance(ns, str) or not isinstance(name, str) or not ns or not name:
        return None
    return (ns, name)


def parse_vector(
    result: Any, *, signal: str, namespace_label: str, isvc_label: str
) -> ParsedVector:
    """Instant-vector `result` → {IsvcKey: value}; raises SignalError if it is not a vector.

    Per series: missing identity labels → dropped; duplicate ISVC → NaN; NaN/±Inf or an
    unparsable value → NaN. Each kind is reported once as an Issue with its count.
    """
    items = _result_list(result, signal=signal)
    values: dict[IsvcKey, float] = {}
    counts: dict[str, int] = {}
    dupes: set[IsvcKey] = set()
    for item in items:
        if not isinstance(item, dict) or "values" in item or "value" not in item:
            kind = "a matrix" if isinstance(item, dict) and "values" in item else "not a vector"
            raise SignalError(f"instant query returned {kind}", signal=signal,
                              cause_kind="matrix" if "matrix" in kind else "malformed")
        key = identity(item.get("metric"), namespace_label=namespace_label, isvc_label=isvc_label)
        if key is None:
            counts["missing_labels"] = counts.get("missing_labels", 0) + 1
            continue
        value, cause = _sample_value(item["value"])
        if cause:
            counts[cause] = counts.get(cause, 0) + 1
        if key in values:
            dupes.add(key)
        values[key] = value
    for key in dupes:
        values[key] = math.nan
    if dupes:
        counts["duplicate"] = len(dupes)
    return ParsedVector(values, _issues(signal, counts, namespace_label, isvc_label))


def parse_matrix(
    result: Any, *, signal: str, namespace_label: str, isvc_label: str, times_s: np.ndarray
) -> ParsedMatrix:
    """Range `result` → per ISVC values and presence on the grid `times_s` (matched to the ms).

    Same per-series rules as `parse_vector`; a duplicated ISVC is NaN at the ticks where more
    than one of its series has a point.
    """
    items = _result_list(result, signal=signal)
    slot = {round(float(t) * 1000): i for i, t in enumerate(times_s)}
    n_t = len(times_s)
    values: dict[IsvcKey, np.ndarray] = {}
    present: dict[IsvcKey, np.ndarray] = {}
    counts: dict[str, int] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("values"), list):
            raise SignalError("range query returned a non-matrix result", signal=signal,
                              cause_kind="malformed")
        key = identity(item.get("metric"), namespace_label=namespace_label, isvc_label=isvc_label)
        if key is None:
            counts["missing_labels"] = counts.get("missing_labels", 0) + 1
            continue
        vals, seen = values.setdefault(key, np.full(n_t, np.nan)), present.setdefault(
            key, np.zeros(n_t, dtype=bool))
        causes = set()
        for point in item["values"]:
            value, cause = _sample_value(point)
            t = slot.get(_ms(point))
            if t is None:
                causes.add("off_grid")
                continue
            if cause:
                causes.add(cause)
            if seen[t]:
                causes.add("duplicate")
                value = math.nan
            vals[t], seen[t] = value, True
        for cause in causes:
            counts[cause] = counts.get(cause, 0) + 1
    return ParsedMatrix(values, present, _issues(signal, counts, namespace_label, isvc_label))


def align(
    columns: Mapping[str, Mapping[IsvcKey, float]], *, signals: Sequence[str],
    keys: Iterable[IsvcKey] | None = None,
) -> tuple[tuple[IsvcKey, ...], np.ndarray]:
    """Stack per-signal {key: value} maps into (sorted keys, N×K matrix), NaN where missing.

    Rows are the union of keys over all columns (or `keys` if given, in that order).
    """
    if keys is None:
        union: set[IsvcKey] = set()
        for col in columns.values():
            union.update(col)
        keys = sorted(union)
    rows = tuple(keys)
    matrix = np.full((len(rows), len(signals)), np.nan)
    for k, signal in enumerate(signals):
        by_key = columns.get(signal)
        if by_key:
            matrix[:, k] = [by_key.get(key, math.nan) for key in rows]
    return rows, matrix


def align_history(
    columns: Mapping[str, ParsedMatrix], *, signals: Sequence[str], times_s: np.ndarray
) -> tuple[tuple[IsvcKey, ...], np.ndarray, np.ndarray]:
    """Stack parsed range answers into (sorted keys, values (T, N, K), present (T, N))."""
    union: set[IsvcKey] = set()
    for parsed in columns.values():
        union.update(parsed.values)
    keys = tuple(sorted(union))
    n_t = len(times_s)
    values = np.full((n_t, len(keys), len(signals)), np.nan)
    present = np.zeros((n_t, len(keys)), dtype=bool)
    for k, signal in enumerate(signals):
        col = columns.get(signal)
        if col is None:
            continue
        for i, key in enumerate(keys):
            if key in col.values:
                values[:, i, k] = col.values[key]
                present[:, i] |= col.present[key]
    return keys, values, present


def _result_list(result: Any, *, signal: str) -> list[Any]:
    if not isinstance(result, list):
        raise SignalError(f"result is {type(result).__name__}, not a list of series",
                          signal=signal, cause_kind="malformed")
    if len(result) == 2 and not isinstance(result[0], dict | list):
        raise SignalError("query returned a scalar or string, not a vector",
                          signal=signal, cause_kind="malformed")
    return result


def _sample_value(point: Any) -> tuple[float, str]:
    """(value, cause) of a `[ts, "value"]` pair; NaN with a cause when unusable."""
    try:
        value = float(point[1])
    except (TypeError, ValueError, IndexError, KeyError):
        return math.nan, "malformed"
    if not math.isfinite(value):
        return math.nan, "non_finite"
    return value, ""


def _ms(point: Any) -> int:
    """Timestamp of a `[ts, "value"]` pair in ms (-1 if unreadable)."""
    try:
        return round(float(point[0]) * 1000)
    except (TypeError, ValueError, IndexError, KeyError):
        return -1


_DETAILS = {
    "missing_labels": "series without the {ns!r}/{isvc!r} identity labels were ignored",
    "duplicate": "ISVCs with more than one series (NaN; aggregate by the identity labels)",
    "non_finite": "NaN or ±Inf values (NaN)",
    "malformed": "unparsable sample values (NaN)",
    "off_grid": "points off the tick grid were ignored",
}


def _issues(signal: str, counts: Mapping[str, int], ns: str, isvc: str) -> tuple[Issue, ...]:
    return tuple(
        Issue(signal, cause, f"{n} {_DETAILS[cause].format(ns=ns, isvc=isvc)}", n)
        for cause, n in sorted(counts.items()))
