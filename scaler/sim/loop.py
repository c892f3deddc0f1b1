"""The closed loop: trace → replicas (serving) → Prometheus (observe) → autoscaler → KEDA/HPA
→ Deployment → replicas; pure and deterministic (no clock, no I/O; progress via callback).

Schedule (all times in simulated seconds from the trace's start, events at equal times in
this order): pod ready (created + startup_s) → Prometheus scrape (every scrape_interval_s) →
scaler tick (every config interval, the policy decides) → HPA sync (every hpa_sync_period_s,
offset hpa_sync_offset_s) → KEDA poll (every keda_polling_interval_s: activation 0 ↔ 1 and
scale-to-zero after cooldown, only where min_replicas is 0). The HPA reads the metric at
each sync (KEDA's default, useCachedMetrics false), with minReplicas max(1, min_replicas)
and maxReplicas max_replicas of the ISVC's policy (as deploy/README advises for the
ScaledObject's bounds); baselines use the same bounds. The fleet starts with
`initial[k]` ready pods. The Deployment creates pods at once on scale-up; on scale-down it
removes starting pods first, then the newest ready ones (ReplicaSet's deletion order).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from scaler.sim.baselines import Autoscaler
from scaler.sim.control import HpaState, hpa_step
from scaler.sim.observe import Observer
from scaler.sim.params import SimParams
from scaler.sim.serving import READY, STARTING, Serving, total_waiting
from scaler.sim.trace import Trace

TIMELINE_COLUMNS = ("time_s", "namespace", "isvc", "requests", "latency_p99", "kv_cache", "cpu",
                    "replicas", "starting", "spec_replicas", "desired", "pressure", "reason",
                    "waiting", "running", "needed")

_READY, _SCRAPE, _TICK, _HPA, _KEDA = range(5)


@dataclass(frozen=True)
class Fleet:
    """Per ISVC (m,) arrays: replica bounds and the estimated capacity of one replica."""

    min_replicas: np.ndarray  # KEDA minReplicaCount (0 enables scale to zero)
    max_replicas: np.ndarray
    capacity_rps: np.ndarray  # requests/s one replica sustains for this ISVC's token mix
    initial: np.ndarray  # ready replicas at t = 0


@dataclass(frozen=True, eq=False)
class RunResult:
    """Everything one simulated run produced (arrays aligned with the trace's requests)."""

    label: str
    trace: Trace
    first_token_s: np.ndarray  # NaN = no first token by the end
    finish_s: np.ndarray
    rejected: np.ndarray  # bool: longer than max_model_len / KV capacity
    timed_out: np.ndarray  # bool: abandoned by the client while queued
    pod_isvc: np.ndarray
    pod_created_s: np.ndarray  # clipped to end_s
    pod_ended_s: np.ndarray  # clipped to end_s (pods still running end there)
    gpus_per_replica: np.ndarray  # (m,)
    timeline: list[tuple[object, ...]]  # rows in TIMELINE_COLUMNS order
    scale_events: list[tuple[float, int, int, int]]  # (t, isvc, old, new)
    end_s: float  # horizon: GPU time, timeline and scale events are counted up to here
    interval_s: float
    drained_s: float = math.nan  # where the simulation stopped (horizon + drain)


class _Loop:
    def __init__(self, trace: Trace, sim: SimParams, fleet: Fleet, scaler: Autoscaler,
                 interval_s: float) -> None:
        self.trace, self.sim, self.fleet, self.scaler = trace, sim, fleet, scaler
        self.interval_s = interval_s
        self.serving = Serving(trace, [sim.serving_for(k) for k in trace.keys],
                               routing=sim.routing, timeout_s=sim.request_timeout_s)
        self.observer = Observer(self.serving, window_s=sim.metrics_window_s)
        m = len(trace.keys)
        self.spec = [0] * m
        self.hpa = [HpaState() for _ in range(m)]
        self.last_active = [0.0] * m
        self.timeline: list[tuple[object, ...]] = []
        self.scale_events: list[tuple[float, int, int, int]] = []
        self.events: list[tuple[float, int, int]] = []
        self.signals: dict[str, np.ndarray] = {}
        self.horizon_s = math.inf

    def scale(self, k: int, t: float, new: int) -> None:
        s, old = self.serving, self.spec[k]
        if new == old:
            return
        self.spec[k] = new
        self.scale_events.append((t, k, old, new))
        for _ in range(new - old):
            p = s.add_pod(k, t)
            heapq.heappush(self.events, (t + s.params[k].startup_s, _READY, p))
        if new < old:
            alive = s.alive[k]
            order = sorted((p for p in alive if s.state[p] in (STARTING, READY)),
                           key=lambda p: (s.state[p] != STARTING, -s.created_s[p]))
            for p in order[: old - new]:
                s.remove_pod(p, t)

    def hpa_sync(self, t: float) -> None:
        sim, fleet = self.sim, self.fleet
        behavior = self.scaler.behavior
        for k, current in enumerate(self.spec):
            if behavior is None or current == 0:
                continue
            rec = self.scaler.recommend(k, current=current, observer=self.observer,
                                        signals=self.signals, tolerance=sim.hpa_tolerance)
            new, self.hpa[k] = hpa_step(
                self.hpa[k], t, current=current, recommendation=rec, behavior=behavior,
                min_replicas=max(1, int(fleet.min_replicas[k])),
                max_replicas=int(fleet.max_replicas[k]))
            self.scale(k, t, new)

    def keda_poll(self, t: float) -> None:
        for k in range(len(self.spec)):
            if self.fleet.min_replicas[k] > 0 or self.scaler.behavior is None:
                continue
            if self.scaler.active(k, self.signals):
                self.last_active[k] = t
                if self.spec[k] == 0:
                    self.scale(k, t, 1)
            elif self.spec[k] > 0 and t - self.last_active[k] >= self.sim.keda_cooldown_period_s:
                self.scale(k, t, 0)

    def record(self, t: float) -> None:
        if t > self.horizon_s:
            return
        s, sig = self.serving, self.signals
        for k, (ns, name) in enumerate(self.trace.keys):
            desired, pressure, reason = self.scaler.explain(k)
            starting = sum(1 for p in s.alive[k] if s.state[p] == STARTING)
            waiting = total_waiting(s, k)
            running = sum(s.nrun[p] for p in s.alive[k])
            rate = float(sig["requests"][k])
            needed = math.ceil(rate / self.fleet.capacity_rps[k] - 1e-9) if rate > 0 else 0
            self.timeline.append((
                t, ns, name, *(float(sig[n][k]) for n in ("requests", "latency_p99",
                                                            "kv_cache", "cpu")),
                len(s.ready[k]), starting, self.spec[k], desired, pressure, reason, waiting,
                running, needed))

    def handle(self, t: float, kind: int, arg: int) -> None:
        if kind == _READY:
            if self.serving.state[arg] == STARTING:
                self.serving.set_ready(arg, t)
            return
        if kind == _SCRAPE:
            self.observer.scrape(t, spec=self.spec)
            self.signals = self.observer.signals()
            period = self.sim.scrape_interval_s
        elif kind == _TICK:
            self.scaler.tick(t, self.signals)
            self.record(t)
            period = self.interval_s
        elif kind == _HPA:
            self.hpa_sync(t)
            period = self.sim.hpa_sync_period_s
        else:
            self.keda_poll(t)
            period = self.sim.keda_polling_interval_s
        heapq.heappush(self.events, (t + period, kind, arg))

    def run(self, end_s: float, progress: Callable[[float], None] | None) -> None:
        s = self.serving
        for k, n in enumerate(self.fleet.initial):
            self.spec[k] = int(n)
            for _ in range(int(n)):
                s.set_ready(s.add_pod(k, 0.0), 0.0)
        for kind, first in ((_SCRAPE, 0.0), (_TICK, 0.0), (_HPA, self.sim.hpa_sync_offset_s),
                            (_KEDA, 0.0)):
            heapq.heappush(self.events, (first, kind, 0))
        next_report = 0.0
        while self.events and self.events[0][0] <= end_s:
            t, kind, arg = heapq.heappop(self.events)
            s.advance(t)
            self.handle(t, kind, arg)
            if progress is not None and t >= next_report:
                progress(t / end_s)
                next_report = t + end_s / 200
        s.advance(end_s)


def simulate(trace: Trace, *, sim: SimParams, fleet: Fleet, scaler: Autoscaler,
             interval_s: float, end_s: float | None = None,
             progress: Callable[[float], None] | None = None) -> RunResult:
    """Run one autoscaler over the trace up to the horizon `end_s` (default: the last arrival
    + 1 s), then on for a drain period (request_timeout_s, at most 10 min) so that requests
    of the last minutes get an outcome; costs and the timeline stop at the horizon."""
    horizon = trace.duration_s + 1.0 if end_s is None else end_s
    loop = _Loop(trace, sim, fleet, scaler, interval_s)
    loop.horizon_s = horizon
    drained = horizon + min(sim.request_timeout_s, 600.0)
    loop.run(drained, progress)
    s = loop.serving
    gpus = np.array([sim.serving_for(k).gpus_per_replica for k in trace.keys])
    created = np.minimum(np.array(s.created_s), horizon)
    ended = np.minimum(np.nan_to_num(np.array(s.ended_s), nan=horizon), horizon)
    return RunResult(
        label=scaler.label, trace=trace, first_token_s=np.array(s.first_token_s),
        finish_s=np.array(s.finish_s), rejected=np.frombuffer(bytes(s.rejected), np.uint8) > 0,
        timed_out=np.frombuffer(bytes(s.timed_out), np.uint8) > 0,
        pod_isvc=np.array(s.pod_isvc, np.int64), pod_created_s=created, pod_ended_s=ended,
        gpus_per_replica=gpus, timeline=loop.timeline,
        scale_events=[e for e in loop.scale_events if e[0] <= horizon], end_s=horizon,
        interval_s=interval_s, drained_s=drained)


def fleet_for(trace: Trace, *, sim: SimParams, min_replicas: Sequence[int] | np.ndarray,
              max_replicas: Sequence[int] | np.ndarray,
              initial: Sequence[int] | np.ndarray | None = None) -> Fleet:
    """Fleet bounds with capacity estimates and initial replicas (auto: enough for the load of
    the first metrics window at static_utilization, within the bounds)."""
    from scaler.sim.profiles import capacity_rps

    m = len(trace.keys)
    caps = np.ones(m)
    first = np.zeros(m)
    for k, key in enumerate(trace.keys):
        mask = trace.isvc == k
        caps[k] = capacity_rps(sim.serving_for(key),
                               mean_input=float(trace.input_tokens[mask].mean()),
                               mean_output=float(trace.output_tokens[mask].mean()))
        first[k] = np.sum(trace.time_s[mask] < sim.metrics_window_s) / sim.metrics_window_s
    lo, hi = np.asarray(min_replicas, np.int64), np.asarray(max_replicas, np.int64)
    if initial is not None:
        return Fleet(lo, hi, caps, np.asarray(initial, np.int64))
    auto = np.ceil(first / (caps * sim.static_utilization)).astype(np.int64)
    if sim.initial_replicas is not None:
        auto = np.full(m, sim.initial_replicas, np.int64)
    return Fleet(lo, hi, caps, np.clip(auto, np.maximum(lo, 1), hi))
