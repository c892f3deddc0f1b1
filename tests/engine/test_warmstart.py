"""Warm start: replaying range history on the tick grid reproduces a live engine's decisions."""

from __future__ import annotations

import numpy as np
import pytest

from scaler.engine.snapshot import Snapshot
from scaler.engine.warmstart import history_ticks, longest_window_s
from scaler.errors import SignalError
from scaler.keys import IsvcKey
from scaler.signals import SignalHistory
from tests.engine.fakes import CONFIG, FakeClock, FakeSource, Values, config, engine

T0 = 1_800_000_000.0
KEYS: list[IsvcKey] = [("ns", f"m{i}") for i in range(12)]


def random_script(seed: int) -> FakeSource:
    """Random kv per tick and ISVC (0–0.4, spikes of 1.0 one tick in ten), replicas 2–8 per
    ISVC; m3 absent on odd ticks."""
    rng = np.random.default_rng(seed)
    shape = (40, len(KEYS))
    kv = np.where(rng.uniform(size=shape) < 0.1, 1.0, rng.uniform(0.0, 0.4, size=shape))
    replicas = np.broadcast_to(rng.integers(2, 9, size=len(KEYS)).astype(float),
                               (40, len(KEYS)))

    def script(t: float) -> Values:
        k = round((t - T0) / 15)
        return {key: {"kv_cache": kv[k, i], "replicas": replicas[k, i], "requests": 1.0}
                for i, key in enumerate(KEYS) if not (i == 3 and k % 2)}

    return FakeSource(FakeClock(T0), script)


def decisions(snap: Snapshot | None) -> dict[IsvcKey, tuple[int, str]]:
    assert snap is not None
    return {k: (s.desired, s.reason) for k, s in snap.entries.items()}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
async def test_warm_started_engine_agrees_with_a_live_one(seed: int) -> None:
    live = engine(random_script(seed))
    for k in range(20):
        await live.tick(T0 + 15 * k)
    replica_source = random_script(seed)
    replica_source.clock.now_s = T0 + 15 * 19 + 2.5  # restarted just after tick 19 was due
    warm = engine(replica_source)
    assert await warm.warm_start(timeout_s=5) == 5  # 60 s window / 15 s + 1
    assert warm.last_tick_s == T0 + 15 * 19
    assert decisions(warm.store.snapshot) == decisions(live.store.snapshot)
    cold = engine(random_script(seed))
    differs = False
    for k in range(20, 26):
        want = decisions(await live.tick(T0 + 15 * k))
        assert decisions(await warm.tick(T0 + 15 * k)) == want
        differs |= decisions(await cold.tick(T0 + 15 * k)) != want
    assert differs, "cold start should differ somewhere (the test could not fail otherwise)"


class FailingRange(FakeSource):
    async def fetch_range(self, *, start_s: float, end_s: float, step_s: float) -> SignalHistory:
        raise SignalError("boom", cause_kind="connection")


async def test_warm_start_failure_starts_cold(caplog: pytest.LogCaptureFixture) -> None:
    source = FailingRange(FakeClock(T0 + 100), lambda t: {KEYS[0]: {"kv_cache": 0.5}})
    e = engine(source)
    assert await e.warm_start(timeout_s=1) == 0
    assert e.store.snapshot is None and e.last_tick_s is None
    assert "starting cold" in caplog.text


@pytest.mark.parametrize(("extra", "window_s", "ticks"), [
    pytest.param("", 60.0, 5, id="policies"),
    pytest.param("isvcs:\n  a/b: {scale_down_window: 10m}\n", 600.0, 41, id="override"),
    pytest.param("isvcs:\n  a/b: {scale_up_window: 2m, scale_down_window: 0s}\n", 120.0, 9,
                 id="up-window"),
])
def test_history_length(extra: str, window_s: float, ticks: int) -> None:
    cfg = config(CONFIG + extra)
    assert longest_window_s(cfg) == window_s
    assert history_ticks(cfg) == ticks
