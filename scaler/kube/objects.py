"""What the caches keep of each watched object, and the reducers from API JSON; pure.

A cache holds only these small frozen records, never the API objects, so memory grows with
the number of objects and not with their size (a 1,000-ISVC cluster: see docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scaler.config.model import FrozenMap
from scaler.kube.annotations import AUTOSCALER_CLASS, PREFIX
from scaler.kube.manifest import owner_uid

ISVC_LABEL = "serving.kserve.io/inferenceservice"
"""KServe's label on every object of an InferenceService (its Deployments included)."""
COMPONENT_LABEL = "component"

ObjectKey = tuple[str, str]
"""(namespace, name) of any namespaced object."""


@dataclass(frozen=True, slots=True)
class IsvcInfo:
    """An InferenceService: its uid and the annotations the scaler reads."""

    uid: str
    annotations: Mapping[str, str] = field(default_factory=FrozenMap)


@dataclass(frozen=True, slots=True)
class DeploymentInfo:
    """A predictor Deployment: the ISVC it serves, requested and ready replicas."""

    isvc: str
    spec_replicas: int | None
    ready_replicas: int


@dataclass(frozen=True, slots=True)
class ScaledObjectInfo:
    """A ScaledObject: its uid, resourceVersion, the ISVC uid owning it (None: not the
    scaler's) and, only when owned, the object itself (to compute drift)."""

    uid: str
    resource_version: str
    owner_uid: str | None
    body: Mapping[str, Any] | None = None


def key_of(obj: Mapping[str, Any]) -> ObjectKey:
    """(namespace, name) from an object's metadata."""
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def reduce_isvc(obj: Mapping[str, Any]) -> IsvcInfo:
    """Keep uid and the `isvc-scaler.io/*` and autoscalerClass annotations."""
    meta = obj.get("metadata") or {}
    ann = {k: str(v) for k, v in (meta.get("annotations") or {}).items()
           if k.startswith(PREFIX) or k == AUTOSCALER_CLASS}
    return IsvcInfo(uid=str(meta.get("uid") or ""), annotations=FrozenMap(ann))


def reduce_deployment(obj: Mapping[str, Any]) -> DeploymentInfo | None:
    """A predictor Deployment's replicas; None for other Deployments of an ISVC (transformer,
    explainer): only `<isvc>-predictor` or those labelled `component: predictor` count."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    isvc = labels.get(ISVC_LABEL)
    if not isvc:
        return None
    if labels.get(COMPONENT_LABEL, "predictor") != "predictor" and \
            meta.get("name") != f"{isvc}-predictor":
        return None
    spec = (obj.get("spec") or {}).get("replicas")
    ready = (obj.get("status") or {}).get("readyReplicas") or 0
    return DeploymentInfo(isvc=str(isvc), spec_replicas=None if spec is None else int(spec),
                          ready_replicas=int(ready))


def reduce_scaledobject(obj: Mapping[str, Any]) -> ScaledObjectInfo:
    """uid, resourceVersion and owner; the body only for owned objects."""
    meta = obj.get("metadata") or {}
    owner = owner_uid(obj)
    body = None
    if owner is not None:
        body = {"metadata": {"labels": dict(meta.get("labels") or {}),
                             "ownerReferences": list(meta.get("ownerReferences") or [])},
                "spec": obj.get("spec") or {}}
    return ScaledObjectInfo(uid=str(meta.get("uid") or ""),
                            resource_version=str(meta.get("resourceVersion") or ""),
                            owner_uid=owner, body=body)


def reduce_configmap_text(key: str) -> Any:
    """A reducer keeping the text under data[`key`] (None when absent)."""

    def reduce(obj: Mapping[str, Any]) -> str | None:
        value = (obj.get("data") or {}).get(key)
        return None if value is None else str(value)

    return reduce
