"""deploy/components/kubernetes grants exactly what the code uses: every API call that the
scaler made against the emulated API server (its request log, over a scenario exercising
every feature) is allowed by the rendered RBAC, and every rule granted was used."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tests.deploy.manifests import render

from .apiserver import ApiServer, Request
from .conftest import KubeFactory, isvc, wait_for

SA = ("isvc-scaler", "isvc-scaler")
CM = ("isvc-scaler", "isvc-scaler-policy")
POLICY = "policies:\n  default: {targets: {kv_cache: 0.8}}\n"


def bound_rules(docs: Iterable[dict[str, Any]]) -> list[tuple[str | None, dict[str, Any]]]:
    """(namespace or None for cluster-wide, rule) of every role bound to the scaler's SA."""
    docs = list(docs)
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
             for d in docs if d["kind"] in ("Role", "ClusterRole")}
    out: list[tuple[str | None, dict[str, Any]]] = []
    for b in docs:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any((s["kind"], s.get("namespace"), s["name"]) == ("ServiceAccount", *SA)
                   for s in b["subjects"]):
            continue
        ref = b["roleRef"]
        scope = b["metadata"].get("namespace") if b["kind"] == "RoleBinding" else None
        role_ns = scope if ref["kind"] == "Role" else None
        for rule in roles[(ref["kind"], role_ns, ref["name"])]["rules"]:
            out.append((scope, rule))
    return out


def allows(scope: str | None, rule: dict[str, Any], r: Request) -> bool:
    """RBAC's rule match; list/watch by name count through a metadata.name fieldSelector."""
    if scope is not None and r.namespace != scope:
        return False
    if r.group not in rule["apiGroups"] or r.resource not in rule["resources"]:
        return False
    if r.verb not in rule["verbs"]:
        return False
    names = rule.get("resourceNames")
    if not names:
        return True
    name = r.name or (r.field_selector.removeprefix("metadata.name=")
                      if r.verb in ("list", "watch") else "")
    return r.verb != "create" and name in names


def scenario(api: ApiServer, make_kube: KubeFactory) -> list[Request]:
    """Every feature once, cluster-wide and namespaced: ConfigMap, ISVCs, Deployments,
    ScaledObjects created/patched/deleted, the Lease created, renewed and released, 410s."""
    api.put("configmaps", {"metadata": {"namespace": CM[0], "name": CM[1]},
                           "data": {"policy.yaml": POLICY}})
    for namespaces in ((), ("llm",)):
        kube = make_kube(identity=f"rbac{len(namespaces)}", namespaces=namespaces,
                         config_map=CM)
        kube.start()
        api.put("inferenceservices", isvc("llm", "m", external=True, scaledobject=True))
        wait_for(lambda: api.get("scaledobjects", "llm", "m-predictor"), what="created")
        api.put("inferenceservices", isvc("llm", "m", {"isvc-scaler.io/max-replicas": "3"},
                                          external=True, scaledobject=True))
        wait_for(lambda: api.get("scaledobjects", "llm", "m-predictor")["spec"][  # type: ignore[index]
            "maxReplicaCount"] == 3, what="patched")
        api.stop()
        api.store.compact()
        api.resume()
        api.put("inferenceservices", isvc("llm", "m", external=True))
        wait_for(lambda: api.get("scaledobjects", "llm", "m-predictor") is None, what="deleted")
        kube.stop()
        api.delete("inferenceservices", "llm", "m")
    return [r for r in api.log if r.user_agent.startswith("isvc-scaler/rbac")]


def test_component_grants_exactly_the_calls_made(api: ApiServer,
                                                 make_kube: KubeFactory) -> None:
    calls = scenario(api, make_kube)
    rules = bound_rules(render("overlays/kubernetes"))
    denied = sorted({(r.verb, r.resource, r.namespace, r.name) for r in calls
                     if not any(allows(s, rule, r) for s, rule in rules)})
    assert denied == []
    unused = []
    for scope, rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    one = {**rule, "apiGroups": [group], "resources": [resource],
                           "verbs": [verb]}
                    if not any(allows(scope, one, r) for r in calls):
                        unused.append((scope, group, resource, verb))
    assert unused == []
    assert {r.verb for r in calls} == {"list", "watch", "get", "create", "update", "patch",
                                       "delete"}


def test_base_without_the_component_stays_read_only() -> None:
    for _, rule in bound_rules(render("base")):
        assert set(rule["verbs"]) <= {"get", "list", "watch"}
    kinds = {d["kind"] for d in render("overlays/kubernetes")} - {
        d["kind"] for d in render("base")}
    assert kinds == {"ClusterRole", "ClusterRoleBinding"}
    args = next(d for d in render("overlays/kubernetes") if d["kind"] == "Deployment")[
        "spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-5:] == ["--kubernetes", "--config-map", "isvc-scaler/isvc-scaler-policy",
                         "--scaler-address", "isvc-scaler.isvc-scaler.svc:6000"]
