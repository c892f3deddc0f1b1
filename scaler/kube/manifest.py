"""The ScaledObject the scaler provisions for an annotated ISVC, and what "owned" means; pure.

An object is owned when it carries both the label `app.kubernetes.io/managed-by:
isvc-scaler` and a controlling ownerReference to an InferenceService (DESIGN §8). The HPA
behaviour and fallback are those of deploy/examples/llama/scaledobject.yaml (a test compares
them): all hysteresis is the scaler's, and an outage never scales a busy model down.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ISVC_API_VERSION = "serving.kserve.io/v1beta1"
SCALEDOBJECT_API_VERSION = "keda.sh/v1alpha1"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "isvc-scaler"
POLLING_INTERVAL_S = 15
COOLDOWN_PERIOD_S = 300
FALLBACK_FAILURE_THRESHOLD = 3
FALLBACK_REPLICAS = 2

HPA_BEHAVIOR: Mapping[str, Any] = {
    "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
        {"type": "Percent", "value": 1000, "periodSeconds": 15},
        {"type": "Pods", "value": 64, "periodSeconds": 15}]},
    "scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
        {"type": "Percent", "value": 100, "periodSeconds": 15}]},
}


def scaledobject_name(isvc: str) -> str:
    """`llama` → `llama-predictor` (the name of the ScaledObject and of its Deployment)."""
    return f"{isvc}-predictor"


def build_scaledobject(*, namespace: str, isvc: str, uid: str, scaler_address: str,
                       min_replicas: int, max_replicas: int) -> dict[str, Any]:
    """The ScaledObject for ISVC `namespace/isvc` (uid `uid`), min/max from its policy."""
    name = scaledobject_name(isvc)
    fallback = min(max(FALLBACK_REPLICAS, min_replicas, 1), max_replicas)
    return {
        "apiVersion": SCALEDOBJECT_API_VERSION,
        "kind": "ScaledObject",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
            "ownerReferences": [{"apiVersion": ISVC_API_VERSION, "kind": "InferenceService",
                                 "name": isvc, "uid": uid, "controller": True}],
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "pollingInterval": POLLING_INTERVAL_S,
            "cooldownPeriod": COOLDOWN_PERIOD_S,
            "minReplicaCount": int(min_replicas),
            "maxReplicaCount": int(max_replicas),
            "fallback": {"failureThreshold": FALLBACK_FAILURE_THRESHOLD, "replicas": fallback,
                         "behavior": "currentReplicasIfHigher"},
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": _copy(HPA_BEHAVIOR)}},
            "triggers": [{"type": "external", "metricType": "AverageValue", "metadata": {
                "scalerAddress": scaler_address, "isvc": isvc, "namespace": namespace}}],
        },
    }


def owner_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid of the InferenceService that owns `obj` (label and controlling ownerReference
    both present), or None when the scaler does not own it."""
    meta = obj.get("metadata") or {}
    if (meta.get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY:
        return None
    for ref in meta.get("ownerReferences") or ():
        if (ref.get("controller") and ref.get("kind") == "InferenceService"
                and str(ref.get("apiVersion", "")).startswith("serving.kserve.io/")):
            return str(ref.get("uid") or "") or None
    return None


def drift(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON merge patch turning `existing` into `desired` in what the scaler manages
    (spec, the managed-by label, ownerReferences), or None when nothing differs."""
    meta, want = existing.get("metadata") or {}, desired["metadata"]
    patch: dict[str, Any] = {}
    if existing.get("spec") != desired["spec"]:
        patch["spec"] = _replace_all(existing.get("spec") or {}, desired["spec"])
    if (meta.get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY:
        patch.setdefault("metadata", {})["labels"] = {MANAGED_BY_LABEL: MANAGED_BY}
    if meta.get("ownerReferences") != want["ownerReferences"]:
        patch.setdefault("metadata", {})["ownerReferences"] = want["ownerReferences"]
    return patch or None


def _replace_all(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch making `old` equal `new`: keys only in `old` are nulled (RFC 7386)."""
    out: dict[str, Any] = {k: None for k in old if k not in new}
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(old.get(key), Mapping):
            out[key] = _replace_all(old[key], value)
        else:
            out[key] = _copy(value)
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
