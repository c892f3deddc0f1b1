"""deploy/examples/llama: the ScaledObject validates against KEDA's CRD schema and every name
in it (Deployment, scaler address, policy, labels) matches the base and KServe conventions."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from scaler.config import parse_config, resolve_policy
from scaler.config.queries import DEFAULT_TEMPLATES

from .manifests import CORE_MODELS, one, render, roundtrip, scaledobject_schema, unknown_fields


def example() -> tuple[dict[str, Any], ...]:
    return render("examples/llama")


def isvc() -> dict[str, Any]:
    return one(example(), "InferenceService")


def scaled_object() -> dict[str, Any]:
    return one(example(), "ScaledObject")


def trigger_metadata() -> dict[str, str]:
    triggers = scaled_object()["spec"]["triggers"]
    assert len(triggers) == 1 and triggers[0]["type"] == "external"
    return triggers[0]["metadata"]


def base_config() -> Any:
    return parse_config(one(render("base"), "ConfigMap")["data"]["policy.yaml"])


def test_renders_expected_objects() -> None:
    assert sorted((d["apiVersion"], d["kind"]) for d in example()) == [
        ("keda.sh/v1alpha1", "ScaledObject"), ("monitoring.coreos.com/v1", "PodMonitor"),
        ("serving.kserve.io/v1beta1", "InferenceService"), ("v1", "Namespace")]
    for doc in example():
        if doc["kind"] in CORE_MODELS:
            assert roundtrip(doc) == doc
        else:
            assert doc["metadata"]["namespace"] == "llm"


def test_scaledobject_matches_keda_crd_schema() -> None:
    schema = scaledobject_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(scaled_object(), schema)
    assert list(unknown_fields(scaled_object(), schema)) == []


@pytest.mark.parametrize(("mutate", "kind"), [
    (lambda so: so["spec"]["fallback"].pop("replicas"), "schema"),
    (lambda so: so["spec"].__setitem__("pollingInterval", "15s"), "schema"),
    (lambda so: so["spec"]["triggers"][0]["metadata"].__setitem__("port", 6000), "schema"),
    (lambda so: so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"]
     .__setitem__("stabilisationWindowSeconds", 0), "unknown"),
    (lambda so: so["spec"].__setitem__("maxReplicas", 8), "unknown"),
], ids=["fallback-without-replicas", "interval-string", "metadata-not-string",
        "misspelt-behavior-field", "hpa-field-name"])
def test_schema_checks_can_fail(mutate: Any, kind: str) -> None:
    broken = copy.deepcopy(scaled_object())
    mutate(broken)
    schema = scaledobject_schema()
    if kind == "schema":
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)
    else:
        jsonschema.validate(broken, schema)
        assert len(list(unknown_fields(broken, schema))) == 1


def test_isvc_is_raw_deployment_with_external_autoscaler() -> None:
    annotations = isvc()["metadata"]["annotations"]
    assert annotations["serving.kserve.io/deploymentMode"] == "RawDeployment"
    assert annotations["serving.kserve.io/autoscalerClass"] == "external"
    containers = isvc()["spec"]["predictor"]["containers"]
    assert [c["name"] for c in containers] == ["kserve-container"]  # the cpu query selects it
    assert 'container="kserve-container"' in DEFAULT_TEMPLATES["cpu"]
    assert containers[0]["image"].startswith("vllm/vllm-openai:")


def test_scaledobject_targets_the_predictor_deployment() -> None:
    spec = scaled_object()["spec"]
    name = isvc()["metadata"]["name"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": f"{name}-predictor"}
    meta = trigger_metadata()
    assert (meta["isvc"], meta["namespace"]) == (name, isvc()["metadata"]["namespace"])
    assert scaled_object()["spec"]["triggers"][0]["metricType"] == "AverageValue"


def test_scaler_address_is_the_base_service() -> None:
    service = one(render("base"), "Service")
    grpc_port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc")
    meta = service["metadata"]
    assert trigger_metadata()["scalerAddress"] == \
        f"{meta['name']}.{meta['namespace']}.svc:{grpc_port}"


def test_policy_exists_and_replica_bounds_agree() -> None:
    config = base_config()
    meta = trigger_metadata()
    assert meta["policy"] in config.policies
    spec = resolve_policy(config, (meta["namespace"], meta["isvc"]), meta["policy"])
    so = scaled_object()["spec"]
    # KEDA/HPA clamp too: their bounds must not cut into the policy's.
    assert so["minReplicaCount"] <= spec.min_replicas
    assert so["maxReplicaCount"] >= spec.max_replicas
    assert 0 < so["fallback"]["replicas"] <= so["maxReplicaCount"]
    assert so["fallback"]["failureThreshold"] >= 1


def test_hpa_behavior_adds_no_hysteresis() -> None:
    behavior = scaled_object()["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    for direction in ("scaleUp", "scaleDown"):
        rules = behavior[direction]
        assert rules["stabilizationWindowSeconds"] == 0
        assert rules["selectPolicy"] == "Max"
        percent = [p for p in rules["policies"] if p["type"] == "Percent"]
        assert percent and all(p["periodSeconds"] <= 15 for p in rules["policies"])
    assert max(p["value"] for p in behavior["scaleUp"]["policies"] if p["type"] == "Percent") \
        >= 1000
    assert behavior["scaleDown"]["policies"][0]["value"] >= 100


def test_podmonitor_labels_series_with_the_isvc_identity() -> None:
    monitor = one(example(), "PodMonitor")["spec"]
    config = base_config()
    assert monitor["selector"]["matchExpressions"] == [
        {"key": "serving.kserve.io/inferenceservice", "operator": "Exists"}]
    endpoint = monitor["podMetricsEndpoints"][0]
    ports = {p["name"] for p in isvc()["spec"]["predictor"]["containers"][0]["ports"]}
    assert endpoint["port"] in ports and endpoint["path"] == "/metrics"
    targets = {r["targetLabel"]: r["sourceLabels"] for r in endpoint["relabelings"]}
    assert targets == {
        config.isvc_label: ["__meta_kubernetes_pod_label_serving_kserve_io_inferenceservice"],
        config.namespace_label: ["__meta_kubernetes_namespace"]}
