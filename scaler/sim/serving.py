"""Discrete-event model of the replicas of every ISVC serving a trace; pure, deterministic.

Each replica is the fluid vLLM model of replica.py. Admission (FCFS with head-of-line
blocking, as vLLM's scheduler): at most max_num_seqs running sequences, and the KV cache must
hold input + output tokens of every admitted request (the whole reservation is taken at
admission, so there is no preemption; kv utilisation = reserved / capacity). A request with
input + output above max_model_len or the KV capacity is rejected (HTTP 400).

Routing of each ISVC's requests over its ready pods:
* `least_request` — Envoy/Istio's LEAST_REQUEST: of two pods drawn at random (power of two
  choices, from a generator seeded with `seed`), the one with fewer outstanding requests
  (running + queued); the request then waits in that pod's queue.
* `round_robin` — to the next pod in turn (a plain Kubernetes Service).
* `central` — a gateway queue: a request waits there until some ready pod has room (as an
  inference gateway with flow control; exactly M/M/c without batching).
With no ready pod, requests wait in the gateway queue (Knative's activator, KEDA's HTTP
add-on) and are routed when a pod becomes ready. A queued request whose client has waited
`timeout_s` is abandoned (lazily, when it reaches the head of its queue); admitted requests
always finish. A removed pod stops receiving requests at once, finishes what it was given
(graceful drain) and only then releases its GPU; it no longer counts as ready.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Sequence

from scaler.sim.profiles import ServingParams
from scaler.sim.replica import (
    DRAINING,
    GONE,
    INF,
    READY,
    STARTING,
    TTFT_BUCKETS_S,
    Replicas,
)
from scaler.sim.trace import Trace

__all__ = ["DRAINING", "GONE", "READY", "ROUTINGS", "STARTING", "TTFT_BUCKETS_S", "Serving"]

ROUTINGS = ("least_request", "round_robin", "central")


class Serving(Replicas):
    """All replicas of all ISVCs of one trace; `advance(t)` moves the model to time t."""

    def __init__(self, trace: Trace, serving: Sequence[ServingParams], *, routing: str,
                 timeout_s: float = INF, seed: int = 0) -> None:
        if routing not in ROUTINGS:
            raise ValueError(f"routing = {routing}, must be one of {', '.join(ROUTINGS)}")
        super().__init__(trace, serving)
        self.routing = routing
        self.central = routing == "central"
        self.timeout_s = timeout_s
        self._isvc: list[int] = trace.isvc.tolist()
        m = len(trace.keys)
        self.rejected = bytearray(trace.n)
        self.timed_out = bytearray(trace.n)
        self.next_arrival = 0
        self.ready: list[list[int]] = [[] for _ in range(m)]
        self.queue: list[deque[int]] = [deque() for _ in range(m)]  # gateway queue per ISVC
        self.arrivals = [0] * m
        self._rr = [0] * m
        self._random = random.Random(seed).random

    def set_ready(self, p: int, t: float) -> None:
        """Pod p finished starting at t: it joins routing and takes waiting requests."""
        k = self.pod_isvc[p]
        self.state[p] = READY
        self.ready[k].append(p)
        self._tu[p] = t
        if self.central:
            self._pull(p, t)
            self.resched(p)
            return
        q, limit = self.queue[k], t - self.timeout_s
        while q:
            j = q.popleft()
            if self.arrival_s[j] < limit:
                self.timed_out[j] = 1
            else:
                self._route(k, j, t)

    def remove_pod(self, p: int, t: float) -> None:
        """Scale-down of pod p at t: starting pods vanish, ready pods drain then end."""
        if self.state[p] == READY:
            self.ready[self.pod_isvc[p]].remove(p)
            self.state[p] = DRAINING
        if self.state[p] == STARTING or (self.nrun[p] == 0 and not self.local[p]):
            self.end_pod(p, t)

    def _route(self, k: int, j: int, t: float) -> None:
        """Send request j of ISVC k (with ≥ 1 ready pod) to a pod's queue."""
        ready = self.ready[k]
        n = len(ready)
        if self.routing == "least_request" and n > 1:
            p, q = ready[int(self._random() * n)], ready[int(self._random() * n)]
            if self.nrun[q] + len(self.local[q]) < self.nrun[p] + len(self.local[p]):
                p = q
        else:
            p = ready[self._rr[k] % n]
            self._rr[k] += 1
        if not self.local[p] and self.fits(p, j):
            self.advance_pod(p, t)
            self.admit(p, j, t)
            self.resched(p)
        else:
            self.local[p].append(j)

    def _route_central(self, k: int, j: int, t: float) -> None:
        ready, q = self.ready[k], self.queue[k]
        if not q:
            start = self._rr[k]
            for i in range(len(ready)):
                p = ready[(start + i) % len(ready)]
                if self.fits(p, j):
                    self._rr[k] = start + i + 1
                    self.advance_pod(p, t)
                    self.admit(p, j, t)
                    self.resched(p)
                    return
        q.append(j)

    def _pull(self, p: int, t: float) -> None:
        """Admit waiting requests into pod p (advanced to t) while they fit; drop the
        abandoned ones on the way."""
        q = self.local[p] if not self.central else (
            self.queue[self.pod_isvc[p]] if self.state[p] == READY else None)
        limit = t - self.timeout_s
        while q:
            j = q[0]
            if self.arrival_s[j] < limit:
                self.timed_out[q.popleft()] = 1
            elif self.fits(p, j):
                self.admit(p, q.popleft(), t)
            else:
                break

    def _pod_event(self, p: int, t: float) -> None:
        self.complete(p, t)
        self._pull(p, t)
        if self.state[p] == DRAINING and self.nrun[p] == 0 and not self.local[p]:
            self.end_pod(p, t)
        else:
            self.resched(p)

    def advance(self, t_end: float) -> None:
        """Process every arrival and pod event strictly before t_end, in time order."""
        heap, nxt, arr = self._heap, self._nxt, self.arrival_s
        n, i = len(arr), self.next_arrival
        isvc, need, params, ready = self._isvc, self._need, self.params, self.ready
        while True:
            while heap and heap[0][0] != nxt[heap[0][1]]:
                heapq.heappop(heap)
            te = heap[0][0] if heap else INF
            ta = arr[i] if i < n else INF
            if ta <= te:
                if ta >= t_end:
                    break
                j, i = i, i + 1
                k = isvc[j]
                self.arrivals[k] += 1
                sp = params[k]
                if need[j] > sp.max_model_len or need[j] > sp.kv_cache_tokens:
                    self.rejected[j] = 1
                elif not ready[k]:
                    self.queue[k].append(j)
                elif self.central:
                    self._route_central(k, j, ta)
                else:
                    self._route(k, j, ta)
            else:
                if te >= t_end:
                    break
                self._pod_event(heapq.heappop(heap)[1], te)
        self.next_arrival = i


def total_waiting(serving: Serving, k: int) -> int:
    """Requests of ISVC k queued at the gateway or at its pods (abandoned ones included until
    they reach a queue head)."""
    return len(serving.queue[k]) + sum(len(serving.local[p]) for p in serving.alive[k])

