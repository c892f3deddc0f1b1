"""Which ScaledObjects get created, patched or deleted: only owned ones change (pure)."""

from __future__ import annotations

from scaler.config import PolicySpec
from scaler.config.model import FrozenMap
from scaler.kube.manifest import build_scaledobject
from scaler.kube.objects import IsvcInfo, ScaledObjectInfo, reduce_scaledobject
from scaler.kube.plan import plan

OPT_IN = {"isvc-scaler.io/scaledobject": "true", "serving.kserve.io/autoscalerClass": "external"}
ADDRESS = "scaler:6000"


def info(uid: str, **annotations: str) -> IsvcInfo:
    return IsvcInfo(uid, FrozenMap(annotations))


def owned(ns: str, isvc: str, uid: str, *, max_replicas: int = 64, rv: str = "7"
          ) -> ScaledObjectInfo:
    obj = build_scaledobject(namespace=ns, isvc=isvc, uid=uid, scaler_address=ADDRESS,
                             min_replicas=1, max_replicas=max_replicas)
    obj["metadata"].update(uid=f"so-{uid}", resourceVersion=rv)
    return reduce_scaledobject(obj)


def spec(key: tuple[str, str]) -> PolicySpec:
    return PolicySpec("default", {"kv_cache": 0.8}, max_replicas=64)


def run(isvcs: dict, scaledobjects: dict):  # type: ignore[no-untyped-def]
    return plan(isvcs, scaledobjects, policy=spec, scaler_address=ADDRESS)


def test_create_for_an_opted_in_isvc() -> None:
    result = run({("a", "m"): info("u1", **OPT_IN), ("a", "plain"): info("u2")}, {})
    (action,) = result.actions
    assert (action.verb, action.namespace, action.name) == ("create", "a", "m-predictor")
    assert action.body["metadata"]["ownerReferences"][0]["uid"] == "u1"
    assert result.problems == ()


def test_no_change_when_in_step_and_patch_on_drift() -> None:
    isvcs = {("a", "m"): info("u1", **OPT_IN)}
    assert run(isvcs, {("a", "m-predictor"): owned("a", "m", "u1")}).actions == ()
    (action,) = run(isvcs, {("a", "m-predictor"): owned("a", "m", "u1", max_replicas=4)}).actions
    assert action.verb == "patch"
    assert action.body["spec"]["maxReplicaCount"] == 64
    assert action.body["metadata"]["resourceVersion"] == "7"   # optimistic concurrency


def test_delete_owned_when_the_annotation_goes_or_the_isvc_does() -> None:
    so = {("a", "m-predictor"): owned("a", "m", "u1")}
    for isvcs in ({("a", "m"): info("u1")}, {}):
        (action,) = run(isvcs, so).actions
        assert action.verb == "delete"
        assert action.body == {"preconditions": {"uid": "so-u1", "resourceVersion": "7"}}


def test_a_hand_made_scaledobject_is_never_touched() -> None:
    hand = ScaledObjectInfo(uid="h", resource_version="3", owner_uid=None)
    so = {("a", "m-predictor"): hand, ("a", "other"): hand}
    result = run({("a", "m"): info("u1", **OPT_IN)}, so)
    assert result.actions == ()
    (problem,) = result.problems
    assert problem.kind == "conflict" and "a/m-predictor" in problem.message
    assert run({}, so).actions == ()


def test_without_autoscaler_class_external_nothing_is_provisioned() -> None:
    result = run({("a", "m"): info("u1", **{"isvc-scaler.io/scaledobject": "true",
                                              "serving.kserve.io/autoscalerClass": "hpa"})},
                 {("a", "m-predictor"): owned("a", "m", "u1")})
    assert [a.verb for a in result.actions] == ["delete"]
    (problem,) = result.problems
    assert problem.kind == "autoscaler-class" and "'hpa'" in problem.message


def test_recreated_isvc_replaces_the_old_owners_object() -> None:
    so = {("a", "m-predictor"): owned("a", "m", "old-uid")}
    result = run({("a", "m"): info("new-uid", **OPT_IN)}, so)
    assert [a.verb for a in result.actions] == ["delete"]
    assert result.problems == ()
