"""PrometheusProcess: the real binary; reload with new targets; restart on the same port/TSDB."""

from __future__ import annotations

import time
from pathlib import Path

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


def test_env_and_nice_reach_the_prometheus_process() -> None:
    with PrometheusProcess([], env={"GOMAXPROCS": "1"}, nice=7) as prom:
        proc = Path(f"/proc/{prom.pid}")    # `nice` execs prometheus: same pid
        assert b"prometheus" in (proc / "cmdline").read_bytes().split(b"\0")[0]
        assert b"GOMAXPROCS=1" in (proc / "environ").read_bytes().split(b"\0")
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        assert int(fields[16]) == 7                 # field 19 of /proc/pid/stat: nice
        assert prom.query("up") == []
