"""PrometheusProcess: the real binary; reload with new targets; restart on the same port/TSDB."""

from __future__ import annotations

import time

import pytest

from scaler.devtools import Fleet, PrometheusProcess


def test_missing_binary_is_an_error() -> None:
    with pytest.raises(FileNotFoundError, match="prometheus binary not found"):
        PrometheusProcess(binary="/nonexistent/prometheus")


def test_reload_restart_keeps_port_and_data() -> None:
    fleet = Fleet(clock=time.time)
    fleet.add("devtools", "m", kv_cache=0.42)
    with fleet.serve() as server, PrometheusProcess([]) as prom:
        assert prom.query("up") == []
        prom.set_targets(server.targets(env="t"))  # POST /-/reload
        q = 'vllm:kv_cache_usage_perc{namespace="devtools",env="t"}'
        prom.wait_until(lambda: len(prom.query(q)) == 1, timeout_s=15, what="reloaded target")
        seen_s = time.time()
        port, data = prom.port, prom.data_dir
        prom.stop()
        assert not prom.running
        with pytest.raises(OSError):
            prom.query("up")
        prom.start()
        assert (prom.port, prom.data_dir) == (port, data)
        [sample] = prom.query(q, time_s=seen_s)  # written before the stop, still there
        assert float(sample["value"][1]) == 0.42
    assert not prom.dir.exists()
