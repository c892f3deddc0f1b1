"""No scale-down on missing data, when series vanish rather than queries failing.

Prometheus answers successfully but without an ISVC's series when its exporter cannot be scraped
(a failed scrape writes staleness markers, and rate() windows run dry a window later), and for
every ISVC after a restart on an empty TSDB (emptyDir) or after an outage longer than its
lookback delta, until targets are scraped again (≥ 5 s: service discovery is throttled).
Decisions must then hold, as §3 does for missing signals (P = NaN → r = c), for at least one
scale-down window; they must not fall to min_replicas at once.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scaler.devtools import Fleet, FleetServer, PrometheusProcess, ScrapeTarget
from tests.e2e.harness import (
    ServeProcess,
    policy_yaml,
    wait_scraped,
    wait_until,
    write_policy,
)

NS = "rel-missing"
HELD = {"hot": 4, "calm": 2}   # kv 0.95 on 2 pods → 4; kv 0.5 on 2 pods → hold at 2


@dataclass
class Rig:
    prom: PrometheusProcess
    hot_server: FleetServer
    serve: ServeProcess

    def answers_for(self, seconds: float, isvc: str) -> list[int | None]:
        """GetMetrics values (None when not OK) every 0.2 s for `seconds`."""
        out: list[int | None] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            reply = self.serve.desired(NS, isvc)
            out.append(reply.value if reply.ok else None)  # type: ignore[arg-type]
            time.sleep(0.2)
        return out


@pytest.fixture
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    window = getattr(request, "param", "30s")
    calm, hot = Fleet(), Fleet()
    calm.add(NS, "calm", kv_cache=0.5, pods=2)
    hot.add(NS, "hot", kv_cache=0.95, pods=2)
    with FleetServer(calm) as calm_server, FleetServer(hot) as hot_server:
        targets = [*calm_server.targets(), ScrapeTarget(hot_server.address, job="hot")]
        with PrometheusProcess(targets, scrape_interval_s=1.0) as prom:
            wait_scraped(prom, (NS, "hot"), (NS, "calm"))
            config = write_policy(tmp_path, policy_yaml(prom.url, timeout="0.5s",
                                                        scale_down_window=window))
            with ServeProcess(config, log_path=tmp_path / "serve.log") as serve:
                serve.wait_ready()
                wait_until(lambda: all(serve.desired(NS, n).value == v for n, v in HELD.items()),
                           timeout_s=10, what="steady decisions")
                yield Rig(prom, hot_server, serve)


def test_unscrapeable_exporter_keeps_last_decision(rig: Rig) -> None:
    rig.hot_server.close()   # scrapes fail: up == 0, staleness markers, rate() dry after 5 s
    wait_until(lambda: not rig.prom.query('up{job="hot"} == 1'), timeout_s=5,
               what="the hot exporter seen down")
    answers = rig.answers_for(9.0, "hot")
    assert set(answers) == {HELD["hot"]}, (
        f"answers after hot's exporter became unreachable: {answers}")


def test_prometheus_restart_on_empty_tsdb_keeps_last_decisions(rig: Rig) -> None:
    rig.prom.stop()
    shutil.rmtree(rig.prom.data_dir)   # a Prometheus pod on emptyDir, rescheduled
    rig.prom.start()
    answers = rig.answers_for(8.0, "calm")
    assert set(answers) <= {HELD["calm"], None}, (
        f"answers after Prometheus restarted on an empty TSDB: {answers}")
    assert rig.serve.desired(NS, "calm").value == HELD["calm"]


@pytest.mark.parametrize("rig", ["4s"], indirect=True, ids=["window-4s"])
def test_replica_started_during_a_metrics_outage_agrees(rig: Rig, tmp_path: Path) -> None:
    """Two replicas behind one Service: one saw hot's series vanish and holds its decision;
    one started later, once the vanishing lies before its warm-start history (one window),
    must answer the same, or KEDA flips between the two answers."""
    rig.hot_server.close()

    def gone() -> bool:
        [hot] = rig.serve.status(f"{NS}/hot")["isvcs"] or [{"signals": {"x": 1}}]
        return all(v is None for v in hot["signals"].values())
    wait_until(gone, timeout_s=15, what="every series of hot gone")
    gone_tick = rig.serve.status()["tick_s"]
    wait_until(lambda: rig.serve.status()["tick_s"] >= gone_tick + 4 + 2, timeout_s=15,
               what="the 4 s window (warm-start history) and two ticks more")
    with ServeProcess(rig.serve.config, log_path=tmp_path / "late.log") as late:
        late.wait_ready()
        for isvc in HELD:
            assert late.desired(NS, isvc) == rig.serve.desired(NS, isvc), (
                f"{isvc}: the late replica answers differently from the running one")
    assert rig.serve.desired(NS, "hot").value == HELD["hot"]
