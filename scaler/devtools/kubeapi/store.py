"""The emulated API server's state: objects, resourceVersions, event history, merge patch,
selectors (see scaler.devtools.kubeapi for what is and is not emulated)."""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


RESOURCES = {r.plural: r for r in (
    Resource("serving.kserve.io", "v1beta1", "inferenceservices", "InferenceService"),
    Resource("apps", "v1", "deployments", "Deployment"),
    Resource("", "v1", "configmaps", "ConfigMap"),
    Resource("keda.sh", "v1alpha1", "scaledobjects", "ScaledObject"),
    Resource("coordination.k8s.io", "v1", "leases", "Lease"),
)}


@dataclass(frozen=True)
class Request:
    """One logged API call, in RBAC's terms."""

    verb: str
    group: str
    resource: str
    namespace: str
    name: str
    user_agent: str
    field_selector: str = ""


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> dict[str, Any]:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


class Store:
    """Objects, a global resourceVersion and the event history (compactable)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.rv = 100
        self.events: list[tuple[int, str, str, dict[str, Any]]] = []
        self.compacted = 0
        self.dropped: dict[str, int] = {}
        """Per resource, the newest event compaction dropped: a live watch behind it ends
        with 410 Gone (as a watcher too slow for the watch cache does)."""

    def _emit(self, kind: str, plural: str, obj: dict[str, Any]) -> None:
        self.events.append((self.rv, kind, plural, copy.deepcopy(obj)))
        self.cond.notify_all()

    def create(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        with self.cond:
            meta = obj.setdefault("metadata", {})
            key = (plural, meta.get("namespace", ""), meta["name"])
            if key in self.objects:
                raise ApiError(409, "AlreadyExists", f'{plural} "{meta["name"]}" already exists')
            res = RESOURCES[plural]
            obj["apiVersion"], obj["kind"] = res.api_version, res.kind
            self.rv += 1
            meta.update(uid=str(uuid.uuid4()), resourceVersion=str(self.rv), generation=1,
                        creationTimestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            self.objects[key] = obj
            self._emit("ADDED", plural, obj)
            return copy.deepcopy(obj)

    def update(self, plural: str, ns: str, name: str, obj: dict[str, Any], *,
               check_rv: bool = True) -> dict[str, Any]:
        with self.cond:
            old = self.get(plural, ns, name)
            meta = obj.setdefault("metadata", {})
            want = meta.get("resourceVersion")
            if check_rv and want and want != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {plural} '
                               f'"{name}": the object has been modified; please apply your '
                               "changes to the latest version and try again")
            for k in ("uid", "creationTimestamp", "namespace", "name"):
                meta[k] = old["metadata"].get(k, meta.get(k))
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            gen = old["metadata"].get("generation", 1)
            meta["generation"] = gen + (obj.get("spec") != old.get("spec"))
            obj["apiVersion"], obj["kind"] = old["apiVersion"], old["kind"]
            self.objects[(plural, ns, name)] = obj
            self._emit("MODIFIED", plural, obj)
            return copy.deepcopy(obj)

    def patch(self, plural: str, ns: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        with self.cond:
            old = self.get(plural, ns, name)
            merged = merge_patch(old, patch)
            want = (patch.get("metadata") or {}).get("resourceVersion")
            merged["metadata"]["resourceVersion"] = want or old["metadata"]["resourceVersion"]
            return self.update(plural, ns, name, merged)

    def delete(self, plural: str, ns: str, name: str,
               preconditions: Mapping[str, str] | None = None) -> dict[str, Any]:
        with self.cond:
            old = self.get(plural, ns, name)
            for field, path in (("uid", "uid"), ("resourceVersion", "resourceVersion")):
                want = (preconditions or {}).get(field)
                if want and want != old["metadata"][path]:
                    raise ApiError(409, "Conflict", f"Precondition failed: {field}")
            del self.objects[(plural, ns, name)]
            self.rv += 1
            old["metadata"]["resourceVersion"] = str(self.rv)
            self._emit("DELETED", plural, old)
            uid = old["metadata"]["uid"]
            for key, dep in list(self.objects.items()):   # garbage collection of dependents
                refs = dep["metadata"].get("ownerReferences") or ()
                if any(r.get("uid") == uid for r in refs) and key in self.objects:
                    self.delete(*key)
            return old

    def get(self, plural: str, ns: str, name: str) -> dict[str, Any]:
        obj = self.objects.get((plural, ns, name))
        if obj is None:
            raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
        return obj

    def compact(self) -> None:
        """Forget the history: every older resourceVersion now answers 410 Gone."""
        with self.cond:
            self.compacted = self.rv
            for rv, _, plural, _ in self.events:
                self.dropped[plural] = max(self.dropped.get(plural, 0), rv)
            self.events.clear()
            self.cond.notify_all()


def matches(obj: Mapping[str, Any], ns: str, labels: str, fields: str) -> bool:
    meta = obj.get("metadata") or {}
    if ns and meta.get("namespace") != ns:
        return False
    have = meta.get("labels") or {}
    for term in filter(None, labels.split(",")):
        k, eq, v = term.partition("=")
        if (k not in have) if not eq else (have.get(k) != v):
            return False
    for term in filter(None, fields.split(",")):
        k, _, v = term.partition("=")
        if str(meta.get(k.removeprefix("metadata."))) != v:
            return False
    return True
