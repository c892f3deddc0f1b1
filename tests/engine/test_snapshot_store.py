"""SnapshotStore wake-ups: a publish wakes only the streams whose ISVC's activity changed."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from scaler.engine.store import SnapshotStore
from tests.fakes import T0, FakeClock, snapshot, status

A, B = ("prod", "a"), ("prod", "b")


def snap(tick_s: float, *, a: bool | None, b: bool | None = False):  # type: ignore[no-untyped-def]
    entries = [status(ns, name, desired=1, active=flag)
               for (ns, name), flag in ((A, a), (B, b)) if flag is not None]
    return snapshot(tick_s, *entries)


async def settled(task: asyncio.Task[int]) -> bool:
    """Whether `task` finished once every ready callback has run."""
    for _ in range(5):
        await asyncio.sleep(0)
    return task.done()


@pytest.mark.parametrize(("before", "after", "wakes"), [
    pytest.param(False, False, False, id="same-inactive"),
    pytest.param(True, True, False, id="same-active"),
    pytest.param(False, True, True, id="activated"),
    pytest.param(True, False, True, id="deactivated"),
    pytest.param(None, False, True, id="appeared"),
    pytest.param(True, None, True, id="vanished"),
])
async def test_publish_wakes_a_watcher_only_when_its_activity_changes(
        before: bool | None, after: bool | None, wakes: bool) -> None:
    store = SnapshotStore(clock=FakeClock(), stale_after_s=45.0)
    store.publish(snap(T0, a=before))
    with store.watch(A):
        waiter = asyncio.create_task(store.wait_for_change(A, store.version))
        assert not await settled(waiter)
        store.publish(snap(T0 + 15, a=after, b=True))   # B changes every time: not A's business
        assert await settled(waiter) is wakes
        store.touch()
        assert await settled(waiter)


async def test_change_between_reading_version_and_waiting_is_not_missed() -> None:
    store = SnapshotStore(clock=FakeClock(), stale_after_s=45.0)
    store.publish(snap(T0, a=False))
    with store.watch(A):
        version = store.version
        store.publish(snap(T0 + 15, a=True))       # e.g. while the stream was sending
        assert await asyncio.wait_for(store.wait_for_change(A, version), 1.0) == store.version


async def test_unwatched_change_is_forgotten_when_the_last_watcher_leaves() -> None:
    store = SnapshotStore(clock=FakeClock(), stale_after_s=45.0)
    store.publish(snap(T0, a=False))
    with store.watch(A):
        store.publish(snap(T0 + 15, a=True))
    with store.watch(A):
        waiter = asyncio.create_task(store.wait_for_change(A, store.version))
        assert not await settled(waiter)
        waiter.cancel()


async def test_one_timer_wakes_watchers_when_the_snapshot_turns_stale() -> None:
    store = SnapshotStore(clock=time.time, stale_after_s=0.2)
    store.publish(snap(time.time(), a=True))
    with store.watch(A), store.watch(B):
        waiters = [asyncio.create_task(store.wait_for_change(k, store.version, timeout_s=10))
                   for k in (A, B)]
        assert not store.is_stale()
        await asyncio.wait_for(asyncio.gather(*waiters), 5.0)
        assert store.is_stale()


async def test_a_fresh_publish_rearms_the_stale_timer() -> None:
    store = SnapshotStore(clock=time.time, stale_after_s=0.3)
    store.publish(snap(time.time(), a=True))
    with store.watch(A):
        waiter = asyncio.create_task(store.wait_for_change(A, store.version, timeout_s=10))
        await asyncio.sleep(0.2)
        store.publish(snap(time.time(), a=True))   # fresh again, activity unchanged
        await asyncio.sleep(0.2)                    # past the first snapshot's stale moment
        assert not waiter.done()
        await asyncio.wait_for(waiter, 5.0)
        assert store.is_stale()


async def test_wait_times_out_without_a_change() -> None:
    store = SnapshotStore(clock=FakeClock(), stale_after_s=45.0)
    store.publish(snap(T0, a=True))
    with store.watch(A):
        version = store.version
        assert await store.wait_for_change(A, version, timeout_s=0.01) == version


@pytest.mark.parametrize("how", ["stale-after-lowered", "stale-snapshot-published",
                                 "config-reloaded"])
async def test_watchers_are_woken_at_once_when_every_answer_may_change(how: str) -> None:
    clock = FakeClock()
    store = SnapshotStore(clock=clock, stale_after_s=45.0)
    store.publish(snap(T0, a=True))
    with store.watch(A):
        waiter = asyncio.create_task(store.wait_for_change(A, store.version))
        assert not await settled(waiter)
        clock.now_s = T0 + 20
        if how == "stale-after-lowered":
            store.stale_after_s = 15.0
        elif how == "stale-snapshot-published":
            store.publish(snap(T0 - 30, a=True))
        else:
            store.publish(dataclasses.replace(snap(T0 + 15, a=True), config=object()))
        assert await settled(waiter)
