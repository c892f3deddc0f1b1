"""List-then-watch against the emulated API server with the real client: paged lists,
watch events, bookmarks, 410 Gone → relist, the server going away and coming back."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from scaler.kube.cluster import api_client
from scaler.kube.objects import reduce_isvc
from scaler.kube.reflector import Reflector

from .apiserver import ApiServer
from .conftest import FAST, isvc, wait_for


@pytest.fixture
def reflector(api: ApiServer, kubeconfig: Path) -> Iterator[Reflector]:
    custom = client.CustomObjectsApi(api_client(str(kubeconfig)))
    lister = functools.partial(custom.list_cluster_custom_object, "serving.kserve.io",
                               "v1beta1", "inferenceservices")
    events: list[str] = []
    r = Reflector("inferenceservices", lister, reduce=reduce_isvc, timing=FAST,
                  on_event=lambda _, e: events.append(e))
    r.events = events  # type: ignore[attr-defined]
    yield r
    r.stop()


def names(r: Reflector) -> list[str]:
    return sorted(f"{ns}/{n}" for ns, n in r.items())


def test_paged_list_then_watch_follows_adds_changes_and_deletes(
        api: ApiServer, reflector: Reflector) -> None:
    for i in range(120):                     # > 2 pages of FAST.page_size = 50
        api.put("inferenceservices", isvc("a", f"m{i:03d}"))
    reflector.start()
    wait_for(lambda: reflector.synced, what="first list")
    assert len(reflector.items()) == 120
    lists = [r for r in api.log if r.verb == "list"]
    assert len(lists) == 3                  # 50 + 50 + 20, one consistent snapshot
    api.put("inferenceservices", isvc("a", "m000", {"isvc-scaler.io/max-replicas": "4"}))
    api.put("inferenceservices", isvc("b", "new"))
    api.delete("inferenceservices", "a", "m001")
    wait_for(lambda: "b/new" in names(reflector) and "a/m001" not in names(reflector)
             and reflector.items()[("a", "m000")].annotations.get(
                 "isvc-scaler.io/max-replicas") == "4", what="watch events")
    assert len([r for r in api.log if r.verb == "list"]) == 3   # no relist for events


def test_bookmarks_advance_the_resource_version(api: ApiServer, reflector: Reflector) -> None:
    api.put("inferenceservices", isvc("a", "m"))
    reflector.start()
    wait_for(lambda: reflector.synced, what="sync")
    listed = int(reflector.resource_version or 0)
    api.put("configmaps", {"metadata": {"namespace": "a", "name": "unrelated"}})
    wait_for(lambda: int(reflector.resource_version or 0) > listed,
             what="a bookmark past an event of another resource")
    assert reflector.items().keys() == {("a", "m")}


def test_too_old_resource_version_relists(api: ApiServer, reflector: Reflector,
                                          caplog: pytest.LogCaptureFixture) -> None:
    api.put("inferenceservices", isvc("a", "m"))
    reflector.start()
    wait_for(lambda: reflector.synced, what="sync")
    api.stop()
    wait_for(lambda: not reflector.synced, what="out of sync once the server is gone")
    api.put("inferenceservices", isvc("a", "while-down"))
    api.delete("inferenceservices", "a", "m")
    api.store.compact()                       # the history the watch needs is gone
    with caplog.at_level(logging.INFO, logger="scaler.kube.reflector"):
        api.resume()
        wait_for(lambda: reflector.synced and names(reflector) == ["a/while-down"],
                 what="relist after 410 Gone")
    assert "relist" in reflector.events  # type: ignore[attr-defined]
    assert "410 Gone" in caplog.text
    assert reflector.events.count("unsynced") == 1  # type: ignore[attr-defined]


def test_watch_resumes_from_the_last_resource_version(api: ApiServer,
                                                      reflector: Reflector) -> None:
    api.put("inferenceservices", isvc("a", "m"))
    reflector.start()
    wait_for(lambda: reflector.synced, what="sync")
    api.stop()
    wait_for(lambda: not reflector.synced, what="out of sync")
    api.put("inferenceservices", isvc("a", "later"))   # history kept: no 410
    api.resume()
    wait_for(lambda: reflector.synced and "a/later" in names(reflector), what="resumed watch")
    watches = [r for r in api.log if r.verb == "watch"]
    assert len([r for r in api.log if r.verb == "list"]) == 1   # resumed, never relisted
    assert len(watches) >= 2


def test_events_older_than_the_scalers_own_write_are_ignored() -> None:
    from scaler.kube.objects import reduce_scaledobject

    r = Reflector("scaledobjects", lambda **kw: None, reduce=reduce_scaledobject, timing=FAST)

    def so(rv: str) -> dict:
        return {"metadata": {"namespace": "a", "name": "m-predictor", "uid": "u",
                             "resourceVersion": rv}, "spec": {"maxReplicaCount": int(rv)}}

    r.upsert(so("10"))                        # the patch's answer
    r._handle({"type": "MODIFIED", "object": so("9")})   # the create's event, still in flight
    assert r.items()[("a", "m-predictor")].resource_version == "10"
    r._handle({"type": "MODIFIED", "object": so("11")})  # a later change passes the fence
    assert r.items()[("a", "m-predictor")].resource_version == "11"
    r._handle({"type": "MODIFIED", "object": so("10")})  # fence gone: plain watch order
    assert r.items()[("a", "m-predictor")].resource_version == "10"
    r.forget(("a", "m-predictor"), "10")      # deleted at rv 10
    r._handle({"type": "MODIFIED", "object": so("10")})
    assert r.items() == {}
