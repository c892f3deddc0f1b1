"""Replay of hand-made signals files with decisions worked out by hand from DESIGN §3."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from scaler.config import parse_config
from scaler.policy import REASONS
from scaler.replay.io import load_signals
from scaler.replay.loop import ReplayResult, replay
from tests.replay.conftest import config_text

Write = Callable[[str, str], Path]

KV_30S = """
default:
  targets: {kv_cache: 0.8}
  scale_down_window: 30s
"""


@dataclass(frozen=True)
class Case:
    id: str
    policies: str
    csv: str
    expected: list[tuple[int, str, int, str, bool]]  # (time_s, isvc, desired, reason, active)
    extra: str = ""


CASES = [
    Case(  # no replicas column: current = previous desired; unknown column ignored
        "current-is-previous-desired", KV_30S, """
        time_s,namespace,isvc,kv_cache,pod_count
        0,a,m,0.5,x
        15,a,m,1.0,x
        30,a,m,1.0,x
        45,a,m,0.1,x
        60,a,m,0.1,x
        75,a,m,0.1,x
        """, [
            (0, "m", 1, "hold", True),          # c = 1 (first tick), P 0.625
            (15, "m", 2, "scale-up", True),     # c 1, P 1.25 → ideal 1.25 → up 2
            (30, "m", 4, "scale-up", True),     # c 2 → ideal 2.5 → 4
            (45, "m", 4, "stabilizing", True),  # r = 1, down window [4, 1]
            (60, "m", 1, "scale-down", True),   # window [1, 1]
            (75, "m", 1, "hold", True),
        ]),
    Case(  # replicas column is current; an empty replicas cell → previous desired
        "replicas-column-is-current", KV_30S, """
        time_s,namespace,isvc,kv_cache,replicas
        0,a,m,1.0,4
        15,a,m,1.0,4
        30,a,m,0.5,8
        45,a,m,0.5,
        """, [
            (0, "m", 8, "scale-up", True),      # c 4, P 1.25 → ideal 5 → 8
            (15, "m", 8, "scale-up", True),     # HPA not there yet: c still 4
            (30, "m", 8, "hold", True),         # ideal 5, down = pow2ceil(7.1) = 8 = c
            (45, "m", 8, "hold", True),         # c = previous desired 8
        ]),
    Case(  # n starts at 30 s: its down window is pre-filled with ITS first c, not tick 0's
        "late-isvc-starts-fresh", KV_30S, """
        time_s,namespace,isvc,kv_cache,replicas
        0,a,m,0.5,1
        15,a,m,0.5,1
        30,a,m,0.5,1
        30,a,n,0.1,4
        45,a,m,0.5,1
        45,a,n,0.1,4
        """, [
            (0, "m", 1, "hold", True),
            (15, "m", 1, "hold", True),
            (30, "m", 1, "hold", True),
            (30, "n", 4, "stabilizing", True),  # r = 1, window [4 (pre-fill), 1]
            (45, "m", 1, "hold", True),
            (45, "n", 1, "scale-down", True),
        ]),
    Case(  # m has no row at 15 s: all signals and current missing there
        "missing-row-is-missing-data", KV_30S, """
        time_s,namespace,isvc,kv_cache
        0,a,m,1.0
        0,a,z,0.4
        15,a,z,0.4
        30,a,m,0.1
        30,a,z,0.4
        45,a,z,0.4
        45,a,m,0.1
        """, [
            (0, "m", 2, "scale-up", True),
            (0, "z", 1, "hold", True),
            (15, "m", 2, "no-data", False),     # c = previous desired, r = c = 2
            (15, "z", 1, "hold", True),
            (30, "m", 2, "stabilizing", True),  # r = 1, window [2, 1]
            (30, "z", 1, "hold", True),
            (45, "m", 1, "scale-down", True),
            (45, "z", 1, "hold", True),
        ]),
    Case(  # requests decide activity; without requests, activity follows pressure
        "requests-decide-activity", KV_30S, """
        time_s,namespace,isvc,kv_cache,requests
        0,a,m,0.5,0
        15,a,m,0.5,2.5
        30,a,m,,
        45,a,m,0.5,NaN
        """, [
            (0, "m", 1, "hold", False),
            (15, "m", 1, "hold", True),
            (30, "m", 1, "no-data", False),
            (45, "m", 1, "hold", True),
        ]),
    Case(  # per-ISVC override: same signals, different max_replicas
        "per-isvc-override-clamps", "default: {targets: {kv_cache: 0.8}}", """
        time_s,namespace,isvc,kv_cache,replicas
        0,a,big,3.2,1
        0,a,small,3.2,1
        """, [
            (0, "big", 2, "clamped-max", True),   # P 4 → up 4, clipped to 2
            (0, "small", 4, "scale-up", True),
        ], extra="isvcs:\n  a/big: {max_replicas: 2}\n"),
    Case(  # batch policy via override: kv target 0.9, cpu has no target there
        "policy-override-targets", """
        default: {targets: {kv_cache: 0.8, cpu: 0.5}}
        batch: {targets: {kv_cache: 0.9}}
        """, """
        time_s,namespace,isvc,kv_cache,cpu,replicas
        0,a,b,0.95,2.0,2
        0,a,d,0.95,2.0,2
        """, [
            (0, "b", 2, "hold", True),       # P 0.95/0.9 = 1.06 ≤ 1.1; down = 4 ≥ c
            (0, "d", 8, "scale-up", True),   # P = cpu 2.0/0.5 = 4 → ideal 8
        ], extra="isvcs:\n  a/b: {policy: batch}\n"),
    Case(  # panic bypasses a scale-up window that would otherwise hold
        "panic-bypasses-up-window", """
        default:
          targets: {kv_cache: 0.8}
          scale_up_window: 30s
        """, """
        time_s,namespace,isvc,kv_cache,replicas
        0,a,m,0.5,1
        15,a,m,3.2,1
        30,a,m,1.0,4
        """, [
            (0, "m", 1, "hold", True),
            (15, "m", 4, "panic", True),         # up window [1, 4] holds 1; P 4 ≥ 2
            (30, "m", 4, "stabilizing", True),   # r = 8, up window [4, 8] → 4, P 1.25
        ]),    Case(  # v2: spec_replicas column — pods starting hold desired; a config-added signal
        "spec-replicas-and-added-signal", """
        default: {targets: {kv_cache: 0.8, queue_s: 2.0}}
        """, """
        time_s,namespace,isvc,kv_cache,replicas,spec_replicas,queue_s
        0,a,m,1.5,2,2,
        15,a,m,0.4,2,4,
        30,a,m,0.4,2,4,
        45,a,m,0.4,4,4,3.0
        """, [
            (0, "m", 4, "scale-up", True),       # P 1.875 → up pow2ceil(3.75) = 4
            (15, "m", 4, "starting", True),      # v1 would drop to 2 (ready); spec 4 holds
            (30, "m", 4, "starting", True),
            (45, "m", 4, "hold", True),   # queue_s (latency kind) 1.5 > 1.1, not sustained yet
        ], extra="signals:\n  queue_s: {query: 'sum by ($ns, $isvc) (q)', kind: latency}\n"
                 "  latency_p99: {query: ''}\n"),
]


def _decisions(result: ReplayResult) -> list[tuple[int, str, int, str, bool]]:
    out = []
    for t, i in zip(*np.nonzero(result.started), strict=True):
        out.append((int(result.table.ticks_s[t]), result.table.keys[i][1],
                    int(result.desired[t, i]), REASONS[int(result.reason[t, i])],
                    bool(result.active[t, i])))
    return out


def _run(case: Case, write: Write) -> ReplayResult:
    config = parse_config(config_text(case.policies, case.extra))
    return replay(load_signals(write("signals.csv", case.csv)), config)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_replay_matches_hand_worked_decisions(case: Case, write: Write) -> None:
    assert _decisions(_run(case, write)) == case.expected


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_parquet_input_replays_like_csv(case: Case, write: Write,
                                        tmp_path: Path) -> None:
    csv_path = write("signals.csv", case.csv)
    pq.write_table(pacsv.read_csv(csv_path), tmp_path / "signals.parquet")
    config = parse_config(config_text(case.policies, case.extra))
    from_parquet = replay(load_signals(tmp_path / "signals.parquet"), config)
    assert _decisions(from_parquet) == case.expected
