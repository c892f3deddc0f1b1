"""Invariants of replay over random small signals files (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaler.config import parse_config
from scaler.replay.io import load_signals
from scaler.replay.loop import ReplayResult, replay
from tests.replay.conftest import config_text

CONFIG = parse_config(config_text("""
default:
  targets: {kv_cache: 0.8, cpu: 0.7}
  scale_down_window: 45s
  scale_up_window: 15s
"""))
VALUES = st.sampled_from(["", "0.05", "0.3", "0.75", "0.9", "1.4", "2.5"])
Drawn = tuple[list[tuple[int, int, tuple[str, ...]]], bool]
FIXTURE_OK = [HealthCheck.function_scoped_fixture]
REPLICAS = st.sampled_from(["", "1", "2", "3", "8"])


@st.composite
def tables(draw: st.DrawFn) -> Drawn:
    """(rows (tick, isvc, cells), with_replicas): each ISVC from a start tick, with gaps."""
    n_isvcs = draw(st.integers(1, 4))
    n_ticks = draw(st.integers(1, 10))
    with_replicas = draw(st.booleans())
    rows = []
    for i in range(n_isvcs):
        start = draw(st.integers(0, n_ticks - 1))
        for t in range(start, n_ticks):
            if t > start and draw(st.integers(0, 4)) == 0:
                continue  # a gap: no row for this ISVC at this tick
            cells = (draw(VALUES), draw(VALUES), draw(REPLICAS) if with_replicas else "")
            rows.append((t, i, cells))
    return sorted(rows), with_replicas


def _csv(path: Path, rows: list[tuple[int, int, tuple[str, ...]]], with_replicas: bool) -> Path:
    header = "time_s,namespace,isvc,kv_cache,cpu" + (",replicas" if with_replicas else "")
    lines = [header]
    for t, i, cells in rows:
        values = cells if with_replicas else cells[:2]
        lines.append(",".join([str(15 * t), "ns", f"m{i}", *values]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _trace(result: ReplayResult, i: int) -> list[tuple[float, int, int, bool, float]]:
    ticks = np.flatnonzero(result.started[:, i])
    return [(float(result.table.ticks_s[t]), int(result.desired[t, i]),
             int(result.reason[t, i]), bool(result.active[t, i]),
             round(float(np.nan_to_num(result.pressure[t, i], nan=-1.0)), 12)) for t in ticks]


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_OK)
@given(data=tables())
def test_vectorised_replay_equals_each_isvc_alone(data: Drawn, tmp_path: Path) -> None:
    """Each ISVC decides as if replayed alone, its gaps written as rows with empty cells."""
    rows, with_replicas = data
    together = replay(load_signals(_csv(tmp_path / "all.csv", rows, with_replicas)), CONFIG)
    ticks = sorted({t for t, _, _ in rows})
    for i, (_, name) in enumerate(together.table.keys):
        mine = {t: cells for t, j, cells in rows if j == int(name[1:])}
        first = min(mine)
        alone_rows = [(t, 0, mine.get(t, ("", "", ""))) for t in ticks if t >= first]
        alone = replay(load_signals(_csv(tmp_path / "one.csv", alone_rows, with_replicas)),
                       CONFIG)
        assert _trace(together, i) == _trace(alone, 0)


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURE_OK)
@given(data=tables())
def test_without_replicas_current_is_previous_desired(data: Drawn, tmp_path: Path) -> None:
    rows, _ = data
    result = replay(load_signals(_csv(tmp_path / "s.csv", rows, False)), CONFIG)
    started = result.started
    both = started[1:] & started[:-1]
    assert np.array_equal(result.current[1:][both], result.desired[:-1][both].astype(float))
    first = result.first_tick
    assert np.all(result.current[first, np.arange(len(first))] == 1.0)  # max(min_replicas, 1)
