"""Slow, exact CSV scanning used only to name the line of an error (the fast path is pyarrow).

Line numbers are physical lines, the header being line 1; blank lines are skipped as pyarrow
skips them, so data row r (0-based, blank lines not counted) is the line `physical_line` finds.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pyarrow.csv as pacsv

from scaler.errors import DataError

_NULLS = frozenset(pacsv.ConvertOptions().null_values)


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(physical line, fields) of each non-blank data row after the header."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        next(reader, None)
        for fields in reader:
            if fields:
                yield reader.line_num, fields


def physical_line(path: Path, row: int) -> int:
    """The line number (header = 1) of data row `row` (0-based, blank lines not counted)."""
    for index, (line, _fields) in enumerate(_rows(path)):
        if index == row:
            return line
    return row + 2


def _is_number(text: str) -> bool:
    value = text.strip()
    if value in _NULLS:
        return True
    if "_" in value:
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def locate_csv_error(path: Path, header: list[str], *, numeric: list[str],
                     fallback: str) -> DataError:
    """A DataError naming the first malformed line (wrong field count, non-numeric value)."""
    positions = [(header.index(name), name) for name in numeric]
    try:
        for line, fields in _rows(path):
            if len(fields) != len(header):
                return DataError(
                    f"{path}:{line}: {len(fields)} fields, the header has {len(header)}")
            for position, name in positions:
                if not _is_number(fields[position]):
                    return DataError(
                        f"{path}:{line}: {name} = {fields[position]!r}, not a number")
    except UnicodeDecodeError as e:
        return DataError(f"{path}: not UTF-8 text: {e}")
    except csv.Error as e:
        return DataError(f"{path}: malformed CSV: {e}")
    return DataError(f"{path}: malformed CSV: {fallback}")
