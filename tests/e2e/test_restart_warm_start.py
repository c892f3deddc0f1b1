"""A `scaler serve` restarted in the middle of a scale-down window neither shortens nor restarts
the window: warm start rebuilds it from Prometheus, so the new process releases the scale-down at
the tick the old one would have."""

from __future__ import annotations

import time
from pathlib import Path

from scaler.devtools import Fleet, PrometheusProcess
from scaler.engine.evaluation import VANISHED_RETENTION_S
from tests.e2e.conftest import AddIsvc
from tests.e2e.harness import (
    ServeProcess,
    next_tick_boundary,
    policy_yaml,
    wait_scraped,
    wait_until,
    write_policy,
)

NS = "rel-restart"
WINDOW_TICKS = 12   # scale_down_window 12 s at interval 1 s
RESTART_AFTER_TICKS = 4   # a cold start would then release 4+ ticks late
HIGH, LOW = 4, 1    # 4 pods at kv 0.5 hold at 4; at kv 0.05 the recommendation is 1


def decisions(serve: ServeProcess, *, until_tick_s: float) -> dict[float, tuple[int, str, int]]:
    """tick → (desired on /status, reason, GetMetrics answer read at the same tick)."""
    seen: dict[float, tuple[int, str, int]] = {}
    deadline = time.monotonic() + until_tick_s - time.time() + 10
    while time.monotonic() < deadline:
        doc = serve.status(f"{NS}/x")
        reply = serve.desired(NS, "x")
        if doc["isvcs"] and reply.ok and serve.status()["tick_s"] == doc["tick_s"]:
            e = doc["isvcs"][0]
            assert isinstance(reply.value, int)
            seen.setdefault(doc["tick_s"], (e["desired"], e["reason"], reply.value))
            if doc["tick_s"] >= until_tick_s:
                return seen
        time.sleep(0.1)
    raise TimeoutError(f"tick {until_tick_s} not reached; seen {sorted(seen)}")


def test_restart_mid_window_keeps_the_original_release_tick(
    prometheus_ready: PrometheusProcess, fleet: Fleet, add_isvc: AddIsvc, tmp_path: Path
) -> None:
    key = add_isvc(NS, "x", kv_cache=0.5, pods=4)
    wait_scraped(prometheus_ready, key)
    config = write_policy(tmp_path, policy_yaml(prometheus_ready.url,
                                                scale_down_window=f"{WINDOW_TICKS}s"))
    first = ServeProcess(config, log_path=tmp_path / "first.log").start()
    try:
        first.wait_ready()
        wait_until(lambda: first.desired(NS, "x").value == HIGH, timeout_s=10,
                   what="holding at 4")
        next_tick_boundary(1.0)
        fleet.set(key, kv_cache=0.05)

        def low_seen() -> float | None:
            [e] = first.status(f"{NS}/x")["isvcs"]
            return first.status()["tick_s"] if e["reason"] == "stabilizing" else None
        t_low = wait_until(low_seen, timeout_s=10, what="the scale-down recommendation")
        wait_until(lambda: first.status()["tick_s"] >= t_low + RESTART_AFTER_TICKS,
                   timeout_s=10, what="the middle of the window")
    finally:
        assert first.stop() == 0
    release = t_low + WINDOW_TICKS - 1   # the window is full of 1s from this tick on

    with ServeProcess(config, log_path=tmp_path / "second.log") as second:
        second.wait_ready()
        seen = decisions(second, until_tick_s=release + 2)
    ticks = sorted(seen)
    assert ticks[0] <= release - 3, f"restart too slow to observe the window: {ticks}"
    # serve replays back to the vanished-ISVC retention (1 h at 1 s), covering the window
    assert f"warm start: replayed {int(VANISHED_RETENTION_S) + 1} ticks" in second.log_text()
    for t in ticks:
        status_desired, reason, grpc_desired = seen[t]
        assert status_desired == grpc_desired
        if t < release - 1:        # one tick of slack either side for scrape timing
            assert (status_desired, reason) == (HIGH, "stabilizing"), (t - t_low, seen)
        elif t > release:
            assert (status_desired, reason) == (LOW, "scale-down"), (t - t_low, seen)
