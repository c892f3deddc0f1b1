"""One vLLM replica (pod) as a fluid between events: continuous batching, chunked prefill.

An engine step takes `d = base + per_seq × B + P / prefill_rate` with B decoding sequences
and P = min(max_batched_tokens − B, pending prompt tokens) prefill tokens; each decoding
sequence gains one token per step and prompts are prefilled first-come first-served at P / d
tokens/s. Rates are constant between events (admission, prefill done, sequence done), so a
request costs O(log n) work, not one per step. Decoding sequences share a virtual clock V
(tokens decoded per sequence): a sequence entering at V0 with k tokens left ends at V0 + k.
A request's first token is emitted when its prompt is fully prefilled; its other tokens follow.

Example (8B profile, one 2000-token prompt, 11 output tokens, idle pod): P = 2000, d = 0.010 +
2000 / 10000 = 0.21 s → TTFT 0.21 s; then 10 steps of 0.01025 s → done 0.1025 s later.

State is kept in per-pod Python lists (pod id = index): this is the simulator's hot path.
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
INF = math.inf
EPS_TOKENS = 1e-4  # remaining work below this counts as done (float rounding)


class Replicas:
    """Per-pod state and the fluid replica model; requests come from `trace`."""

    def __init__(self, trace: Trace, serving: Sequence[ServingParams]) -> None:
        self.params = list(serving)
        self._steps = [(sp.decode_step_base_s, sp.decode_step_per_seq_s,
                        1.0 / sp.prefill_tokens_per_s, sp.max_batched_tokens) for sp in serving]
        self.arrival_s: list[float] = trace.time_s.tolist()
        self._inp: list[int] = trace.input_tokens.tolist()
        self._out: list[int] = [max(o, 1) for o in trace.output_tokens.tolist()]
        self._need = [i + o for i, o in zip(self._inp, self._out, strict=True)]
        n, m = trace.n, len(trace.keys)
        self.first_token_s = [math.nan] * n
        self.finish_s = [math.nan] * n
        self.completed = [0] * m
        self.prompt_tokens = [0] * m  # prefilled prompt tokens per ISVC (vLLM prompt_tokens_total)
        self.ttft_hist = [[0] * (len(TTFT_BUCKETS_S) + 1) for _ in range(m)]
        self.alive: list[list[int]] = [[] for _ in range(m)]
        self.pod_isvc: list[int] = []
        self.state: list[int] = []
        self.created_s: list[float] = []
        self.ended_s: list[float] = []
        self.busy_s: list[float] = []  # seconds with ≥ 1 running request
        self.tokens: list[int] = []  # prompt + output tokens processed
        self.kv: list[int] = []  # reserved KV tokens
        self.nrun: list[int] = []  # running sequences (prefill + decode)
        self.local: list[deque[int]] = []  # the pod's own waiting queue
        self._tu: list[float] = []  # time the pod's state was last advanced to
        self._v: list[float] = []
        self._nb: list[int] = []  # decoding sequences
        self._dheap: list[list[tuple[float, int]]] = []
        self._pfq: list[deque[int]] = []
        self._pfrem: list[float] = []  # prompt tokens left of the head of _pfq
        self._pfrest: list[int] = []  # prompt tokens of the rest of _pfq
        self._pfr: list[float] = []
        self._dr: list[float] = []
        self._nxt: list[float] = []  # the pod's next event time (INF: none)
        self._heap: list[tuple[float, int]] = []  # (time, pod), stale when ≠ _nxt[pod]

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
        self._nxt.append(INF)
        self._dheap.append([])
        self._pfq.append(deque())
        self.local.append(deque())
        self.alive[isvc].append(p)
        return p

    def busy_until(self, p: int, t: float) -> float:
        """Seconds pod p has had at least one running request, up to t."""
        return self.busy_s[p] + (max(t - self._tu[p], 0.0) if self.nrun[p] else 0.0)

    def end_pod(self, p: int, t: float) -> None:
        """Pod p is gone at t (its GPU is released)."""
        self.state[p] = GONE
        self.ended_s[p] = t
        self.alive[self.pod_isvc[p]].remove(p)
        self._nxt[p] = INF

    def fits(self, p: int, j: int) -> bool:
        """Pod p can admit request j now (a free sequence slot and KV room)."""
        sp = self.params[self.pod_isvc[p]]
        return self.nrun[p] < sp.max_num_seqs and self.kv[p] + self._need[j] <= sp.kv_cache_tokens

    def admit(self, p: int, j: int, t: float) -> None:
        """Start request j on pod p (advanced to t); call `resched(p)` afterwards."""
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
        self.prompt_tokens[k] += self._inp[j]
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

    def advance_pod(self, p: int, t: float) -> None:
        """Move pod p's fluid state (prefill, virtual decode clock, busy time) to t."""
        el = t - self._tu[p]
        if el > 0:
            if self.nrun[p]:
                self.busy_s[p] += el
            if self._pfq[p]:
                self._pfrem[p] -= el * self._pfr[p]
            if self._nb[p]:
                self._v[p] += el * self._dr[p]
            self._tu[p] = t

    def resched(self, p: int) -> None:
        """Recompute pod p's rates and push its next internal event."""
        base, per_seq, s_per_token, budget = self._steps[self.pod_isvc[p]]
        nb, tu = self._nb[p], self._tu[p]
        if self._pfq[p]:
            rem = self._pfrem[p]
            chunk: float = budget - nb if budget - nb > 1 else 1
            pending = rem + self._pfrest[p]
            if pending < chunk:
                chunk = pending
            d = base + per_seq * nb + chunk * s_per_token
            pfr = self._pfr[p] = chunk / d
            dr = 1.0 / d
            nxt = tu + rem / pfr if rem > 0 else tu
        elif nb:
            dr = 1.0 / (base + per_seq * nb)
            nxt = INF
        else:
            self._nxt[p] = INF
            return
        self._dr[p] = dr
        if nb:
            left = self._dheap[p][0][0] - self._v[p]
            t_dec = tu + left / dr if left > 0 else tu
            if t_dec < nxt:
                nxt = t_dec
        self._nxt[p] = nxt
        heapq.heappush(self._heap, (nxt, p))

    def complete(self, p: int, t: float) -> None:
        """Pod p's event at t: emit first tokens of finished prompts, end finished sequences."""
        self.advance_pod(p, t)
        pfq = self._pfq[p]
        if pfq and self._pfrem[p] <= EPS_TOKENS:
            inp, pfrem = self._inp, self._pfrem
            while pfq and pfrem[p] <= EPS_TOKENS:
                self._first_token(p, pfq.popleft(), t)
                if pfq:
                    pfrem[p] = float(inp[pfq[0]])
                    self._pfrest[p] -= inp[pfq[0]]
        dheap = self._dheap[p]
        if dheap:
            v = self._v[p] + EPS_TOKENS
            while dheap and dheap[0][0] <= v:
                self._nb[p] -= 1
                self._finish(p, heapq.heappop(dheap)[1], t)
