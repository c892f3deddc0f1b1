"""Writing replay outputs: decisions.csv (vectorised, via pyarrow) and all-or-nothing publishing.

Outputs are written into a staging directory next to the destination and moved into place
only when every file is complete, so a failed run leaves the destination untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from scaler.policy import REASONS
from scaler.replay.loop import ReplayResult

DECISION_COLUMNS = ("time_s", "namespace", "isvc", "pressure", "desired", "reason", "active")
CSV_OPTIONS = pacsv.WriteOptions(quoting_style="none", quoting_header="none",
                                  batch_size=65_536)


def key_names(keys: tuple[tuple[str, str], ...]) -> tuple[pa.Array, pa.Array]:
    """(namespace, isvc) of each key as two dictionary arrays over the distinct names."""
    arrays = []
    for part in (0, 1):
        names = [key[part] for key in keys]
        distinct = sorted(set(names))
        code = {name: i for i, name in enumerate(distinct)}
        indices = pa.array(np.array([code[name] for name in names], dtype=np.int32))
        arrays.append(pa.DictionaryArray.from_arrays(indices, pa.array(distinct, pa.string())))
    return arrays[0], arrays[1]


def _take(names: pa.Array, index: np.ndarray) -> pa.Array:
    indices = np.asarray(names.indices.to_numpy(), dtype=np.int32)[index]
    return pa.DictionaryArray.from_arrays(pa.array(indices), names.dictionary)


def decisions_table(result: ReplayResult) -> pa.Table:
    """One row per (tick, ISVC) from the ISVC's first row on, sorted by (time, ns, isvc)."""
    tick, key = np.nonzero(result.started)
    namespaces, isvcs = key_names(result.table.keys)
    pressure = result.pressure[tick, key]
    reasons = pa.array(list(REASONS), pa.string())
    reason_codes = pa.array(result.reason[tick, key].astype(np.int32))
    return pa.table({
        "time_s": pa.array(result.table.ticks_s[tick]),
        "namespace": _take(namespaces, key),
        "isvc": _take(isvcs, key),
        "pressure": pa.array(pressure, mask=~np.isfinite(pressure)),
        "desired": pa.array(result.desired[tick, key]),
        "reason": pa.DictionaryArray.from_arrays(reason_codes, reasons),
        "active": pa.array(result.active[tick, key]),
    })


def write_csv(table: pa.Table, path: Path) -> None:
    """Write `table` as CSV (header line, empty cell = null, no quoting: names are DNS-1123)."""
    pacsv.write_csv(table, path, write_options=CSV_OPTIONS)


def _publish(staging: Path, dest: Path) -> None:
    """Move every file under `staging` to the same place under `dest` (each move atomic)."""
    if not dest.exists():
        staging.rename(dest)
        return
    for root, _dirs, files in os.walk(staging):
        target = dest / Path(root).relative_to(staging)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.replace(Path(root) / name, target / name)
    shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def staged_dir(dest: str | Path) -> Iterator[Path]:
    """Yield an empty staging directory; on normal exit its contents replace those in `dest`."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _publish(staging, dest)


class TableWriter:
    """Appends pyarrow tables to a CSV file, or to a Parquet file if `parquet`."""

    def __init__(self, path: Path, schema: pa.Schema, *, parquet: bool) -> None:
        if parquet:
            import pyarrow.parquet as pq

            self._writer: Any = pq.ParquetWriter(path, schema)
        else:
            self._writer = pacsv.CSVWriter(path, schema, write_options=CSV_OPTIONS)

    def write(self, table: pa.Table) -> None:
        """Append the rows of `table` (same schema)."""
        self._writer.write_table(table)

    def close(self) -> None:
        """Flush and close the file."""
        self._writer.close()


@contextlib.contextmanager
def staged_writer(dest: str | Path, schema: pa.Schema) -> Iterator[TableWriter]:
    """A TableWriter (Parquet if `dest` ends in .parquet, else CSV) on a staging file that is
    renamed onto `dest` only if the block succeeds."""
    with staged_file(dest) as staging:
        writer = TableWriter(staging, schema, parquet=str(dest).endswith(".parquet"))
        try:
            yield writer
        finally:
            writer.close()


@contextlib.contextmanager
def staged_file(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `dest`; on normal exit it is renamed onto `dest`."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)
    try:
        yield Path(name)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    os.replace(name, dest)
