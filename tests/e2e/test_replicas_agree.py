"""Two `scaler serve` processes behind one Service, started at different times, give the same
answer for every ISVC at every tick, including while a scale-down window that began before the
second one started runs out (warm start + ticks aligned on the epoch grid)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from scaler.devtools import Fleet, PrometheusProcess
from scaler.keys import IsvcKey
from tests.e2e.conftest import AddIsvc
from tests.e2e.harness import (
    ServeProcess,
    next_tick_boundary,
    policy_yaml,
    wait_scraped,
    wait_until,
    write_policy,
)

NS = "rel-agree"
INTERVAL_S = 2.0
WINDOW_S = 8.0
Answers = dict[IsvcKey, tuple[int, bool]]


def sample(serve: ServeProcess, keys: Iterable[IsvcKey]) -> tuple[float, Answers] | None:
    """(tick, GetMetrics/IsActive per ISVC) read within one tick, or None if a tick passed."""
    tick = serve.status(f"{NS}/down")["tick_s"]
    answers: Answers = {}
    for ns, name in keys:
        desired, active = serve.desired(ns, name), serve.active(ns, name)
        assert desired.ok and active.ok, (ns, name, desired, active)
        answers[(ns, name)] = (int(desired.value or 0), bool(active.value))
    return (tick, answers) if serve.status(f"{NS}/down")["tick_s"] == tick else None


def snapshot_answers(serve: ServeProcess) -> tuple[float, Answers]:
    """(tick, desired/active of every ISVC) from one /status document."""
    doc = serve.status()
    return doc["tick_s"], {(e["namespace"], e["isvc"]): (e["desired"], e["active"])
                           for e in doc["isvcs"]}


def test_two_replicas_started_apart_agree_every_tick(
    prometheus_ready: PrometheusProcess, fleet: Fleet, add_isvc: AddIsvc, tmp_path: Path
) -> None:
    down = add_isvc(NS, "down", kv_cache=0.5, pods=4)     # 4, then scale-down after the window
    up = add_isvc(NS, "up", kv_cache=0.95, pods=2)        # scale-up to 4
    idle = add_isvc(NS, "idle", kv_cache=0.1, pods=2, request_rate=0.0)  # → 1 after a window
    wait_scraped(prometheus_ready, down, up, idle)
    keys = [down, up, idle, *fleet.isvc_keys()[:12]]
    config = write_policy(tmp_path, policy_yaml(
        prometheus_ready.url, interval=f"{INTERVAL_S:g}s", stale_after="6s",
        scale_down_window=f"{WINDOW_S:g}s"))
    with ServeProcess(config, log_path=tmp_path / "a.log") as a:
        a.wait_ready()
        next_tick_boundary(INTERVAL_S, after_s=0.05)   # change well away from scrape-time races
        fleet.set(down, kv_cache=0.05)
        wait_until(lambda: [e["reason"] for e in a.status(f"{NS}/down")["isvcs"]] == [
            "stabilizing"], timeout_s=8, what="the scale-down window opening on replica A")
        with ServeProcess(config, log_path=tmp_path / "b.log") as b:
            b.wait_ready()
            by_tick: dict[float, list[Answers]] = {}
            snapshots: dict[float, list[Answers]] = {}
            end = time.monotonic() + WINDOW_S + 3 * INTERVAL_S
            while time.monotonic() < end:
                for serve in (a, b):
                    got = sample(serve, keys)
                    if got is not None:
                        by_tick.setdefault(got[0], []).append(got[1])
                    tick, answers = snapshot_answers(serve)
                    snapshots.setdefault(tick, []).append(answers)
                time.sleep(0.2)
            a_down = [answers[down][0] for answers in _merged(by_tick)]

    compared = 0
    for tick, seen in by_tick.items():
        if len(seen) >= 2:
            assert all(answers == seen[0] for answers in seen), (tick, _diff(seen))
            compared += 1
    assert compared >= 4, sorted(by_tick)
    full = [seen for seen in snapshots.values() if len(seen) >= 2]
    assert len(full) >= 4
    for seen in full:
        assert len(seen[0]) >= len(keys) - 1   # edge/no-pods has no series at all
        assert all(answers == seen[0] for answers in seen), _diff(seen)
    assert 4 in a_down and 1 in a_down, "the window should run out while both replicas run"
    idle_seen = [answers[idle] for answers in _merged(by_tick)]
    assert {active for _, active in idle_seen} == {False}      # no traffic
    assert idle_seen[-1] == (1, False)                         # 2 pods at kv 0.1: down to 1
    assert {answers[up] for answers in _merged(by_tick)} == {(4, True)}


def _merged(by_tick: dict[float, list[Answers]]) -> list[Answers]:
    return [seen[0] for _, seen in sorted(by_tick.items())]


def _diff(seen: list[Answers]) -> dict[IsvcKey, list[tuple[int, bool] | None]]:
    keys = set().union(*seen)
    return {k: [answers.get(k) for answers in seen] for k in sorted(keys)
            if len({answers.get(k) for answers in seen}) > 1}
