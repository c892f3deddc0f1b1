"""Which ScaledObjects to create, patch or delete so that they match the ISVCs; pure.

Desired: one ScaledObject `<isvc>-predictor` per ISVC annotated `isvc-scaler.io/scaledobject:
"true"` whose `serving.kserve.io/autoscalerClass` is `external`. An annotated ISVC without
that class gets none (KServe would run its own HPA on the same Deployment) and a problem
`autoscaler-class`. Only owned objects (scaler.kube.manifest.owner_uid) are ever patched or
deleted. One owned by another ISVC uid (a deleted and re-created ISVC) is deleted and created
again in the next round; one of that name that is not owned is a problem `conflict` and left
alone. An owned object whose ISVC is gone or no longer asks for one is deleted, with its uid
and resourceVersion as preconditions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from scaler.config.model import PolicySpec
from scaler.keys import IsvcKey
from scaler.kube.annotations import AUTOSCALER_CLASS, SCALEDOBJECT
from scaler.kube.manifest import build_scaledobject, drift, scaledobject_name
from scaler.kube.objects import IsvcInfo, ObjectKey, ScaledObjectInfo

Verb = Literal["create", "patch", "delete"]


@dataclass(frozen=True, slots=True)
class Action:
    """One write: `body` is the object (create), the merge patch (patch) or the
    preconditions (delete)."""

    verb: Verb
    namespace: str
    name: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an annotated ISVC has no ScaledObject of the scaler's: `kind` is
    `autoscaler-class` or `conflict`."""

    key: IsvcKey
    kind: str
    message: str


@dataclass(frozen=True)
class Plan:
    """The writes to make and the problems to report."""

    actions: tuple[Action, ...] = ()
    problems: tuple[Problem, ...] = ()


def wants_scaledobject(info: IsvcInfo) -> bool:
    """True when the ISVC opts in (`isvc-scaler.io/scaledobject: "true"`)."""
    return info.annotations.get(SCALEDOBJECT) == "true"


def plan(isvcs: Mapping[IsvcKey, IsvcInfo], scaledobjects: Mapping[ObjectKey, ScaledObjectInfo],
         *, policy: Callable[[IsvcKey], PolicySpec], scaler_address: str) -> Plan:
    """The writes that make the owned ScaledObjects match `isvcs` (see module doc).
    `policy(key)` is the resolved PolicySpec of an ISVC (min/max replicas)."""
    actions: list[Action] = []
    problems: list[Problem] = []
    wanted: set[ObjectKey] = set()
    for key in sorted(isvcs):
        info = isvcs[key]
        if not wants_scaledobject(info):
            continue
        ns, isvc = key
        name = scaledobject_name(isvc)
        cls = info.annotations.get(AUTOSCALER_CLASS)
        if cls != "external":
            problems.append(Problem(key, "autoscaler-class", (
                f"{ns}/{isvc}: {SCALEDOBJECT} is \"true\" but {AUTOSCALER_CLASS} is "
                f"{cls!r} (must be \"external\", or KServe runs its own HPA); "
                "no ScaledObject provisioned")))
            continue
        existing = scaledobjects.get((ns, name))
        if existing is not None and existing.owner_uid is None:
            problems.append(Problem(key, "conflict", (
                f"{ns}/{isvc}: ScaledObject {ns}/{name} exists and is not managed by "
                "isvc-scaler; left alone, none provisioned")))
            continue
        if existing is not None and existing.owner_uid != info.uid:
            continue   # a previous ISVC of this name owns it: deleted below, created next
        wanted.add((ns, name))
        spec = policy(key)
        desired = build_scaledobject(namespace=ns, isvc=isvc, uid=info.uid,
                                     scaler_address=scaler_address,
                                     min_replicas=spec.min_replicas,
                                     max_replicas=spec.max_replicas)
        if existing is None:
            actions.append(Action("create", ns, name, desired))
        else:
            patch = drift(existing.body or {}, desired)
            if patch is not None:
                patch.setdefault("metadata", {})["resourceVersion"] = existing.resource_version
                actions.append(Action("patch", ns, name, patch))
    for (ns, name), so in sorted(scaledobjects.items()):
        if so.owner_uid is not None and (ns, name) not in wanted:
            actions.append(Action("delete", ns, name, {"preconditions": {
                "uid": so.uid, "resourceVersion": so.resource_version}}))
    return Plan(tuple(actions), tuple(problems))
