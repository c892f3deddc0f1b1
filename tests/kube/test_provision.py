"""ScaledObjects provisioned through the emulated API server: created, updated and deleted
only when owned; problems reported; of two replicas only the Lease holder writes."""

from __future__ import annotations

import jsonschema
from prometheus_client import CollectorRegistry

from tests.deploy.manifests import scaledobject_schema

from .apiserver import ApiServer
from .conftest import KubeFactory, isvc, wait_for

SO = "scaledobjects"


def so(api: ApiServer, ns: str, name: str) -> dict | None:
    return api.get(SO, ns, name)


def test_created_updated_and_deleted_with_the_annotation(api: ApiServer,
                                                         make_kube: KubeFactory) -> None:
    registry = CollectorRegistry()
    owner = api.put("inferenceservices", isvc("llm", "llama", {"isvc-scaler.io/policy": "batch"},
                                              external=True, scaledobject=True))
    kube = make_kube(registry=registry)
    kube.start()
    created = wait_for(lambda: so(api, "llm", "llama-predictor"), what="ScaledObject created")
    jsonschema.validate(created, scaledobject_schema())
    assert created["spec"]["maxReplicaCount"] == 8                  # policy batch
    assert created["spec"]["scaleTargetRef"]["name"] == "llama-predictor"
    (ref,) = created["metadata"]["ownerReferences"]
    assert (ref["uid"], ref["controller"], ref["kind"]) == (
        owner["metadata"]["uid"], True, "InferenceService")
    api.put("inferenceservices", isvc("llm", "llama", {"isvc-scaler.io/policy": "batch",
                                                       "isvc-scaler.io/max-replicas": "4"},
                                      external=True, scaledobject=True))
    wait_for(lambda: (so(api, "llm", "llama-predictor") or {}).get("spec", {}).get(
        "maxReplicaCount") == 4, what="ScaledObject updated")
    assert [w.verb for w in api.writes(SO)] == ["create", "patch"]
    api.put("inferenceservices", isvc("llm", "llama", external=True))
    wait_for(lambda: so(api, "llm", "llama-predictor") is None, what="ScaledObject deleted")
    assert [w.verb for w in api.writes(SO)] == ["create", "patch", "delete"]
    sample = registry.get_sample_value
    assert sample("isvc_scaler_kube_scaledobject_writes_total",
                  {"verb": "create", "outcome": "ok"}) == 1.0
    assert sample("isvc_scaler_kube_leader") == 1.0


def test_hand_made_scaledobject_is_left_alone_and_reported(api: ApiServer,
                                                           make_kube: KubeFactory) -> None:
    registry = CollectorRegistry()
    hand = {"metadata": {"namespace": "llm", "name": "llama-predictor"},
            "spec": {"scaleTargetRef": {"name": "llama-predictor"}, "maxReplicaCount": 3,
                     "triggers": []}}
    api.put(SO, hand)
    api.put("inferenceservices", isvc("llm", "llama", external=True, scaledobject=True))
    kube = make_kube(registry=registry)
    kube.start()
    wait_for(lambda: kube.provisioner.problems, what="conflict reported")
    (problem,) = kube.status()["scaledobject_problems"]
    assert problem["problem"] == "conflict" and problem["isvc"] == "llm/llama"
    assert registry.get_sample_value("isvc_scaler_kube_scaledobject_problems",
                                     {"problem": "conflict"}) == 1.0
    api.put("inferenceservices", isvc("llm", "llama", external=True))   # annotation removed
    wait_for(lambda: not kube.provisioner.problems, what="conflict cleared")
    assert api.writes(SO) == []
    assert so(api, "llm", "llama-predictor")["spec"] == hand["spec"]  # type: ignore[index]


def test_without_autoscaler_class_external_it_reports_instead(api: ApiServer,
                                                              make_kube: KubeFactory) -> None:
    registry = CollectorRegistry()
    api.put("inferenceservices", isvc("llm", "llama", scaledobject=True))
    kube = make_kube(registry=registry)
    kube.start()
    wait_for(lambda: kube.provisioner.problems, what="problem reported")
    assert kube.status()["scaledobject_problems"][0]["problem"] == "autoscaler-class"
    assert registry.get_sample_value("isvc_scaler_kube_scaledobject_problems",
                                     {"problem": "autoscaler-class"}) == 1.0
    assert api.writes(SO) == []


def test_two_replicas_one_writes_and_the_other_takes_over(api: ApiServer,
                                                          make_kube: KubeFactory) -> None:
    for i in range(5):
        api.put("inferenceservices", isvc("llm", f"m{i}", external=True, scaledobject=True))
    a, b = make_kube(identity="replica-a"), make_kube(identity="replica-b")
    a.start()
    wait_for(lambda: a.provisioner.is_leader, what="a leads")
    b.start()
    wait_for(lambda: len([k for k in api.store.objects if k[0] == SO]) == 5, what="5 created")
    wait_for(lambda: b.cluster.synced("scaledobjects") and len(b.cluster.scaledobjects()) == 5,
             what="b sees them (every replica watches)")
    writers = {w.user_agent for w in api.writes(SO)}
    assert writers == {"isvc-scaler/replica-a"}
    assert not b.provisioner.is_leader
    a.stop()                                   # releases the Lease
    wait_for(lambda: b.provisioner.is_leader, what="b takes over")
    api.put("inferenceservices", isvc("llm", "m5", external=True, scaledobject=True))
    wait_for(lambda: so(api, "llm", "m5-predictor"), what="b provisions")
    assert api.writes(SO)[-1].user_agent == "isvc-scaler/replica-b"
    assert sum(1 for w in api.writes(SO) if w.verb == "create") == 6   # nothing written twice
