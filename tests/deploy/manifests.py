"""Helpers for the deploy/ tests: render with kubectl's kustomize, check against models/schemas."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from kubernetes.client import ApiClient

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SHARED = REPO.parent / "shared"
SCALEDOBJECT_SCHEMA = SHARED / "schemas" / "keda-scaledobject.schema.json"

CORE_MODELS = {
    "Namespace": "V1Namespace",
    "ServiceAccount": "V1ServiceAccount",
    "Role": "V1Role",
    "RoleBinding": "V1RoleBinding",
    "Deployment": "V1Deployment",
    "Service": "V1Service",
    "ConfigMap": "V1ConfigMap",
    "PodDisruptionBudget": "V1PodDisruptionBudget",
}
"""Kubernetes kinds in deploy/ and the kubernetes-client model each must deserialize into."""


@functools.cache
def render(folder: str) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize deploy/<folder>` parsed into objects (cached per folder)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with built-in kustomize) is required: `make kubectl`"
    out = subprocess.run([kubectl, "kustomize", str(DEPLOY / folder)], capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc is not None)


def one(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    """The single object of `kind` in `docs`."""
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def roundtrip(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` deserialized into its kubernetes-client model and serialized back.

    The models know only real API fields, so a misspelt or misplaced field is dropped and the
    result differs from `obj`; required fields and enums are checked on construction.
    """
    with ApiClient() as api:
        model = api.deserialize(json.dumps(obj), CORE_MODELS[obj["kind"]], "application/json")
        return api.sanitize_for_serialization(model)


def unknown_fields(obj: Any, schema: dict[str, Any], path: str = "") -> Iterator[str]:
    """Paths in `obj` that a structural CRD schema would prune (fields it does not declare)."""
    if isinstance(obj, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return
        for key, value in obj.items():
            sub_path = f"{path}.{key}" if path else key
            if props is not None and key in props:
                yield from unknown_fields(value, props[key], sub_path)
            elif isinstance(extra, dict):
                yield from unknown_fields(value, extra, sub_path)
            elif props is not None:
                yield sub_path
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(obj):
            yield from unknown_fields(item, schema["items"], f"{path}[{i}]")


@functools.cache
def scaledobject_schema() -> dict[str, Any]:
    """KEDA's ScaledObject CRD OpenAPI schema (shared/schemas, beside the repository)."""
    assert SCALEDOBJECT_SCHEMA.is_file(), f"missing {SCALEDOBJECT_SCHEMA} (shared/ beside repo)"
    return json.loads(SCALEDOBJECT_SCHEMA.read_text())
