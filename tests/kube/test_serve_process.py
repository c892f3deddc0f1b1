"""`scaler serve --kubernetes` as a real process on the emulated API server: the flags wire
everything (watches, /status, metrics, provisioning) and SIGTERM hands the Lease over."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import ServeProcess, policy_yaml, write_policy

from .apiserver import ApiServer
from .conftest import deployment, isvc, wait_for


def test_serve_kubernetes_provisions_reports_and_releases(api: ApiServer, kubeconfig: Path,
                                                          tmp_path: Path) -> None:
    api.put("inferenceservices", isvc("llm", "llama", {"isvc-scaler.io/max-replicas": "abc"},
                                      external=True, scaledobject=True))
    api.put("deployments", deployment("llm", "llama", spec=2, ready=1))
    config = write_policy(tmp_path, policy_yaml("http://127.0.0.1:9"))   # nothing listens
    args = ("--kubernetes", "--kubeconfig", str(kubeconfig), "--scaler-address", "me:6000")
    with ServeProcess(config, log_path=tmp_path / "serve.log", warm_start_timeout_s=0,
                      extra_args=args) as serve:
        serve.wait_listening(timeout_s=60)
        so = wait_for(lambda: api.get("scaledobjects", "llm", "llama-predictor"),
                      what="the ScaledObject")
        assert so["spec"]["triggers"][0]["metadata"]["scalerAddress"] == "me:6000"
        kube = serve.status()["kubernetes"]
        assert all(c["synced"] for c in kube["caches"].values())
        assert kube["annotation_errors"] == [
            'isvc-scaler.io/max-replicas = "abc" on llm/llama: must be an integer']
        assert wait_for(lambda: serve.metric("isvc_scaler_kube_leader") == 1.0,
                        what="leader metric")
        assert serve.metric("isvc_scaler_kube_annotation_errors") == 1.0
    lease = api.get("leases", "isvc-scaler", "isvc-scaler-leader")
    assert lease is not None and not lease["spec"].get("holderIdentity")   # released
    assert "kube: annotation rejected" in (tmp_path / "serve.log").read_text()
