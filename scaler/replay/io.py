"""Load and validate a recorded signals file (CSV or Parquet, DESIGN §6) into a SignalTable.

Columns: `time_s, namespace, isvc` (required) and any of SIGNAL_NAMES (optional, empty = NaN);
other columns are ignored. Rows are in non-decreasing `time_s` order; within a tick the ISVC
order is free, but an ISVC appears at most once per tick. Errors name the file and the CSV line
(the header is line 1) or, for Parquet, the 1-based data row.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from scaler.config.queries import SIGNAL_NAMES
from scaler.errors import DataError
from scaler.keys import IsvcKey
from scaler.replay.csvcheck import locate_csv_error, physical_line

REQUIRED = ("time_s", "namespace", "isvc")


@dataclass(frozen=True)
class SignalTable:
    """Recorded signals, one entry per input row, rows in input order (time non-decreasing).

    `keys` are the distinct (namespace, isvc) sorted lexicographically, `row_key` indexes them;
    `ticks_s` are the distinct times ascending, `row_tick` indexes them, and the rows of tick t
    are `tick_offsets[t]:tick_offsets[t+1]`. `signals` holds one float64 column per signal
    column present in the file (NaN = empty cell).
    """

    source: str
    keys: tuple[IsvcKey, ...]
    ticks_s: np.ndarray
    row_key: np.ndarray
    row_tick: np.ndarray
    tick_offsets: np.ndarray
    signals: dict[str, np.ndarray]

    @property
    def n_rows(self) -> int:
        """Number of data rows."""
        return int(self.row_key.shape[0])

    def first_tick(self) -> np.ndarray:
        """(n_keys,) int64: index of the tick of each ISVC's first row."""
        first = np.full(len(self.keys), len(self.ticks_s), dtype=np.int64)
        np.minimum.at(first, self.row_key, self.row_tick)
        return first


def load_signals(path: str | Path, *, extra: Sequence[str] = ()) -> SignalTable:
    """Read and validate `path` (Parquet if it ends in .parquet, else CSV); DataError if bad.

    Columns read: the required ones, the default signals and `extra` (signals a config adds).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    known = (*REQUIRED, *SIGNAL_NAMES, *(s for s in extra if s not in SIGNAL_NAMES))
    table = _read_parquet(path, known) if path.suffix == ".parquet" else _read_csv(path, known)
    return _build(table, path, known)


def _at(path: Path, row: int) -> str:
    """`line N` for CSV (header = line 1) or `row N` (1-based) for Parquet; `row` is 0-based."""
    if path.suffix == ".parquet":
        return f"row {row + 1}"
    return f"line {physical_line(path, row)}"


def _where(path: Path, row: int) -> str:
    """`file:N` (CSV line) or `file: row N` (Parquet) for data row `row` (0-based)."""
    at = _at(path, row)
    return f"{path}:{at[5:]}" if at.startswith("line ") else f"{path}: {at}"


def _read_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f), None)
    if not header:
        raise DataError(f"{path}:1: empty file, expected a header with {', '.join(REQUIRED)}")
    return [name.strip() for name in header]


def _check_columns(path: Path, names: list[str], line: str,
                   known: Sequence[str]) -> list[str]:
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise DataError(f"{path}{line}: missing required column(s) {', '.join(missing)}")
    seen: set[str] = set()
    for name in names:
        if name in seen and name in known:
            raise DataError(f"{path}{line}: column {name} appears twice")
        seen.add(name)
    return [name for name in names if name in known]


def _read_csv(path: Path, known: Sequence[str]) -> pa.Table:
    header = _read_header(path)
    wanted = _check_columns(path, header, ":1", known)
    types = {name: pa.float64() for name in wanted if name not in ("namespace", "isvc")}
    types |= {"namespace": pa.string(), "isvc": pa.string()}
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            convert_options=pacsv.ConvertOptions(column_types=types, include_columns=wanted),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        numeric = [name for name in wanted if name not in ("namespace", "isvc")]
        raise locate_csv_error(path, header, numeric=numeric, fallback=str(e)) from e


def _read_parquet(path: Path, known: Sequence[str]) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        wanted = _check_columns(path, list(names), "", known)
        table = pq.read_table(path, columns=wanted)
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"{path}: not a readable Parquet file: {e}") from e
    for name in wanted:
        kind = table.schema.field(name).type
        textual = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
        if name in ("namespace", "isvc") and not textual and not pa.types.is_dictionary(kind):
            raise DataError(f"{path}: column {name} has type {kind}, expected strings")
        if name not in ("namespace", "isvc") and not numeric:
            raise DataError(f"{path}: column {name} has type {kind}, expected numbers")
    return table


def _float_column(table: pa.Table, name: str) -> np.ndarray:
    column = pc.cast(table.column(name), pa.float64())
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _names(table: pa.Table, name: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Dictionary-encode a name column → (codes (rows,), distinct names); empty names rejected."""
    encoded = pc.cast(table.column(name), pa.string()).combine_chunks().dictionary_encode()
    names = encoded.dictionary.to_pylist()
    blank = [i for i, value in enumerate(names) if not value.strip()]
    if blank or encoded.null_count:
        bad = pc.or_(pc.is_null(encoded.indices),
                     pc.is_in(encoded.indices, pa.array(blank, encoded.indices.type)))
        raise DataError(f"{_where(path, pc.index(pc.fill_null(bad, True), True).as_py())}: "
                        f"{name} is empty")
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return codes, np.asarray(names, dtype=object)


def _factorize(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct codes, index of each code in them); O(n) when codes < size is small."""
    if size > 50_000_000:
        uniq, inverse = np.unique(codes, return_inverse=True)
        return uniq, inverse
    seen = np.zeros(size, dtype=bool)
    seen[codes] = True
    rank = np.cumsum(seen, dtype=np.int64) - 1
    return np.flatnonzero(seen), rank[codes]


def _keys(table: pa.Table, path: Path) -> tuple[tuple[IsvcKey, ...], np.ndarray]:
    """Sorted distinct (namespace, isvc) and each row's index into them."""
    ns_codes, ns_names = _names(table, "namespace", path)
    isvc_codes, isvc_names = _names(table, "isvc", path)
    pair = ns_codes * len(isvc_names) + isvc_codes
    uniq, inverse = _factorize(pair, len(ns_names) * len(isvc_names))
    pairs = [(str(ns_names[p // len(isvc_names)]), str(isvc_names[p % len(isvc_names)]))
             for p in uniq.tolist()]
    order = sorted(range(len(pairs)), key=pairs.__getitem__)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return tuple(pairs[i] for i in order), rank[inverse]


def _ticks(time_s: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ticks_s, row_tick, tick_offsets) from a column that must be finite and non-decreasing."""
    bad = np.flatnonzero(~np.isfinite(time_s))
    if bad.size:
        raise DataError(f"{_where(path, int(bad[0]))}: time_s is empty or not finite")
    back = np.flatnonzero(np.diff(time_s) < 0)
    if back.size:
        row = int(back[0]) + 1
        raise DataError(f"{_where(path, row)}: time_s = {time_s[row]:g} is before the previous "
                        f"row's {time_s[row - 1]:g}; rows must be sorted by time_s")
    new_tick = np.empty(time_s.shape[0], dtype=bool)
    new_tick[:1] = True
    np.not_equal(time_s[1:], time_s[:-1], out=new_tick[1:])
    starts = np.flatnonzero(new_tick)
    row_tick = np.cumsum(new_tick, dtype=np.int64) - 1
    offsets = np.append(starts, time_s.shape[0]).astype(np.int64)
    return time_s[starts], row_tick, offsets


def _check_duplicates(row_tick: np.ndarray, row_key: np.ndarray, n_keys: int,
                      path: Path) -> None:
    combined = row_tick * n_keys + row_key
    if combined.size < 2 or bool(np.all(np.diff(combined) > 0)):
        return
    order = np.argsort(combined, kind="stable")
    same = np.flatnonzero(np.diff(combined[order]) == 0)
    if same.size:
        pairs = np.stack([order[same], order[same + 1]], axis=1)
        first, second = pairs[np.argmin(pairs[:, 1])].tolist()
        raise DataError(f"{_where(path, int(second))}: duplicate row for this time_s and ISVC "
                        f"(first at {_at(path, int(first))})")


def _build(table: pa.Table, path: Path, known: Sequence[str]) -> SignalTable:
    if table.num_rows == 0:
        raise DataError(f"{path}: no data rows")
    time_s = _float_column(table, "time_s")
    ticks_s, row_tick, offsets = _ticks(time_s, path)
    keys, row_key = _keys(table, path)
    _check_duplicates(row_tick, row_key, len(keys), path)
    signals = {name: _float_column(table, name) for name in known
               if name not in REQUIRED and name in table.column_names}
    return SignalTable(source=str(path), keys=keys, ticks_s=ticks_s, row_key=row_key,
                       row_tick=row_tick, tick_offsets=offsets, signals=signals)
