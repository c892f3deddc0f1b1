"""Discrete-event model of vLLM replicas serving a request trace; pure, deterministic.

One replica (pod) runs continuous batching with chunked prefill, as a fluid between events:
an engine step takes `d = base + per_seq × B + P / prefill_rate` with B decoding sequences and
P = min(max_batched_tokens − B, pending prompt tokens) prefill tokens; every decoding sequence
gains one token per step and prompts are prefilled first-come first-served at P / d tokens/s.
Rates are constant between events (arrival, admission, prefill done, sequence done), so each
request costs O(log n) work, not one per step. A request's first token is emitted when its
prompt is fully prefilled (TTFT = arrival → that instant); its other output tokens follow.

Admission (FCFS, head-of-line blocking, as vLLM's scheduler): at most max_num_seqs running
sequences, and the KV cache must hold input + output tokens of every admitted request (the
whole reservation is taken at admission, so there is no preemption; kv utilisation = reserved
/ capacity). A request with input + output above max_model_len or the KV capacity is rejected.

Routing: `round_robin` (a Kubernetes Service: each request goes to the next ready pod and
waits in that pod's queue) or `central` (a gateway queue per ISVC: a request waits there until
some ready pod has room; used for the M/M/c check). With no ready pod, requests wait in the
gateway queue (as Knative's activator or the KEDA HTTP add-on would hold them).

A removed pod stops receiving requests at once, finishes what it was given (graceful drain)
and only then releases its GPU; it no longer counts as a ready replica.

The event loop in `advance` is deliberately one function with local aliases: it runs a few
million times per simulated day.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from collections.abc import Sequence

from scaler.sim.profiles import ServingParams
from scaler.sim.trace import Trace

TTFT_BUCKETS_S = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                  5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
"""vLLM's `time_to_first_token_seconds` bucket bounds (+Inf implied), as in the fixtures."""

STARTING, READY, DRAINING, GONE = 0, 1, 2, 3
_INF = math.inf
_EPS_TOKENS = 1e-4  # remaining work below this counts as done (float rounding)


class Serving:
    """All replicas of all ISVCs of one trace; `advance(t)` moves the model to time t."""

    def __init__(self, trace: Trace, serving: Sequence[ServingParams], *, routing: str) -> None:
        if routing not in ("round_robin", "central"):
            raise ValueError(f"routing = {routing}, must be round_robin or central")
        self.central = routing == "central"
        self.arrival_s: list[float] = trace.time_s.tolist()
        self._inp: list[int] = trace.input_tokens.tolist()
        self._out: list[int] = [max(o, 1) for o in trace.output_tokens.tolist()]
        self._isvc: list[int] = trace.isvc.tolist()
        self._need = [i + o for i, o in zip(self._inp, self._out, strict=True)]
        n, m = trace.n, len(trace.keys)
        self.first_token_s = [math.nan] * n
        self.finish_s = [math.nan] * n
        self.rejected = bytearray(n)
        self.next_arrival = 0
        self.params = list(serving)
        self.ready: list[list[int]] = [[] for _ in range(m)]
        self.alive: list[list[int]] = [[] for _ in range(m)]
        self.queue: list[deque[int]] = [deque() for _ in range(m)]  # gateway queue per ISVC
        self._rr = [0] * m
        self.arrivals = [0] * m
        self.completed = [0] * m
        self.ttft_hist = [[0] * (len(TTFT_BUCKETS_S) + 1) for _ in range(m)]
        # per pod
        self.pod_isvc: list[int] = []
        self.state: list[int] = []
        self.created_s: list[float] = []
        self.ended_s: list[float] = []
        self.busy_s: list[float] = []
        self.tokens: list[int] = []
        self.kv: list[int] = []
        self.nrun: list[int] = []
        self._tu: list[float] = []
        self._v: list[float] = []
        self._nb: list[int] = []
        self._dheap: list[list[tuple[float, int]]] = []
        self._pfq: list[deque[int]] = []
        self._pfrem: list[float] = []
        self._pfrest: list[int] = []
        self._pfr: list[float] = []
        self._dr: list[float] = []
        self._nxt: list[float] = []
        self.local: list[deque[int]] = []
        self._heap: list[tuple[float, int]] = []

    # ---- pod lifecycle (called by the control loop between `advance` calls) ----

    def add_pod(self, isvc: int, t: float) -> int:
        """A new pod of ISVC `isvc`, created (starting, not routable) at t; returns its id."""
        p = len(self.state)
        for ints in (self.tokens, self.kv, self.nrun, self._nb, self._pfrest):
            ints.append(0)
        for floats in (self.busy_s, self._v, self._pfrem, self._pfr, self._dr):
            floats.append(0.0)
        self.pod_isvc.append(isvc)
        self.state.append(STARTING)
        self.created_s.append(t)
        self._tu.append(t)
        self.ended_s.append(math.nan)
        self._nxt.append(_INF)
        self._dheap.append([])
        self._pfq.append(deque())
        self.local.append(deque())
        self.alive[isvc].append(p)
        return p

    def set_ready(self, p: int, t: float) -> None:
        """Pod p finished starting at t: it joins routing and takes waiting requests."""
        k = self.pod_isvc[p]
        self.state[p] = READY
        self.ready[k].append(p)
        self._tu[p] = t
        if self.central:
            self._pull(p, t)
            self._resched(p)
            return
        q = self.queue[k]
        while q:
            self._route_rr(k, q.popleft(), t)

    def remove_pod(self, p: int, t: float) -> None:
        """Scale-down of pod p at t: starting pods vanish, ready pods drain then end."""
        k = self.pod_isvc[p]
        if self.state[p] == READY:
            self.ready[k].remove(p)
            self.state[p] = DRAINING
        if self.state[p] == STARTING or (self.nrun[p] == 0 and not self.local[p]):
            self._end(p, t)

    def busy_until(self, p: int, t: float) -> float:
        """Seconds pod p has had at least one running request, up to t."""
        return self.busy_s[p] + (max(t - self._tu[p], 0.0) if self.nrun[p] else 0.0)

    def _end(self, p: int, t: float) -> None:
        self.state[p] = GONE
        self.ended_s[p] = t
        self.alive[self.pod_isvc[p]].remove(p)
        self._nxt[p] = _INF

    # ---- request handling ----

    def _fits(self, p: int, j: int) -> bool:
        sp = self.params[self.pod_isvc[p]]
        return self.nrun[p] < sp.max_num_seqs and self.kv[p] + self._need[j] <= sp.kv_cache_tokens

    def _route_rr(self, k: int, j: int, t: float) -> None:
        ready = self.ready[k]
        p = ready[self._rr[k] % len(ready)]
        self._rr[k] += 1
        if not self.local[p] and self._fits(p, j):
            self._advance_pod(p, t)
            self._admit(p, j, t)
            self._resched(p)
        else:
            self.local[p].append(j)

    def _route_central(self, k: int, j: int, t: float) -> None:
        ready, q = self.ready[k], self.queue[k]
        if not q:
            start = self._rr[k]
            for i in range(len(ready)):
                p = ready[(start + i) % len(ready)]
                if self._fits(p, j):
                    self._rr[k] = start + i + 1
                    self._advance_pod(p, t)
                    self._admit(p, j, t)
                    self._resched(p)
                    return
        q.append(j)

    def _pull(self, p: int, t: float) -> None:
        """Admit waiting requests into pod p (already advanced to t) while they fit."""
        q = self.local[p] if not self.central else (
            self.queue[self.pod_isvc[p]] if self.state[p] == READY else None)
        while q and self._fits(p, q[0]):
            self._admit(p, q.popleft(), t)

    def _admit(self, p: int, j: int, t: float) -> None:
        self.nrun[p] += 1
        self.kv[p] += self._need[j]
        if self._inp[j] == 0:
            self._first_token(p, j, t)
            return
        pfq = self._pfq[p]
        pfq.append(j)
        if len(pfq) == 1:
            self._pfrem[p] = float(self._inp[j])
        else:
            self._pfrest[p] += self._inp[j]

    def _first_token(self, p: int, j: int, t: float) -> None:
        self.first_token_s[j] = t
        k = self.pod_isvc[p]
        self.ttft_hist[k][bisect.bisect_left(TTFT_BUCKETS_S, t - self.arrival_s[j])] += 1
        self.tokens[p] += self._inp[j]
        if self._out[j] <= 1:
            self._finish(p, j, t)
        else:
            heapq.heappush(self._dheap[p], (self._v[p] + self._out[j] - 1, j))
            self._nb[p] += 1

    def _finish(self, p: int, j: int, t: float) -> None:
        self.nrun[p] -= 1
        self.kv[p] -= self._need[j]
        self.finish_s[j] = t
        self.tokens[p] += self._out[j]
        self.completed[self.pod_isvc[p]] += 1

    def _advance_pod(self, p: int, t: float) -> None:
        el = t - self._tu[p]
        if el > 0:
            if self.nrun[p]:
                self.busy_s[p] += el
            if self._pfq[p]:
                self._pfrem[p] -= el * self._pfr[p]
            if self._nb[p]:
                self._v[p] += el * self._dr[p]
            self._tu[p] = t

    def _resched(self, p: int) -> None:
        """Recompute pod p's rates and push its next internal event."""
        sp = self.params[self.pod_isvc[p]]
        nb, tu = self._nb[p], self._tu[p]
        nxt = _INF
        if self._pfq[p]:
            chunk = min(max(sp.max_batched_tokens - nb, 1), self._pfrem[p] + self._pfrest[p])
            d = sp.decode_step_base_s + sp.decode_step_per_seq_s * nb + (
                chunk / sp.prefill_tokens_per_s)
            self._pfr[p] = chunk / d
            self._dr[p] = 1.0 / d
            nxt = tu + max(self._pfrem[p], 0.0) / self._pfr[p]
        elif nb:
            self._dr[p] = 1.0 / (sp.decode_step_base_s + sp.decode_step_per_seq_s * nb)
        if nb:
            nxt = min(nxt, tu + max(self._dheap[p][0][0] - self._v[p], 0.0) / self._dr[p])
        self._nxt[p] = nxt
        if nxt < _INF:
            heapq.heappush(self._heap, (nxt, p))

    def _pod_event(self, p: int, t: float) -> None:
        self._advance_pod(p, t)
        pfq, inp = self._pfq[p], self._inp
        while pfq and self._pfrem[p] <= _EPS_TOKENS:
            self._first_token(p, pfq.popleft(), t)
            if pfq:
                self._pfrem[p] = float(inp[pfq[0]])
                self._pfrest[p] -= inp[pfq[0]]
        dheap, v = self._dheap[p], self._v[p] + _EPS_TOKENS
        while dheap and dheap[0][0] <= v:
            self._nb[p] -= 1
            self._finish(p, heapq.heappop(dheap)[1], t)
        self._pull(p, t)
        if self.state[p] == DRAINING and self.nrun[p] == 0 and not self.local[p]:
            self._end(p, t)
        else:
            self._resched(p)

    def advance(self, t_end: float) -> None:
        """Process every arrival and pod event strictly before t_end, in time order."""
        heap, nxt, arr = self._heap, self._nxt, self.arrival_s
        n, i = len(arr), self.next_arrival
        isvc, need, params, ready = self._isvc, self._need, self.params, self.ready
        while True:
            while heap and heap[0][0] != nxt[heap[0][1]]:
                heapq.heappop(heap)
            te = heap[0][0] if heap else _INF
            ta = arr[i] if i < n else _INF
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
                    self._route_rr(k, j, ta)
            else:
                if te >= t_end:
                    break
                p = heapq.heappop(heap)[1]
                self._pod_event(p, te)
        self.next_arrival = i
