"""`scaler record`'s core: signal history from range queries → rows of DESIGN §6's table.

History is fetched in chunks of at most `chunk_ticks` ticks (well under Prometheus' 11,000
points per series, and bounding memory at chunk_ticks × ISVCs × signals floats) through the
engine's own `SignalSource.fetch_range` (same queries, labels and parsing as warm start), and
streamed to the writer chunk by chunk. A row is written for each (tick, ISVC) where any signal
had a point — exactly the ISVCs a live tick would have seen then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa

from scaler.config.queries import SIGNAL_NAMES
from scaler.errors import SignalError
from scaler.signals.client import range_chunks
from scaler.signals.frames import SignalHistory

RECORD_COLUMNS = ("time_s", "namespace", "isvc", *SIGNAL_NAMES)
"""Output columns, exactly DESIGN §6."""

Progress = Callable[[int, int], None]
"""progress(done_chunks, total_chunks)."""


class RangeSource(Protocol):
    """What record needs of a SignalSource (PromSignalSource implements it)."""

    async def fetch_range(self, *, start_s: float, end_s: float, step_s: float) -> SignalHistory:
        """Every signal on the grid start_s + k·step_s ≤ end_s."""
        ...


class RowSink(Protocol):
    """Where recorded rows go (a CSV or Parquet writer)."""

    def write(self, table: pa.Table) -> None:
        """Append rows."""
        ...


@dataclass
class RecordStats:
    """What a recording saw: rows written, distinct ISVCs, non-fatal issues per signal/cause."""

    rows: int = 0
    isvcs: set[tuple[str, str]] = field(default_factory=set)
    issues: dict[tuple[str, str], int] = field(default_factory=dict)


def record_schema(*, integral_times: bool,
                  signals: Sequence[str] = SIGNAL_NAMES) -> pa.Schema:
    """The output schema: time_s int64 when every tick is a whole second, else float64; one
    float64 column per signal (the defaults, then those a config adds)."""
    time_type = pa.int64() if integral_times else pa.float64()
    return pa.schema([("time_s", time_type), ("namespace", pa.string()),
                      ("isvc", pa.string()), *((name, pa.float64()) for name in signals)])


def history_rows(history: SignalHistory, schema: pa.Schema) -> pa.Table:
    """Rows (tick, ISVC) where `history.present`, sorted by (time_s, namespace, isvc).

    Keys in a SignalHistory are sorted, so nonzero() in C order is already the output order.
    """
    tick, key = np.nonzero(history.present)
    names = np.array([k[0] for k in history.keys] or [""], dtype=object)
    isvcs = np.array([k[1] for k in history.keys] or [""], dtype=object)
    columns: dict[str, pa.Array] = {
        "time_s": pa.array(history.times_s[tick]).cast(schema.field("time_s").type),
        "namespace": pa.array(names[key], pa.string()),
        "isvc": pa.array(isvcs[key], pa.string()),
    }
    for name in schema.names[3:]:
        if name in history.signals:
            values = history.values[tick, key, history.signals.index(name)]
        else:
            values = np.full(tick.shape[0], np.nan)
        columns[name] = pa.array(values, pa.float64(), mask=~np.isfinite(values))
    return pa.table(columns, schema=schema)


async def record(
    source: RangeSource, sink: RowSink, *, first_s: float, last_s: float, step_s: float,
    chunk_ticks: int = 1000, progress: Progress | None = None,
    signals: Sequence[str] = SIGNAL_NAMES,
) -> RecordStats:
    """Fetch ticks first_s, first_s + step_s, …, last_s chunk by chunk into `sink`.

    Raises SignalError naming the signal if any query fails (a gap would silently change
    what replay decides). `first_s`/`last_s` must be on the step grid (scaler.ticks.grid_range_s).
    """
    schema = record_schema(integral_times=float(step_s).is_integer(), signals=signals)
    chunks = range_chunks(start_s=first_s, end_s=last_s, step_s=step_s, max_points=chunk_ticks)
    stats = RecordStats()
    for done, (lo, hi) in enumerate(chunks):
        history = await source.fetch_range(start_s=lo, end_s=hi, step_s=step_s)
        if history.failed:
            signal = sorted(history.failed)[0]
            message = history.errors.get(signal) or f"{signal}: {history.failed[signal]}"
            raise SignalError(message, cause_kind=history.failed[signal])
        for issue in history.issues:
            slot = (issue.signal, issue.cause)
            stats.issues[slot] = stats.issues.get(slot, 0) + issue.count
        table = history_rows(history, schema)
        sink.write(table)
        stats.rows += table.num_rows
        stats.isvcs.update(history.keys[i] for i in np.flatnonzero(history.present.any(axis=0)))
        if progress is not None:
            progress(done + 1, len(chunks))
    return stats
