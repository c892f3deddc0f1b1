"""The flags of DESIGN §8 on `scaler serve` and `scaler explain`; without --kubernetes the
scaler never imports the kubernetes client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scaler.cli import main
from scaler.devtools import PrometheusProcess
from tests.e2e.harness import policy_yaml, write_policy

from .apiserver import ApiServer
from .conftest import isvc


@pytest.mark.parametrize(("argv", "message"), [
    pytest.param(["serve", "--config", "p.yaml", "--kubeconfig", "k"],
                 "--kubeconfig need(s) --kubernetes", id="kubeconfig-alone"),
    pytest.param(["serve", "--config", "p.yaml", "--watch-namespace", "a", "--config-map",
                  "a/b"], "--watch-namespace, --config-map need(s) --kubernetes",
                 id="two-alone"),
    pytest.param(["serve", "--kubernetes", "--config-map", "nope"],
                 "--config-map 'nope': must be NAMESPACE/NAME", id="bad-config-map"),
    pytest.param(["serve"], "--config is required", id="no-config"),
    pytest.param(["serve", "--kubernetes"], "--config is required", id="kube-no-config"),
])
def test_flag_errors(argv: list[str], message: str,
                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    assert message in capsys.readouterr().err


def test_without_kubernetes_the_client_is_never_imported() -> None:
    code = ("import sys; import scaler.cli, scaler.serving.wiring, scaler.commands.serve, "
            "scaler.commands.explain; print('kubernetes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_explain_kubernetes_shows_annotations_and_their_errors(
        api: ApiServer, kubeconfig: Path, tmp_path: Path, prometheus_ready: PrometheusProcess,
        capsys: pytest.CaptureFixture[str]) -> None:
    api.put("inferenceservices", isvc("team-0", "llm-0000", {
        "isvc-scaler.io/max-replicas": "abc", "isvc-scaler.io/min-replicas": "5"}))
    config = write_policy(tmp_path, policy_yaml(prometheus_ready.url))
    argv = ["explain", "--config", str(config), "--no-warm-start", "--isvc", "team-0/llm-0000",
            "--kubernetes", "--kubeconfig", str(kubeconfig)]
    assert main([*argv, "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["annotation_errors"] == [
        'isvc-scaler.io/max-replicas = "abc" on team-0/llm-0000: must be an integer']
    assert item["desired"] >= 5                           # min-replicas 5 applied
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "Kubernetes: 1 InferenceServices" in text
    assert 'Annotation rejected: isvc-scaler.io/max-replicas = "abc"' in text
    assert {r.verb for r in api.log} == {"list"}          # read-only: one list, no watch


def test_unusable_kubeconfig_is_a_config_error(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = write_policy(tmp_path, policy_yaml("http://127.0.0.1:9"))
    argv = ["serve", "--config", str(config), "--kubernetes", "--kubeconfig",
            str(tmp_path / "missing")]
    assert main(argv) == 1
    assert "--kubernetes: cannot use the --kubeconfig" in capsys.readouterr().err
