"""`scaler record` core against a fake SignalSource: chunking, rows, output files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scaler.errors import SignalError
from scaler.replay.io import load_signals
from scaler.replay.output import staged_writer
from scaler.replay.record import RECORD_COLUMNS, history_rows, record, record_schema
from scaler.signals import SignalHistory
from scaler.ticks import tick_grid

NAN = float("nan")
KEYS = (("a", "m"), ("b", "n"))


@dataclass
class FakeSource:
    """History where ISVC a/m exists at every tick and b/n from 45 s on (kv only)."""

    failed: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[float, float, float]] = field(default_factory=list)

    async def fetch_range(self, *, start_s: float, end_s: float, step_s: float) -> SignalHistory:
        self.calls.append((start_s, end_s, step_s))
        times = tick_grid(start_s=start_s, end_s=end_s, step_s=step_s)
        signals = ("latency_p99", "kv_cache", "cpu", "replicas")
        values = np.full((len(times), 2, len(signals)), NAN)
        values[:, 0, 1] = times / 1000.0
        values[:, 0, 3] = 2.0
        values[:, 1, 1] = np.where(times >= 45, 0.5, NAN)
        present = np.stack([np.ones(len(times), bool), times >= 45], axis=1)
        return SignalHistory(times_s=times, keys=KEYS, signals=signals, values=values,
                             present=present, queried=signals, failed=self.failed,
                             errors={s: f"{s}: HTTP 422: boom" for s in self.failed})


@dataclass
class ListSink:
    tables: list[pa.Table] = field(default_factory=list)

    def write(self, table: pa.Table) -> None:
        self.tables.append(table)


async def test_record_chunks_and_rows_sorted_by_time_and_isvc() -> None:
    source, sink, progress = FakeSource(), ListSink(), []
    stats = await record(source, sink, first_s=0, last_s=90, step_s=15, chunk_ticks=3,
                         progress=lambda done, total: progress.append((done, total)))
    assert source.calls == [(0, 30, 15), (45, 75, 15), (90, 90, 15)]
    assert progress == [(1, 3), (2, 3), (3, 3)]
    table = pa.concat_tables(sink.tables)
    assert table.column_names == list(RECORD_COLUMNS)
    rows = list(zip(table.column("time_s").to_pylist(), table.column("isvc").to_pylist(),
                    strict=True))
    assert rows == [(0, "m"), (15, "m"), (30, "m"), (45, "m"), (45, "n"), (60, "m"),
                    (60, "n"), (75, "m"), (75, "n"), (90, "m"), (90, "n")]
    assert (stats.rows, stats.isvcs) == (11, set(KEYS))
    assert table.column("requests").null_count == 11  # signal not in the history
    assert table.column("kv_cache").to_pylist()[:5] == [0.0, 0.015, 0.03, 0.045, 0.5]


async def test_a_failed_signal_aborts_the_recording() -> None:
    with pytest.raises(SignalError, match="cpu: HTTP 422: boom"):
        await record(FakeSource(failed={"cpu": "http_4xx"}), ListSink(), first_s=0, last_s=30,
                     step_s=15)


def test_history_rows_writes_nan_as_empty_and_fractional_times_as_float() -> None:
    history = SignalHistory(
        times_s=np.array([7.5, 15.0]), keys=KEYS, signals=("kv_cache",),
        values=np.array([[[0.5], [NAN]], [[np.inf], [0.25]]]),
        present=np.array([[True, True], [False, True]]))
    table = history_rows(history, record_schema(integral_times=False))
    assert table.column("time_s").to_pylist() == [7.5, 7.5, 15.0]
    assert table.column("kv_cache").to_pylist() == [0.5, None, 0.25]


@pytest.mark.parametrize("name", ["signals.csv", "signals.parquet"])
async def test_recorded_file_loads_back(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with staged_writer(path, record_schema(integral_times=True)) as sink:
        await record(FakeSource(), sink, first_s=0, last_s=60, step_s=15, chunk_ticks=2)
    if name.endswith(".csv"):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0] == ",".join(RECORD_COLUMNS)
        # columns: latency_p99, kv_cache, cpu, inflight, prompt_throughput, replicas,
        # spec_replicas, requests
        assert lines[4:6] == ["45,a,m,,0.045,,,,2,,", "45,b,n,,0.5,,,,,,"]
    else:
        assert pq.read_schema(path).names == list(RECORD_COLUMNS)
    table = load_signals(path)
    assert table.keys == KEYS
    assert list(table.ticks_s) == [0, 15, 30, 45, 60]
    assert list(table.first_tick()) == [0, 3]
    assert [p.name for p in tmp_path.iterdir()] == [name]


async def test_failed_recording_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "signals.csv"
    schema = record_schema(integral_times=True)
    with pytest.raises(SignalError), staged_writer(path, schema) as sink:
        await record(FakeSource(failed={"kv_cache": "timeout"}), sink, first_s=0, last_s=60,
                     step_s=15)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--start", "-1h", "--end", "-2h"], "--end (" ),
    (["--start", "-1h", "--step", "0s"], "--step = '0s', must be > 0"),
    (["--start", "-1h", "--chunk-ticks", "20000"], "--chunk-ticks = 20000, must be in"),
    (["--start", "tomorrow"], "--start = 'tomorrow', must be RFC 3339"),
    (["--start", "100", "--end", "104", "--step", "15s"], "no tick of the 15s grid"),
], ids=["end-before-start", "zero-step", "chunk-too-big", "bad-time", "no-tick"])
def test_record_cli_rejects_bad_arguments_before_querying(
        args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scaler.cli import main
    from tests.replay.conftest import config_text

    config = tmp_path / "policy.yaml"
    config.write_text(config_text("default: {}"), encoding="utf-8")
    out = tmp_path / "signals.csv"
    assert main(["record", "--config", str(config), *args, "-o", str(out)]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_progress_bar_redraws_one_line_and_ends_it() -> None:
    import io

    from scaler.commands.record import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(stream, width=4)
    bar(1, 2)
    bar(2, 2)
    assert stream.getvalue() == "\rrecord [##--] 1/2 chunks\rrecord [####] 2/2 chunks\n"
