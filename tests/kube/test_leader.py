"""Lease election against the emulated API server, stepped by hand on an injected clock."""

from __future__ import annotations

from pathlib import Path

from kubernetes.client import CoordinationV1Api

from scaler.kube.cluster import api_client
from scaler.kube.leader import LeaseElector, LeaseTiming

from .apiserver import ApiServer

TIMING = LeaseTiming(lease_duration_s=15.0, renew_deadline_s=10.0, retry_period_s=2.0)


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def electors(kubeconfig: Path, clock: Clock, *names: str) -> list[LeaseElector]:
    return [LeaseElector(CoordinationV1Api(api_client(str(kubeconfig))), namespace="ns",
                         name="leader", identity=n, timing=TIMING, clock=clock)
            for n in names]


def holder(api: ApiServer) -> tuple[str, int]:
    lease = api.get("leases", "ns", "leader")
    assert lease is not None
    return lease["spec"].get("holderIdentity"), lease["spec"].get("leaseTransitions", 0)


def test_one_leader_renews_and_the_other_takes_over_after_expiry(
        api: ApiServer, kubeconfig: Path) -> None:
    clock = Clock()
    a, b = electors(kubeconfig, clock, "a", "b")
    assert a.step() is True
    assert b.step() is False
    assert holder(api) == ("a", 0)
    for _ in range(10):                     # a renews every retry period: b never takes over
        clock.now_s += 2.0
        assert (a.step(), b.step()) == (True, False)
    clock.now_s += 14.0                     # a stops renewing; b has seen no change for 14 s
    assert b.step() is False
    assert a.is_leader is False             # a is past its renew deadline and stops writing
    clock.now_s += 1.5                      # 15.5 s without a change to the record
    assert b.step() is True
    assert holder(api) == ("b", 1)
    assert a.step() is False                # a comes back: b holds a fresh lease


def test_racing_takeover_has_exactly_one_winner(api: ApiServer, kubeconfig: Path) -> None:
    clock = Clock()
    a, b, c = electors(kubeconfig, clock, "a", "b", "c")
    assert a.step()
    b.step(), c.step()
    clock.now_s += 16.0
    lease = api.get("leases", "ns", "leader")
    assert lease is not None
    # b and c both read the expired lease; b writes first, c's write carries a stale
    # resourceVersion and gets 409 Conflict
    api_c = c._api
    read_c = api_c.read_namespaced_lease("leader", "ns")
    assert b.step() is True
    original = api_c.read_namespaced_lease
    api_c.read_namespaced_lease = lambda *args, **kw: read_c  # type: ignore[method-assign]
    try:
        assert c.step() is False
    finally:
        api_c.read_namespaced_lease = original  # type: ignore[method-assign]
    assert holder(api)[0] == "b"
    assert any(r.verb == "update" and r.resource == "leases" for r in api.log)


def test_release_hands_over_at_once(api: ApiServer, kubeconfig: Path) -> None:
    clock = Clock()
    a, b = electors(kubeconfig, clock, "a", "b")
    assert a.step() and not b.step()
    a.release()
    clock.now_s += 0.1
    assert b.step() is True
    assert holder(api)[0] == "b"
