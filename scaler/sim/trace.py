"""Request traces: CSV loading (`timestamp_s, input_tokens, output_tokens[, isvc]`) and
transformations (window, jitter, rate scaling, speed, tiling); pure apart from `load_trace`.

Transformations compose in the order the CLI applies them: window (in trace time) → jitter →
rate scale → speed → tile → diurnal. Every random choice draws from a `numpy.random.Generator`
passed in.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scaler.errors import DataError
from scaler.keys import IsvcKey

REQUIRED_COLUMNS = ("timestamp_s", "input_tokens", "output_tokens")
DEFAULT_ISVC: IsvcKey = ("default", "llm")


@dataclass(frozen=True, eq=False)
class Trace:
    """Requests sorted by time: time_s (float64, ≥ 0), tokens (int64), isvc index into keys."""

    time_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    isvc: np.ndarray  # int32 index into `keys`
    keys: tuple[IsvcKey, ...]
    source: str = ""

    @property
    def n(self) -> int:
        """Number of requests."""
        return int(self.time_s.shape[0])

    @property
    def duration_s(self) -> float:
        """Time of the last request (the first is at or after 0)."""
        return float(self.time_s[-1]) if self.n else 0.0

    def take(self, index: np.ndarray, time_s: np.ndarray | None = None) -> Trace:
        """Rows `index` (optionally with new times), re-sorted stably by time."""
        t = self.time_s[index] if time_s is None else np.asarray(time_s, dtype=np.float64)
        order = np.argsort(t, kind="stable")
        return Trace(t[order], self.input_tokens[index][order], self.output_tokens[index][order],
                     self.isvc[index][order], self.keys, self.source)


def make_trace(time_s: Iterable[float], input_tokens: Iterable[int],
               output_tokens: Iterable[int], *, isvc: Iterable[int] | None = None,
               keys: Sequence[IsvcKey] = (DEFAULT_ISVC,), source: str = "") -> Trace:
    """A Trace from columns (sorted here); `isvc` indexes `keys` (default: all keys[0])."""
    t = np.asarray(list(time_s) if not isinstance(time_s, np.ndarray) else time_s, np.float64)
    n = t.shape[0]
    idx = np.zeros(n, np.int32) if isvc is None else np.asarray(list(isvc), np.int32)
    base = Trace(t, np.asarray(input_tokens, np.int64).reshape(n),
                 np.asarray(output_tokens, np.int64).reshape(n), idx.reshape(n), tuple(keys),
                 source)
    return base.take(np.arange(n))


def parse_isvc(text: str, default: IsvcKey = DEFAULT_ISVC) -> IsvcKey:
    """"ns/name" → (ns, name); "name" → ("default", name); "" → `default`."""
    text = text.strip()
    if not text:
        return default
    ns, sep, name = text.partition("/")
    if not sep:
        return ("default", ns)
    if not ns or not name or "/" in name:
        raise ValueError(f'isvc = {text}, must be "name" or "namespace/name"')
    return (ns, name)


def _row_values(row: list[str], cols: dict[str, int], line: int, where: str,
                default: IsvcKey) -> tuple[float, int, int, IsvcKey]:
    if len(row) <= max(cols.values()):
        raise DataError(f"{where}:{line}: {len(row)} fields, expected {max(cols.values()) + 1}")
    try:
        t = float(row[cols["timestamp_s"]])
    except ValueError:
        raise DataError(f"{where}:{line}: timestamp_s = {row[cols['timestamp_s']]!r}, "
                        "must be a number") from None
    if not math.isfinite(t) or t < 0:
        raise DataError(f"{where}:{line}: timestamp_s = {t}, must be finite and ≥ 0")
    tokens = []
    for name in ("input_tokens", "output_tokens"):
        text = row[cols[name]].strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not value.is_integer() or value < 0:
            raise DataError(f"{where}:{line}: {name} = {text!r}, must be an integer ≥ 0")
        tokens.append(int(value))
    try:
        key = parse_isvc(row[cols["isvc"]], default) if "isvc" in cols else default
    except ValueError as e:
        raise DataError(f"{where}:{line}: {e}") from None
    return t, tokens[0], tokens[1], key


def parse_trace_rows(lines: Iterable[str], *, source: str = "<trace>",
                     default_isvc: IsvcKey = DEFAULT_ISVC) -> Trace:
    """Parse CSV text lines into a Trace; raises DataError naming `source:line`."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise DataError(f"{source}:1: empty file, expected header {','.join(REQUIRED_COLUMNS)}")
    cols = {name.strip(): i for i, name in enumerate(header)}
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        raise DataError(f"{source}:1: missing column(s) {', '.join(missing)} "
                        f"(header: {','.join(header)})")
    cols = {k: v for k, v in cols.items() if k in (*REQUIRED_COLUMNS, "isvc")}
    times, inputs, outputs, idx = [], [], [], []
    keys: dict[IsvcKey, int] = {}
    for row in reader:
        if not row or all(not field.strip() for field in row):
            continue
        t, inp, out, key = _row_values(row, cols, reader.line_num, source, default_isvc)
        times.append(t)
        inputs.append(inp)
        outputs.append(out)
        idx.append(keys.setdefault(key, len(keys)))
    if not times:
        raise DataError(f"{source}:{reader.line_num}: no requests after the header")
    return make_trace(times, inputs, outputs, isvc=idx, keys=tuple(keys), source=source)


def load_trace(path: str | Path, *, default_isvc: IsvcKey = DEFAULT_ISVC) -> Trace:
    """Read a trace CSV file (I/O); times are rebased so the first request is at 0."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            trace = parse_trace_rows(f, source=str(path), default_isvc=default_isvc)
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read: {e}") from e
    return window(trace, start_s=float(trace.time_s[0]))


def window(trace: Trace, *, start_s: float = 0.0, duration_s: float = math.inf) -> Trace:
    """Requests in [start_s, start_s + duration_s), times rebased to start at 0."""
    mask = (trace.time_s >= start_s) & (trace.time_s < start_s + duration_s)
    index = np.flatnonzero(mask)
    if index.size == 0:
        raise DataError(f"{trace.source}: no requests in [{start_s:g} s, "
                        f"{start_s + duration_s:g} s) (trace spans {trace.duration_s:g} s)")
    return trace.take(index, trace.time_s[index] - start_s)


def jitter(trace: Trace, *, width_s: float, rng: np.random.Generator) -> Trace:
    """Spread each request uniformly over [t, t + width_s), e.g. Mooncake's 3 s slots."""
    t = trace.time_s + rng.uniform(0.0, width_s, trace.n)
    return trace.take(np.arange(trace.n), t)


def slot_s(trace: Trace) -> float:
    """Arrival-time quantisation: the median non-zero gap when ≥ half the gaps are zero
    (Mooncake: ~3 s), else 0."""
    gaps = np.diff(trace.time_s)
    if gaps.size < 2 or np.mean(gaps == 0) < 0.5 or not np.any(gaps > 0):
        return 0.0
    return float(np.median(gaps[gaps > 0]))


RATE_METHODS = ("duplicate", "overlay")


def rate_scale(trace: Trace, *, factor: float, rng: np.random.Generator,
               method: str = "duplicate") -> Trace:
    """Scale the request rate by thinning (factor < 1) or adding copies (factor > 1).

    Each request is kept floor(factor) times, plus once more with probability frac(factor).
    `duplicate`: copies after the first move uniformly into the gap before the next request,
    so the rate profile keeps its shape, bursts included (a burst of 60 becomes 60 × factor).
    `overlay`: copy c ≥ 1 is the whole trace shifted circularly by a random offset, as if
    independent tenants sent the same kind of traffic: bursts no longer line up, so the
    aggregate is smoother (what more users of one service usually look like).
    """
    if factor <= 0:
        raise ValueError(f"rate scale = {factor}, must be > 0")
    if method not in RATE_METHODS:
        raise ValueError(f"rate method = {method}, must be one of {', '.join(RATE_METHODS)}")
    copies = np.floor(factor) + (rng.random(trace.n) < factor - np.floor(factor))
    index = np.repeat(np.arange(trace.n), copies.astype(np.int64))
    if index.size == 0:
        raise DataError(f"{trace.source}: rate scale {factor} kept no requests")
    first = np.ones(index.size, dtype=bool)
    first[1:] = index[1:] != index[:-1]
    rank = np.arange(index.size) - np.maximum.accumulate(np.where(first, np.arange(index.size),
                                                                  0))
    if method == "overlay":
        period = trace.duration_s + (trace.duration_s / max(trace.n - 1, 1) or 1.0)
        offsets = np.concatenate([[0.0], rng.uniform(0.0, period, int(copies.max()))])
        t = (trace.time_s[index] + offsets[rank]) % period
        return trace.take(index, t)
    gap = np.diff(trace.time_s, append=trace.time_s[-1])
    t = trace.time_s[index] + np.where(first, 0.0, rng.uniform(0.0, 1.0, index.size) * gap[index])
    return trace.take(index, t)


def speed(trace: Trace, *, factor: float) -> Trace:
    """Compress time by `factor` (2 → twice the rate, half the duration)."""
    if factor <= 0:
        raise ValueError(f"speed = {factor}, must be > 0")
    return trace.take(np.arange(trace.n), trace.time_s / factor)


def diurnal(trace: Trace, *, trough: float, rng: np.random.Generator,
            period_s: float = 86_400.0) -> Trace:
    """Impose a daily cycle by thinning: keep probability trough + (1 − trough) × (1 −
    cos(2π t / period_s)) / 2, i.e. `trough` at t = 0 and 1 at period_s / 2 (e.g. noon)."""
    if not 0 < trough <= 1:
        raise ValueError(f"diurnal trough = {trough}, must be in (0, 1]")
    keep = trough + (1 - trough) * (1 - np.cos(2 * np.pi * trace.time_s / period_s)) / 2
    index = np.flatnonzero(rng.random(trace.n) < keep)
    return trace.take(index)


def tile(trace: Trace, *, until_s: float) -> Trace:
    """Repeat the trace back to back until `until_s`; period = duration + mean gap."""
    period = trace.duration_s + (trace.duration_s / max(trace.n - 1, 1) or 1.0)
    reps = max(1, math.ceil(until_s / period))
    t = (trace.time_s[None, :] + period * np.arange(reps)[:, None]).ravel()
    index = np.tile(np.arange(trace.n), reps)
    keep = t < until_s
    return trace.take(index[keep], t[keep])
