"""The per-ISVC series behind the alerts and the dashboard, on an injected CollectorRegistry:
reason, signals, targets, max_replicas, current replicas, scale events, stale_after."""

from __future__ import annotations

import math

import pytest

from scaler.engine import Engine
from scaler.keys import IsvcKey
from tests.engine.fakes import FakeClock, FakeSource, config, engine, sample

A: IsvcKey = ("prod", "a")
B: IsvcKey = ("prod", "b")
T0 = 1_800_000_000.0
CFG = """\
prometheus: {url: "http://127.0.0.1:9"}
interval: 15s
stale_after: 60s
policies:
  default: {targets: {kv_cache: 0.8}, scale_down_window: 0s, max_replicas: 8}
isvcs:
  prod/b: {max_replicas: 2, targets: {cpu: 0.5}}
"""


def _labels(key: IsvcKey, **extra: str) -> dict[str, str]:
    return {"namespace": key[0], "isvc": key[1], **extra}


async def _run(kv: dict[float, dict[IsvcKey, float]]) -> Engine:
    clock = FakeClock(T0)
    source = FakeSource(clock, lambda t: {k: {"kv_cache": v, "replicas": 1.0, "requests": 2.0}
                                          for k, v in kv[t].items()})
    e = engine(source, cfg=config(CFG))
    for tick in sorted(kv):
        assert await e.tick(tick) is not None
    return e


async def test_reason_signals_targets_and_limits_per_isvc() -> None:
    e = await _run({T0: {A: 1.6, B: 0.4}})
    assert sample(e, "isvc_scaler_reason", **_labels(A, reason="scale-up")) == 1
    assert sample(e, "isvc_scaler_reason", **_labels(A, reason="hold")) is None
    assert sample(e, "isvc_scaler_signal", **_labels(A, signal="kv_cache")) == 1.6
    assert sample(e, "isvc_scaler_signal", **_labels(A, signal="cpu")) is None  # NaN: absent
    assert sample(e, "isvc_scaler_current_replicas", **_labels(A)) == 1
    assert sample(e, "isvc_scaler_max_replicas", **_labels(A)) == 8
    assert sample(e, "isvc_scaler_max_replicas", **_labels(B)) == 2
    assert sample(e, "isvc_scaler_target", **_labels(A, signal="kv_cache")) == 0.8
    assert sample(e, "isvc_scaler_target", **_labels(A, signal="cpu")) is None
    assert sample(e, "isvc_scaler_target", **_labels(B, signal="cpu")) == 0.5
    assert sample(e, "isvc_scaler_stale_after_seconds") == 60


@pytest.mark.parametrize(("kv_a", "up", "down"), [
    pytest.param([0.4, 0.4, 0.4], 0, 0, id="steady"),
    pytest.param([0.4, 1.6, 1.6], 1, 0, id="up-once"),
    pytest.param([0.4, 1.6, 0.1], 1, 1, id="up-then-down"),
    pytest.param([1.6, 0.1, 1.6, 0.1], 1, 2, id="first-tick-not-an-event"),
])
async def test_scale_events_count_ticks_where_desired_moved(
        kv_a: list[float], up: int, down: int) -> None:
    script = {T0 + 15 * i: {A: v, B: 0.4} for i, v in enumerate(kv_a)}
    e = await _run(script)
    for key, want in ((A, (up, down)), (B, (0, 0))):
        got = tuple(sample(e, "isvc_scaler_scale_events_total",
                           **_labels(key, direction=d)) for d in ("up", "down"))
        assert got == want, key


async def test_an_isvc_that_appears_later_starts_counting_at_zero() -> None:
    e = await _run({T0: {A: 1.6}, T0 + 15: {A: 1.6, B: 1.6}, T0 + 30: {A: 1.6, B: 0.1}})
    assert sample(e, "isvc_scaler_scale_events_total",
                  **_labels(B, direction="up")) == 0
    assert sample(e, "isvc_scaler_scale_events_total",
                  **_labels(B, direction="down")) == 1
    assert math.isfinite(sample(e, "isvc_scaler_pressure", **_labels(B)) or math.nan)
