"""Fail-static: a real Prometheus is stopped under a running `scaler serve` and started again on
the same port and TSDB. Last good decisions are served until the snapshot is older than
stale_after, then UNAVAILABLE (KEDA's fallback), then fresh decisions again; no answer ever
drops below the decision held before the outage (no scale-down on missing data)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from scaler.devtools import Fleet, FleetServer, PrometheusProcess
from tests.e2e.harness import (
    Reply,
    ServeProcess,
    policy_yaml,
    wait_scraped,
    wait_until,
    write_policy,
)

NS = "rel-outage"
STALE_AFTER_S = 3.0
EXPECTED = {"hot": 4, "calm": 2}   # kv 0.95 on 2 pods → 4; kv 0.5 on 2 pods → hold at 2


@dataclass(frozen=True)
class Observation:
    t_s: float
    isvc: str
    desired: Reply
    active: Reply


@dataclass
class Rig:
    fleet: Fleet
    prom: PrometheusProcess
    serve: ServeProcess

    def observe(self) -> list[Observation]:
        now = time.time()
        return [Observation(now, name, self.serve.desired(NS, name), self.serve.active(NS, name))
                for name in EXPECTED]

    def observe_for(self, seconds: float, *, poll_s: float = 0.2) -> list[Observation]:
        out: list[Observation] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            out += self.observe()
            time.sleep(poll_s)
        return out


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    fleet = Fleet()
    fleet.add(NS, "hot", kv_cache=0.95, pods=2)
    fleet.add(NS, "calm", kv_cache=0.5, pods=2)
    with FleetServer(fleet) as server, \
            PrometheusProcess(server.targets(), scrape_interval_s=1.0) as prom:
        wait_scraped(prom, (NS, "hot"), (NS, "calm"))
        config = write_policy(tmp_path, policy_yaml(prom.url, timeout="0.5s",
                                                    stale_after=f"{STALE_AFTER_S:g}s"))
        with ServeProcess(config, log_path=tmp_path / "serve.log") as serve:
            serve.wait_ready()
            yield Rig(fleet, prom, serve)


def test_prometheus_down_serves_last_good_then_unavailable_then_recovers(rig: Rig) -> None:
    before = rig.observe_for(2.0)
    t_kill = time.time()
    rig.prom.stop()
    last_tick = rig.serve.status()["tick_s"]
    during = rig.observe_for(6.0)
    assert rig.serve.status()["tick_s"] == last_tick  # no snapshot without Prometheus
    rig.prom.start()
    t_back = time.time()
    wait_until(lambda: all(o.desired.ok for o in rig.observe()), timeout_s=10,
               what="answers after Prometheus returned")
    recovery_s = time.time() - t_back
    after = rig.observe_for(3.0)

    assert recovery_s < 5.0   # the next tick after Prometheus is ready (interval 1 s)
    assert all(o.desired.ok and o.active.ok for o in before)
    # last good decisions keep being served while the snapshot is younger than stale_after
    early = [o for o in during if o.t_s - last_tick < STALE_AFTER_S - 0.3]
    late = [o for o in during if o.t_s - last_tick > STALE_AFTER_S + 0.3]
    assert early and late, (t_kill, last_tick, [o.t_s for o in during])
    assert all(o.desired.ok and o.active.ok for o in early)
    for o in late:
        assert (o.desired.code, o.active.code) == (grpc.StatusCode.UNAVAILABLE,) * 2
        assert "past stale_after" in o.desired.details
    # never a lower (or any other) value than before the outage, in any phase; each reply is
    # judged on its own (IsActive is asked just after GetMetrics, possibly past stale_after)
    for o in before + during + after:
        if o.desired.ok:
            assert o.desired.value == EXPECTED[o.isvc], o
        if o.active.ok:
            assert o.active.value is True, o
    assert all(o.desired.ok for o in after)
    assert rig.serve.metric("isvc_scaler_decisions_total", reason="scale-down") is None
    assert (rig.serve.metric("isvc_scaler_evaluations_total", outcome="failed") or 0) >= 3
    assert (rig.serve.metric("isvc_scaler_grpc_requests_total", method="GetMetrics",
                             code="UNAVAILABLE") or 0) >= len(late) // 2
    assert "kv_cache: cannot connect" in rig.serve.log_text()
    assert "kv_cache: connection cleared" in rig.serve.log_text()
