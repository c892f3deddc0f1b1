"""Engine with a fake SignalSource and an injected clock: alignment, overrun, membership,
failed ticks, config reload, metadata, metrics."""

from __future__ import annotations

import asyncio
import math

import pytest

from scaler.keys import IsvcKey
from scaler.ticks import align_tick
from tests.engine.fakes import CONFIG, FakeClock, FakeSource, config, engine, frame, sample

A: IsvcKey = ("prod", "a")
B: IsvcKey = ("prod", "b")
T0 = 1_800_000_000.0  # a multiple of 15


def steady(kv: float = 0.5, replicas: float = 4.0) -> dict[str, float]:
    return {"kv_cache": kv, "replicas": replicas, "requests": 1.0}


@pytest.mark.parametrize(("t", "interval", "expected"), [
    pytest.param(T0 + 14.999, 15.0, T0, id="just-before"),
    pytest.param(T0 + 15.0, 15.0, T0 + 15.0, id="exact"),
    pytest.param(T0 + 0.25, 0.1, T0 + 0.2, id="sub-second"),
    pytest.param(T0 + 59.0, 30.0, T0 + 30.0, id="30s"),
])
def test_align_tick(t: float, interval: float, expected: float) -> None:
    assert align_tick(t, interval) == pytest.approx(expected, abs=1e-6)


async def run_until(source: FakeSource, n: int, **kw: object) -> list[float]:
    stop = asyncio.Event()
    source.stop, source.stop_after = stop, n
    e = engine(source, **kw)  # type: ignore[arg-type]
    await asyncio.wait_for(e.run(stop), 5)
    return source.fetched


async def test_ticks_are_aligned_and_evaluated_after_the_delay() -> None:
    clock = FakeClock(T0 + 20.3)
    source = FakeSource(clock, lambda t: {A: steady()})
    fetched = await run_until(source, 4)
    # first: the latest due tick right away; then each tick at tick + 2 s
    assert fetched == [T0 + 15, T0 + 30, T0 + 45, T0 + 60]
    assert clock.sleeps == pytest.approx([11.7, 15.0, 15.0])


async def test_overrun_skips_missed_ticks_and_counts_them() -> None:
    clock = FakeClock(T0 + 2.0)
    source = FakeSource(clock, lambda t: {A: steady()},
                        cost_s=lambda t: 40.0 if t == T0 + 15 else 0.1)
    e = engine(source)
    stop = asyncio.Event()
    source.stop, source.stop_after = stop, 4
    await asyncio.wait_for(e.run(stop), 5)
    # T0+15 ran until T0+57: T0+30 is skipped, T0+45 (due at 47) runs at once, no pile-up
    assert source.fetched == [T0, T0 + 15, T0 + 45, T0 + 60]
    assert sample(e, "isvc_scaler_evaluations_total", outcome="skipped") == 1
    assert sample(e, "isvc_scaler_evaluations_total", outcome="ok") == 4


async def test_all_failed_tick_keeps_the_snapshot() -> None:
    clock = FakeClock(T0)
    source = FakeSource(clock, lambda t: {A: steady()}, fail_all=lambda t: t == T0 + 15)
    e = engine(source)
    first = await e.tick(T0)
    assert first is not None and e.store.snapshot is first
    assert await e.tick(T0 + 15) is None
    assert e.store.snapshot is first
    assert sample(e, "isvc_scaler_evaluations_total", outcome="failed") == 1
    clock.now_s = T0 + 30
    assert e.store.snapshot.age_s(clock()) == 30
    again = await e.tick(T0 + 30)
    assert again is not None and again.generation == first.generation + 1


async def test_partial_failure_publishes_with_errors() -> None:
    clock = FakeClock(T0)
    source = FakeSource(clock, lambda t: {A: steady()})
    e = engine(source)
    from tests.engine.fakes import frame

    snap = e.absorb(frame(T0, {A: steady()}, failed={"cpu": "timeout"}), publish=True)
    assert snap is not None and snap.errors == {"cpu": "cpu failed: timeout"}


def kv_script(values: dict[float, dict[IsvcKey, float]]) -> FakeSource:
    clock = FakeClock(T0)
    return FakeSource(clock, lambda t: {k: steady(kv) for k, kv in values[t].items()})


async def test_isvcs_appear_and_disappear_with_their_series() -> None:
    t = [T0 + 15 * i for i in range(8)]
    script = {
        t[0]: {A: 0.8}, t[1]: {A: 0.1}, t[2]: {A: 0.1, B: 0.1}, t[3]: {A: 0.1, B: 0.1},
        t[4]: {A: 0.1, B: 0.1}, t[5]: {B: 0.1}, t[6]: {A: 0.1, B: 0.1}, t[7]: {A: 0.1, B: 0.1},
    }
    e = engine(kv_script(script))
    reasons: list[dict[IsvcKey, tuple[str, int]]] = []
    for tick in t:
        snap = await e.tick(tick)
        assert snap is not None
        reasons.append({k: (s.reason, s.desired) for k, s in snap.entries.items()})
    # 60 s down window = 4 ticks; A's tick-0 recommendation (4) holds it until tick 4
    assert [r[A] for r in reasons[:5]] == [("hold", 4)] + [("stabilizing", 4)] * 3 + [
        ("scale-down", 1)]
    # B appeared at tick 2: ticks before count as its first c (4), so it holds until tick 5
    assert [r[B] for r in reasons[2:6]] == [("stabilizing", 4)] * 3 + [("scale-down", 1)]
    # A's series vanished at tick 5: kept as no-data, holding its last desired (no scale-down)
    assert reasons[5][A] == ("no-data", 1)
    assert sample(e, "isvc_scaler_desired_replicas", namespace="prod", isvc="a") == 1
    # A came back at tick 6: its window continued (all recent recommendations ≤ 1)
    assert reasons[6][A] == ("scale-down", 1)
    assert sample(e, "isvc_scaler_isvcs_tracked") == 2


async def test_vanished_isvc_holds_then_is_forgotten_after_retention() -> None:
    from scaler.engine.evaluation import VANISHED_RETENTION_S

    last = T0 + VANISHED_RETENTION_S
    ticks = [T0, T0 + 15, last, last + 15]
    e = engine(kv_script({T0: {A: 0.9, B: 0.5}, T0 + 15: {B: 0.5}, last: {B: 0.5},
                          last + 15: {B: 0.5}}))
    seen = []
    for tick in ticks:
        snap = await e.tick(tick)
        assert snap is not None
        seen.append(snap.entries.get(A))
    assert seen[0] is not None and seen[0].desired == 8
    assert all(s is not None and (s.reason, s.desired) == ("no-data", 8) for s in seen[1:3])
    assert seen[3] is None
    assert sample(e, "isvc_scaler_pressure", namespace="prod", isvc="a") is None


async def test_vanished_isvc_label_sets_are_removed() -> None:
    from scaler.engine.evaluation import VANISHED_RETENTION_S

    late = T0 + 15 + VANISHED_RETENTION_S
    source = kv_script({T0: {A: 0.5, B: 0.5}, late: {B: 0.5}})
    e = engine(source)
    await e.tick(T0)
    assert sample(e, "isvc_scaler_pressure", namespace="prod", isvc="a") == pytest.approx(0.625)
    await e.tick(late)
    source.clock.now_s = late
    assert sample(e, "isvc_scaler_pressure", namespace="prod", isvc="a") is None
    assert sample(e, "isvc_scaler_desired_replicas", namespace="prod", isvc="b") == 4
    assert sample(e, "isvc_scaler_decisions_total", reason="hold") == 3
    assert sample(e, "isvc_scaler_snapshot_timestamp_seconds") == late
    source.clock.now_s = late + 5
    assert sample(e, "isvc_scaler_snapshot_age_seconds") == 5


@pytest.mark.parametrize(("new_config", "reasons", "stale_after_s"), [
    pytest.param(CONFIG.replace("interval: 15s", "interval: 15s\nstale_after: 60s"),
                 ("scale-down", "scale-down"), 60.0, id="specs-unchanged"),
    pytest.param(CONFIG + "isvcs:\n  prod/b: {max_replicas: 32}\n",
                 ("scale-down", "stabilizing"), 45.0, id="b-override"),
    pytest.param(CONFIG.replace("scale_down_window: 60s}\n  batch",
                                "scale_down_window: 45s}\n  batch"),
                 ("stabilizing", "stabilizing"), 45.0, id="default-policy-changed"),
])
async def test_reload_keeps_state_only_where_the_policy_is_unchanged(
    new_config: str, reasons: tuple[str, str], stale_after_s: float,
) -> None:
    script = {T0 + 15 * i: {A: 0.8 if i == 0 else 0.1, B: 0.8 if i == 0 else 0.1}
              for i in range(5)}
    e = engine(kv_script(script))
    for i in range(4):
        snap = await e.tick(T0 + 15 * i)
    assert snap is not None and snap.entries[A].reason == "stabilizing"
    e.set_config(config(new_config))
    assert e.config is not None and e.store.stale_after_s == 45.0  # applied at the next tick
    snap = await e.tick(T0 + 60)
    assert snap is not None
    # kept state: ticks 1-4 all recommend 1 → scale-down; reset: a fresh window holds
    assert (snap.entries[A].reason, snap.entries[B].reason) == reasons
    assert e.store.stale_after_s == stale_after_s


async def test_metadata_policy_is_used_and_resets_that_isvc() -> None:
    e = engine(kv_script({T0 + 15 * i: {A: 0.85, B: 0.85} for i in range(3)}))
    snap = await e.tick(T0)
    assert snap is not None and snap.entries[A].reason == "hold"
    e.note_metadata(A, "batch")
    e.note_metadata(A, "batch")
    snap = await e.tick(T0 + 15)
    assert snap is not None
    assert (snap.entries[A].policy, snap.entries[B].policy) == ("batch", "default")
    assert snap.entries[A].pressure == pytest.approx(0.85 / 0.9)
    assert snap.entries[B].pressure == pytest.approx(0.85 / 0.8)
    e.note_metadata(B, "gone")  # a policy the config does not define → default
    snap = await e.tick(T0 + 30)
    assert snap is not None and snap.entries[B].policy == "default"


async def test_snapshot_entries_carry_signals_and_decision() -> None:
    e = engine(kv_script({T0: {A: 1.0}}))
    snap = await e.tick(T0)
    assert snap is not None
    s = snap.entries[A]
    assert (s.namespace, s.isvc, s.policy) == ("prod", "a", "default")
    assert s.signals["kv_cache"] == 1.0 and math.isnan(s.signals["cpu"])
    assert (s.current, s.desired, s.reason, s.active) == (4.0, 8, "scale-up", True)
    assert snap.config is e.config and snap.tick_s == T0


def test_spec_replicas_from_the_frame_hold_starting_pods() -> None:
    """v2 §3 property 4 through the engine: spec_replicas > replicas keeps desired at spec."""
    e = engine(FakeSource(FakeClock(T0), lambda t: {}))
    e.absorb(frame(T0, {A: {"kv_cache": 1.6, "replicas": 2.0, "spec_replicas": 2.0,
                            "requests": 1.0}}), publish=True)
    assert e.last is not None and int(e.last.decision.desired[0]) == 4
    snap = e.absorb(frame(T0 + 15, {A: {"kv_cache": 0.3, "replicas": 2.0, "spec_replicas": 4.0,
                                       "requests": 1.0}}), publish=True)
    assert snap is not None
    assert (snap.entries[A].desired, snap.entries[A].reason) == (4, "starting")
    assert snap.entries[A].signals["spec_replicas"] == 4.0
