"""Hot reload under a running `scaler serve`: policy.yaml in a kubelet-style ConfigMap volume,
updated by `..data` symlink swaps. A good file is applied (visible through gRPC and /metrics);
a bad one is rejected, counted, and the last good config stays in force."""

from __future__ import annotations

from pathlib import Path

import grpc

from scaler.devtools import PrometheusProcess
from tests.e2e.conftest import AddIsvc
from tests.e2e.harness import ServeProcess, policy_yaml, wait_scraped, wait_until
from tests.serving.kubelet import ConfigMapVolume

NS = "int-reload"
BATCH = "  batch:\n    targets: {kv_cache: 0.9}\n    max_replicas: 16\n"


def test_good_reload_applies_bad_reload_keeps_last_good(
    prometheus_ready: PrometheusProcess, add_isvc: AddIsvc, tmp_path: Path
) -> None:
    add_isvc(NS, "hot", kv_cache=0.95, pods=4)   # P = 1.1875 → 4 × 1.1875 = 4.75 → 8
    wait_scraped(prometheus_ready, (NS, "hot"))
    volume = ConfigMapVolume(tmp_path / "config")
    first = policy_yaml(prometheus_ready.url)
    volume.update({"policy.yaml": first})
    with ServeProcess(volume.root / "policy.yaml", log_path=tmp_path / "serve.log") as serve:
        serve.wait_ready()
        wait_until(lambda: serve.desired(NS, "hot").value == 8, timeout_s=10,
                   what="desired 8 under generation 1")
        assert serve.metric("isvc_scaler_config_generation") == 1.0
        refused = serve.desired(NS, "hot", policy="batch")
        assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "policy" in refused.details and "not defined" in refused.details

        volume.update({"policy.yaml": policy_yaml(
            prometheus_ready.url, default_extra="    max_replicas: 2\n", extra=BATCH)})
        wait_until(lambda: serve.desired(NS, "hot").value == 2, timeout_s=10,
                   what="max_replicas 2 clamping desired after the reload")
        assert serve.metric("isvc_scaler_config_generation") == 2.0
        assert serve.metric("isvc_scaler_config_reloads_total") == 1.0
        status = serve.status(f"{NS}/hot")["isvcs"][0]
        assert (status["desired"], status["reason"]) == (2, "clamped-max")
        assert serve.desired(NS, "other", policy="batch").value == 1  # new policy accepted

        volume.update({"policy.yaml": policy_yaml(
            prometheus_ready.url, default_extra="    max_replicas: 2\n",
            scale_down_window="-5s", extra=BATCH)})
        wait_until(lambda: serve.metric("isvc_scaler_config_reload_errors_total") == 1.0,
                   timeout_s=10, what="the bad file rejected")
        assert "policies.default.scale_down_window = -5s, must be ≥ 0" in serve.log_text()
        assert serve.metric("isvc_scaler_config_generation") == 2.0
        tick = serve.status()["tick_s"]
        wait_until(lambda: serve.status()["tick_s"] >= tick + 2, timeout_s=10,
                   what="two more ticks")
        assert serve.desired(NS, "hot").value == 2
        assert serve.desired(NS, "other", policy="batch").code == grpc.StatusCode.OK
        assert serve.metric("isvc_scaler_config_reload_errors_total") == 1.0
        assert serve.metric("isvc_scaler_config_reloads_total") == 1.0
    assert serve.stop() == 0
