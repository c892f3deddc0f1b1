"""Lease-based leader election (coordination.k8s.io/v1), as client-go's leaderelection does it.

Every `retry_period_s` each candidate calls `step()`:
* no Lease → create it holding it (a 409 means another candidate was first: not leader);
* a Lease held by another identity → leader only if its record has not changed for a full
  `lease_duration_s` as observed on *this* candidate's monotonic clock (tolerant of skewed
  wall clocks between nodes), then take it over: holderIdentity = self, acquireTime = now,
  leaseTransitions + 1;
* held by self (or released: empty holder) → renew: renewTime = now.
Every write is an update carrying the resourceVersion read, so of two candidates racing for
an expired Lease exactly one succeeds (the other gets 409 Conflict). A leader that has not
renewed within `renew_deadline_s` (< lease_duration_s) stops acting as leader before anyone
else may take over. `release()` on shutdown hands the Lease over at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes.client import CoordinationV1Api, V1Lease, V1LeaseSpec, V1ObjectMeta
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseTiming:
    """client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period."""

    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0


class LeaseElector:
    """One candidate; `step()` once per retry period, `is_leader` before every write."""

    def __init__(self, api: CoordinationV1Api, *, namespace: str, name: str, identity: str,
                 timing: LeaseTiming | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing or LeaseTiming()
        self._clock = clock
        self._wall = wall
        self._observed: tuple[Any, ...] | None = None
        self._observed_s = 0.0
        self._renewed_s: float | None = None
        self.holder: str | None = None
        self._error = ""

    @property
    def is_leader(self) -> bool:
        """True while this candidate renewed within the renew deadline."""
        return (self._renewed_s is not None
                and self._clock() - self._renewed_s < self.timing.renew_deadline_s)

    def step(self) -> bool:
        """Try to acquire or renew once; returns `is_leader` afterwards."""
        try:
            self._try_acquire_or_renew()
            self._error = ""
        except ApiException as e:
            if e.status != 409:   # 409: another candidate wrote first, the normal race
                self._warn(f"HTTP {e.status} {e.reason}")
        except Exception as e:
            self._warn(str(e))
        leader = self.is_leader
        if not leader and self._renewed_s is not None:
            log.warning("kube: lost the lease %s/%s (not renewed within %gs)", self.namespace,
                        self.name, self.timing.renew_deadline_s)
            self._renewed_s = None
        return leader

    def _warn(self, text: str) -> None:
        """Log an error once until it changes or a step succeeds (no log every 2 s)."""
        if text != self._error:
            log.warning("kube: lease %s/%s: %s", self.namespace, self.name, text)
        self._error = text

    def release(self) -> None:
        """Give the Lease up (holder cleared, 1 s duration) if this candidate holds it."""
        if self._renewed_s is None:
            return
        self._renewed_s = None
        try:
            lease = self._api.read_namespaced_lease(self.name, self.namespace)
            if lease.spec and lease.spec.holder_identity == self.identity:
                lease.spec.holder_identity = None
                lease.spec.lease_duration_seconds = 1
                lease.spec.renew_time = self._now()
                self._api.replace_namespaced_lease(self.name, self.namespace, lease)
        except Exception as e:
            log.warning("kube: releasing lease %s/%s: %s", self.namespace, self.name, e)

    def _try_acquire_or_renew(self) -> None:
        now = self._clock()
        try:
            lease = self._api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as e:
            if e.status != 404:
                raise
            self._create(now)
            return
        spec = lease.spec or V1LeaseSpec()
        record = (spec.holder_identity, spec.renew_time, spec.acquire_time,
                  spec.lease_duration_seconds, spec.lease_transitions)
        if record != self._observed:
            self._observed, self._observed_s = record, now
        self.holder = spec.holder_identity
        duration_s = float(spec.lease_duration_seconds or self.timing.lease_duration_s)
        held_by_other = bool(spec.holder_identity) and spec.holder_identity != self.identity
        if held_by_other and self._observed_s + duration_s > now:
            return
        stamp = self._now()
        if spec.holder_identity != self.identity:
            spec.acquire_time = stamp
            spec.lease_transitions = (spec.lease_transitions or 0) + (1 if held_by_other else 0)
            log.info("kube: taking the lease %s/%s over from %r", self.namespace, self.name,
                     spec.holder_identity)
        spec.holder_identity = self.identity
        spec.renew_time = stamp
        spec.lease_duration_seconds = int(self.timing.lease_duration_s)
        lease.spec = spec
        updated = self._api.replace_namespaced_lease(self.name, self.namespace, lease)
        self._won(updated, now)

    def _create(self, now: float) -> None:
        stamp = self._now()
        lease = V1Lease(
            metadata=V1ObjectMeta(name=self.name, namespace=self.namespace),
            spec=V1LeaseSpec(holder_identity=self.identity, acquire_time=stamp,
                             renew_time=stamp, lease_transitions=0,
                             lease_duration_seconds=int(self.timing.lease_duration_s)))
        created = self._api.create_namespaced_lease(self.namespace, lease)
        self._won(created, now)

    def _won(self, lease: V1Lease, now: float) -> None:
        spec = lease.spec or V1LeaseSpec()
        self._observed = (spec.holder_identity, spec.renew_time, spec.acquire_time,
                          spec.lease_duration_seconds, spec.lease_transitions)
        self._observed_s = now
        if self._renewed_s is None:
            log.info("kube: leading (lease %s/%s as %s)", self.namespace, self.name,
                     self.identity)
        self._renewed_s = now
        self.holder = self.identity

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), tz=UTC)
