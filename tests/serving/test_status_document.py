"""/status document: all ISVCs sorted, or one looked up by `ns/name`."""

from __future__ import annotations

import pytest

from scaler.engine.store import SnapshotStore
from scaler.serving.http import status_document
from tests.fakes import T0, FakeClock, snapshot, status


@pytest.fixture
def store() -> SnapshotStore:
    store = SnapshotStore(clock=FakeClock(now_s=T0 + 5), stale_after_s=45.0)
    store.publish(snapshot(T0, status("b", "z", desired=2), status("a", "y", desired=1),
                           status("a", "x", desired=4)))
    return store


@pytest.mark.parametrize(("isvc", "expected"), [
    pytest.param(None, [("a", "x"), ("a", "y"), ("b", "z")], id="all-sorted"),
    pytest.param("a/y", [("a", "y")], id="one"),
    pytest.param("a/nope", [], id="unknown"),
    pytest.param("no-slash", [], id="malformed"),
])
def test_status_lists_all_or_one(store: SnapshotStore, isvc: str | None,
                                 expected: list[tuple[str, str]]) -> None:
    doc = status_document(store, isvc=isvc)
    assert [(e["namespace"], e["isvc"]) for e in doc["isvcs"]] == expected
    assert (doc["tick_s"], doc["age_s"], doc["stale"]) == (T0, 5.0, False)
