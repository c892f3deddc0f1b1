"""Loading signals files: bad input is a DataError naming file and line; nothing is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scaler.errors import DataError
from scaler.replay.io import load_signals
from scaler.replay.shell import replay_to_dir
from tests.replay.conftest import config_text

HEADER = "time_s,namespace,isvc,kv_cache,replicas\n"

BAD = [
    ("missing-isvc-column", "time_s,namespace,kv_cache\n0,a,0.5\n",
     1, "missing required column(s) isvc"),
    ("missing-two-columns", "namespace,kv_cache\na,0.5\n",
     1, "missing required column(s) time_s, isvc"),
    ("duplicate-column", "time_s,namespace,isvc,kv_cache,kv_cache\n0,a,m,1,2\n",
     1, "column kv_cache appears twice"),
    ("empty-file", "", 1, "empty file, expected a header with time_s, namespace, isvc"),
    ("non-numeric-signal", HEADER + "0,a,m,0.5,1\n15,a,m,high,1\n",
     3, "kv_cache = 'high', not a number"),
    ("non-numeric-time", HEADER + "0,a,m,0.5,1\nnoon,a,m,0.5,1\n",
     3, "time_s = 'noon', not a number"),
    ("underscore-number", HEADER + "0,a,m,1_000,1\n", 2, "kv_cache = '1_000', not a number"),
    ("empty-time", HEADER + "0,a,m,0.5,1\n,a,m,0.5,1\n", 3, "time_s is empty or not finite"),
    ("unsorted-time", HEADER + "15,a,m,0.5,1\n30,a,m,0.5,1\n0,a,n,0.5,1\n",
     4, "time_s = 0 is before the previous row's 30; rows must be sorted by time_s"),
    ("duplicate-row", HEADER + "0,a,m,0.5,1\n0,a,n,0.5,1\n0,a,m,0.7,1\n",
     4, "duplicate row for this time_s and ISVC (first at line 2)"),
    ("blank-lines-keep-physical-numbers", HEADER + "0,a,m,0.5,1\n\n\n0,a,m,0.7,1\n",
     5, "duplicate row for this time_s and ISVC (first at line 2)"),
    ("empty-isvc", HEADER + "0,a,m,0.5,1\n0,a,,0.5,1\n", 3, "isvc is empty"),
    ("empty-namespace", HEADER + "0, ,m,0.5,1\n", 2, "namespace is empty"),
    ("too-few-fields", HEADER + "0,a,m,0.5,1\n15,a,m\n", 3, "3 fields, the header has 5"),
    ("header-only", HEADER, None, "no data rows"),
]


@pytest.mark.parametrize(("text", "line", "message"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_csv_names_file_and_line(text: str, line: int | None, message: str,
                                     tmp_path: Path) -> None:
    path = tmp_path / "signals.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_signals(path)
    where = f"{path}:{line}: " if line is not None else f"{path}: "
    assert str(err.value) == where + message


@pytest.mark.parametrize(("text", "line", "message"), [b[1:] for b in BAD[:6]],
                         ids=[b[0] for b in BAD[:6]])
def test_bad_input_writes_nothing(text: str, line: int | None, message: str,
                                  tmp_path: Path) -> None:
    path = tmp_path / "signals.csv"
    path.write_text(text, encoding="utf-8")
    config = tmp_path / "policy.yaml"
    config.write_text(config_text("default: {targets: {kv_cache: 0.8}}"), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "decisions.csv").write_text("old\n", encoding="utf-8")
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        replay_to_dir(path, [config], out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "policy.yaml", "signals.csv"]
    assert [p.name for p in out.iterdir()] == ["decisions.csv"]
    assert (out / "decisions.csv").read_text(encoding="utf-8") == "old\n"


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_signals(tmp_path / "nope.csv")


def test_empty_cells_and_nan_spellings_are_nan_and_unknown_columns_ignored(
        tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("isvc,note,time_s,namespace,cpu,kv_cache\n"
                    "m,hello,0,a,,NaN\nm,x,15,a,inf,0.25\nn,y,15,b,N/A,-1\n", encoding="utf-8")
    table = load_signals(path)
    assert table.keys == (("a", "m"), ("b", "n"))
    assert list(table.ticks_s) == [0.0, 15.0]
    assert set(table.signals) == {"cpu", "kv_cache"}
    np.testing.assert_array_equal(table.signals["cpu"], [np.nan, np.inf, np.nan])
    np.testing.assert_array_equal(table.signals["kv_cache"], [np.nan, 0.25, -1.0])
    assert list(table.first_tick()) == [0, 1]


def test_isvc_order_within_a_tick_is_free(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("time_s,namespace,isvc\n0,b,z\n0,a,m\n15,a,m\n15,b,z\n", encoding="utf-8")
    table = load_signals(path)
    assert table.keys == (("a", "m"), ("b", "z"))
    assert list(table.row_key) == [1, 0, 0, 1]
    assert list(table.tick_offsets) == [0, 2, 4]


@pytest.mark.parametrize(("columns", "message"), [
    ({"time_s": [0, 0], "namespace": ["a", "a"], "isvc": ["m", "m"]},
     "row 2: duplicate row for this time_s and ISVC (first at row 1)"),
    ({"time_s": [15, 0], "namespace": ["a", "a"], "isvc": ["m", "n"]},
     "row 2: time_s = 0 is before the previous row's 15; rows must be sorted by time_s"),
    ({"time_s": [0], "namespace": ["a"], "isvc": ["m"], "kv_cache": ["x"]},
     "column kv_cache has type string, expected numbers"),
    ({"time_s": [0], "isvc": ["m"]}, "missing required column(s) namespace"),
], ids=["duplicate", "unsorted", "string-signal", "missing-namespace"])
def test_bad_parquet_names_file_and_row(columns: dict, message: str, tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table(columns), path)
    with pytest.raises(DataError) as err:
        load_signals(path)
    assert str(err.value) == f"{path}: {message}"
