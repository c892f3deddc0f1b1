"""deploy/base renders with kubectl's kustomize into valid, mutually consistent objects."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from scaler.cli import main
from scaler.config import defaults_markdown, parse_config

from .manifests import CORE_MODELS, DEPLOY, one, render, roundtrip

IMAGE = "ghcr.io/isvc-scaler/isvc-scaler:0.1.0"
NAMESPACE = "isvc-scaler"


def base() -> tuple[dict[str, Any], ...]:
    return render("base")


def container() -> dict[str, Any]:
    return one(base(), "Deployment")["spec"]["template"]["spec"]["containers"][0]


def test_renders_expected_objects() -> None:
    assert sorted((d["kind"], d["metadata"]["name"]) for d in base()) == [
        ("ConfigMap", "isvc-scaler-policy"), ("Deployment", "isvc-scaler"),
        ("Namespace", NAMESPACE), ("PodDisruptionBudget", "isvc-scaler"),
        ("Role", "isvc-scaler-policy-reader"), ("RoleBinding", "isvc-scaler-policy-reader"),
        ("Service", "isvc-scaler"), ("ServiceAccount", "isvc-scaler"),
        ("ServiceMonitor", "isvc-scaler")]
    for doc in base():
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["kind"]


@pytest.mark.parametrize("kind", sorted(CORE_MODELS))
def test_core_objects_deserialize_into_kubernetes_models(kind: str) -> None:
    found = [d for d in base() if d["kind"] == kind]
    assert found, kind
    for doc in found:
        assert roundtrip(doc) == doc


def test_roundtrip_catches_misspelt_and_missing_fields() -> None:
    deployment = copy.deepcopy(one(base(), "Deployment"))
    deployment["spec"]["replica"] = 3
    assert roundtrip(deployment) != deployment
    del deployment["spec"]["replica"]
    del deployment["spec"]["template"]["spec"]["containers"][0]["name"]
    with pytest.raises(ValueError, match="name"):
        roundtrip(deployment)


def test_deployment_shape() -> None:
    spec = one(base(), "Deployment")["spec"]
    pod = spec["template"]["spec"]
    c = container()
    assert spec["replicas"] == 2
    assert c["image"] == IMAGE
    assert c["command"] == ["scaler"]
    assert c["args"][:3] == ["serve", "--config", "/etc/isvc-scaler/policy.yaml"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"grpc": 6000, "http": 8080}
    assert c["args"][3:] == ["--grpc-port", "6000", "--http-port", "8080"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["startupProbe"]["grpc"] == {"port": 6000}
    assert c["resources"]["requests"].keys() == {"cpu", "memory"}
    assert "memory" in c["resources"]["limits"]
    assert pod["serviceAccountName"] == one(base(), "ServiceAccount")["metadata"]["name"]


def test_pod_security_restricted() -> None:
    pod = one(base(), "Deployment")["spec"]["template"]["spec"]
    sc = container()["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    writable = {m["mountPath"] for m in container()["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/tmp"}
    ns = one(base(), "Namespace")["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "restricted"


def test_config_volume_is_hot_reloadable() -> None:
    """The ConfigMap is mounted as a directory (a subPath mount never sees updates)."""
    pod = one(base(), "Deployment")["spec"]["template"]["spec"]
    mount = next(m for m in container()["volumeMounts"] if m["mountPath"] == "/etc/isvc-scaler")
    assert "subPath" not in mount
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    configmap = one(base(), "ConfigMap")
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert "policy.yaml" in configmap["data"]


def test_service_reaches_pods() -> None:
    service = one(base(), "Service")
    labels = one(base(), "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert ports == {"grpc": (6000, "grpc"), "http": (8080, "http")}
    assert service["metadata"]["name"] == NAMESPACE  # scalerAddress isvc-scaler.isvc-scaler.svc


def test_rbac_is_minimal() -> None:
    role = one(base(), "Role")
    assert role["rules"] == [{
        "apiGroups": [""], "resources": ["configmaps"],
        "resourceNames": [one(base(), "ConfigMap")["metadata"]["name"]],
        "verbs": ["list", "watch"]}]
    binding = one(base(), "RoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "isvc-scaler",
                                    "namespace": NAMESPACE}]
    assert not [d for d in base() if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def test_service_monitor_scrapes_the_http_port() -> None:
    monitor = one(base(), "ServiceMonitor")
    service = one(base(), "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= \
        service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    service_ports = {p["name"] for p in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in service_ports and endpoint["path"] == "/metrics"


def test_disruption_budget_keeps_one_replica() -> None:
    pdb = one(base(), "PodDisruptionBudget")["spec"]
    labels = one(base(), "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert 0 < pdb["minAvailable"] < one(base(), "Deployment")["spec"]["replicas"]


def test_configmap_policy_passes_check_config(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    text = one(base(), "ConfigMap")["data"]["policy.yaml"]
    assert text == (DEPLOY / "base" / "policy.yaml").read_text()
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    assert main(["check-config", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"{path}: OK, 3 policies")
    config = parse_config(text)
    assert config.prometheus.url == "http://prometheus-operated.monitoring.svc:9090"


def test_readme_defaults_table_is_generated_from_code() -> None:
    readme = (DEPLOY / "README.md").read_text()
    assert defaults_markdown() in readme


def test_dockerfile_matches_the_deployment() -> None:
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    user = next(line.split()[1] for line in lines if line.startswith("USER "))
    pod = one(base(), "Deployment")["spec"]["template"]["spec"]
    assert user == f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"
    assert 'ENTRYPOINT ["scaler"]' in lines
    assert any(line.startswith("EXPOSE 6000 8080") for line in lines)
